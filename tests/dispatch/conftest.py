"""Dispatch tests: the real dispatch path against the fake Gemini server over HTTP."""

from __future__ import annotations

import pytest

from generator import limits
from tests.fakes.gemini import FakeGemini

KEY = "dispatch-key-7c1e0b"


@pytest.fixture
def fake(monkeypatch, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    with FakeGemini(api_key=KEY, hang_seconds=2.0) as server:
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("GEMINI_BASE_URL", server.url)
        yield server


@pytest.fixture
def gemini(make_generation):
    """Submit (without running) a generation for the fake Gemini."""

    def make(**overrides):
        overrides = {"provider": "gemini", "model": "gemini-3-pro-image-preview", "size": "1K", **overrides}
        return make_generation(run=False, **overrides)

    return make


@pytest.fixture
def redis_limits(settings):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.LIMITS_BACKEND = "redis"
    settings.LIMITS_REDIS_PREFIX = "nb-test-dispatch:"
    limits._backend().reset()
    yield
    limits._backend().reset()
