"""Reservations against budgets, settled to actual costs: the append-only ledger.

Every entry is signed: a reservation adds the estimate, a release takes it back, a
settlement releases the estimate and adds the actual cost. The sum of a user's
entries is therefore what they have spent plus what is still reserved, and that sum
over a budget's period is what the budget has used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Cast, Round

from . import periods
from .models import Budget, SpendEntry
from .money import percent, usd

ZERO = Decimal("0")
MICRO = 1_000_000
SIX_PLACES = Decimal("0.000001")
PERIOD_WORDS = {Budget.Period.MONTH: ("monthly", "this month"), Budget.Period.DAY: ("daily", "today")}


class BudgetExceeded(ValidationError):
    """A request does not fit a budget. Raised inside the submit transaction, so the
    generation row, its references and its reservation are all rolled back."""

    def __init__(self, status: BudgetStatus, cost: Decimal) -> None:
        self.status = status
        self.cost = cost
        left = f"only {usd(status.left)} is left" if status.left > 0 else "nothing is left"
        super().__init__(
            f"This costs {usd(cost)} but {left} of {status.whose} {usd(status.amount)} "
            f"{status.adjective} budget. Choose a smaller size or fewer images, or ask an admin to raise the budget.",
            code="budget_exceeded",
        )


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    used: Decimal
    start: datetime
    end: datetime

    @property
    def amount(self) -> Decimal:
        return self.budget.amount

    @property
    def left(self) -> Decimal:
        return max(ZERO, self.budget.amount - self.used)

    @property
    def is_team(self) -> bool:
        return self.budget.user_id is None

    @property
    def whose(self) -> str:
        return "the team's" if self.is_team else "your"

    @property
    def adjective(self) -> str:
        return PERIOD_WORDS[self.budget.period][0]

    @property
    def when(self) -> str:
        return PERIOD_WORDS[self.budget.period][1]


def applicable(user_id: int) -> QuerySet[Budget]:
    """The user's own budgets and the team's, month and day, that are switched on."""
    return Budget.objects.filter(Q(user_id=user_id) | Q(user__isnull=True), active=True)


def micro_sum(field: str = "amount") -> Sum:
    """SUM over whole micro-dollars. SQLite stores decimals as floats and sums them as
    floats, which drifts below the sixth place; integers sum exactly on every backend."""
    return Sum(Cast(Round(F(field) * MICRO), models.BigIntegerField()))


def from_micro(value: int | None) -> Decimal:
    return (Decimal(value or 0) / MICRO).quantize(SIX_PLACES)


def ledger_sum(queryset: QuerySet[SpendEntry]) -> Decimal:
    return from_micro(queryset.aggregate(total=micro_sum())["total"])


def status_of(budget: Budget, at: datetime | None = None) -> BudgetStatus:
    start, end = periods.bounds(budget.period, at)
    entries = SpendEntry.objects.filter(accounted_at__gte=start, accounted_at__lt=end)
    if budget.user_id is not None:
        entries = entries.filter(user_id=budget.user_id)
    return BudgetStatus(budget=budget, used=ledger_sum(entries), start=start, end=end)


def statuses(user_id: int, at: datetime | None = None) -> list[BudgetStatus]:
    return [status_of(b, at) for b in applicable(user_id).order_by("user_id", "period")]


def tightest(user_id: int, at: datetime | None = None) -> BudgetStatus | None:
    """The applicable budget with the least money left, if any."""
    found = statuses(user_id, at)
    return min(found, key=lambda s: (s.left, s.is_team)) if found else None


def quote_context(estimate: Decimal, status: BudgetStatus | None) -> dict:
    """For the composer: "$0.54 — 12% of your remaining $4.46 this month"."""
    return {
        "estimate": estimate,
        "budget": status,
        "share": percent(estimate, status.left) if status is not None and status.left > 0 else "",
        "over": status is not None and estimate > status.left,
    }


@transaction.atomic
def reserve(generation) -> None:
    cost = generation.estimated_cost
    if not cost:
        return
    # Lock every budget this reservation counts against, in primary-key order so two
    # submissions never wait on each other crosswise. On PostgreSQL the row locks make
    # concurrent submissions that share a budget take turns between "sum what is used"
    # and "append the reservation" (READ COMMITTED: the sum after the lock sees what
    # the previous holder committed), while unrelated users with only their own
    # budgets never block each other. We chose row locks over SERIALIZABLE (which
    # would need a retry loop around every submit) and over advisory locks (PostgreSQL
    # only, and invisible in the schema). SQLite ignores FOR UPDATE; there the
    # connection's IMMEDIATE transactions take the database write lock at BEGIN, which
    # serializes the same section.
    _reserve_locked(generation, cost, generation.provider, generation.model)


def _reserve_locked(generation, cost: Decimal, provider: str, model: str) -> None:
    at = generation.created_at
    locked = list(applicable(generation.user_id).select_for_update().order_by("pk"))
    for budget in locked:
        status = status_of(budget, at)
        if status.used + cost > budget.amount:
            raise BudgetExceeded(status, cost)
    SpendEntry.objects.create(
        user_id=generation.user_id,
        generation=generation,
        kind=SpendEntry.Kind.RESERVE,
        amount=cost,
        provider=provider,
        model=model,
        accounted_at=at,
    )


@transaction.atomic
def reserve_more(generation, new_estimate: Decimal) -> None:
    """Reserve the difference when a job moves to a dearer route (a fallback).

    The caller raises `generation.estimated_cost` to `new_estimate` in the same
    transaction, so the settlement's release still undoes exactly what was reserved
    (and, booked to the requested model like the first reservation, nets to zero there).
    """
    extra = new_estimate - generation.estimated_cost
    if extra > 0:
        _reserve_locked(generation, extra, generation.provider, generation.model)


@transaction.atomic
def settle(generation, actual: Decimal) -> None:
    release(generation)
    if actual:
        SpendEntry.objects.create(
            user_id=generation.user_id,
            generation=generation,
            kind=SpendEntry.Kind.SETTLE,
            amount=actual,
            provider=generation.shown_provider,
            model=generation.shown_model,
            accounted_at=generation.created_at,
        )


def release(generation) -> None:
    if generation.estimated_cost:
        SpendEntry.objects.create(
            user_id=generation.user_id,
            generation=generation,
            kind=SpendEntry.Kind.RELEASE,
            amount=-generation.estimated_cost,
            provider=generation.provider,
            model=generation.model,
            accounted_at=generation.created_at,
        )
