"""Faults surface as typed errors, never a hang: raw websockets peers on loopback.

Each peer here is a plain ``websockets`` server written in the test (no scribewire
server code): it closes mid-stream, sends an exception frame, sends a corrupt frame,
stops reading, or refuses the upgrade. Every test runs under a timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import socket
import tracemalloc
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from scribewire import TranscribeClient
from scribewire.errors import (
    ConnectionClosed,
    HandshakeRejected,
    ProtocolError,
    ReplayOverflow,
    ServiceError,
)
from scribewire.transcribe import StreamParams
from scribewire.transcribe.credentials import Credentials
from scribewire.transcribe.errors import BadRequestException, LimitExceededException
from scribewire.transcribe.frames import encode_exception

PARAMS = StreamParams(language_code="en-US", sample_rate=16_000)
CREDS = Credentials("AKIDTESTFAULTS", "not-a-real-secret")
SECOND = bytes(32_000)  # 1 s of 16 kHz mono int16


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop, with a 30 s guard against hangs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))

    return wrapper


Handler = Callable[[ServerConnection], Awaitable[None]]


class Peer:
    """A websockets server on 127.0.0.1 running ``handler`` for each connection."""

    def __init__(self, handler: Handler, **kw: Any) -> None:
        self.handler = handler
        self.kw = kw
        self.connections = 0

    async def __aenter__(self) -> TranscribeClient:
        async def run(ws: ServerConnection) -> None:
            self.connections += 1
            await self.handler(ws)

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)  # small: quick to fill
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.server = await serve(run, sock=sock, compression=None, **self.kw)
        return TranscribeClient(
            endpoint=f"ws://127.0.0.1:{port}",
            region="us-east-1",
            credentials=CREDS,
            speed=50.0,
            end_timeout=2.0,
            send_timeout=1.0,
        )

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def drain(ws: ServerConnection, messages: int) -> None:
    for _ in range(messages):
        await ws.recv()


@aio
async def test_service_closes_mid_stream() -> None:
    async def handler(ws: ServerConnection) -> None:
        await drain(ws, 3)
        await ws.close(1011, "internal trouble")

    peer = Peer(handler)
    async with peer as client:
        with pytest.raises(ConnectionClosed) as info:
            async with client.stream(PARAMS) as stream:
                for _ in range(30):
                    await stream.send(SECOND)
    assert info.value.code == 1011 and "internal trouble" in info.value.reason
    # a lost connection is retried: the first plus reconnect_attempts (3), each with the
    # unacknowledged audio replayed, before the last error reaches the caller
    assert peer.connections == 4 and stream.connections == 4
    assert stream.ledger.reconnects == 3


@aio
async def test_no_reconnect_when_disabled_or_not_retryable() -> None:
    async def closes(ws: ServerConnection) -> None:
        await drain(ws, 3)
        await ws.close(1011, "internal trouble")

    peer = Peer(closes)
    async with peer as client:
        client.options = dataclasses.replace(client.options, reconnect_attempts=0)
        with pytest.raises(ConnectionClosed):
            async with client.stream(PARAMS) as stream:
                for _ in range(30):
                    await stream.send(SECOND)
    assert peer.connections == 1

    async def bad_request(ws: ServerConnection) -> None:
        await drain(ws, 2)
        await ws.send(encode_exception("BadRequestException", "no such thing"))
        await ws.close(1000)

    peer = Peer(bad_request)
    async with peer as client:
        with pytest.raises(BadRequestException):
            async with client.stream(PARAMS) as stream:
                for _ in range(30):
                    await stream.send(SECOND)
    assert peer.connections == 1 and stream.ledger.reconnects == 0


@aio
async def test_service_closes_normally_before_the_end_is_still_an_error() -> None:
    async def handler(ws: ServerConnection) -> None:
        await drain(ws, 2)
        await ws.close(1000)

    async with Peer(handler) as client:
        with pytest.raises(ConnectionClosed, match="before its end"):
            async with client.stream(PARAMS) as stream:
                for _ in range(30):
                    await stream.send(SECOND)


@aio
async def test_service_exception_frame() -> None:
    async def handler(ws: ServerConnection) -> None:
        await drain(ws, 2)
        await ws.send(encode_exception("LimitExceededException", "too many streams"))
        await ws.close(1000)

    async with Peer(handler) as client:
        async with client.stream(PARAMS) as stream:
            await stream.send(SECOND)
            with pytest.raises(LimitExceededException, match="too many streams") as info:
                async for _ in stream:
                    pass
            assert info.value.retryable
            with pytest.raises(ServiceError):  # and on the sending side too
                for _ in range(10):
                    await stream.send(SECOND)


@aio
async def test_corrupt_frame_is_a_protocol_error_and_closes_1002() -> None:
    closed: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        await drain(ws, 1)
        frame = bytearray(encode_exception("BadRequestException", "x"))
        frame[-1] ^= 0xFF  # break the message CRC
        await ws.send(bytes(frame))
        try:
            await ws.wait_closed()
        finally:
            closed.append(ws.close_code)

    async with Peer(handler) as client:
        with pytest.raises(ProtocolError) as info:
            async with client.stream(PARAMS) as stream:
                await stream.send(SECOND)
                async for _ in stream:
                    pass
    assert info.value.remote
    await asyncio.sleep(0.1)
    assert closed == [1002]


@aio
async def test_service_stops_reading_backpressure_then_timeout() -> None:
    release = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        ws.transport.pause_reading()  # never reads again
        await release.wait()

    async with Peer(handler) as client:
        client.options = dataclasses.replace(client.options, speed=float("inf"))
        tracemalloc.start(1)
        try:
            # the audio in the peer's socket buffers is more than the replay budget: that
            # loss is reported, never silent
            with pytest.raises(ConnectionClosed, match="has not read"), pytest.warns(ReplayOverflow):
                async with client.stream(PARAMS) as stream:
                    for _ in range(600):  # 10 minutes of audio offered
                        await stream.send(SECOND)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            release.set()
    # nothing dropped silently, and memory stayed bounded: the stream buffer (2 s) and the
    # socket write limit, far below the 19 MB offered
    sent = stream.audio_seconds_sent
    assert sent < 600
    assert stream.ledger.dropped_nbytes > 0 and stream.ledger.overflows == 1
    assert stream.ledger.memory_nbytes <= stream.ledger.max_replay_nbytes
    print(f"written before the timeout: {sent:.0f} s of audio; traced peak {peak / 2**20:.2f} MiB")
    assert peak < 4 * 2**20, peak


@aio
async def test_handshake_refused_with_status() -> None:
    def refuse(connection: ServerConnection, request: Any) -> Response:
        return Response(403, "Forbidden", Headers({"Content-Type": "application/json"}), b'{"message":"bad signature"}')

    async def handler(ws: ServerConnection) -> None:
        raise AssertionError("never upgraded")

    async with Peer(handler, process_request=refuse) as client:
        with pytest.raises(HandshakeRejected) as info:
            async with client.stream(PARAMS):
                pass
    assert info.value.status == 403 and "bad signature" in info.value.body
    assert CREDS.secret_access_key not in str(info.value)


@aio
async def test_unreachable_endpoint() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = TranscribeClient(endpoint=f"ws://127.0.0.1:{port}", region="us-east-1", credentials=CREDS)
    with pytest.raises(ConnectionClosed, match="cannot connect"):
        async with client.stream(PARAMS):
            pass


@aio
async def test_service_never_closes_after_end() -> None:
    async def handler(ws: ServerConnection) -> None:
        async for _ in ws:  # reads everything, answers nothing, never closes
            pass

    async with Peer(handler) as client:
        with pytest.raises(ConnectionClosed, match=r"end\(\) timed out"):
            async with client.stream(PARAMS) as stream:
                await stream.send(SECOND)
                await stream.end()


@aio
async def test_cancellation_closes_the_socket() -> None:
    gone = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        try:
            async for _ in ws:
                pass
        finally:
            gone.set()

    async with Peer(handler) as client:
        streams = []

        async def user() -> None:
            async with client.stream(PARAMS) as stream:
                streams.append(stream)
                while True:
                    await stream.send(SECOND)

        task = asyncio.create_task(user())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(gone.wait(), 5)
    assert streams and streams[0]._conn is not None
    assert streams[0]._conn.transport.is_closing()
