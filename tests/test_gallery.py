from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generator import gallery
from generator.models import Favourite, Generation, Image, ReferenceImage, Tag
from generator.seed_gallery import seed

pytestmark = pytest.mark.django_db
GALLERY = reverse("generator:gallery")


def tile_ids(response) -> list[int]:
    return [int(x) for x in re.findall(r'data-image-id="(\d+)"', response.content.decode())]


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_user("root", password="x-admin-42", is_staff=True)
    client.force_login(admin)
    return client


@pytest.fixture
def bob_client(client, other_user):
    client.force_login(other_user)
    return client


@pytest.mark.postgres
def test_search_covers_prompt_reply_style_preset_and_tags_with_highlights(alice_client, make_generation):
    lighthouse = make_generation(prompt="a lighthouse on a cliff at dusk", style="watercolor").images.get()
    fox = make_generation(prompt="a red fox in the snow").images.get()
    Generation.objects.filter(pk=fox.generation_id).update(text_reply="I painted the fox with copper fur")
    bike = make_generation(prompt="a bicycle against a <b>brick</b> wall").images.get()
    alice_client.post(reverse("generator:image_tag_add", args=[bike.pk]), {"name": "Campaign"})

    def found(q):
        return tile_ids(alice_client.get(GALLERY, {"q": q}))

    assert found("lighthouses") == [lighthouse.pk]  # stemmed
    assert found("copper") == [fox.pk]  # the model's reply, synced by the trigger on update()
    assert found("watercolor") == [lighthouse.pk]  # style name
    assert found("campaign") == [bike.pk]  # tag
    assert sorted(found("fox or bicycle")) == sorted([fox.pk, bike.pk])
    assert found('"red fox" -snow') == []
    assert found('"fox red"') == []  # a phrase keeps word order
    assert found("nothing-like-this") == []
    page = alice_client.get(GALLERY, {"q": "brick"}).content.decode()
    assert "<mark>brick</mark>" in page
    assert "<b>" not in page and "&lt;b&gt;" in page  # the prompt is escaped, only <mark> is ours
    # Renaming a tag re-indexes the images that carry it.
    Tag.objects.filter(name="campaign").update(name="launch")
    assert found("launch") == [bike.pk] and found("campaign") == []


@pytest.mark.postgres
def test_search_ranks_by_relevance_and_never_errors_on_syntax(alice_client, make_generation):
    weak = make_generation(prompt="a cat next to a large wooden barn").images.get()
    strong = make_generation(prompt="cat cat cat: a cat portrait").images.get()
    assert tile_ids(alice_client.get(GALLERY, {"q": "cat"})) == [strong.pk, weak.pk]
    for q in ['"unclosed', "AND OR NOT", "cat*", "-", "(((", "NEAR(cat", "a:b", "'; DROP TABLE x; --"]:
        assert alice_client.get(GALLERY, {"q": q}).status_code == 200, q


@pytest.mark.postgres
def test_private_images_are_invisible_to_teammates_everywhere(client, user, other_user, make_generation):
    secret = make_generation(owner=other_user, prompt="secret zeppelin plans", visibility="private")
    image = secret.images.get()
    client.force_login(user)
    assert tile_ids(client.get(GALLERY)) == []
    assert tile_ids(client.get(GALLERY, {"q": "zeppelin"})) == []
    assert tile_ids(client.get(GALLERY, {"user": "bob"})) == []
    for url in [
        reverse("generator:image", args=[image.pk]),
        reverse("generator:image_file", args=[image.pk, "original"]),
        reverse("generator:image_file", args=[image.pk, "thumb"]),
        reverse("generator:image_file", args=[image.pk, "download"]),
        reverse("generator:generation", args=[secret.pk]),
        reverse("generator:compose") + f"?remix={secret.pk}",
        reverse("generator:compose") + f"?edit={image.pk}",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        reverse("generator:image_favourite", args=[image.pk]),
        reverse("generator:image_tag_add", args=[image.pk]),
        reverse("generator:generation_delete", args=[secret.pk]),
        reverse("generator:generation_visibility", args=[secret.pk]),
    ]:
        assert client.post(url, {"name": "x", "visibility": "team"}).status_code == 404, url
    assert not Favourite.objects.exists() and not image.tags.exists()
    secret.refresh_from_db()
    assert secret.visibility == "private" and secret.deleted_at is None
    # A reference to it cannot be smuggled into a new generation either.
    response = client.post(
        reverse("generator:compose"),
        {
            "prompt": "edit",
            "provider": "demo",
            "model": "gemini-3-pro-image-preview",
            "aspect_ratio": "1:1",
            "size": "1K",
            "n": 1,
            "visibility": "team",
            "source_images": [image.pk],
            "remix_of": secret.pk,
        },
    )
    assert response.status_code == 400 and Generation.objects.count() == 1
    # The owner sees it, and can share it with the team from the detail page.
    client.force_login(other_user)
    page = client.get(image.get_absolute_url()).content.decode()
    assert "Share with the team" in page
    client.post(reverse("generator:generation_visibility", args=[secret.pk]), {"visibility": "team"})
    client.force_login(user)
    assert tile_ids(client.get(GALLERY, {"q": "zeppelin"})) == [image.pk]


