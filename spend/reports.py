"""Reports are sums over the ledger (SpendEntry), grouped by who, what, when.

Every entry of a generation is accounted at the generation's creation time, so a
generation falls wholly inside or outside a date range and every grouping of the
same entries adds up to the same total, to the micro-dollar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from generator.models import Generation, Image

from . import periods
from .budgets import ZERO, from_micro, ledger_sum, micro_sum
from .models import SpendEntry

Status = Generation.Status


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return periods.date_range(self.start, self.end)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def quick_ranges(today: date | None = None) -> list[tuple[str, DateRange]]:
    today = today or timezone.localdate()
    this_month = periods.month_start(today)
    last_month_end = this_month - timedelta(days=1)
    return [
        ("This month", DateRange(this_month, today)),
        ("Last month", DateRange(periods.month_start(last_month_end), last_month_end)),
        ("Last 7 days", DateRange(today - timedelta(days=6), today)),
        ("Last 30 days", DateRange(today - timedelta(days=29), today)),
        ("This year", DateRange(today.replace(month=1, day=1), today)),
    ]


def entries(period: DateRange, user=None) -> QuerySet[SpendEntry]:
    start, end = period.bounds
    qs = SpendEntry.objects.filter(accounted_at__gte=start, accounted_at__lt=end)
    return qs.filter(user=user) if user is not None else qs


def total(qs: QuerySet[SpendEntry]) -> Decimal:
    return ledger_sum(qs)


def _summed(qs: QuerySet[SpendEntry], *keys: str) -> list[dict]:
    rows = qs.order_by().values(*keys).annotate(micros=micro_sum()).order_by("-micros", *keys)
    return [{**row, "amount": from_micro(row.pop("micros"))} for row in rows]


def by_user(qs: QuerySet[SpendEntry]) -> list[dict]:
    return _summed(qs, "user_id", "user__username")


def by_model(qs: QuerySet[SpendEntry]) -> list[dict]:
    return _summed(qs, "provider", "model")


def by_preset_style(qs: QuerySet[SpendEntry]) -> list[dict]:
    return _summed(qs, "generation__preset__name", "generation__style__name")


def by_day(qs: QuerySet[SpendEntry], period: DateRange) -> list[tuple[date, Decimal]]:
    sums = {
        row["day"]: from_micro(row["micros"])
        for row in qs.order_by()
        .annotate(day=TruncDate("accounted_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(micros=micro_sum())
    }
    return [(day, sums.get(day, ZERO)) for day in period.days]


@dataclass
class Pivot:
    """Users down, provider/model across: who spent what on which model."""

    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[str, list[Decimal], Decimal]] = field(default_factory=list)
    column_totals: list[Decimal] = field(default_factory=list)
    total: Decimal = ZERO


def by_user_and_model(qs: QuerySet[SpendEntry]) -> Pivot:
    cells: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for row in _summed(qs, "user__username", "provider", "model"):
        cells[row["user__username"]][(row["provider"], row["model"])] = row["amount"]
    column_sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for per_user in cells.values():
        for key, amount in per_user.items():
            column_sums[key] += amount
    columns = sorted(column_sums, key=lambda k: (-column_sums[k], k))
    rows = [
        (username, [per_user.get(c, ZERO) for c in columns], sum(per_user.values(), ZERO))
        for username, per_user in cells.items()
    ]
    rows.sort(key=lambda r: (-r[2], r[0]))
    return Pivot(
        columns=columns,
        rows=rows,
        column_totals=[column_sums[c] for c in columns],
        total=sum(column_sums.values(), ZERO),
    )


@dataclass(frozen=True)
class Outcomes:
    generations: int
    images: int
    succeeded_cost: Decimal
    failed: int
    failed_cost: Decimal
    blocked: int
    blocked_cost: Decimal
    corrections: Decimal

    @property
    def cost_per_image(self) -> Decimal | None:
        return (self.succeeded_cost / self.images).quantize(Decimal("0.000001")) if self.images else None


def outcomes(period: DateRange, qs: QuerySet[SpendEntry]) -> Outcomes:
    """Images made and what failures cost; costs come from the ledger, counts from
    the generations sent in the range."""
    start, end = period.bounds
    generations = Generation.objects.filter(created_at__gte=start, created_at__lt=end)
    counts = generations.aggregate(
        all=Count("pk"),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
        blocked=Count("pk", filter=Q(status=Status.BLOCKED)),
    )
    return Outcomes(
        generations=counts["all"],
        images=Image.objects.filter(generation__in=generations).count(),
        succeeded_cost=ledger_sum(qs.filter(generation__status=Status.SUCCEEDED)),
        failed=counts["failed"],
        failed_cost=ledger_sum(qs.filter(generation__status=Status.FAILED)),
        blocked=counts["blocked"],
        blocked_cost=ledger_sum(qs.filter(generation__status=Status.BLOCKED)),
        corrections=ledger_sum(qs.filter(kind=SpendEntry.Kind.CORRECTION)),
    )


@dataclass(frozen=True)
class LineItem:
    at: datetime
    username: str
    kind: str
    amount: Decimal
    generation: Generation | None = None
    note: str = ""


def line_items(qs: QuerySet[SpendEntry]) -> list[LineItem]:
    """One line per generation (its net ledger amount) plus one per correction; the
    amounts add up to the ledger total of `qs`."""
    per_generation = {
        row["generation_id"]: from_micro(row["micros"])
        for row in qs.filter(generation__isnull=False).order_by().values("generation_id").annotate(micros=micro_sum())
    }
    generations = (
        Generation.objects.filter(pk__in=per_generation)
        .select_related("user", "preset", "style")
        .prefetch_related("images")
        .order_by("created_at", "pk")
    )
    items = [
        LineItem(
            at=g.created_at,
            username=g.user.get_username(),
            kind="generation",
            amount=per_generation[g.pk],
            generation=g,
        )
        for g in generations
    ]
    for entry in qs.filter(generation__isnull=True).select_related("user").order_by("accounted_at", "pk"):
        items.append(
            LineItem(
                at=entry.accounted_at,
                username=entry.user.get_username(),
                kind=entry.kind,
                amount=entry.amount,
                note=entry.note,
            )
        )
    items.sort(key=lambda item: item.at)
    return items
