"""Fixtures for the provider tests: fake servers on loopback."""

from __future__ import annotations

import pytest

from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_chat import FakeOpenAIChat
from tests.fakes.openai_images import FakeOpenAIImages

from .helpers import KEY


@pytest.fixture
def fake_gemini():
    with FakeGemini(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake_images():
    with FakeOpenAIImages(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake_chat():
    with FakeOpenAIChat(api_key=KEY) as fake:
        yield fake