def test_admin_sees_private_images(admin_client, other_user, make_generation):
    image = make_generation(owner=other_user, visibility="private").images.get()
    assert tile_ids(admin_client.get(GALLERY)) == [image.pk]
    assert admin_client.get(image.get_absolute_url()).status_code == 200


def test_filters_combine_and_bad_input_is_a_clear_400(alice_client, user, other_user, make_generation):
    mine = make_generation(aspect_ratio="1:1").images.get()
    make_generation(owner=other_user, aspect_ratio="16:9")
    assert tile_ids(alice_client.get(GALLERY, {"user": "me"})) == [mine.pk]
    assert tile_ids(alice_client.get(GALLERY, {"user": "bob", "ratio": "1:1"})) == []
    assert tile_ids(alice_client.get(GALLERY, {"ratio": "1:1", "model": "gemini-3-pro-image-preview"})) == [mine.pk]
    Generation.objects.filter(pk=mine.generation_id).update(actual_cost="0.5")
    assert tile_ids(alice_client.get(GALLERY, {"cost_min": "0.4", "cost_max": "0.6"})) == [mine.pk]
    assert tile_ids(alice_client.get(GALLERY, {"sort": "cost"}))[0] == mine.pk
    today = timezone.localdate().isoformat()
    assert len(tile_ids(alice_client.get(GALLERY, {"date_from": today, "date_to": today}))) == 2
    page = alice_client.get(GALLERY, {"user": "me", "ratio": "1:1"}).content.decode()
    assert '<option value="1:1" selected>' in page  # the form shows the filters of the shared URL
    for params, message in [
        ({"date_from": "yesterday"}, "valid date"),
        ({"date_from": "2026-02-02", "date_to": "2026-01-01"}, "end date is before"),
        ({"cost_min": "-1"}, "greater than or equal"),
        ({"user": "nobody"}, "valid choice"),
        ({"after": "!!garbage"}, "invalid or out of date"),
    ]:
        response = alice_client.get(GALLERY, params)
        assert response.status_code == 400 and message in response.content.decode(), params


@pytest.mark.parametrize(
    ("params", "order"),
    [
        ({}, ["-generation__created_at", "-pk"]),
        ({"sort": "oldest"}, ["generation__created_at", "pk"]),
        ({"sort": "cost"}, [F("generation__actual_cost").desc(nulls_last=True), "-pk"]),
        ({"favourites": "on"}, ["-generation__created_at", "-pk"]),
        ({"favourites": "on", "sort": "cost"}, [F("generation__actual_cost").desc(nulls_last=True), "-pk"]),
    ],
)
def test_keyset_pages_cover_everything_once_and_queries_stay_constant(client, user, monkeypatch, params, order):
    seed(70, users=3)
    # Ties and NULLs in the cost sort; the trigger copies them to Image.generation_cost.
    Generation.objects.filter(pk__in=Generation.objects.order_by("pk").values("pk")[:5]).update(actual_cost=None)
    Generation.objects.filter(pk__in=Generation.objects.order_by("-pk").values("pk")[:9]).update(actual_cost="0.5")
    Favourite.objects.bulk_create(
        [Favourite(user=user, image=image) for image in Image.objects.order_by("?")[:40]], ignore_conflicts=True
    )
    client.force_login(user)
    visible = gallery.visible_images(user)
    if params.get("favourites"):
        visible = visible.filter(favourites__user=user)
    expected = list(visible.order_by(*order).values_list("pk", flat=True))
    assert len(expected) > 20
    counts = {}
    for size in (5, 20):
        monkeypatch.setattr(gallery, "PAGE_SIZE", size)
        seen, url, depth = [], f"{GALLERY}?{urlencode(params)}", 0
        while url:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, headers={"HX-Request": "true"} if depth else {})
            assert response.status_code == 200
            counts[(size, min(depth, 2))] = len(queries)
            seen += tile_ids(response)
            nxt = re.search(r'class="more" href="([^"]+)"', response.content.decode())
            url = GALLERY + nxt.group(1).replace("&amp;", "&") if nxt else None
            depth += 1
        assert seen == expected
    # Constant: the same for small and large pages, first and deep pages.
    assert counts[(5, 0)] == counts[(20, 0)] <= 10
    assert counts[(5, 1)] == counts[(5, 2)] == counts[(20, 1)] <= 10
    with CaptureQueriesContext(connection) as queries:
        client.get(GALLERY, {"q": "lighthouse", "favourites": "on", "sort": "cost"})
    assert len(queries) <= 10


