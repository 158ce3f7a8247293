"""Budgets: reserve against every budget that applies, refuse cleanly, hold under concurrency."""

from __future__ import annotations

import html
import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from generator import dispatch, generations
from generator.forms import GenerationForm
from generator.models import Generation, ReferenceImage
from spend import budgets
from spend.models import Budget, SpendEntry
from spend.money import usd

from .conftest import form_data, upload
from .spendkit import USAGE_PRO, gemini_fixture, result_with_usage  # noqa: F401

pytestmark = pytest.mark.django_db

PRO_4K = {"provider": "gemini", "model": "gemini-3-pro-image-preview", "size": "4K", "prompt": "a" * 40}
# 0.24 of image output + 10 prompt tokens at $2/M
PRO_4K_COST = Decimal("0.24002")


def media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def submit(owner, **overrides) -> Generation:
    form = GenerationForm(form_data(**{**PRO_4K, **overrides}), user=owner)
    assert form.is_valid(), form.errors
    return generations.submit(owner, form.cleaned_data)


def test_reservation_fits_then_refuses_with_a_clear_message(gemini, user):
    Budget.objects.create(user=user, amount=Decimal("0.50"))
    first = submit(user)
    assert first.estimated_cost == PRO_4K_COST
    submit(user)
    with pytest.raises(budgets.BudgetExceeded) as refused:
        submit(user)
    assert refused.value.message == (
        "This costs $0.24 but only $0.02 is left of your $0.50 monthly budget. "
        "Choose a smaller size or fewer images, or ask an admin to raise the budget."
    )
    assert Generation.objects.count() == 2
    assert budgets.status_of(Budget.objects.get()).used == 2 * PRO_4K_COST


def test_team_budget_counts_everyone(gemini, user, other_user):
    Budget.objects.create(user=None, amount=Decimal("0.60"))
    Budget.objects.create(user=user, amount=Decimal("10"))
    submit(user)
    submit(other_user)
    with pytest.raises(budgets.BudgetExceeded, match="of the team's \\$0.60 monthly budget"):
        submit(user)


def test_daily_budget_and_last_month_does_not_count(gemini, user):
    Budget.objects.create(user=user, period=Budget.Period.DAY, amount=Decimal("0.30"))
    old = submit(user)
    # Yesterday's reservation does not count towards today's budget.
    SpendEntry.objects.filter(generation=old).update(accounted_at=timezone.now() - timedelta(days=1))
    submit(user)
    with pytest.raises(budgets.BudgetExceeded, match="only \\$0.06 is left of your \\$0.30 daily budget"):
        submit(user)


def test_inactive_budget_and_free_demo_are_not_checked(user):
    Budget.objects.create(user=user, amount=Decimal("0"))
    generation = submit(user, provider="demo")
    assert generation.estimated_cost == 0
    assert not SpendEntry.objects.exists()


def test_release_and_settle_give_the_money_back(gemini, user, monkeypatch):
    Budget.objects.create(user=user, amount=Decimal("0.30"))
    first = submit(user, size="1K")
    assert dispatch.cancel(first)
    second = submit(user, size="1K")  # fits again: the cancel released the reservation
    monkeypatch.setattr(dispatch, "call_provider", lambda provider, request: result_with_usage(USAGE_PRO))
    dispatch.run(second.pk)
    status = budgets.status_of(Budget.objects.get())
    assert status.used == Decimal("0.13807")
    assert status.left == Decimal("0.30") - Decimal("0.13807")


