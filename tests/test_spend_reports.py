"""Reports reconcile with the ledger; the pages and the CSV are reachable and staff-only."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from generator.models import Generation, Image, Preset, StylePreset
from spend import budgets, reports
from spend.models import SpendEntry
from spend.reports import DateRange

pytestmark = pytest.mark.django_db

MODELS = [("gemini", "gemini-3-pro-image-preview"), ("gemini", "gemini-2.5-flash-image"), ("relay", "nano-banana")]
STATUSES = [Generation.Status.SUCCEEDED] * 6 + [Generation.Status.FAILED, Generation.Status.BLOCKED]


def micro(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) / 1_000_000


def random_ledger(rng: random.Random, users, start: datetime, days: int, count: int) -> None:
    """Generations sent at random times, reserved, then settled (with fallbacks to
    another model), released or left in flight, plus signed corrections."""
    presets = [None, *Preset.objects.all()[:3]]
    styles = [None, *StylePreset.objects.all()[:3]]
    for _ in range(count):
        provider, model = rng.choice(MODELS)
        at = start + timedelta(seconds=rng.randint(0, days * 86400 - 1))
        status = rng.choice(STATUSES)
        g = Generation.objects.create(
            user=rng.choice(users),
            prompt="p",
            full_prompt="p",
            provider=provider,
            model=model,
            aspect_ratio="1:1",
            size="1K",
            preset=rng.choice(presets),
            style=rng.choice(styles),
            estimated_cost=micro(rng, 0, 300_000),
            created_at=at,
            status=status,
        )
        budgets.reserve(g)
        roll = rng.random()
        if roll < 0.1:
            continue  # still in flight: the reservation counts
        if status != Generation.Status.SUCCEEDED or roll < 0.2:
            budgets.settle(g, micro(rng, 0, 5000) if rng.random() < 0.3 else Decimal(0))
            continue
        if rng.random() < 0.2:
            g.used_provider, g.used_model = rng.choice(MODELS)
        g.actual_cost = micro(rng, 1, 400_000)
        budgets.settle(g, g.actual_cost)
        for index in range(rng.randint(1, 2)):
            Image.objects.create(
                generation=g,
                index=index,
                file=f"x/{g.pk}-{index}.png",
                width=1,
                height=1,
                mime_type="image/png",
                sha256="0" * 64,
            )
    for _ in range(count // 10):
        SpendEntry.objects.create(
            user=rng.choice(users),
            kind=SpendEntry.Kind.CORRECTION,
            amount=micro(rng, -200_000, 200_000),
            note="refund",
            accounted_at=start + timedelta(seconds=rng.randint(0, days * 86400 - 1)),
        )


@pytest.mark.postgres
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_grouping_adds_up_to_the_ledger_total(tz, seed, user, other_user, admin_user):
    rng = random.Random(seed)
    with override_settings(TIME_ZONE=tz):
        origin = timezone.make_aware(datetime(2026, 1, 1))
        random_ledger(rng, [user, other_user, admin_user], origin, days=90, count=120)
        for _ in range(6):
            first = date(2025, 12, 25) + timedelta(days=rng.randint(0, 100))
            period = DateRange(first, first + timedelta(days=rng.randint(0, 60)))
            start, end = period.bounds
            ledger = reports.entries(period)
            expected = sum((e.amount for e in SpendEntry.objects.all() if start <= e.accounted_at < end), Decimal(0))
            total = reports.total(ledger)
            assert total == expected
            assert sum((r["amount"] for r in reports.by_user(ledger)), Decimal(0)) == total
            assert sum((r["amount"] for r in reports.by_model(ledger)), Decimal(0)) == total
            assert sum((a for _, a in reports.by_day(ledger, period)), Decimal(0)) == total
            assert sum((r["amount"] for r in reports.by_preset_style(ledger)), Decimal(0)) == total
            pivot = reports.by_user_and_model(ledger)
            assert pivot.total == total == sum((row[2] for row in pivot.rows), Decimal(0))
            assert sum((i.amount for i in reports.line_items(ledger)), Decimal(0)) == total


@pytest.mark.postgres
def test_a_job_counts_wholly_in_the_month_it_was_sent(user):
    sent = timezone.make_aware(datetime(2026, 1, 31, 23, 59))
    g = Generation.objects.create(
        user=user,
        prompt="p",
        full_prompt="p",
        provider="gemini",
        model="m",
        aspect_ratio="1:1",
        size="1K",
        estimated_cost=Decimal("0.5"),
        created_at=sent,
    )
    budgets.reserve(g)
    budgets.settle(g, Decimal("0.13807"))  # finished after midnight: still January's
    january = reports.entries(DateRange(date(2026, 1, 1), date(2026, 1, 31)))
    february = reports.entries(DateRange(date(2026, 2, 1), date(2026, 2, 28)))
    assert reports.total(january) == Decimal("0.13807")
    assert reports.total(february) == 0


def test_ledger_entries_cannot_be_edited_or_deleted(user):
    from spend.models import AppendOnlyError

    entry = SpendEntry.objects.create(user=user, kind=SpendEntry.Kind.CORRECTION, amount=Decimal("1"), note="x")
    entry.amount = Decimal("2")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert SpendEntry.objects.get().amount == Decimal("1")