def test_image_generation_cost_follows_the_generation(make_generation):
    generation = make_generation()
    Generation.objects.filter(pk=generation.pk).update(actual_cost="0.25")
    image = generation.images.get()
    image.refresh_from_db()
    assert str(image.generation_cost) == "0.250000"
    added = Image.objects.create(generation=generation, index=1, width=1, height=1, mime_type="image/png")
    added.refresh_from_db()
    assert str(added.generation_cost) == "0.250000"
    Generation.objects.filter(pk=generation.pk).update(actual_cost=None)
    assert list(Image.objects.filter(generation=generation).values_list("generation_cost", flat=True)) == [None, None]


def test_plain_next_page_link_works_without_htmx(alice_client, make_generation, monkeypatch):
    monkeypatch.setattr(gallery, "PAGE_SIZE", 1)
    first, second = make_generation(), make_generation()
    page1 = alice_client.get(GALLERY, {"user": "me"})
    assert tile_ids(page1) == [second.images.get().pk]
    link = re.search(r'class="more" href="\?([^"]+)"', page1.content.decode()).group(1).replace("&amp;", "&")
    assert "user=me" in link  # filters stay in the URL
    page2 = alice_client.get(GALLERY + "?" + link)
    assert "<html" in page2.content.decode() and tile_ids(page2) == [first.images.get().pk]


def test_favourite_and_tags(alice_client, user, make_generation):
    image = make_generation().images.get()
    url = reverse("generator:image_favourite", args=[image.pk])
    response = alice_client.post(url, headers={"HX-Request": "true"})
    assert "★" in response.content.decode() and "<html" not in response.content.decode()
    assert tile_ids(alice_client.get(GALLERY, {"favourites": "on"})) == [image.pk]
    alice_client.post(url, headers={"HX-Request": "true"})
    assert not Favourite.objects.filter(user=user).exists()
    add = reverse("generator:image_tag_add", args=[image.pk])
    assert alice_client.post(add, {"name": "  Hero   Shot "}, headers={"HX-Request": "true"}).status_code == 200
    assert list(image.tags.values_list("name", flat=True)) == ["hero shot"]
    bad = alice_client.post(add, {"name": "<script>"}, headers={"HX-Request": "true"})
    assert bad.status_code == 200 and "A tag is" in bad.content.decode() and Tag.objects.count() == 1
    assert tile_ids(alice_client.get(GALLERY, {"tag": "hero shot"})) == [image.pk]
    alice_client.post(reverse("generator:image_tag_remove", args=[image.pk]), {"name": "hero shot"})
    assert not image.tags.exists()


def test_detail_page_offers_every_action(alice_client, make_generation):
    image = make_generation().images.get()
    page = alice_client.get(image.get_absolute_url()).content.decode()
    for text in [
        "Download original",
        "Copy prompt",
        f"?remix={image.generation_id}",
        f"?edit={image.pk}",
        "Favourite",
        "Add a tag",
        "Make private",
        "Delete",
        "gallery.js",
    ]:
        assert text in page, text
    assert "Gallery" in alice_client.get(GALLERY).content.decode()


