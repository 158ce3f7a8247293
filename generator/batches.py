"""Batches: many prompts at once, each its own generation, all or nothing.

Input is either text with one prompt per line (blank lines and lines starting with
"#" are skipped) or a CSV file with a header row naming some of the columns prompt,
style, ratio (or aspect_ratio) and size. Every row is checked by the same
GenerationForm as the composer; if any row is bad, every problem is reported by its
line number and nothing is created.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from . import dispatch, generations
from .forms import GenerationForm
from .models import Batch, Generation

CSV_COLUMNS = {
    "prompt": "prompt",
    "style": "style",
    "ratio": "aspect_ratio",
    "aspect_ratio": "aspect_ratio",
    "size": "size",
}


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


class BatchInputError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_lines(text: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        prompt = line.strip()
        if prompt and not prompt.startswith("#"):
            rows.append(Row(number, {"prompt": prompt}))
    return _checked_count(rows)


def parse_csv(data: bytes) -> list[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchInputError([f"The CSV file is not UTF-8 text (byte {exc.start})."]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if "prompt" not in header or unknown:
        problem = f"unknown column(s) {', '.join(unknown)}" if unknown else "no prompt column"
        raise BatchInputError(
            [f"Line 1: {problem}; the header may name prompt, style, ratio and size (prompt is required)."]
        )
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if None in record:
                raise BatchInputError([f"Line {reader.line_num}: more values than columns in the header."])
            values = {CSV_COLUMNS[k]: (v or "").strip() for k, v in record.items()}
            if any(values.values()):
                rows.append(Row(reader.line_num, values))
    except csv.Error as exc:
        raise BatchInputError([f"Line {reader.line_num}: {exc}."]) from None
    return _checked_count(rows)


def _checked_count(rows: list[Row]) -> list[Row]:
    if not rows:
        raise BatchInputError(["There are no prompts: write one per line, or upload a CSV with a prompt column."])
    if len(rows) > settings.BATCH_MAX_ROWS:
        raise BatchInputError([f"{len(rows)} prompts; a batch takes at most {settings.BATCH_MAX_ROWS}."])
    return rows


def validate(rows: list[Row], defaults: dict, user) -> list[dict]:
    """Each row's cleaned GenerationForm data; raises with every bad row's line number."""
    cleaned, errors = [], []
    for row in rows:
        data = {**defaults, **{k: v for k, v in row.values.items() if v}}
        form = GenerationForm(data, user=user)
        if form.is_valid():
            cleaned.append(form.cleaned_data)
            continue
        for field, messages in form.errors.items():
            label = "" if field == "__all__" else f"{field.replace('_', ' ')}: "
            errors.extend(f"Line {row.line}: {label}{message}" for message in messages)
    if errors:
        raise BatchInputError(errors)
    return cleaned


def create(user, cleaned_rows: list[dict], name: str = "") -> Batch:
    """One Batch and one generation per row, in one transaction (a budget refusal undoes all)."""
    with transaction.atomic():
        batch = Batch.objects.create(user=user, name=name[:200])
        for data in cleaned_rows:
            generations.submit(user, data, batch=batch)
    return batch


@dataclass(frozen=True)
class Progress:
    total: int
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in Generation.FINAL_STATUSES)

    @property
    def active(self) -> int:
        return self.total - self.done

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def progress(batch: Batch) -> Progress:
    counts: dict[str, int] = {}
    for status in batch.generations.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return Progress(total=sum(counts.values()), counts=counts)


def with_progress(batches, limit: int) -> list[tuple[Batch, Progress]]:
    """The first `limit` batches of the queryset with their progress, counted in the same query."""
    statuses = list(Generation.Status.values)
    rows = batches.annotate(**{f"n_{s}": Count("generations", filter=Q(generations__status=s)) for s in statuses})
    result = []
    for batch in rows[:limit]:
        counts = {s: getattr(batch, f"n_{s}") for s in statuses if getattr(batch, f"n_{s}")}
        result.append((batch, Progress(total=sum(counts.values()), counts=counts)))
    return result


def cancel(batch: Batch) -> tuple[int, int]:
    """Cancel every queued job; flag running ones. Returns (canceled, still in flight)."""
    canceled = in_flight = 0
    for generation in batch.generations.filter(status__in=Generation.ACTIVE_STATUSES):
        if dispatch.cancel(generation):
            canceled += 1
        elif Generation.objects.filter(pk=generation.pk, status=Generation.Status.RUNNING).exists():
            in_flight += 1
    return canceled, in_flight
