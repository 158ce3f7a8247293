"""Every model the admin registers opens: list (with search and a filter), add form and a
change form of a real row — the admin is how prices, budgets and presets are edited."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from generator.models import Batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(make_generation, user):
    generation = make_generation(style="watercolor", preset="poster-with-text", aspect_ratio="2:3", size="1K")
    Batch.objects.create(user=user, name="launch posters")
    return generation


def registered() -> list:
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()]


@pytest.mark.parametrize(("model", "model_admin"), registered(), ids=lambda v: getattr(v, "__name__", ""))
def test_admin_pages_open(admin_client, populated, model, model_admin):
    meta = model._meta
    base = f"admin:{meta.app_label}_{meta.model_name}"
    listing = admin_client.get(reverse(f"{base}_changelist"), {"q": "poster"} if model_admin.search_fields else {})
    assert listing.status_code == 200
    add = admin_client.get(reverse(f"{base}_add"))
    assert add.status_code in (200, 403)
    row = model._default_manager.first()
    if row is not None:
        assert admin_client.get(reverse(f"{base}_change", args=[row.pk])).status_code == 200


def test_admin_index_links_the_cost_reports(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("spend:reports") in page
