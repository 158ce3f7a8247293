"""Web layer under hostile or clumsy input: other people's ids, junk parameters, wrong methods."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from generator import batches
from generator.forms import BatchForm
from generator.models import Batch, Generation, ReferenceImage

from .conftest import form_data

pytestmark = pytest.mark.django_db

BIG = "9" * 25  # matches <int:pk>, but is past what SQLite stores
JUNK_GETS = [
    "/?remix=abc",
    "/?remix=²",  # str.isdigit() says yes, int() says no
    "/?edit=²",
    f"/?remix={BIG}",
    f"/?edit={BIG}",
    f"/images/{BIG}/",
    f"/generations/{BIG}/",
    f"/files/images/{BIG}/thumb/",
    f"/files/references/{BIG}/",
    f"/batches/{BIG}/",
    "/gallery/?date_to=9999-12-31",
    "/gallery/?date_from=0001-01-01&date_to=9999-12-31",
    "/gallery/?date_from=9999-12-31",
    "/gallery/?date_to=2020-01-01&date_from=2021-01-01",
    "/gallery/?cost_min=1e999",
    "/gallery/?cost_max=1e999&sort=cost",
    "/gallery/?cost_min=1e-999",
    "/gallery/?cost_min=abc&cost_max=NaN",
    "/gallery/?cost_min=-1",
    f"/gallery/?q=bicycle&sort=relevance&after={BIG}",
    "/gallery/?q=bicycle&after=-1",
    "/gallery/?after=WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwxXQ",  # ["0001-01-01T00:00:00+14:00",1]
    "/gallery/?after=%%%",
    "/gallery/?q=%00&tag=%00",
    "/gallery/?user=nobody&sort=zzz",
    "/generations/?page=abc&status=zzz",
    f"/generations/?page={BIG}",
    "/spend/?start=abc",
]


@pytest.mark.parametrize("url", JUNK_GETS)
def test_junk_query_parameters_never_500(alice_client, make_generation, url):
    make_generation()
    response = alice_client.get(url)
    assert response.status_code < 500, url


@pytest.mark.parametrize(
    "url",
    [
        "/spend/reports/?start=9999-12-31&end=9999-12-31",
        "/spend/reports.csv?start=9999-12-31&end=9999-12-31",
        "/spend/reports/?start=0001-01-01&end=0001-01-02",
        "/spend/reports.csv?start=2026-02-30&end=2026-03-01",
    ],
)
def test_absurd_report_ranges_are_a_400(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400, url


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"remix_of": "abc"}, "The generation to remix is no longer available"),
        ({"remix_of": BIG}, "The generation to remix is no longer available"),
        ({"source_images": "abc"}, "An image to edit from is no longer available"),
        ({"source_images": BIG}, "An image to edit from is no longer available"),
        ({"seed": "1e999"}, "Enter a whole number"),
        ({"n": BIG}, "less than or equal to 4"),
        ({"n": "-1"}, "greater than or equal to 1"),
        ({"aspect_ratio": "x" * 100, "prompt": "é" * 9000}, "the limit is 8000"),
    ],
)
def test_tampered_compose_posts_are_a_400_with_the_reason(alice_client, overrides, message):
    response = alice_client.post(reverse("generator:compose"), form_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Generation.objects.exists()


def test_state_changing_views_refuse_get(alice_client, make_generation):
    generation = make_generation()
    image = generation.images.get()
    for url in [
        reverse("generator:quote"),
        reverse("generator:generation_cancel", args=[generation.pk]),
        reverse("generator:generation_delete", args=[generation.pk]),
        reverse("generator:generation_restore", args=[generation.pk]),
        reverse("generator:generation_visibility", args=[generation.pk]),
        reverse("generator:image_favourite", args=[image.pk]),
        reverse("generator:image_tag_add", args=[image.pk]),
        reverse("generator:image_tag_remove", args=[image.pk]),
    ]:
        assert alice_client.get(url).status_code == 405, url
    generation.refresh_from_db()
    assert generation.deleted_at is None


def test_posts_need_the_csrf_token(client, user, make_generation):
    from django.test import Client

    generation = make_generation()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(reverse("generator:generation_delete", args=[generation.pk])).status_code == 403
    page = strict.get(reverse("generator:gallery")).content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    # The token htmx sends from base.html's hx-headers is accepted.
    response = strict.post(
        reverse("generator:generation_delete", args=[generation.pk]),
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.deleted_at is not None


def _batch(owner, prompts=("one", "two")) -> Batch:
    rows = batches.validate(
        batches.parse_lines("\n".join(prompts)),
        {k: v for k, v in form_data().items() if k in BatchForm.DEFAULT_FIELDS},
        owner,
    )
    return batches.create(owner, rows, "theirs")


def test_other_peoples_ids_are_404(client, user, other_user, make_generation):
    secret = make_generation(owner=other_user, prompt="secret zeppelin plans", visibility="private")
    upload_ref = make_generation(
        owner=other_user,
        visibility="private",
        files={"references": [SimpleUploadedFile("plan.png", _png())]},
    ).references.get()
    shared = make_generation(owner=other_user, prompt="shared kite")
    batch = _batch(other_user)
    client.force_login(user)
    for url in [
        reverse("generator:reference_file", args=[upload_ref.pk]),
        reverse("generator:batch", args=[batch.pk]),
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        reverse("generator:batch_cancel", args=[batch.pk]),
        reverse("generator:generation_cancel", args=[shared.pk]),
        reverse("generator:generation_delete", args=[shared.pk]),
        reverse("generator:generation_visibility", args=[shared.pk]),
        reverse("generator:generation_restore", args=[secret.pk]),
    ]:
        assert client.post(url, {"visibility": "private"}).status_code == 404, url
    shared.refresh_from_db()
    assert shared.visibility == "team" and shared.deleted_at is None
    assert not batch.generations.filter(status="canceled").exists()
    # History and the batch list are mine only, whatever the query string says.
    for url in [reverse("generator:history") + "?who=all", reverse("generator:batches")]:
        page = client.get(url).content.decode()
        assert "zeppelin" not in page and "shared kite" not in page and "theirs" not in page, url
    # Search cannot reveal a private prompt, in tiles, highlights or relevance paging.
    for params in ["?q=zeppelin", "?q=secret&sort=relevance", "?q=zeppelin&after=0", '?q="secret zeppelin"']:
        page = client.get(reverse("generator:gallery") + params, headers={"HX-Request": "true"}).content.decode()
        assert "secret zeppelin plans" not in page and "<mark>" not in page, params
        assert "data-image-id" not in page, params


def test_soft_deleted_team_generation_disappears_for_others(client, user, other_user, make_generation):
    gone = make_generation(
        owner=other_user, prompt="withdrawn walrus", files={"references": [SimpleUploadedFile("r.png", _png())]}
    )
    image = gone.images.get()
    ref = gone.references.get()
    Generation.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    client.force_login(user)
    assert "data-image-id" not in client.get(reverse("generator:gallery") + "?q=walrus").content.decode()
    for url in [
        image.get_absolute_url(),
        gone.get_absolute_url(),
        reverse("generator:image_file", args=[image.pk, "download"]),
        reverse("generator:reference_file", args=[ref.pk]),
        reverse("generator:compose") + f"?remix={gone.pk}",
        reverse("generator:compose") + f"?edit={image.pk}",
    ]:
        assert client.get(url).status_code == 404, url


def test_a_reference_to_an_image_made_private_later_is_not_served(client, user, other_user, make_generation):
    """Bob edits Alice's team image; Alice then makes hers private. Bob's generation
    shares her file as its reference: it must not keep serving it to the team."""
    source = make_generation(prompt="alice's original").images.get()
    edit = make_generation(owner=other_user, prompt="bob's edit", source_images=[source.pk])
    ref = ReferenceImage.objects.get(generation=edit)
    url = reverse("generator:reference_file", args=[ref.pk])
    client.force_login(user)
    assert client.get(url).status_code == 200
    Generation.objects.filter(pk=source.generation_id).update(visibility="private")
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    for page_url in [edit.get_absolute_url(), edit.images.get().get_absolute_url()]:
        assert url not in client.get(page_url).content.decode(), page_url
    client.force_login(user)  # the owner of the source still sees it
    assert client.get(url).status_code == 200


def test_my_spend_shows_only_my_generations(client, user, other_user, make_generation):
    theirs = make_generation(owner=other_user, prompt="bob's expensive secret")
    Generation.objects.filter(pk=theirs.pk).update(actual_cost="9.99")
    client.force_login(user)
    page = client.get(reverse("spend:mine")).content.decode()
    assert "expensive secret" not in page and "9.99" not in page
    assert client.get(reverse("spend:reports_csv")).status_code == 403


def test_a_refused_tag_is_explained_to_htmx(alice_client, make_generation):
    image = make_generation().images.get()
    response = alice_client.post(
        reverse("generator:image_tag_add", args=[image.pk]), {"name": "!!"}, headers={"HX-Request": "true"}
    )
    # htmx swaps only 2xx responses: a 400 would leave the page silent.
    assert response.status_code == 200
    assert "A tag is 1–50 letters" in response.content.decode() and not image.tags.exists()


def test_batch_list_query_count_is_constant(alice_client, user, django_assert_max_num_queries):
    for _ in range(6):
        _batch(user, prompts=("a", "b", "c"))
    with django_assert_max_num_queries(6):
        page = alice_client.get(reverse("generator:batches")).content.decode()
    assert page.count("0/3") == 6


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\xff\xfe" + "prompt\na\n".encode("utf-16-le"), "not UTF-8"),
        (b"\xef\xbb\xbfprompt,size\nhello,9K\n", "Line 2: size"),
        (b"prompt\n" + b"x" * 200_000 + b"\n", "Line"),
        (b"", "The submitted file is empty."),
        (b"prompt\na\x00b\n", "Line"),
        (b"prompt,colour\na,b\n", "unknown column(s) colour"),
    ],
)
def test_bad_csv_batches_are_explained_and_create_nothing(alice_client, payload, message):
    data = {**form_data(), "csv_file": SimpleUploadedFile("batch.csv", payload)}
    response = alice_client.post(reverse("generator:batch_new"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Batch.objects.exists() and not Generation.objects.exists()


def test_an_oversized_csv_is_refused_before_it_is_read(alice_client, monkeypatch):
    monkeypatch.setattr(BatchForm, "CSV_MAX_BYTES", 1_048_576)
    data = {**form_data(), "csv_file": SimpleUploadedFile("batch.csv", b"prompt\n" + b"a cat\n" * 200_000)}
    response = alice_client.post(reverse("generator:batch_new"), data)
    assert response.status_code == 400
    assert "The CSV file is 1.1 MB; the limit is 1 MB." in response.content.decode()
    assert not Batch.objects.exists()


def _png() -> bytes:
    from .conftest import png_bytes

    return png_bytes()
