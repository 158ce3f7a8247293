"""Rule 8: batches from text or CSV, bad rows by line number, nothing created on error."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from generator import batches, dispatch
from generator.models import Batch, Generation
from spend.models import SpendEntry

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "provider": "demo",
    "model": "gemini-3-pro-image-preview",
    "aspect_ratio": "1:1",
    "size": "1K",
    "n": "1",
    "style": "",
    "preset": "",
    "visibility": "team",
}


def test_lines_skip_blanks_and_comments_and_keep_line_numbers():
    rows = batches.parse_lines("a cat\n\n# a note\n  a dog  \n")
    assert [(r.line, r.values["prompt"]) for r in rows] == [(1, "a cat"), (4, "a dog")]


def test_csv_columns_override_the_defaults(user):
    data = b"prompt,style,ratio,size\na lighthouse,watercolor,16:9,2K\na harbour,,,\n"
    rows = batches.parse_csv(data)
    cleaned = batches.validate(rows, DEFAULTS, user)
    assert [(c["prompt"], c["aspect_ratio"], c["size"]) for c in cleaned] == [
        ("a lighthouse", "16:9", "2K"),
        ("a harbour", "1:1", "1K"),
    ]
    assert cleaned[0]["style"].slug == "watercolor" and cleaned[1]["style"] is None


def test_bad_rows_are_reported_by_line_number(user):
    data = b"prompt,ratio,size\nok,1:1,1K\n,1:1,1K\nfine,7:3,1K\nalso fine,1:1,9K\n"
    with pytest.raises(batches.BatchInputError) as caught:
        batches.validate(batches.parse_csv(data), DEFAULTS, user)
    errors = caught.value.errors
    assert any(e.startswith("Line 3: prompt:") for e in errors)
    assert any(e.startswith("Line 4: aspect ratio:") and "7:3" in e for e in errors)
    assert any(e.startswith("Line 5: size:") and "9K" in e for e in errors)
    assert not any(e.startswith("Line 2") for e in errors)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"size,style\n1K,x\n", "Line 1: no prompt column"),
        (b"prompt,colour\nx,red\n", "Line 1: unknown column(s) colour"),
        (b"prompt\nx,extra\n", "Line 2: more values than columns"),
        (b"\xff\xfeprompt\n", "not UTF-8"),
        (b"prompt\n\n", "There are no prompts"),
    ],
)
def test_malformed_csv_is_refused(data, message):
    with pytest.raises(batches.BatchInputError) as caught:
        batches.parse_csv(data)
    assert message in caught.value.errors[0]


def test_batch_page_creates_one_generation_per_line(alice_client, user):
    assert "Make a batch" in alice_client.get("/").content.decode()
    assert alice_client.get("/batches/new/").status_code == 200
    response = alice_client.post("/batches/new/", {**DEFAULTS, "name": "shore", "prompts": "a gull\na boat\n"})
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert [g.prompt for g in batch.generations.order_by("id")] == ["a gull", "a boat"]
    page = alice_client.get(f"/batches/{batch.pk}/").content.decode()
    assert "0 of 2 finished" in page and 'hx-trigger="every 1s"' in page
    dispatch.run_due()
    fragment = alice_client.get(f"/batches/{batch.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "2 of 2 finished (100%)" in fragment and "<html" not in fragment and "every 1s" not in fragment
    assert "shore" in alice_client.get("/batches/").content.decode()


def test_batch_csv_upload_with_a_bad_row_creates_nothing(alice_client):
    upload = SimpleUploadedFile("p.csv", b"prompt,size\ngood,1K\nbad,16K\n", content_type="text/csv")
    response = alice_client.post("/batches/new/", {**DEFAULTS, "csv_file": upload})
    assert response.status_code == 400
    assert "Line 3: size:" in response.content.decode()
    assert not Batch.objects.exists() and not Generation.objects.exists() and not SpendEntry.objects.exists()


def test_batch_needs_exactly_one_source(alice_client):
    response = alice_client.post("/batches/new/", DEFAULTS)
    assert response.status_code == 400 and "one of the two" in response.content.decode()


def test_other_users_cannot_see_a_batch(alice_client, other_user):
    batch = Batch.objects.create(user=other_user)
    assert alice_client.get(f"/batches/{batch.pk}/").status_code == 404
    assert alice_client.post(f"/batches/{batch.pk}/cancel/").status_code == 404


def test_cli_takes_a_file_of_prompts(admin_user, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("a fox\n\na hen\n")
    out = StringIO()
    call_command("generate_batch", str(path), "--user", "admin", "--provider", "demo", "--wait", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["total"] == 2 and result["counts"] == {"succeeded": 2}
    assert [g["attempts"] for g in result["generations"]] == [1, 1]


def test_cli_reports_bad_csv_lines_and_queues_nothing(admin_user, tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_text("prompt,ratio\nfine,1:1\nnope,5:7\n")
    with pytest.raises(CommandError) as caught:
        call_command("generate_batch", str(path), "--user", "admin", "--provider", "demo", stdout=StringIO())
    assert "Line 3: aspect ratio:" in str(caught.value) and "nothing was queued" in str(caught.value)
    assert not Generation.objects.exists()
