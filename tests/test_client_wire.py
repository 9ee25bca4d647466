"""The client's bytes on the wire, read by a raw TCP peer on loopback.

The client writes its AudioEvent frames to the transport itself (scribewire.wsframe), so
these tests parse every byte it sends with an independent RFC 6455 reader: frames are
masked binary messages holding valid AudioEvents in order, each with its own key, and no
data frame follows the client's Close (RFC 6455 §5.5.1).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from scribewire import TranscribeClient, eventstream
from scribewire.errors import ConnectionClosed
from scribewire.transcribe import StreamParams
from scribewire.transcribe.credentials import Credentials

PARAMS = StreamParams(language_code="en-US", sample_rate=16_000)
CREDS = Credentials("AKIDTESTWIRE", "not-a-real-secret")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop, with a 30 s guard against hangs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))

    return wrapper


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """One client frame: (opcode, masking key, unmasked payload); asserts FIN and MASK."""
    b0, b1 = await reader.readexactly(2)
    assert b0 & 0x80, "FIN must be set (the client never fragments)"
    assert b1 & 0x80, "client frames must be masked (RFC 6455 §5.1)"
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    key = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, key, bytes(b ^ key[i % 4] for i, b in enumerate(data))


class RawPeer:
    """A TCP server on 127.0.0.1 that answers the upgrade, then runs ``script(reader,
    writer)``; :meth:`outcome` is what it returned (or raises what it raised)."""

    def __init__(
        self,
        script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, Any]],
    ) -> None:
        self.script = script
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = asyncio.Event()

    async def outcome(self) -> Any:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            self.result = await self.script(reader, writer)
        except Exception as exc:  # noqa: BLE001 - handed to the test by outcome()
            self.error = exc
        finally:
            writer.close()
            self.done.set()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


def client(endpoint: str, **kw: Any) -> TranscribeClient:
    return TranscribeClient(
        endpoint=endpoint, region="us-east-1", credentials=CREDS, end_timeout=5.0, **kw
    )


@aio
async def test_frames_are_masked_audio_events_in_order() -> None:
    audio = bytes(range(256)) * 125 + b"\x01\x02"  # 1 s and one more frame of int16 PCM

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        frames = []
        while True:
            opcode, key, data = await read_frame(reader)
            frames.append((opcode, key, data))
            if eventstream.decode_message(data).payload == b"":  # the end of the audio
                break
        writer.write(b"\x88\x02\x03\xe8")  # Close 1000 (server frames are unmasked)
        opcode, _, data = await read_frame(reader)
        assert (opcode, data) == (0x8, b"\x03\xe8"), "the client echoes the Close"
        writer.write_eof()  # the server closes the TCP connection first (RFC 6455 §7.1.1)
        assert await reader.read() == b"", "nothing after the client's Close"
        return frames

    peer = RawPeer(script)
    async with peer as endpoint:
        async with client(endpoint, speed=float("inf")).stream(PARAMS) as stream:
            await stream.send(audio)
            await stream.end()
    frames = await peer.outcome()
    assert {opcode for opcode, _, _ in frames} == {0x2}  # binary messages only
    messages = [eventstream.decode_message(data) for _, _, data in frames]
    assert all(m.headers[":event-type"] == "AudioEvent" for m in messages)
    payloads = [m.payload for m in messages]
    assert b"".join(payloads) == audio and payloads[-1] == b""
    assert [len(p) for p in payloads[:-2]] == [3200] * 10 and len(payloads[-2]) == 2
    assert len({key for _, key, _ in frames}) == len(frames)  # a fresh key per frame
    assert stream.audio_seconds_sent == len(audio) / 32_000


@aio
async def test_no_data_frame_after_the_close() -> None:
    """The peer closes while audio is still paced out: the client answers with its Close
    and writes no AudioEvent after it (RFC 6455 §5.5.1), then fails the stream."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        for _ in range(3):
            assert (await read_frame(reader))[0] == 0x2
        writer.write(b"\x88\x02\x03\xf3")  # Close 1011
        opcodes = []
        while True:
            opcode, _, _ = await read_frame(reader)  # frames in flight, then the Close
            opcodes.append(opcode)
            if opcode == 0x8:
                break
        await asyncio.sleep(0.1)  # ten AudioEvents' time: a client still pacing would write
        writer.write_eof()
        assert await reader.read() == b"", "nothing after the client's Close"
        return opcodes

    peer = RawPeer(script)
    async with peer as endpoint:
        with pytest.raises(ConnectionClosed):
            async with client(endpoint, speed=10.0).stream(PARAMS) as stream:
                await stream.send(bytes(64_000))  # 2 s: 20 AudioEvents, 10 ms apart
                await stream.end()
    opcodes = await peer.outcome()
    assert opcodes[-1] == 0x8 and set(opcodes[:-1]) <= {0x2}
    assert len(opcodes) < 10, "the client kept streaming after the peer's Close"
