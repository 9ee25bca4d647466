"""The local service accepts upgrades that repeat Sec-WebSocket-Key/-Version, as Amazon
Transcribe does (pipecat's AWSTranscribeSTTService sends its own beside websockets')."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect
from websockets.datastructures import Headers

from scribewire.server import LocalTranscribeService
from scribewire.server.handshake import collapse_repeated_upgrade_headers
from scribewire.transcribe.params import StreamParams
from scribewire.transcribe.session import TranscribeSession

PARAMS = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=16000)


async def _stream(svc: LocalTranscribeService, extra: dict[str, str]) -> int | None:
    session = TranscribeSession(PARAMS, chunk_duration=0.1)
    url = session.request_url(svc.credentials, svc.now_utc(), region=svc.region, endpoint=svc.url)
    async with connect(url, additional_headers=extra, compression=None) as ws:
        for frame in session.send_audio(bytes(3200 * 5)):
            await ws.send(frame)
        for frame in session.end_of_stream():
            await ws.send(frame)
        async for _ in ws:
            pass
        return ws.close_code


def test_pipecat_style_repeated_headers_are_accepted() -> None:
    extra = {
        "Origin": "https://localhost",
        "Sec-WebSocket-Key": "abcdefghijABCDEFGHIJ",  # 20 characters: not a valid key
        "Sec-WebSocket-Version": "13",
        "Connection": "keep-alive",
    }

    async def main() -> int | None:
        async with LocalTranscribeService(recognizer="null") as svc:
            return await asyncio.wait_for(_stream(svc, extra), 20)

    assert asyncio.run(main()) == 1000


def test_a_repeated_version_with_13_among_them_is_accepted() -> None:
    async def main() -> int | None:
        async with LocalTranscribeService(recognizer="null") as svc:
            return await asyncio.wait_for(_stream(svc, {"Sec-WebSocket-Version": "8"}), 20)

    assert asyncio.run(main()) == 1000


def test_repeated_keys_with_no_valid_one_are_refused() -> None:
    async def main() -> int:
        async with LocalTranscribeService(recognizer="null") as svc:
            session = TranscribeSession(PARAMS, chunk_duration=0.1)
            url = session.request_url(
                svc.credentials, svc.now_utc(), region=svc.region, endpoint=svc.url
            )
            target = url.split(f":{svc.port}", 1)[1]  # signed path and query
            reader, writer = await asyncio.open_connection(svc.host, svc.port)
            writer.write(
                b"GET " + target.encode() + b" HTTP/1.1\r\n"
                b"Host: " + f"{svc.host}:{svc.port}".encode() + b"\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: x\r\nSec-WebSocket-Key: y\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            status = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            return int(status.split()[1])

    assert asyncio.run(main()) == 400


def test_collapse_rules() -> None:
    h = Headers()
    h["Sec-WebSocket-Key"] = "not-a-key"
    h["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    h["Sec-WebSocket-Version"] = "13"
    h["Sec-WebSocket-Version"] = "13"
    collapse_repeated_upgrade_headers(h)
    assert h.get_all("Sec-WebSocket-Key") == ["dGhlIHNhbXBsZSBub25jZQ=="]
    assert h.get_all("Sec-WebSocket-Version") == ["13"]

    bad = Headers()
    bad["Sec-WebSocket-Key"] = "x"
    bad["Sec-WebSocket-Key"] = "y"
    collapse_repeated_upgrade_headers(bad)
    assert bad.get_all("Sec-WebSocket-Key") == ["x", "y"]  # left for websockets to refuse

    single = Headers()
    single["Sec-WebSocket-Key"] = "x"
    collapse_repeated_upgrade_headers(single)
    assert single.get_all("Sec-WebSocket-Key") == ["x"]
