"""The gallery's query: visibility, filters, sorts and keyset pagination.

Pages after the first are addressed by a cursor (the sort key of the last tile
shown), not by OFFSET, so page 400 costs what page 1 costs. Relevance is the
exception: ranking must score every match anyway, so it pages by offset.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import DecimalField, Exists, F, Func, OuterRef, Q, QuerySet
from django.utils import timezone

from . import search
from .models import Favourite, Generation, Image, ModelCapability, Preset, StylePreset
from .providers.registry import providers

PAGE_SIZE = 24
MAX_PAGE_SIZE = 96
MAX_OFFSET = 10**9

SORTS = {
    # name: (label, field, descending)
    "newest": ("Newest", "generation__created_at", True),
    "oldest": ("Oldest", "generation__created_at", False),
    "cost": ("Most expensive", "generation_cost", True),
    "relevance": ("Best match", None, True),
}


def _sort_field(sort: str) -> tuple[str | None, bool]:
    """(field, descending) of a sort on this database."""
    _, field_name, descending = SORTS[sort]
    if field_name == "generation_cost" and connection.vendor == "sqlite":
        # SQLite walks image_gallery_cost but first builds a Bloom filter over every
        # generation for the visibility check (15 ms at 100k, LIMIT notwithstanding);
        # walking the generation's cost index and sorting each price's images costs 2 ms.
        # Same values (a trigger copies them), so cursors are interchangeable.
        field_name = "generation__actual_cost"
    return field_name, descending


def visible_images(user) -> QuerySet:
    return Image.objects.filter(Generation.visible_q(user, "generation__"), generation__deleted_at__isnull=True)


class GalleryFilterForm(forms.Form):
    """Every filter is a GET parameter, so any view of the gallery is a shareable URL."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    user = forms.ChoiceField(required=False, label="Who")
    model = forms.ChoiceField(required=False)
    provider = forms.ChoiceField(required=False)
    style = forms.ChoiceField(required=False)
    preset = forms.ChoiceField(required=False)
    ratio = forms.ChoiceField(required=False)
    size = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), ("ok", "As requested"), ("mismatch", "Ratio ignored by provider")],
    )
    tag = forms.CharField(required=False, max_length=50)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    cost_min = forms.DecimalField(required=False, min_value=0, decimal_places=6, label="Cost from $")
    cost_max = forms.DecimalField(required=False, min_value=0, decimal_places=6, label="Cost to $")
    favourites = forms.BooleanField(required=False, label="My favourites only")
    sort = forms.ChoiceField(required=False, choices=[(k, v[0]) for k, v in SORTS.items()])

    def __init__(self, *args, viewer, choices: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        if not choices:
            # The infinite-scroll fragment re-validates the same URL; it skips the
            # choice lists (four queries) and checks values with plain CharFields.
            for name in ("user", "model", "provider", "style", "preset", "ratio", "size"):
                self.fields[name] = forms.CharField(required=False, max_length=150)
            return
        users = get_user_model().objects.filter(is_active=True).order_by("username").values_list("username", flat=True)
        self.fields["user"].choices = [("", "Everyone"), ("me", "Me")] + [
            (u, u) for u in users if u != viewer.get_username()
        ]
        capabilities = list(ModelCapability.objects.all())
        self.fields["model"].choices = [("", "Any model")] + [(c.model_id, c.label) for c in capabilities]
        self.fields["provider"].choices = [("", "Any provider")] + [
            (p.name, p.display_name) for p in providers().values()
        ]
        self.fields["style"].choices = [("", "Any style")] + list(StylePreset.objects.values_list("slug", "name"))
        self.fields["preset"].choices = [("", "Any preset")] + list(Preset.objects.values_list("slug", "name"))
        ratios = sorted({r for c in capabilities for r in c.aspect_ratios}, key=_ratio_key)
        sizes = sorted({s for c in capabilities for s in c.sizes}, key=lambda s: (len(s), s))
        self.fields["ratio"].choices = [("", "Any ratio")] + [(r, r) for r in ratios]
        self.fields["size"].choices = [("", "Any size")] + [(s, s) for s in sizes]

    def clean(self):
        data = super().clean()
        lo, hi = data.get("date_from"), data.get("date_to")
        if lo and hi and lo > hi:
            self.add_error("date_to", "The end date is before the start date.")
        lo, hi = data.get("cost_min"), data.get("cost_max")
        if lo is not None and hi is not None and lo > hi:
            self.add_error("cost_max", "The maximum cost is below the minimum.")
        if data.get("sort") == "relevance" and not data.get("q"):
            data["sort"] = "newest"
        data["sort"] = data.get("sort") or ("relevance" if data.get("q") else "newest")
        return data

    def selects(self) -> list[tuple[str, str, list, str]]:
        """(name, label, choices, current value) of each drop-down, for hand-written <select>s:
        Django's widget templates cost ~20 ms for this form, more than the query."""
        names = ["user", "model", "provider", "style", "preset", "ratio", "size", "status", "sort"]
        current = self.data if self.is_bound else {}
        return [
            (n, self.fields[n].label or n.capitalize(), self.fields[n].choices, current.get(n) or "")
            for n in names
            if hasattr(self.fields[n], "choices")
        ]


def _ratio_key(ratio: str) -> float:
    a, _, b = ratio.partition(":")
    try:
        return int(a) / int(b)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered(viewer, data: dict) -> QuerySet:
    """Visible images matching the cleaned filter data (no ordering, no search rank)."""
    qs = visible_images(viewer)
    who = data.get("user")
    if who == "me":
        qs = qs.filter(generation__user=viewer)
    elif who:
        qs = qs.filter(generation__user__username=who)
    for name, column in [
        ("model", "generation__model"),
        ("provider", "generation__used_provider"),
        ("style", "generation__style__slug"),
        ("preset", "generation__preset__slug"),
        ("ratio", "generation__aspect_ratio"),
        ("size", "generation__size"),
    ]:
        if data.get(name):
            qs = qs.filter(**{column: data[name]})
    if data.get("status") == "ok":
        qs = qs.filter(ratio_mismatch=False)
    elif data.get("status") == "mismatch":
        qs = qs.filter(ratio_mismatch=True)
    if data.get("tag"):
        qs = qs.filter(tags__name=data["tag"].strip().lower())
    # Open-ended at the calendar's edges: the day after 9999-12-31 does not exist, and
    # midnight of 0001-01-01 east of UTC falls before year 1 (both were a 500).
    if data.get("date_from") and data["date_from"] > date.min:
        qs = qs.filter(generation__created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to") and data["date_to"] < date.max - timedelta(days=1):
        qs = qs.filter(generation__created_at__lt=_day_start(data["date_to"] + timedelta(days=1)))
    if data.get("cost_min") is not None or data.get("cost_max") is not None:
        cost = _sort_field("cost")[0] if data.get("sort") == "cost" else "generation__actual_cost"
        if data.get("sort") != "cost":
            # A cost range is rarely narrow: walking the date index and checking the cost
            # beats reading the whole range from the cost index and sorting it (SQLite
            # picks the latter). Unary plus keeps the planner off the cost index.
            qs = qs.alias(unindexed_cost=Func(F(cost), template="+%(expressions)s", output_field=DecimalField()))
            cost = "unindexed_cost"
        if data.get("cost_min") is not None:
            qs = qs.filter(**{f"{cost}__gte": data["cost_min"]})
        if data.get("cost_max") is not None:
            qs = qs.filter(**{f"{cost}__lte": data["cost_max"]})
    if data.get("favourites"):
        qs = qs.filter(favourites__user=viewer)  # a join: (user, image) is unique, so no duplicates
    return qs


class BadCursor(ValueError):
    pass


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise BadCursor from exc
    if not isinstance(values, list) or len(values) != 2:
        raise BadCursor
    return values


def _after(field_name: str, descending: bool, value, pk: int, nullable: bool) -> Q:
    """Rows strictly after (value, pk) in the order (field, id), both descending or both ascending."""
    lt, lte = ("lt", "lte") if descending else ("gt", "gte")
    if value is None:  # NULLs sort last; only other NULLs follow
        return Q(**{f"{field_name}__isnull": True, f"pk__{lt}": pk})
    after = Q(**{f"{field_name}__{lt}": value}) | Q(**{field_name: value, f"pk__{lt}": pk})
    # The redundant bound lets the database walk the index from the cursor on. Only a
    # nullable field gets the IS NULL alternatives: on created_at they would turn the
    # bound into a filter and PostgreSQL would read the index from the top (42k rows
    # for a page at tile 50,000).
    bound = Q(**{f"{field_name}__{lte}": value})
    if nullable:
        bound |= Q(**{f"{field_name}__isnull": True})
        if descending:
            after |= Q(**{f"{field_name}__isnull": True})
    return after & bound


def _parse_value(field_name: str, raw):
    if raw is None:
        return None
    if field_name.endswith("created_at"):
        return datetime.fromisoformat(raw)
    return Decimal(raw)


def _dump_value(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass
class Page:
    images: list[Image]
    next_cursor: str | None
    sort: str
    highlights: dict = field(default_factory=dict)


def page(viewer, data: dict, cursor: str | None = None, size: int | None = None) -> Page:
    """One page of tiles: images with generation, owner and `is_favourite` loaded (one query)."""
    size = size or PAGE_SIZE
    sort = data.get("sort") or "newest"
    text = data.get("q") or ""
    qs = filtered(viewer, data)
    qs = search.search(qs, text, rank=sort == "relevance")
    favourites_only = bool(data.get("favourites"))
    qs = qs.select_related("generation", "generation__user").annotate(
        is_favourite=Exists(Favourite.objects.filter(user=viewer, image=OuterRef("pk")))
    )
    field_name, descending = _sort_field(sort)
    try:
        if field_name is None:
            offset = int(cursor or 0)
            if not 0 <= offset <= MAX_OFFSET:  # past 64 bits the database refuses the OFFSET
                raise BadCursor
            qs = qs.order_by(F("search_rank").desc(nulls_last=True), "-pk")
            rows = list(qs[offset : offset + size + 1])
            next_cursor = str(offset + size) if len(rows) > size else None
        else:
            # Only cost can be NULL; a NULLS clause on created_at would stop PostgreSQL using its index.
            nullable = sort == "cost"
            if cursor:
                raw, pk = decode_cursor(cursor)
                qs = qs.filter(_after(field_name, descending, _parse_value(field_name, raw), int(pk), nullable))
            order = F(field_name).desc(nulls_last=nullable or None) if descending else F(field_name).asc()
            qs = qs.order_by(order, "-pk" if descending else "pk")
            if favourites_only:
                qs = qs.filter(pk__in=_first_ids(qs, size + 1))
            rows = list(qs[: size + 1])
            next_cursor = None
            if len(rows) > size:
                last = rows[size - 1]
                value = last.generation.actual_cost if sort == "cost" else last.generation.created_at
                next_cursor = encode_cursor([_dump_value(value), last.pk])
    except (BadCursor, ValueError, TypeError, InvalidOperation, OverflowError) as exc:
        raise BadCursor("This page link is invalid or out of date; start again from the first page.") from exc
    images = rows[:size]
    return Page(
        images=images, next_cursor=next_cursor, sort=sort, highlights=search.highlights([i.pk for i in images], text)
    )


def _first_ids(qs: QuerySet, count: int) -> list[int]:
    """The first `count` ids of an ordered queryset that is small before its LIMIT (one user's favourites).

    With ORDER BY ... LIMIT, PostgreSQL walks the gallery's date index and probes each
    image for a favourite (~2,300 images for a page of 800 favourites among 100k; 45-400 ms
    with parallel workers). Without a LIMIT it reads the favourites first and sorts them
    (6 ms); the ids come back in order and the page query then reads just those rows.
    The cost grows with one user's favourites, not with the gallery.
    """
    return list(qs.values_list("pk", flat=True))[:count]


def validation_message(form: forms.Form) -> str:
    return "; ".join(
        f"{form.fields[k].label or k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in form.errors.items()
    )


__all__ = ["BadCursor", "GalleryFilterForm", "Page", "ValidationError", "page", "visible_images"]
