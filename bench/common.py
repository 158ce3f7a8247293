"""Shared set-up for the dispatch benchmarks: a fresh data folder and database, the fake
Gemini server in this process, and real huey consumers (`manage.py run_huey`) as
subprocesses that can be killed. Run from the repository root, e.g.

    .venv/bin/python -m bench.throughput

Nothing here runs in CI: benchmarks print figures, tests assert behaviour.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-0000"


def prepare(env: dict[str, str]) -> dict[str, str]:
    """Set the environment for this process and the consumers, then set Django up."""
    data = tempfile.mkdtemp(prefix="nb-bench-")
    base = {
        "DATA_DIR": data,
        "DJANGO_SETTINGS_MODULE": "nanobanana_site.settings",
        "GEMINI_API_KEY": KEY,
        "LOG_LEVEL": "WARNING",
        "DEMO_LATENCY_SECONDS": "0",
    }
    os.environ.update({**base, **env})
    for name in ("TASKS_BACKEND", "HUEY_IMMEDIATE", "REDIS_URL", "TEST_DATABASE_NAME"):
        if name not in env:
            os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("bench", password="bench-password-1")
    return dict(os.environ)


def start_fake(**kwargs):
    from tests.fakes.gemini import FakeGemini

    fake = FakeGemini(api_key=KEY, **kwargs).start()
    os.environ["GEMINI_BASE_URL"] = fake.url
    return fake


def start_consumer(workers: int, log_name: str = "consumer.log") -> subprocess.Popen:
    args = [sys.executable, "manage.py", "run_huey", "-k", "thread", "-w", str(workers), "-d", "0.05", "-m", "0.5"]
    args += ["-b", "1.1", "-q"]
    log = open(Path(os.environ["DATA_DIR"]) / log_name, "ab")
    return subprocess.Popen(args, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=log)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def submit(count: int, prefix: str, model: str = "gemini-3-pro-image-preview", size: str = "1K") -> list[int]:
    """Queue `count` generations the way a user queues many: one batch (one transaction)."""
    from django.contrib.auth import get_user_model

    from generator import batches

    user = get_user_model().objects.get(username="bench")
    defaults = {"provider": "gemini", "model": model, "aspect_ratio": "1:1", "size": size, "n": "1"}
    defaults |= {"style": "", "preset": "", "visibility": "team"}
    rows = batches.parse_lines("\n".join(f"{prefix} #{i}" for i in range(count)))
    batch = batches.create(user, batches.validate(rows, defaults, user), name=prefix)
    return list(batch.generations.order_by("id").values_list("pk", flat=True))


def wait_done(ids: list[int], timeout: float, tick=None) -> bool:
    from generator.models import Generation

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if not Generation.objects.filter(pk__in=ids, status__in=Generation.ACTIVE_STATUSES).exists():
            return True
        time.sleep(0.1)
    return False


def audit(ids: list[int], fake) -> dict:
    """Exactly-once checks: images, charges and calls per generation."""
    from collections import Counter

    from django.db.models import Count, Sum

    from generator.models import Generation, Image
    from spend.models import SpendEntry

    rows = Generation.objects.filter(pk__in=ids)
    statuses = Counter(rows.values_list("status", flat=True))
    images_per = Counter(Image.objects.filter(generation__in=ids).values_list("generation_id", flat=True))
    settles = SpendEntry.objects.filter(generation__in=ids, kind="settle").values("generation").annotate(n=Count("id"))
    ledger = SpendEntry.objects.filter(generation__in=ids).aggregate(s=Sum("amount"))["s"] or 0
    charged = rows.aggregate(s=Sum("actual_cost"))["s"] or 0
    calls = Counter(r.prompt for r in fake.requests if r.prompt)
    attempts = dict(rows.values_list("prompt", "attempts"))
    mismatched = {p: (attempts.get(p), calls.get(p, 0)) for p in attempts if attempts.get(p) != calls.get(p, 0)}
    return {
        "statuses": dict(statuses),
        "generations": len(ids),
        "with_exactly_one_image": sum(1 for g in ids if images_per.get(g) == 1),
        "duplicate_images": sum(n - 1 for n in images_per.values() if n > 1),
        "charged_more_than_once": sum(1 for s in settles if s["n"] > 1),
        "ledger_equals_actual_costs": ledger == charged,
        "attempts_recorded": sum(attempts.values()),
        "requests_at_fake": sum(calls.values()),
        "generations_whose_attempts_differ_from_fake_log": len(mismatched),
        "_mismatched": mismatched,
    }


def wall_seconds(ids: list[int], t0_wall: float) -> float:
    from django.db.models import Max

    from generator.models import Generation

    last = Generation.objects.filter(pk__in=ids).aggregate(m=Max("finished_at"))["m"]
    return last.timestamp() - t0_wall
