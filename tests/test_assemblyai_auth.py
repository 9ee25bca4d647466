"""Credentials, hosts, URLs and temporary tokens (assemblyai.md §1)."""

from __future__ import annotations

import pickle
import pprint
from urllib.parse import parse_qs, urlsplit

import pytest

from scribewire.assemblyai import auth
from scribewire.assemblyai.errors import (
    InvalidMessageSchema,
    MalformedMessage,
    TokenRequestRejected,
    TokenRequestThrottled,
    TokenServiceError,
)
from scribewire.assemblyai.params import StreamingParams
from scribewire.errors import ParameterError

CANARY_KEY = "CANARY-api-key-4b1d9e"
CANARY_TOKEN = "CANARY-token-a8c2f0"


def test_hosts() -> None:
    assert auth.HOSTS == {"default": "streaming.assemblyai.com", "us": "streaming.us.assemblyai.com",
                          "eu": "streaming.eu.assemblyai.com"}
    assert auth.base_url() == "wss://streaming.assemblyai.com"
    assert auth.base_url("eu") == "wss://streaming.eu.assemblyai.com"
    assert auth.base_url("localhost:8766") == "wss://localhost:8766"
    assert auth.base_url("ws://127.0.0.1:8765/") == "ws://127.0.0.1:8765"  # explicit scheme kept (§7.1)
    with pytest.raises(ParameterError):
        auth.base_url("")


def test_url() -> None:
    p = StreamingParams(keyterms_prompt=["foo bar", "baz"], format_turns=True)
    u = auth.url(p, host="us")
    parts = urlsplit(u)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "streaming.us.assemblyai.com", "/v3/ws")
    # encoded as the SDK does: JSON lists, spaces as '+'
    assert "keyterms_prompt=%5B%22foo+bar%22%2C+%22baz%22%5D" in u
    assert parse_qs(parts.query)["format_turns"] == ["true"]
    assert "token" not in parse_qs(parts.query)
    t = auth.url(p, token=CANARY_TOKEN)
    assert parse_qs(urlsplit(t).query)["token"] == [CANARY_TOKEN]
    assert CANARY_TOKEN in str(t) and CANARY_TOKEN not in repr(t)


def test_headers() -> None:
    h = auth.headers(CANARY_KEY)
    assert h["Authorization"] == CANARY_KEY  # raw, no Bearer (§1.2)
    assert h["AssemblyAI-Version"] == "2025-05-12" and "User-Agent" in h
    assert auth.headers(auth.TemporaryToken(CANARY_TOKEN))["Authorization"] == CANARY_TOKEN
    assert "Authorization" not in auth.headers(None)
    assert list(auth.headers(None, user_agent=None, version=None)) == []


def test_secret_wrapper() -> None:
    k = auth.ApiKey(CANARY_KEY)
    for text in (repr(k), str(k), f"{k}", f"{k!r}", f"{k:>40}", str([k]), pprint.pformat({"k": k})):
        assert CANARY_KEY not in text and "***" in text
    assert k.reveal() == CANARY_KEY
    assert k == auth.ApiKey(CANARY_KEY) and k != auth.ApiKey("other")
    assert len(k.fingerprint()) == 8 and CANARY_KEY not in k.fingerprint()
    assert auth.ApiKey(k).reveal() == CANARY_KEY
    with pytest.raises(TypeError):
        pickle.dumps(k)
    with pytest.raises(AttributeError):
        k._value = "x"  # type: ignore[misc]
    for bad in ("", "a b", "a\r\nX-Injected: 1", "tab\t"):
        with pytest.raises(ParameterError) as info:
            auth.ApiKey(bad)
        assert bad not in str(info.value) or bad == ""
    with pytest.raises(ParameterError):
        auth.ApiKey(123)  # type: ignore[arg-type]


def test_masked_containers() -> None:
    h = auth.headers(CANARY_KEY)
    for text in (repr(h), str(h), f"{h}", pprint.pformat(h)):
        assert CANARY_KEY not in text
    u = auth.url(StreamingParams(webhook_auth_header_value=CANARY_KEY), token=CANARY_TOKEN)
    assert CANARY_KEY not in repr(u) and CANARY_TOKEN not in repr(u)


