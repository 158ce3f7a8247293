"""My spend, cost reports, CSV and the spend admin, through the pages a person uses."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from generator.models import Generation, Image
from spend import budgets, periods, reports
from spend.models import Budget, ModelPrice, SpendEntry

pytestmark = pytest.mark.django_db


def charged(owner, model: str, cost: str, *, at=None, images: int = 1) -> Generation:
    """A finished generation, reserved and settled through the real ledger functions."""
    g = Generation.objects.create(
        user=owner,
        prompt=f"{model} picture",
        full_prompt="p",
        provider="gemini",
        model=model,
        aspect_ratio="1:1",
        size="1K",
        estimated_cost=Decimal("0.2"),
        created_at=at or timezone.now(),
        status=Generation.Status.SUCCEEDED,
        actual_cost=Decimal(cost),
    )
    budgets.reserve(g)
    budgets.settle(g, Decimal(cost))
    for i in range(images):
        Image.objects.create(
            generation=g,
            index=i,
            file=f"images/{g.pk}-{i}.png",
            width=1,
            height=1,
            mime_type="image/png",
            sha256="0" * 64,
        )
    return g


def last_month_noon():
    first = periods.month_start(timezone.localdate())
    return periods.day_start(first - timedelta(days=3)) + timedelta(hours=12)


def test_nav_links_for_people_and_staff(alice_client, admin_client):
    page = alice_client.get("/").content.decode()
    assert f'href="{reverse("spend:mine")}"' in page
    assert reverse("spend:reports") not in page
    page = admin_client.get("/").content.decode()
    assert f'href="{reverse("spend:reports")}"' in page
    assert reverse("spend:reports") in admin_client.get(reverse("admin:index")).content.decode()


def test_my_spend_shows_month_budget_chart_top_and_models(user, other_user, alice_client):
    Budget.objects.create(user=user, amount=Decimal("5"))
    big = charged(user, "gemini-3-pro-image-preview", "0.24")
    charged(user, "gemini-2.5-flash-image", "0.0387")
    charged(user, "gemini-2.5-flash-image", "0.0387", at=last_month_noon())  # not this month
    charged(other_user, "gemini-3-pro-image-preview", "9")  # not alice's
    page = alice_client.get(reverse("spend:mine")).content.decode()
    assert 'id="spent">$0.2787<' in page
    assert "Left of your $5.00 monthly budget</span><strong>$4.7213" in page
    today = timezone.localdate()
    days = (periods.next_month(today) - periods.month_start(today)).days
    assert page.count('class="bar"') == days
    assert f'href="{big.get_absolute_url()}"' in page
    assert 'gemini / gemini-2.5-flash-image</td><td class="num">$0.0387' in page


def test_reports_are_staff_only(alice_client):
    assert alice_client.get(reverse("spend:reports")).status_code == 403
    assert alice_client.get(reverse("spend:reports_csv")).status_code == 403


def test_who_spent_what_on_which_model_last_month_in_two_clicks(user, other_user, admin_client):
    at = last_month_noon()
    g = charged(user, "gemini-3-pro-image-preview", "0.13807", at=at, images=2)
    charged(user, "gemini-2.5-flash-image", "0.0387", at=at)
    charged(other_user, "gemini-3-pro-image-preview", "0.24", at=at)
    charged(other_user, "gemini-3-pro-image-preview", "7", at=timezone.now())  # this month: not shown
    # Click 1: "Cost reports" in the nav. Click 2: "Last month".
    page = admin_client.get(reverse("spend:reports")).content.decode()
    label, period = reports.quick_ranges()[1]
    assert label == "Last month"
    query = f"start={period.start}&amp;end={period.end}"
    assert f'href="?{query}">Last month</a>' in page
    page = admin_client.get(reverse("spend:reports"), {"start": period.start, "end": period.end}).content.decode()
    assert 'id="total">$0.4168<' in page
    table = page[page.index('id="user-model"') : page.index("</table>", page.index('id="user-model"'))]
    assert '<td>alice</td><td class="num">$0.1381</td><td class="num">$0.0387</td><th class="num">$0.1768</th>' in table
    assert '<td>bob</td><td class="num">$0.24</td><td class="num"></td><th class="num">$0.24</th>' in table
    assert "<svg" in page and page.count('class="bar"') == (period.end - period.start).days + 1
    # And the CSV of the same range, one link away.
    csv_url = f"{reverse('spend:reports_csv')}?start={period.start}&amp;end={period.end}"
    assert f'href="{csv_url}"' in page
    response = admin_client.get(reverse("spend:reports_csv"), {"start": period.start, "end": period.end})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3
    assert sum(Decimal(r["cost_usd"]) for r in rows) == Decimal("0.41677")
    mine = next(r for r in rows if r["generation"] == str(g.pk))
    assert mine["user"] == "alice" and mine["model"] == "gemini-3-pro-image-preview"
    assert mine["cost_usd"] == "0.138070"
    assert mine["image_urls"].split() == [
        f"http://testserver{i.get_absolute_url()}" for i in g.images.order_by("index")
    ]


def test_bad_ranges_are_explained_not_500(admin_client):
    response = admin_client.get(reverse("spend:reports"), {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    assert admin_client.get(reverse("spend:reports"), {"start": "soon", "end": ""}).status_code == 400
    response = admin_client.get(reverse("spend:reports_csv"), {"start": "2020-01-01", "end": "2026-01-01"})
    assert response.status_code == 400 and b"at most 366 days" in response.content


def test_csv_cells_cannot_become_formulas(user, admin_client):
    SpendEntry.objects.create(user=user, kind=SpendEntry.Kind.CORRECTION, amount=Decimal("-0.5"), note="=HYPERLINK(1)")
    body = b"".join(admin_client.get(reverse("spend:reports_csv")).streaming_content).decode()
    [row] = list(csv.DictReader(io.StringIO(body)))
    assert row["note"] == "'=HYPERLINK(1)" and row["cost_usd"] == "-0.500000" and row["kind"] == "correction"


def test_price_in_force_is_not_edited_but_superseded(admin_client):
    price = ModelPrice.objects.get(model_id="gemini-3-pro-image-preview")
    page = admin_client.get(reverse("admin:spend_modelprice_change", args=[price.pk])).content.decode()
    assert 'name="image_output_per_mtok"' not in page
    listing = admin_client.get(reverse("admin:spend_modelprice_changelist")).content.decode()
    assert "new price from a date" in listing
    response = admin_client.post(
        reverse("admin:spend_modelprice_add"),
        {
            "model_id": "gemini-3-pro-image-preview",
            "effective_from_0": "2099-01-01",
            "effective_from_1": "00:00:00",
            "input_per_mtok": "2",
            "image_output_per_mtok": "100",
            "text_output_per_mtok": "12",
            "note": "cheaper from 2099",
        },
    )
    assert response.status_code == 302
    price.refresh_from_db()
    assert price.image_output_per_mtok == Decimal("120")
    assert ModelPrice.objects.filter(model_id="gemini-3-pro-image-preview").count() == 2


def test_a_correction_is_a_new_entry(user, admin_client):
    g = charged(user, "gemini-3-pro-image-preview", "0.24")
    before = list(SpendEntry.objects.values_list("pk", "amount"))
    response = admin_client.post(
        reverse("admin:spend_spendentry_add"),
        {
            "user": user.pk,
            "amount": "-0.24",
            "accounted_at_0": str(timezone.localdate()),
            "accounted_at_1": "12:00:00",
            "note": "provider refunded the call",
        },
    )
    assert response.status_code == 302
    correction = SpendEntry.objects.get(kind=SpendEntry.Kind.CORRECTION)
    assert correction.note == "provider refunded the call (by admin)"
    assert list(SpendEntry.objects.exclude(pk=correction.pk).values_list("pk", "amount")) == before
    assert budgets.ledger_sum(SpendEntry.objects.filter(user=user)) == 0
    # No note, no correction.
    response = admin_client.post(
        reverse("admin:spend_spendentry_add"),
        {"user": user.pk, "amount": "1", "accounted_at_0": "2026-01-01", "accounted_at_1": "00:00:00", "note": " "},
    )
    assert response.status_code == 200 and SpendEntry.objects.filter(kind="correction").count() == 1
    # Existing entries cannot be changed through the admin.
    entry = SpendEntry.objects.filter(generation=g).first()
    assert (
        admin_client.post(reverse("admin:spend_spendentry_change", args=[entry.pk]), {"amount": "0"}).status_code == 403
    )
