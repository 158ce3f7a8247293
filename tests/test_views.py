from __future__ import annotations

import pytest
from django.urls import reverse

from generator.models import Generation

pytestmark = pytest.mark.django_db


def test_every_page_but_login_and_healthz_needs_a_login(client, make_generation):
    generation = make_generation()
    image = generation.images.get()
    for url in [
        reverse("generator:compose"),
        reverse("generator:gallery"),
        generation.get_absolute_url(),
        image.get_absolute_url(),
        reverse("generator:image_file", args=[image.pk, "original"]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    assert client.get(reverse("login")).status_code == 200
    health = client.get(reverse("generator:healthz"))
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_compose_page_lists_models_presets_and_the_demo_hint(alice_client):
    page = alice_client.get(reverse("generator:compose")).content.decode()
    for text in ["Nano Banana Pro", "Nano Banana 2", "Watercolor", "Phone wallpaper", "GEMINI_API_KEY", "16:9"]:
        assert text in page


def test_compose_post_queues_and_redirects_to_progress(alice_client, user):
    response = alice_client.post(
        reverse("generator:compose"),
        {
            "prompt": "a lighthouse",
            "provider": "demo",
            "model": "gemini-3.1-flash-image-preview",
            "aspect_ratio": "1:4",
            "size": "1K",
            "n": 1,
            "visibility": "team",
        },
    )
    generation = Generation.objects.get()
    assert response.status_code == 302 and response["Location"] == generation.get_absolute_url()
    assert generation.status == "queued" and generation.user == user
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 1s"' in page and "Queued" in page


def test_status_partial_stops_polling_when_done(alice_client, make_generation):
    generation = make_generation()
    partial = alice_client.get(generation.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial
    assert "every 1s" not in partial and "Succeeded" in partial


def test_failure_reason_is_shown(alice_client, make_generation):
    generation = make_generation(run=False)
    Generation.objects.filter(pk=generation.pk).update(
        status="blocked", error_message="Blocked for safety (IMAGE_SAFETY)"
    )
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "Blocked for safety (IMAGE_SAFETY)" in page


def test_quote_partial(alice_client):
    response = alice_client.post(
        reverse("generator:quote"),
        {
            "prompt": "x",
            "provider": "demo",
            "model": "gemini-3-pro-image-preview",
            "aspect_ratio": "1:1",
            "size": "4K",
            "n": 2,
            "visibility": "team",
        },
    )
    assert "Estimated $0" in response.content.decode() and "demo" in response.content.decode()


def test_gallery_and_detail_show_metadata(alice_client, make_generation):
    generation = make_generation(style="watercolor", preset="poster-with-text", aspect_ratio="2:3", size="2K")
    image = generation.images.get()
    gallery = alice_client.get(reverse("generator:gallery")).content.decode()
    assert reverse("generator:image_file", args=[image.pk, "thumb"]) in gallery
    detail = alice_client.get(image.get_absolute_url()).content.decode()
    for text in [
        generation.prompt,
        "Watercolor",
        "soft washes",
        "Poster with text",
        "gemini-3-pro-image-preview",
        "demo",
        "2:3 · 2K",
        "1696×2528",
        "alice",
        "Attempts",
        "Latency",
        "Download original",
    ]:
        assert text in detail, text
    thumb = alice_client.get(reverse("generator:image_file", args=[image.pk, "thumb"]))
    assert thumb["Content-Type"] == "image/webp"
    download = alice_client.get(reverse("generator:image_file", args=[image.pk, "download"]))
    assert "attachment" in download["Content-Disposition"]
    assert b"".join(download.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_private_generations_are_404_for_others(client, make_generation, other_user):
    generation = make_generation(visibility="private")
    image = generation.images.get()
    client.force_login(other_user)
    for url in [
        generation.get_absolute_url(),
        image.get_absolute_url(),
        reverse("generator:image_file", args=[image.pk, "original"]),
        reverse("generator:image_file", args=[image.pk, "thumb"]),
    ]:
        assert client.get(url).status_code == 404, url
    assert (
        reverse("generator:image_file", args=[image.pk, "thumb"])
        not in client.get(reverse("generator:gallery")).content.decode()
    )


def test_unknown_file_variant_is_404(alice_client, make_generation):
    image = make_generation().images.get()
    assert alice_client.get(f"/files/images/{image.pk}/secret/").status_code == 404


def test_composer_lists_configured_providers_and_their_models(alice_client, monkeypatch):
    import json
    import re

    monkeypatch.setenv("GEMINI_API_KEY", "k-test")
    monkeypatch.setenv("OPENAI_IMAGES_BASE_URL", "https://relay.example/")
    page = alice_client.get(reverse("generator:compose")).content.decode()
    assert "Google Gemini" in page and "Images relay" in page and "Demo (offline)" in page
    assert "Only the offline" not in page, "the demo hint goes once a real provider exists"
    assert "k-test" not in page
    config = json.loads(re.search(r'id="composer-config" type="application/json">(.*?)</script>', page).group(1))
    assert config["providers"]["gemini"] == [
        "gemini-3-pro-image-preview",
        "gemini-3.1-flash-image-preview",
        "gemini-2.5-flash-image",
    ]
    assert config["models"]["gemini-2.5-flash-image"] == {
        "label": "Nano Banana",
        "sizes": ["1K"],
        "ratios": ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"],
        "maxRefs": 3,
    }
    assert config["models"]["gemini-3.1-flash-image-preview"]["sizes"] == ["512", "1K", "2K", "4K"]


def test_quote_shows_a_price_before_the_prompt_is_written(alice_client):
    response = alice_client.post(
        reverse("generator:quote"),
        {
            "prompt": "",
            "provider": "demo",
            "model": "gemini-3-pro-image-preview",
            "aspect_ratio": "1:1",
            "size": "1K",
            "n": 1,
            "visibility": "team",
        },
    )
    assert "Estimated $0" in response.content.decode()


def test_quote_asks_for_a_fix_when_the_request_is_impossible(alice_client):
    response = alice_client.post(
        reverse("generator:quote"),
        {
            "prompt": "x",
            "provider": "demo",
            "model": "gemini-3-pro-image-preview",
            "aspect_ratio": "1:8",
            "size": "1K",
            "n": 1,
            "visibility": "team",
        },
    )
    assert "Fix the form to see the price" in response.content.decode()


def test_history_lists_every_outcome_of_mine_only(alice_client, make_generation, other_user):
    done = make_generation(prompt="a finished lighthouse")
    failed = make_generation(run=False, prompt="a refused lighthouse")
    Generation.objects.filter(pk=failed.pk).update(status="failed", error_message="Gemini rejected the key (403)")
    make_generation(owner=other_user, prompt="bob's secret boat")
    page = alice_client.get(reverse("generator:history")).content.decode()
    assert "a finished lighthouse" in page and "a refused lighthouse" in page
    assert "Gemini rejected the key (403)" in page
    assert "bob&#x27;s secret boat" not in page and "secret boat" not in page
    assert reverse("generator:image_file", args=[done.images.get().pk, "thumb"]) in page
    only_failed = alice_client.get(reverse("generator:history"), {"status": "failed"}).content.decode()
    assert "a refused lighthouse" in only_failed and "a finished lighthouse" not in only_failed
    assert alice_client.get(reverse("generator:history"), {"status": "nonsense", "page": "x"}).status_code == 200


def test_history_of_everyone_is_for_staff(client, admin_user, user, make_generation):
    make_generation(prompt="alice's private idea", visibility="private")
    client.force_login(user)
    as_member = client.get(reverse("generator:history"), {"who": "all"}).content.decode()
    assert "My generations" in as_member and "<th>User</th>" not in as_member
    client.force_login(admin_user)
    mine = client.get(reverse("generator:history")).content.decode()
    assert "private idea" not in mine
    everyone = client.get(reverse("generator:history"), {"who": "all"}).content.decode()
    assert "private idea" in everyone and "<th>User</th>" in everyone


def test_history_query_count_is_constant(alice_client, make_generation, django_assert_max_num_queries):
    for i in range(6):
        make_generation(prompt=f"p{i}")
    with django_assert_max_num_queries(8):
        assert alice_client.get(reverse("generator:history")).status_code == 200
