"""Shared HTTP helpers, usage merging, the registry, and the fakes' benchmark knobs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from generator.providers import gemini, http, registry
from generator.providers.base import PermanentError, RateLimitedError, RetryableError
from generator.providers.registry import ProviderConfig
from generator.providers.results import merge_usage
from tests.fakes.gemini import FakeGemini

from .helpers import KEY, config_for, make_request

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "12"}, 12),
        ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30),
        ({"X-RateLimit-Reset": "5"}, 5),
        ({"X-RateLimit-Reset": str(int(NOW + 40))}, 40),
        ({"X-RateLimit-Reset": str(int((NOW + 8) * 1000))}, 8),
        ({"X-RateLimit-Reset-Requests": "1m30s"}, 90),
        ({"X-RateLimit-Reset": "250ms"}, 0.25),
        ({}, None),
    ],
)
def test_retry_after_headers(headers, seconds):
    assert http.retry_after_header(httpx.Headers(headers), now=NOW) == pytest.approx(seconds)


def test_retry_info_forms():
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
    assert http.retry_info_delay({"details": [{**detail, "retryDelay": "45.837906927s"}]}) == 45.837906927
    assert http.retry_info_delay({"details": [{**detail, "retryDelay": {"seconds": 3, "nanos": 5e8}}]}) == 3.5
    assert http.retry_info_delay({"details": [{"@type": "x.Help"}]}) is None


def test_download_url_rules():
    remote = ProviderConfig(name="r", protocol="openai_images", base_url="https://relay.example")
    local = ProviderConfig(name="l", protocol="openai_images", base_url="http://127.0.0.1", local=True)
    for url in (
        "http://cdn.example/x.png",
        "ftp://cdn.example/x.png",
        "https://127.0.0.1/x.png",
        "https://10.0.0.7/x.png",
        "https://[::1]/x.png",
        "https://169.254.169.254/latest",
    ):
        with pytest.raises(PermanentError):
            http.check_download_url(remote, url)
    http.check_download_url(remote, "https://93.184.215.14/x.png")
    http.check_download_url(remote, "https://[64:ff9b::5db8:d70e]/x.png")  # NAT64 of a public address
    http.check_download_url(local, "http://127.0.0.1:9/x.png")
    with pytest.raises(PermanentError):
        http.check_download_url(local, "file:///etc/passwd")


def test_both_base64_alphabets():
    data = bytes(range(256))
    import base64

    assert http.b64decode(base64.b64encode(data).decode()) == data
    assert http.b64decode(base64.urlsafe_b64encode(data).decode().rstrip("=")) == data
    with pytest.raises(ValueError):
        http.b64decode("not base64!!")


def test_merge_usage_adds_counts_and_modalities():
    one = {
        "promptTokenCount": 5,
        "candidatesTokenCount": 1120,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
    }
    two = {
        "promptTokenCount": 565,
        "candidatesTokenCount": 1120,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5}, {"modality": "IMAGE", "tokenCount": 560}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
    }
    assert merge_usage(one, two) == {
        "promptTokenCount": 570,
        "candidatesTokenCount": 2240,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}, {"modality": "IMAGE", "tokenCount": 560}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 2240}],
    }


def test_registry_builtins_and_providers_json(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_AUTH_STYLE", "bearer")
    monkeypatch.setenv("OPENAI_IMAGES_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("OPENAI_IMAGES_LOCAL", "1")
    monkeypatch.setenv(
        "PROVIDERS_JSON",
        json.dumps(
            [
                {
                    "name": "relay2",
                    "protocol": "openai_chat",
                    "base_url": "https://relay2.example",
                    "key_env": "RELAY2_KEY",
                    "models": ["gemini-2.5-flash-image"],
                    "model_aliases": {"gemini-2.5-flash-image": "google/gemini-2.5-flash-image"},
                    "download_max_bytes": 1000,
                }
            ]
        ),
    )
    configured = registry.providers()
    assert configured["gemini"].auth_style == "bearer"
    assert configured["openai_images"].local is True
    relay = registry.get_provider("relay2")
    assert relay.wire_model("gemini-2.5-flash-image") == "google/gemini-2.5-flash-image"
    assert relay.download_max_bytes == 1000 and relay.api_keys() == []
    assert registry.protocol_module(relay.protocol).generate


def test_registry_rejects_bad_styles(monkeypatch):
    monkeypatch.setenv(
        "PROVIDERS_JSON",
        json.dumps([{"name": "x", "protocol": "gemini", "base_url": "https://x", "auth_style": "query"}]),
    )
    with pytest.raises(ImproperlyConfigured, match="auth_style"):
        registry.providers()


def test_fake_handles_32_concurrent_calls_with_latency():
    with FakeGemini(api_key=KEY, latency=0.5) as fake:
        config = config_for(fake, "gemini")
        request = make_request(size="1K", aspect_ratio="1:1")
        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda _: gemini.generate(config, request, KEY), range(32)))
        elapsed = time.monotonic() - started
    assert len(results) == 32 and all(r.images for r in results)
    assert elapsed < 4, elapsed  # in parallel, not 32 x 0.5 s


def test_fault_rate_is_seeded_and_typed():
    def outcomes(seed: int) -> list[str]:
        with FakeGemini(fault_rate=0.6, seed=seed, hang_seconds=2) as fake:
            config = config_for(fake, "gemini", timeout=0.3)
            found = []
            for _ in range(20):
                try:
                    gemini.generate(config, make_request(size="1K", aspect_ratio="1:1"), KEY)
                    found.append("ok")
                except RateLimitedError as exc:
                    assert exc.retry_after == 1.0
                    found.append("429")
                except RetryableError as exc:
                    found.append("timeout" if "timeout" in str(exc) else str(exc.status))
            return found

    first = outcomes(7)
    assert first == outcomes(7)
    assert {"ok", "429", "503", "timeout"} <= set(first)


def test_fake_runs_standalone():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_chat", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        response = httpx.post(f"{url}/v1/chat/completions", json={}, headers={"Authorization": "Bearer k"})
        assert response.status_code == 400  # a live server, refusing an empty body
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_call_repr_hides_the_key():
    call = http.Call(config=ProviderConfig(name="g", protocol="gemini", base_url="https://x"), api_key=KEY)
    assert KEY not in repr(call) and KEY not in str(call)


def test_zero_retry_delay_is_a_rate_limit_not_exhausted_quota():
    error = {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "Resource exhausted.",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}],
    }
    call = http.Call(config=ProviderConfig(name="g", protocol="gemini", base_url="https://x"))
    exc = http.error_from_response(call, httpx.Response(429, json={"error": error}))
    assert isinstance(exc, RateLimitedError) and exc.retry_after == 0.0


@pytest.mark.parametrize(
    "url",
    [
        "https://[::ffff:127.0.0.1]/x.png",
        "https://[::ffff:a9fe:a9fe]/latest",
        "https://[64:ff9b::7f00:1]/x.png",  # NAT64 of loopback
        "https://[64:ff9b::a9fe:a9fe]/latest",  # NAT64 of the metadata address
        "https://[::127.0.0.1]/x.png",  # IPv4-compatible form
        "https://2130706433/x.png",  # decimal 127.0.0.1
        "https://0x7f.1/x.png",
    ],
)
def test_download_url_rules_see_ipv4_inside_ipv6_and_odd_forms(url):
    remote = ProviderConfig(name="r", protocol="openai_images", base_url="https://relay.example")
    with pytest.raises(PermanentError, match="private or loopback"):
        http.check_download_url(remote, url)


@pytest.mark.parametrize(("field", "value"), [("local", "false"), ("charge_failures", "no"), ("rpm", "60")])
def test_registry_rejects_mistyped_fields(monkeypatch, field, value):
    provider = {"name": "x", "protocol": "openai_images", "base_url": "https://x", field: value}
    monkeypatch.setenv("PROVIDERS_JSON", json.dumps([provider]))
    with pytest.raises(ImproperlyConfigured, match=field):
        registry.providers()


def test_fake_server_prints_no_traceback_for_a_client_that_hangs_up(fake_gemini, capsys):
    """bench.faults and bench.crash drop connections on purpose (read timeouts, killed
    workers): the fake must not answer each with a traceback on stderr."""
    import socket
    import struct
    import time

    sock = socket.create_connection((fake_gemini.host, fake_gemini.port))
    sock.sendall(b"POST /v1beta/models/x:generateContent HTTP/1.1\r\nHost: x\r\n")  # then a reset
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    time.sleep(0.5)
    assert "Traceback" not in capsys.readouterr().err
