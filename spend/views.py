from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from generator.models import Generation

from . import budgets, charts, periods, reports
from .forms import ReportRangeForm
from .models import SpendEntry
from .reports import DateRange

MOST_EXPENSIVE = 10
Kind = SpendEntry.Kind


def staff_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Cost reports are for staff.")
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
def my_spend(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    month = DateRange(periods.month_start(today), periods.next_month(today) - timedelta(days=1))
    mine = reports.entries(month, user=request.user)
    start, end = month.bounds
    return render(
        request,
        "spend/my_spend.html",
        {
            "month": month,
            "total": reports.total(mine),
            "spent": reports.total(mine.filter(kind__in=[Kind.SETTLE, Kind.CORRECTION])),
            # Reservations not yet settled or released: jobs still queued or running.
            "reserved": reports.total(mine.filter(kind__in=[Kind.RESERVE, Kind.RELEASE])),
            "budgets": budgets.statuses(request.user.pk),
            "chart": charts.daily_bars(reports.by_day(mine, month), "Your spend per day this month"),
            "expensive": Generation.objects.filter(
                user=request.user, created_at__gte=start, created_at__lt=end, actual_cost__gt=0
            ).order_by("-actual_cost", "-pk")[:MOST_EXPENSIVE],
            "per_model": reports.by_model(mine),
        },
    )


def _chosen_range(request: HttpRequest) -> tuple[ReportRangeForm, DateRange]:
    form = ReportRangeForm(request.GET or None)
    if request.GET and form.is_valid():
        return form, form.range()
    return form, reports.quick_ranges()[0][1]


def _range_query(period: DateRange) -> str:
    return urlencode({"start": period.start.isoformat(), "end": period.end.isoformat()})


@staff_required
@require_GET
def reports_page(request: HttpRequest) -> HttpResponse:
    form, period = _chosen_range(request)
    ledger = reports.entries(period)
    quick = [(label, _range_query(r), r == period) for label, r in reports.quick_ranges()]
    return render(
        request,
        "spend/reports.html",
        {
            "form": form,
            "period": period,
            "quick": quick,
            "csv_url": f"{reverse('spend:reports_csv')}?{_range_query(period)}",
            "total": reports.total(ledger),
            "by_user": reports.by_user(ledger),
            "pivot": reports.by_user_and_model(ledger),
            "by_model": reports.by_model(ledger),
            "by_preset_style": reports.by_preset_style(ledger),
            "chart": charts.daily_bars(reports.by_day(ledger, period), "Team spend per day"),
            "outcomes": reports.outcomes(period, ledger),
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: str) -> str:
    # A text cell starting with = + - @ would run as a formula in a spreadsheet.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


CSV_HEADER = [
    "accounted_at",
    "user",
    "kind",
    "generation",
    "status",
    "provider",
    "model",
    "size",
    "aspect_ratio",
    "images",
    "preset",
    "style",
    "estimated_cost_usd",
    "cost_usd",
    "note",
    "generation_url",
    "image_urls",
]


def _csv_rows(request: HttpRequest, items: list[reports.LineItem]) -> Iterator[list[str]]:
    yield CSV_HEADER
    for item in items:
        g = item.generation
        if g is None:
            yield [
                timezone.localtime(item.at).isoformat(),
                _cell(item.username),
                item.kind,
                *[""] * 9,
                "",
                str(item.amount),
                _cell(item.note),
                "",
                "",
            ]
            continue
        images = list(g.images.all())
        yield [
            timezone.localtime(item.at).isoformat(),
            _cell(item.username),
            item.kind,
            str(g.pk),
            g.status,
            g.shown_provider,
            g.shown_model,
            g.size,
            g.aspect_ratio,
            str(len(images)),
            _cell(g.preset.name) if g.preset else "",
            _cell(g.style.name) if g.style else "",
            str(g.estimated_cost),
            str(item.amount),
            "",
            request.build_absolute_uri(g.get_absolute_url()),
            " ".join(request.build_absolute_uri(i.get_absolute_url()) for i in sorted(images, key=lambda i: i.index)),
        ]


@staff_required
@require_GET
def reports_csv(request: HttpRequest) -> HttpResponse:
    form, period = _chosen_range(request)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            " ".join(form.errors.get("__all__", []) or ["Give start and end as YYYY-MM-DD."]),
            status=400,
            content_type="text/plain",
        )
    items = reports.line_items(reports.entries(period))
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(request, items)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="nanobanana-spend-{period.start}-to-{period.end}.csv"'
    return response