def test_composer_shows_the_refusal_and_leaves_nothing_behind(gemini, user, alice_client):
    Budget.objects.create(user=user, amount=Decimal("0.20"))
    before = media_files()
    response = alice_client.post("/", {**form_data(**PRO_4K), "references": [upload("cat.png")]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This costs $0.2411 but only $0.20 is left of your $0.20 monthly budget." in page
    assert not Generation.objects.exists()
    assert not ReferenceImage.objects.exists()
    assert not SpendEntry.objects.exists()
    assert media_files() == before


def test_cli_refuses_with_a_command_error_and_leaves_nothing_behind(gemini, admin_user, tmp_path):
    Budget.objects.create(user=admin_user, amount=Decimal("0.10"))
    ref = tmp_path / "cat.png"
    ref.write_bytes(upload().read())
    before = media_files()
    with pytest.raises(CommandError, match="only \\$0.10 is left of your \\$0.10 monthly budget"):
        call_command(
            "generate",
            "a cat",
            "--provider",
            "gemini",
            "--model",
            "gemini-3-pro-image-preview",
            "--size",
            "4K",
            "--ref",
            str(ref),
            "--user",
            "admin",
            stdout=StringIO(),
        )
    assert not Generation.objects.exists() and not SpendEntry.objects.exists()
    assert media_files() == before


def test_reference_uploads_are_part_of_the_reservation(gemini, user):
    generation = generations.submit(
        user,
        _clean(user, files=MultiValueDict({"references": [upload("a.png"), upload("b.png")]})),
    )
    # Two input images at 560 tokens x $2/M on top of the 4K image and the prompt.
    assert generation.estimated_cost == PRO_4K_COST + Decimal("0.00224")
    assert SpendEntry.objects.get(generation=generation).amount == generation.estimated_cost


def _clean(owner, files=None) -> dict:
    form = GenerationForm(form_data(**PRO_4K), files or {}, user=owner)
    assert form.is_valid(), form.errors
    return form.cleaned_data


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_simultaneous_submissions_never_overspend(gemini, user, other_user):
    # Room for exactly 7 reservations under the team's budget; alice's own budget
    # would allow 8 of hers, so both budgets are contested at once.
    Budget.objects.create(user=None, amount=PRO_4K_COST * 7 + Decimal("0.1"))
    Budget.objects.create(user=user, amount=PRO_4K_COST * 8)
    data = {u.pk: _clean(u) for u in (user, other_user)}
    barrier = threading.Barrier(50)
    accepted: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def send(owner) -> None:
        try:
            barrier.wait()
            generation = generations.submit(owner, data[owner.pk])
            accepted.append(generation.pk)
        except budgets.BudgetExceeded as exc:
            refused.append(exc.message)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(user if i % 2 else other_user,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(accepted) == 7 and len(refused) == 43
    assert Generation.objects.count() == 7
    total = sum(e.amount for e in SpendEntry.objects.all())
    assert total == 7 * PRO_4K_COST
    assert total <= Budget.objects.get(user=None).amount


def quote_text(client, **overrides) -> str:
    response = client.post("/quote/", form_data(**{**PRO_4K, **overrides}))
    assert response.status_code == 200
    return " ".join(html.unescape(response.content.decode().replace("<", " <")).split())


def test_quote_shows_share_of_the_tightest_remaining_budget(gemini, user, alice_client):
    Budget.objects.create(user=None, amount=Decimal("100"))
    Budget.objects.create(user=user, amount=Decimal("2.00"))
    assert "Estimated $0.24" in quote_text(alice_client)
    assert "12% of your remaining $2.00 this month" in quote_text(alice_client)
    submit(user)
    # 0.24002 / 1.75998 = 13.6%
    assert "14% of your remaining $1.76 this month" in quote_text(alice_client)


def test_quote_counts_the_reference_files_about_to_be_uploaded(gemini, user, alice_client):
    assert "Estimated $0.24 " in quote_text(alice_client)
    # Two files chosen: 2 x 560 input tokens at $2/M.
    assert "Estimated $0.2423 " in quote_text(alice_client, reference_count="2")
    # Garbage or more than the model takes cannot inflate or break the quote.
    assert "Estimated $0.24 " in quote_text(alice_client, reference_count="lots")
    assert f"Estimated {usd(PRO_4K_COST + Decimal('0.01568'))} " in quote_text(alice_client, reference_count="99")


def test_quote_warns_when_over_budget(gemini, user, alice_client):
    Budget.objects.create(user=None, amount=Decimal("0.10"))
    assert "more than the team's remaining $0.10 this month" in quote_text(alice_client)


def test_composer_page_wires_the_reference_count(alice_client):
    page = alice_client.get("/").content.decode()
    assert 'name="reference_count"' in page