def test_keys_match() -> None:
    assert auth.keys_match(CANARY_KEY, CANARY_KEY)
    assert auth.keys_match(auth.ApiKey(CANARY_KEY), CANARY_KEY)
    assert auth.keys_match(CANARY_KEY, auth.ApiKey(CANARY_KEY))
    assert not auth.keys_match(CANARY_KEY + "x", CANARY_KEY)
    assert not auth.keys_match(None, CANARY_KEY)
    assert not auth.keys_match("", "")


def test_token_request() -> None:
    r = auth.token_request(CANARY_KEY, 60, 600)
    assert (r.method, r.path) == ("GET", "/v3/token")
    assert r.url == "https://streaming.assemblyai.com/v3/token?expires_in_seconds=60&max_session_duration_seconds=600"
    assert r.query == {"expires_in_seconds": "60", "max_session_duration_seconds": "600"}
    assert r.headers["Authorization"] == CANARY_KEY
    assert CANARY_KEY not in repr(r) and CANARY_KEY not in str(r)
    assert auth.token_request(CANARY_KEY, 1).query == {"expires_in_seconds": "1"}
    assert auth.token_request(CANARY_KEY, 600, host="eu").url.startswith("https://streaming.eu.assemblyai.com/")
    assert auth.token_request(CANARY_KEY, 60, host="ws://127.0.0.1:9").url.startswith("http://127.0.0.1:9/v3/token?")


@pytest.mark.parametrize(("args", "name"), [
    ((0,), "expires_in_seconds"), ((601,), "expires_in_seconds"), ((60.0,), "expires_in_seconds"),
    ((60, 59), "max_session_duration_seconds"), ((60, 10801), "max_session_duration_seconds"),
])
def test_token_request_ranges(args: tuple[object, ...], name: str) -> None:
    with pytest.raises(ParameterError) as info:
        auth.token_request(CANARY_KEY, *args)  # type: ignore[arg-type]
    assert info.value.parameter == name  # type: ignore[attr-defined]
    assert CANARY_KEY not in str(info.value)


def test_parse_token_response() -> None:
    g = auth.parse_token_response(200, b'{"token": "%s", "expires_in_seconds": 60}' % CANARY_TOKEN.encode())
    assert g.token.reveal() == CANARY_TOKEN and g.expires_in_seconds == 60
    assert CANARY_TOKEN not in repr(g)
    assert auth.parse_token_response(200, '{"token": "t"}').expires_in_seconds is None


@pytest.mark.parametrize(("status", "body", "cls"), [
    (400, '{"error": "expires_in_seconds out of range"}', TokenRequestRejected),
    (401, '{"error": "Invalid API key", "code": "unauthorized"}', TokenRequestRejected),
    (429, '{"error": "Too many requests"}', TokenRequestThrottled),
    (500, '{"error": "oops", "details": {}}', TokenServiceError),
    (502, "<html>bad gateway</html>", TokenServiceError),
])
def test_parse_token_errors(status: int, body: str, cls: type[Exception]) -> None:
    with pytest.raises(cls) as info:
        auth.parse_token_response(status, body)
    assert info.value.status == status  # type: ignore[attr-defined]
    if status == 401:
        assert info.value.error_code == "unauthorized" and "Invalid API key" in str(info.value)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("body", "cls"), [
    ("not json", MalformedMessage), ("[]", MalformedMessage), ("{}", InvalidMessageSchema),
    ('{"token": 5}', InvalidMessageSchema), ('{"token": "a b"}', InvalidMessageSchema),
    ('{"token": "t", "expires_in_seconds": "60"}', InvalidMessageSchema),
])
def test_parse_token_bad_success_bodies(body: str, cls: type[Exception]) -> None:
    with pytest.raises(cls) as info:
        auth.parse_token_response(200, body)
    assert info.value.remote is True  # type: ignore[attr-defined]
