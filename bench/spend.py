"""Spend figures: how long the cost report and a budgeted reservation take over a
large ledger, on a throwaway database.

    .venv/bin/python bench/spend.py [ENTRIES]          # SQLite in a temp dir (default 100000)
    DATABASE_URL=postgres://... .venv/bin/python bench/spend.py   # an empty scratch PostgreSQL database

Prints the seconds per step. The ledger has 20 users, 3 models and 90 days of
reserve/settle pairs; the report is the "Last 30 days" page's queries.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="nb-bench-spend-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanobanana_site.settings")
os.environ.setdefault("TASKS_BACKEND", "django.tasks.backends.dummy.DummyBackend")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def timed(label: str, fn, repeat: int = 5):
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    print(f"{label:<44} median {statistics.median(runs) * 1000:8.1f} ms  (best {min(runs) * 1000:.1f}, n={repeat})")
    return result


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from generator.models import Generation
    from spend import budgets, charts, reports
    from spend.models import Budget, SpendEntry

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    call_command("migrate", verbosity=0)
    rng = random.Random(1)
    User = get_user_model()
    users = [User.objects.create_user(f"bench{i}") for i in range(20)]
    models = ["gemini-3-pro-image-preview", "gemini-2.5-flash-image", "gemini-3.1-flash-image-preview"]
    now = timezone.now()
    start = time.perf_counter()
    rows = []
    for _ in range(count // 2):
        at = now - timedelta(seconds=rng.randint(0, 90 * 86400))
        user, model = rng.choice(users), rng.choice(models)
        estimate = Decimal(rng.randint(1, 300_000)) / 1_000_000
        common = {"user": user, "provider": "gemini", "model": model, "accounted_at": at, "created_at": at}
        rows.append(SpendEntry(kind="reserve", amount=estimate, **common))
        rows.append(SpendEntry(kind="settle", amount=Decimal(rng.randint(1, 300_000)) / 1_000_000 - estimate, **common))
        if len(rows) >= 10_000:
            SpendEntry.objects.bulk_create(rows)
            rows = []
    SpendEntry.objects.bulk_create(rows)
    print(f"{connection.vendor}: {SpendEntry.objects.count()} ledger entries in {time.perf_counter() - start:.1f} s")

    period = reports.quick_ranges()[3][1]
    ledger = reports.entries(period)

    def report_page():
        return (
            reports.total(ledger),
            reports.by_user(ledger),
            reports.by_user_and_model(ledger),
            reports.by_model(ledger),
            reports.by_preset_style(ledger),
            charts.daily_bars(reports.by_day(ledger, period)),
            reports.outcomes(period, ledger),
        )

    total = timed("report, last 30 days (all sections)", report_page)[0]
    timed("total only", lambda: reports.total(ledger))
    timed("by user x model", lambda: reports.by_user_and_model(ledger))
    timed("by day", lambda: reports.by_day(ledger, period))
    print(f"  last-30-days total {total}")

    Budget.objects.create(user=None, amount=Decimal("1000000"))
    Budget.objects.create(user=users[0], amount=Decimal("1000000"))

    def reserve_one():
        from django.db import transaction

        with transaction.atomic():
            g = Generation.objects.create(
                user=users[0],
                prompt="b",
                full_prompt="b",
                provider="gemini",
                model=models[0],
                aspect_ratio="1:1",
                size="1K",
                estimated_cost=Decimal("0.134416"),
            )
            budgets.reserve(g)

    timed("reserve against user+team month budgets", reserve_one, repeat=20)
    timed("budget status (month, team)", lambda: budgets.tightest(users[0].pk), repeat=20)


if __name__ == "__main__":
    main()
