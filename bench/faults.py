"""Faults: N generations against a fake Gemini that fails a share of calls at random
(429 with RetryInfo retryDelay, 503, or a hang past the read timeout).

    .venv/bin/python -m bench.faults                  # 300 jobs, 30% faults

Checks: every job succeeds, exactly one image each, no double charge, and the attempts
recorded on each generation equal the calls the fake's own request log holds for it.
"""

from __future__ import annotations

import argparse
import time

from . import common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=24)
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    common.prepare(
        {
            "GEMINI_CONCURRENCY": str(args.concurrency),
            "GENERATION_MAX_ATTEMPTS": str(args.max_attempts),
            "PROVIDER_TIMEOUT_SECONDS": "3",
        }
    )
    fake = common.start_fake(
        latency=args.latency, fault_rate=args.fault_rate, seed=args.seed, hang_seconds=5.0, fault_retry_delay=1.0
    )
    consumer = common.start_consumer(args.workers)
    time.sleep(3)
    try:
        t0 = time.time()
        ids = common.submit(args.count, "faults")
        done = common.wait_done(ids, timeout=600)
        wall = common.wall_seconds(ids, t0)
    finally:
        common.stop(consumer)
        fake.stop()
    report = common.audit(ids, fake)
    kinds: dict[str, int] = {}
    for r in fake.requests:
        kinds[r.behaviour] = kinds.get(r.behaviour, 0) + 1
    print(f"faults: {args.count} generations, {args.fault_rate:.0%} faults, latency {args.latency} s, cap "
          f"{args.concurrency}, {args.workers} threads, max attempts {args.max_attempts}")  # fmt: skip
    print(f"  all finished: {done} in {wall:.1f} s; statuses {report['statuses']}")
    print(f"  what the fake did: {kinds}")
    for key in ("with_exactly_one_image", "duplicate_images", "charged_more_than_once", "ledger_equals_actual_costs"):
        print(f"  {key}: {report[key]}")
    print(
        f"  attempts recorded {report['attempts_recorded']} vs calls in the fake's log {report['requests_at_fake']}; "
        f"generations that differ: {report['generations_whose_attempts_differ_from_fake_log']}"
    )
    if report["_mismatched"]:
        print(f"  differing (attempts, calls): {list(report['_mismatched'].items())[:10]}")


if __name__ == "__main__":
    main()
