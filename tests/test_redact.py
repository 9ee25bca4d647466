"""``scribewire.redact``: credentials out of URLs, headers, bodies, errors and log records.

Canary values stand for the secrets; every check is that no canary survives, in every form
a server or a logger could carry it (query, percent-encoded query inside a URL, header
line, JSON, dict and tuple reprs), and that ordinary text passes unchanged.
"""

from __future__ import annotations

import logging
import pickle

import pytest

from scribewire.errors import (
    AudioFileError,
    ConnectionClosed,
    HandshakeRejected,
    ServiceError,
)
from scribewire.redact import REDACTED, RedactingFilter, install_log_redaction, redact
from scribewire.transcribe.credentials import Credentials
from scribewire.transcribe.errors import BadRequestException, service_error
from scribewire.transcribe.sigv4 import presign_url

AKID = "AKIDCANARYKEY0001"
TOKEN = "CANARYTOKEN/abc+def=="
SECRET = "canary-secret-never-sent"
CANARIES = ("CANARYKEY", "CANARYTOKEN", "canary-secret")


def canary_url() -> str:
    return presign_url(
        credentials=Credentials(AKID, SECRET, TOKEN),
        region="us-east-1",
        path="/stream-transcription-websocket",
        query={"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"},
        now=1_700_000_000,
        endpoint="ws://127.0.0.1:8443",
    )


def signature_of(url: str) -> str:
    return url.rsplit("X-Amz-Signature=", 1)[1]


def clean(text: str, url: str | None = None) -> bool:
    secrets = list(CANARIES) + ([signature_of(url)] if url else [])
    return not any(s.lower() in text.lower() for s in secrets)


def test_presigned_url_keeps_its_shape() -> None:
    url = canary_url()
    out = redact(url)
    assert clean(out, url)
    assert out.startswith("ws://127.0.0.1:8443/stream-transcription-websocket?")
    assert f"X-Amz-Credential={REDACTED}%2F" in out  # the scope stays
    assert "%2Fus-east-1%2Ftranscribe%2Faws4_request" in out
    assert f"X-Amz-Security-Token={REDACTED}&" in out
    assert out.endswith(f"X-Amz-Signature={REDACTED}")
    assert "language-code=en-US" in out and "X-Amz-SignedHeaders=host" in out


@pytest.mark.parametrize(
    "form",
    [
        "GET {path} HTTP/1.1",
        "redirect to http://proxy/?next={quoted}",
        '{{"request": "{path}"}}',
        '{{"X-Amz-Security-Token": "{token}", "X-Amz-Credential": "{akid}/20231114/us-east-1"}}',
        "{{'X-Amz-Signature': '{sig}', 'Authorization': 'AWS4 {akid}'}}",
        "[('X-Amz-Security-Token', '{token}'), ('Host', 'h')]",
        "x-amz-security-token: {token}\r\nauthorization: Bearer {akid}\r\n",
        "echo: {sig}",
        "token={token}&api_key={akid}&password={akid}",
        '{{"api-key": "{akid}", "access_token": "{token}"}}',
        "Authorization: AWS4-HMAC-SHA256 Credential={akid}/2023, Signature={sig}",
        "wss://user:{akid}@h/v3/ws?sample_rate=16000&token={token}",
    ],
)
def test_every_form_is_cleaned(form: str) -> None:
    from urllib.parse import quote

    url = canary_url()
    path = "/" + url.split("/", 3)[3]
    text = form.format(path=path, quoted=quote(path, safe=""), token=TOKEN, akid=AKID,
                       sig=signature_of(url))
    out = redact(text)
    assert clean(out, url), out
    assert redact(out) == out  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "handshake rejected with HTTP 403",
        "X-Amz-Security-Token does not match",
        "query parameter X-Amz-Signature occurs twice",
        "max_tokens=5 token_count=3 tokens: many",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "stream 1 sha256=0123456789abcdef rate=16000",
        "/work/recordings/call-0001.wav: no such file",
        "X-Amz-SignedHeaders=host&X-Amz-Date=20231114T221320Z",
    ],
)
def test_ordinary_text_unchanged(text: str) -> None:
    assert redact(text) == text


def test_errors_redact_what_they_keep() -> None:
    url = canary_url()
    echo = f"you sent GET {url.split('8443', 1)[1]} with X-Amz-Security-Token: {TOKEN}"
    hr = HandshakeRejected(403, echo)
    cc = ConnectionClosed(1008, echo)
    se = service_error("BadRequestException", echo)
    other = ServiceError(echo, code="SomethingNew")
    for exc in (hr, cc, se, other):
        for text in (str(exc), repr(exc)):
            assert clean(text, url), text
    assert clean(hr.body, url) and hr.status == 403 and "you sent GET" in hr.body
    assert clean(cc.reason, url) and cc.code == 1008
    assert isinstance(se, BadRequestException) and clean(se.message, url)
    again = pickle.loads(pickle.dumps(se))
    assert type(again) is BadRequestException and again.message == se.message


def test_audio_file_error_keeps_path_apart() -> None:
    exc = AudioFileError("is a directory", path="/x/y")
    assert str(exc) == "/x/y: is a directory"
    assert (exc.path, exc.reason) == ("/x/y", "is a directory")
    again = pickle.loads(pickle.dumps(exc))
    assert (again.path, again.reason, str(again)) == (exc.path, exc.reason, str(exc))
    plain = AudioFileError("f.wav: truncated")
    assert plain.path is None and str(plain) == "f.wav: truncated"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("websockets.client", logging.DEBUG, __file__, 1, msg, args, exc_info)


def test_filter_cleans_message_args_and_traceback() -> None:
    url = canary_url()
    f = RedactingFilter()
    rec = _record("> GET %s HTTP/1.1", "/" + url.split("/", 3)[3])
    assert f.filter(rec) is True
    assert clean(rec.getMessage(), url) and "GET /stream-transcription-websocket?" in rec.getMessage()
    try:
        raise ValueError(f"bad url {url}")
    except ValueError as err:
        rec = _record("failed", exc=err)
    f.filter(rec)
    text = logging.Formatter().format(rec)
    assert "ValueError: bad url ws://127.0.0.1:8443" in text and clean(text, url)


def test_install_is_idempotent_and_reaches_websockets(caplog: pytest.LogCaptureFixture) -> None:
    first = install_log_redaction(loggers=["scribewire.test_redact"])
    second = install_log_redaction(loggers=["scribewire.test_redact"])
    assert first is second
    for name in ("websockets.client", "websockets.server", "scribewire.server",
                 "scribewire.test_redact"):
        assert logging.getLogger(name).filters.count(first) == 1
    url = canary_url()
    with caplog.at_level(logging.DEBUG, logger="websockets.client"):
        logging.getLogger("websockets.client").debug("> GET %s HTTP/1.1", url)
        logging.getLogger("websockets.client").debug("> X-Amz-Security-Token: %s", TOKEN)
    assert len(caplog.records) == 2
    assert clean(caplog.text, url)
    handler = logging.NullHandler()
    install_log_redaction(handlers=[handler])
    install_log_redaction(handlers=[handler])
    assert handler.filters.count(first) == 1
