"""The main path in real headless Chromium: log in -> compose -> wait -> gallery -> detail."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from generator import dispatch

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (make browser-deps)"),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def worker(django_db_serialized_rollback, transactional_db):
    """A stand-in for the huey consumer: runs due jobs in a thread, as the worker would."""
    from django.db import connection

    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                dispatch.run_due()
                stop.wait(0.2)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by
    # fixtures here are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()


def test_log_in_compose_wait_gallery_detail(live_server, django_user_model, worker, page, settings):
    settings.DEMO_LATENCY_SECONDS = 1.5  # long enough to see "running" in the page
    django_user_model.objects.create_user("carol", password="s3cret-banana")
    page.set_default_timeout(15_000)

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "carol")
    page.fill("#id_password", "s3cret-banana")
    page.click("button[type=submit]")
    page.wait_for_selector("#composer")

    page.fill("#id_prompt", "a lighthouse on a cliff at dusk")
    page.select_option("#id_model", "gemini-3.1-flash-image-preview")
    # The ratio list follows the model: 3.1 Flash offers the extreme ratios.
    assert "1:8" in page.locator("#id_aspect_ratio option").all_inner_texts()
    page.select_option("#id_aspect_ratio", "16:9")
    page.select_option("#id_size", "512")
    page.select_option("#id_style", "watercolor")
    page.wait_for_selector("#quote .price")
    assert "Estimated $0" in page.inner_text("#quote")
    page.click("#send")

    page.wait_for_url("**/generations/*/")
    # Progress arrives by htmx polling, without a reload; it stops when the job ends.
    page.wait_for_selector('[data-status="running"], [data-status="succeeded"]')
    page.wait_for_selector('[data-status="succeeded"]')
    assert page.locator("#status").get_attribute("hx-trigger") is None

    page.click("text=Gallery")
    page.wait_for_selector(".tile img")
    tile = page.locator(".tile").first
    assert "lighthouse" in tile.inner_text()
    page.wait_for_function("document.querySelector('.tile img').complete")
    assert page.evaluate("document.querySelector('.tile img').naturalWidth") > 0
    tile.click()

    page.wait_for_selector("#full-image")
    detail = page.inner_text("main")
    for text in [
        "a lighthouse on a cliff at dusk",
        "Watercolor",
        "gemini-3.1-flash-image-preview",
        "688×384",
        "16:9 · 512",
        "carol",
        "demo",
    ]:
        assert text in detail, text
    page.wait_for_function("document.getElementById('full-image').complete")
    assert page.evaluate("document.getElementById('full-image').naturalWidth") == 688
    os.makedirs("test-artifacts", exist_ok=True)
    page.screenshot(path="test-artifacts/detail.png", full_page=True)


@pytest.fixture
def logged_in(live_server, django_db_serialized_rollback, transactional_db, django_user_model, page):
    django_user_model.objects.create_user("dave", password="s3cret-banana")
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "dave")
    page.fill("#id_password", "s3cret-banana")
    page.click("button[type=submit]")
    page.wait_for_selector("#composer")
    return page


def test_composer_quotes_before_the_prompt_and_presets_swap_their_style(logged_in):
    page = logged_in
    # No prompt yet: the price is still shown (htmx must not wait for form validation).
    page.wait_for_selector("#quote .price")
    page.fill("#id_n", "3")
    page.select_option("#id_model", "gemini-3.1-flash-image-preview")
    page.wait_for_function("document.querySelector('#quote').textContent.includes('Estimated')")
    page.select_option("#id_preset", "ecommerce-product")
    assert page.input_value("#id_style") == "product-photo"
    page.select_option("#id_preset", "anime-character")
    assert page.input_value("#id_style") == "anime"  # the previous preset's style is not carried over
    page.select_option("#id_preset", "")
    assert page.input_value("#id_style") == ""
    page.select_option("#id_style", "watercolor")
    page.select_option("#id_preset", "anime-character")
    assert page.input_value("#id_style") == "watercolor"  # a style the user chose stays


def test_a_refused_tag_says_why_in_the_page(logged_in, live_server, make_generation, django_user_model):
    image = make_generation(owner=django_user_model.objects.get(username="dave")).images.get()
    page = logged_in
    page.goto(f"{live_server.url}{image.get_absolute_url()}")
    page.fill(".tag-form input[type=text]", "!!")
    page.click(".tag-form button")
    page.wait_for_selector("#tags .error")
    assert "A tag is 1–50 letters" in page.inner_text("#tags")


def test_pages_fit_a_phone_screen(logged_in, live_server, make_generation, django_user_model):
    dave = django_user_model.objects.get(username="dave")
    generation = make_generation(owner=dave, prompt="a very long prompt " * 8)
    page = logged_in
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ["/", "/gallery/", "/generations/", generation.get_absolute_url(), "/spend/", "/batches/new/"]:
        page.goto(f"{live_server.url}{path}")
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert "{#" not in page.inner_text("body"), path
