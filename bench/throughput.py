"""Throughput: N generations against the fake Gemini (latency L) through real huey consumers.

    .venv/bin/python -m bench.throughput                       # 200 jobs, cap 16, no RPM limit
    .venv/bin/python -m bench.throughput --rpm 600             # the same under 600 requests/minute
    .venv/bin/python -m bench.throughput --workers 8 --consumers 2

Wall time runs to the last generation stored (image, thumbnail and charge committed),
printed from the moment the batch's doorbells are rung (its transaction committed) and
from the moment it was submitted; ideal = ceil(N / cap) x L, or N / RPM minutes when
that is longer.
"""

from __future__ import annotations

import argparse
import math
import time

from . import common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rpm", type=int, default=0)
    parser.add_argument("--workers", type=int, default=16, help="threads per consumer")
    parser.add_argument("--consumers", type=int, default=1, help="consumer processes")
    parser.add_argument("--database-url", default="", help="default: SQLite in a fresh folder")
    args = parser.parse_args()

    env = {"GEMINI_CONCURRENCY": str(args.concurrency), "GEMINI_RPM": str(args.rpm)}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    common.prepare(env)
    fake = common.start_fake(latency=args.latency)
    consumers = [common.start_consumer(args.workers, f"consumer{i}.log") for i in range(args.consumers)]
    time.sleep(3)  # consumers import Django and start polling
    try:
        t0 = time.time()
        ids = common.submit(args.count, "throughput")
        enqueued = time.time() - t0
        done = common.wait_done(ids, timeout=max(120, args.count * args.latency))
        wall = common.wall_seconds(ids, t0)
    finally:
        for c in consumers:
            common.stop(c)
        fake.stop()
    ideal = math.ceil(args.count / args.concurrency) * args.latency
    if args.rpm:
        ideal = max(ideal, args.count / args.rpm * 60)
    report = common.audit(ids, fake)
    print(
        f"throughput: {args.count} generations, latency {args.latency} s, cap {args.concurrency}, "
        f"rpm {args.rpm or 'none'}, {args.consumers} consumer(s) x {args.workers} threads, "
        f"db {'postgres' if args.database_url else 'sqlite'}"
    )
    print(f"  all finished: {done}; statuses {report['statuses']}")
    print(f"  queueing the batch (one transaction, doorbells rung on commit) took {enqueued:.2f} s")
    print(f"  from the doorbells: wall {wall - enqueued:.2f} s / ideal {ideal:.2f} s = {(wall - enqueued) / ideal:.3f}")
    print(f"  from submitting:    wall {wall:.2f} s / ideal {ideal:.2f} s = {wall / ideal:.3f}")
    from generator.models import Generation

    lat = sorted(Generation.objects.filter(pk__in=ids).values_list("latency_ms", flat=True))
    print(f"  per-job call+store latency p50 {lat[len(lat) // 2]} ms, p95 {lat[int(len(lat) * 0.95)]} ms")
    print(f"  calls at the fake {report['requests_at_fake']}, attempts recorded {report['attempts_recorded']}")


if __name__ == "__main__":
    main()
