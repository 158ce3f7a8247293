"""Gallery server time at scale: median over repeated requests through the real views.

    DATA_DIR=/tmp/nb-gallery-bench python manage.py seed_gallery --images 100000
    DATA_DIR=/tmp/nb-gallery-bench DJANGO_SETTINGS_MODULE=nanobanana_site.settings python bench/gallery_bench.py

Set DATABASE_URL to run it on PostgreSQL. Prints one line per page: median and p90
milliseconds of the whole request (middleware, view, template) and its SQL query count.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanobanana_site.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from generator import gallery  # noqa: E402
from generator.models import Image  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "15"))


def measure(client: Client, url: str, **headers) -> tuple[float, float, int]:
    for _ in range(2):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], len(queries)


def deep_cursor(viewer, depth: int) -> str:
    """The cursor a user reaches after scrolling `depth` tiles of the newest-first gallery."""
    last = (
        gallery.visible_images(viewer)
        .select_related("generation")
        .order_by("-generation__created_at", "-pk")[depth - 1 : depth]
        .get()
    )
    return gallery.encode_cursor([last.generation.created_at.isoformat(), last.pk])


def offset_ms(viewer, depth: int) -> float:
    """The same deep page fetched with OFFSET, as Paginator would: for comparison only."""
    qs = (
        gallery.visible_images(viewer)
        .select_related("generation", "generation__user")
        .order_by("-generation__created_at", "-pk")
    )
    times = []
    for _ in range(5):
        started = time.perf_counter()
        list(qs[depth : depth + gallery.PAGE_SIZE])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    viewer = get_user_model().objects.filter(username="teammate01").first()
    if viewer is None:
        sys.exit("Seed first: python manage.py seed_gallery --images 100000")
    client = Client()
    client.force_login(viewer)
    total = Image.objects.count()
    depth = min(50_000, total - gallery.PAGE_SIZE * 2)
    cursor = deep_cursor(viewer, depth)
    pages = [
        ("first page", "/gallery/", {}),
        ("search (relevance)", "/gallery/?q=lighthouse+morning", {}),
        ("search, phrase + or + not, newest", '/gallery/?q="red+fox"+or+dragon+-rain&sort=newest', {}),
        ("search + filters", "/gallery/?q=cat&model=gemini-3-pro-image-preview&sort=newest", {}),
        ("filtered: model+size+ratio", "/gallery/?model=gemini-3-pro-image-preview&size=2K&ratio=16:9", {}),
        ("filtered: teammate+style", "/gallery/?user=teammate02&style=watercolor", {}),
        ("filtered: my favourites", "/gallery/?favourites=on", {}),
        ("filtered: cost range + dates", "/gallery/?cost_min=0.1&cost_max=0.3&date_from=2026-01-01", {}),
        ("sort by cost", "/gallery/?sort=cost", {}),
        (f"deep page (tile {depth}, keyset)", f"/gallery/?after={cursor}", {}),
        (f"deep page (tile {depth}, htmx fragment)", f"/gallery/?after={cursor}", {"HX-Request": "true"}),
    ]
    print(f"{connection.vendor}, {total} images, viewer {viewer.username}, {RUNS} runs each")
    print(f"{'page':44} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    for label, url, headers in pages:
        median, p90, queries = measure(client, url, **headers)
        print(f"{label:44} {median:10.1f} {p90:8.1f} {queries:8d}")
    print(f"{'(OFFSET ' + str(depth) + ' instead of keyset: ORM query only)':44} {offset_ms(viewer, depth):10.1f}")


if __name__ == "__main__":
    main()