def test_remix_prefills_every_parameter_and_records_remix_of(alice_client, make_generation):
    source = make_generation(
        prompt="a koi pond",
        model="gemini-3.1-flash-image-preview",
        aspect_ratio="4:1",
        size="2K",
        n=2,
        style="watercolor",
        preset="phone-wallpaper",
        seed=4242,
        visibility="private",
    )
    page = alice_client.get(reverse("generator:compose") + f"?remix={source.pk}").content.decode()
    for fragment in [
        "a koi pond</textarea>",
        'value="4242"',
        '<option value="4:1" selected>',
        '<option value="2K" selected>',
        'value="2"',
        f'name="remix_of" value="{source.pk}"',
        '<option value="watercolor" selected>',
        '<option value="phone-wallpaper" selected>',
        '<option value="private" selected>',
        '<option value="gemini-3.1-flash-image-preview" selected>',
    ]:
        assert fragment in page, fragment
    form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page))
    response = alice_client.post(
        reverse("generator:compose"),
        {
            "prompt": "a koi pond at night",
            "provider": "demo",
            "model": "gemini-3.1-flash-image-preview",
            "aspect_ratio": "4:1",
            "size": "2K",
            "n": 2,
            "seed": form["seed"],
            "visibility": "private",
            "remix_of": form["remix_of"],
        },
    )
    remix = Generation.objects.latest("pk")
    assert response.status_code == 302 and remix.remix_of_id == source.pk and remix.seed == 4242


def test_edit_links_lineage_both_ways_with_chain_cost(alice_client, user, make_generation):
    parent = make_generation(prompt="a plain mug").images.get()
    page = alice_client.get(reverse("generator:compose") + f"?edit={parent.pk}").content.decode()
    assert f'name="source_images" value="{parent.pk}"' in page and 'id="source-images"' in page
    child_gen = make_generation(prompt="the mug, now striped", source_images=[parent.pk])
    child = child_gen.images.get()
    grandchild = make_generation(prompt="striped mug on a table", source_images=[child.pk]).images.get()
    assert ReferenceImage.objects.get(generation=child_gen).source_image_id == parent.pk
    Generation.objects.filter(pk=parent.generation_id).update(actual_cost="0.1")
    Generation.objects.filter(pk=child.generation_id).update(actual_cost="0.2")
    Generation.objects.filter(pk=grandchild.generation_id).update(actual_cost="0.3")
    page = alice_client.get(grandchild.get_absolute_url()).content.decode()
    assert f'href="/images/{child.pk}/" class="parent"' in page
    assert f"#{parent.pk}</a> → " in page and f"#{child.pk}</a> → " in page
    assert 'id="chain-cost">$0.600000<' in page
    middle = alice_client.get(child.get_absolute_url()).content.decode()
    assert f'href="/images/{grandchild.pk}/" class="child"' in middle
    assert f'href="/images/{parent.pk}/" class="parent"' in middle


def test_lineage_hides_private_relatives(client, user, other_user, make_generation):
    parent = make_generation(owner=other_user, visibility="private").images.get()
    child = make_generation(owner=other_user, source_images=[parent.pk]).images.get()
    client.force_login(user)
    page = client.get(child.get_absolute_url()).content.decode()
    assert f"/images/{parent.pk}/" not in page and f"/files/images/{parent.pk}/" not in page


def test_delete_undo_and_purge(client, user, other_user, make_generation, django_capture_on_commit_callbacks):
    mine = make_generation(prompt="delete me", seed=7)
    image = mine.images.get()
    client.force_login(other_user)
    assert client.post(reverse("generator:generation_delete", args=[mine.pk])).status_code == 404
    client.force_login(user)
    response = client.post(reverse("generator:generation_delete", args=[mine.pk]), headers={"HX-Request": "true"})
    assert "Undo" in response.content.decode()
    assert tile_ids(client.get(GALLERY)) == []
    assert client.get(image.get_absolute_url()).status_code == 404
    client.post(reverse("generator:generation_restore", args=[mine.pk]))
    assert tile_ids(client.get(GALLERY)) == [image.pk]

    # Purge: only after the grace period; shared files stay, unshared ones go.
    twin = make_generation(prompt="delete me", seed=7)  # the demo renders the same bytes: same file
    client.post(reverse("generator:generation_delete", args=[mine.pk]))
    assert twin.images.get().file.name == image.file.name
    call_command("purge_deleted", "--days", "7")
    assert Image.objects.filter(pk=image.pk).exists()
    Generation.objects.filter(pk=mine.pk).update(deleted_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_deleted", "--days", "7")
    assert not Image.objects.filter(pk=image.pk).exists() and Generation.objects.filter(pk=mine.pk).exists()
    assert default_storage.exists(image.file.name)  # still used by the twin
    Generation.objects.filter(pk=twin.pk).update(deleted_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_deleted", "--days", "7")
    assert not default_storage.exists(image.file.name) and not default_storage.exists(image.thumbnail.name)
    response = client.post(reverse("generator:generation_restore", args=[mine.pk]))
    assert response.status_code == 302 and not Image.objects.filter(generation=mine).exists()
