"""No credential in any error or log line, with hostile servers on loopback (issue 13, item 6).

Canary credentials sign every request. Hostile servers echo the request back on every
error path the client has: a 403 whose body repeats the request line, headers and decoded
query; an exception frame whose message repeats it; a close frame whose reason carries the
token; a 101 whose ``Sec-WebSocket-Accept`` header carries it. Each is run through the
library client (str, repr, DEBUG logs) and the ``scribewire transcribe -vv`` command (its
stderr), and the local service's own DEBUG logs are checked the same way. Nothing may
contain the access key id, the session token, the secret or a signature the server saw.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from scribewire.cli.main import transcribe_main
from scribewire.clients import TranscribeClient
from scribewire.errors import ScribewireError
from scribewire.redact import install_log_redaction
from scribewire.server import LocalTranscribeService
from scribewire.transcribe.credentials import Credentials
from scribewire.transcribe.frames import encode_exception
from scribewire.transcribe.params import StreamParams

AKID = "AKIDCANARY00000001"
TOKEN = "FwoGZXIvYXdzCANARYTOKEN//////////wEaDH+abc/def=="
SECRET = "canary-secret-never-on-the-wire"
CREDS = Credentials(AKID, SECRET, TOKEN)
PARAMS = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=16000)
MODES = ("http-403", "exception-frame", "close-reason", "accept-header")
ROOT = Path(__file__).resolve().parent.parent


class Hostile:
    """A server that answers every request with the request itself, in one way."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.signatures: set[str] = set()

    def _echo(self, request: Request) -> str:
        query = urllib.parse.urlsplit(request.path).query
        for name, value in urllib.parse.parse_qsl(query):
            if name == "X-Amz-Signature":
                self.signatures.add(value)
        return (
            f"you sent GET {request.path}\n"
            + "".join(f"{k}: {v}\n" for k, v in request.headers.raw_items())
            + json.dumps(dict(urllib.parse.parse_qsl(query)))
        )

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        echo = self._echo(request)
        if self.mode == "http-403":
            body = echo.encode()
            return Response(403, "Forbidden", Headers({"Content-Type": "text/plain"}), body)
        return None

    def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        if self.mode == "accept-header":
            query = urllib.parse.urlsplit(request.path).query
            token = dict(urllib.parse.parse_qsl(query)).get("X-Amz-Security-Token", "")
            del response.headers["Sec-WebSocket-Accept"]
            response.headers["Sec-WebSocket-Accept"] = f"X-Amz-Security-Token={token}"
        return None

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        echo = self._echo(ws.request)
        if self.mode == "exception-frame":
            await ws.send(encode_exception("BadRequestException", echo))
            await ws.close()
        elif self.mode == "close-reason":
            path = ws.request.path
            at = path.index("X-Amz-Security-Token")
            await ws.close(1008, path[at : at + 100])

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        async with serve(
            self.handler,
            "127.0.0.1",
            0,
            process_request=self.process_request,
            process_response=self.process_response,
            compression=None,
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}"


def assert_clean(text: str, signatures: set[str]) -> None:
    secrets = [AKID, "CANARYTOKEN", SECRET, *signatures]
    quoted = [urllib.parse.quote(s, safe="") for s in secrets]
    found = [s for s in secrets + quoted if s and s in text]
    assert not found, f"{found} in:\n{text}"


@pytest.mark.parametrize("mode", MODES)
def test_library_client_errors_and_debug_logs(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()  # what the client will do itself (see the report)
    hostile = Hostile(mode)

    async def main() -> BaseException:
        async with hostile.running() as url:
            client = TranscribeClient(
                endpoint=url, region="us-east-1", credentials=CREDS, reconnect_attempts=0
            )
            try:
                async with client.stream(PARAMS) as stream:
                    await stream.send(b"\0\0" * 1600)
                    await stream.end()
                    async for _ in stream:
                        pass
            except ScribewireError as exc:
                return exc
        raise AssertionError("no error")

    with caplog.at_level(logging.DEBUG):
        exc = asyncio.run(main())
    assert hostile.signatures, "the hostile server saw no request"
    assert "X-Amz-Security-Token" in caplog.text or mode == "http-403"  # logs were on
    for text in (str(exc), repr(exc), caplog.text, *map(str, vars(exc).values())):
        assert_clean(text, hostile.signatures)


@pytest.mark.parametrize("mode", MODES)
def test_cli_stderr_with_debug_logs(
    mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    hostile = Hostile(mode)
    err = io.StringIO()

    async def serve_while(run: Any) -> int:
        async with hostile.running() as url:
            return int(await asyncio.to_thread(run, url))

    def run(url: str) -> int:
        return transcribe_main(
            [str(ROOT / "examples" / "call.wav"), "--endpoint", url, "--speed", "50", "-vv",
             "--split-channels"],
            out=io.StringIO(),
            err=err,
        )

    code = asyncio.run(serve_while(run))
    text = err.getvalue()
    assert code == 1 and "scribewire: error:" in text
    assert " DEBUG " in text  # -vv logged
    assert_clean(text, hostile.signatures)


def test_service_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    # The local service logs each request line at DEBUG (websockets.server): its filter
    # keeps the client's token and signature out, on good and refused requests alike.
    from _server_client import audio_frame, presign, run_stream

    async def main() -> set[str]:
        async with LocalTranscribeService(recognizer="null", credentials=CREDS) as svc:
            q = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"}
            good = presign(svc.url, "/stream-transcription-websocket", q, access_key=AKID,
                           secret=SECRET, region=svc.region, token=TOKEN)
            bad = good.replace("sample-rate=16000", "sample-rate=8000")
            await run_stream(good, [audio_frame(b"\0\0" * 1600), audio_frame(b"")])
            try:
                await run_stream(bad, [])
            except Exception:  # the 403
                pass
            await svc.wait_finished(1)
            return {
                urllib.parse.parse_qs(urllib.parse.urlsplit(u).query)["X-Amz-Signature"][0]
                for u in (good, bad)
            }

    with caplog.at_level(logging.DEBUG):
        signatures = asyncio.run(main())
    # the test's own client presigns with botocore, which logs its signature: only the
    # service's and websockets' records are the service's logs
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("websockets", "scribewire"))
    )
    assert "< GET /stream-transcription-websocket?" in ours  # the request lines
    assert_clean(ours, signatures)
