"""Circuit breakers, one per provider/model, shared by every worker through the database.

Closed: calls go through. After BREAKER_FAILURES retryable failures in a row it opens
for BREAKER_COOLDOWN_SECONDS: its jobs wait (or fall back) instead of hammering a
provider that is down. Once the cooldown has passed, exactly one job wins the right to
probe (half-open); its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from .dispatch_models import Breaker


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    wait: float = 0.0
    probe: bool = False
    failures: int = 0


def scope(provider_name: str, model: str) -> str:
    return f"{provider_name}:{model}"


def check(name: str, now: datetime | None = None) -> Verdict:
    row = Breaker.objects.filter(scope=name).first()
    if row is None or row.open_until is None:
        return Verdict(True)
    now = now or timezone.now()
    if row.open_until > now:
        return Verdict(False, wait=(row.open_until - now).total_seconds(), failures=row.consecutive_failures)
    # Cooled down: the first job to move open_until wins the probe; the window it sets
    # also lets another probe through later if this one's worker dies mid-call.
    cooldown = timedelta(seconds=settings.BREAKER_COOLDOWN_SECONDS)
    if Breaker.objects.filter(pk=row.pk, open_until=row.open_until).update(open_until=now + cooldown, probing=True):
        return Verdict(True, probe=True, failures=row.consecutive_failures)
    return Verdict(False, wait=settings.BREAKER_COOLDOWN_SECONDS, failures=row.consecutive_failures)


def is_open(name: str, now: datetime | None = None) -> bool:
    """Open right now (a probe in flight counts as open); unlike check(), takes no probe."""
    return Breaker.objects.filter(scope=name, open_until__gt=now or timezone.now()).exists()


def record_success(name: str) -> None:
    if Breaker.objects.filter(scope=name).exclude(consecutive_failures=0, open_until=None).exists():
        Breaker.objects.filter(scope=name).update(consecutive_failures=0, open_until=None, probing=False)


def record_failure(name: str, error: str, now: datetime | None = None) -> bool:
    """Count a retryable failure; return True if this failure opened the breaker."""
    now = now or timezone.now()
    Breaker.objects.get_or_create(scope=name)
    Breaker.objects.filter(scope=name).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=error[:1000], last_failure_at=now
    )
    row = Breaker.objects.get(scope=name)
    tripped = row.probing or (row.open_until is None and row.consecutive_failures >= settings.BREAKER_FAILURES)
    if not tripped:
        return False
    return bool(
        Breaker.objects.filter(pk=row.pk, open_until=row.open_until, probing=row.probing).update(
            open_until=now + timedelta(seconds=settings.BREAKER_COOLDOWN_SECONDS),
            probing=False,
            times_opened=F("times_opened") + 1,
        )
    )


def reset(name: str) -> None:
    Breaker.objects.filter(scope=name).update(consecutive_failures=0, open_until=None, probing=False)
