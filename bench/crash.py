"""Crash: N generations while the worker is killed with SIGKILL (kill -9) at random moments.

    .venv/bin/python -m bench.crash                   # 50 jobs, 3 kills

A short lease (GENERATION_LEASE_SECONDS=6) lets the sweeper notice dead workers quickly;
this script calls dispatch.sweep() every second in place of the per-minute periodic
task (`manage.py sweep` does the same). Checks: every job completes exactly once, one
image each, no double charge.
"""

from __future__ import annotations

import argparse
import random
import signal
import time

from . import common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    common.prepare(
        {
            "GEMINI_CONCURRENCY": "16",
            "GENERATION_LEASE_SECONDS": "6",
            "PROVIDER_TIMEOUT_SECONDS": "4",
            "SWEEP_STALE_SECONDS": "5",
        }
    )
    from generator import dispatch
    from generator.models import Generation

    fake = common.start_fake(latency=args.latency)
    consumer = common.start_consumer(args.workers)
    time.sleep(2.5)
    kills = []
    last_sweep = [0.0]

    def sweep() -> None:
        if time.monotonic() - last_sweep[0] >= 1.0:
            last_sweep[0] = time.monotonic()
            dispatch.sweep()

    try:
        t0 = time.time()
        ids = common.submit(args.count, "crash")
        for _ in range(args.kills):
            deadline = time.monotonic() + rng.uniform(0.5, 3.0)
            while time.monotonic() < deadline:
                sweep()
                time.sleep(0.05)
            running = Generation.objects.filter(pk__in=ids, status="running").count()
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()
            kills.append((round(time.time() - t0, 2), running))
            consumer = common.start_consumer(args.workers)
        done = common.wait_done(ids, timeout=300, tick=sweep)
        wall = common.wall_seconds(ids, t0)
    finally:
        common.stop(consumer)
        fake.stop()
    report = common.audit(ids, fake)
    lost_leases = sum(
        1 for g in Generation.objects.filter(pk__in=ids) for e in g.attempt_log if e.get("outcome") == "lease expired"
    )
    print(
        f"crash: {args.count} generations, {args.workers} threads, SIGKILL at (s after enqueue, jobs running): {kills}"
    )
    print(f"  all finished: {done} in {wall:.1f} s; statuses {report['statuses']}")
    print(f"  jobs re-queued by the sweeper after their worker died: {lost_leases}")
    for key in ("with_exactly_one_image", "duplicate_images", "charged_more_than_once", "ledger_equals_actual_costs"):
        print(f"  {key}: {report[key]}")
    print(f"  attempts recorded {report['attempts_recorded']} vs calls in the fake's log {report['requests_at_fake']}")


if __name__ == "__main__":
    main()
