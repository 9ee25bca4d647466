"""The services' WebSocket I/O after the handshake (server/wire.py), on real loopback sockets.

A ``websockets`` server with ``create_connection=WireConnection`` and an echo handler; the
websockets client is the oracle for what a conforming peer sees (echoed messages,
fragmented sends, ping/pong, close codes both ways), raw sockets play the peers that break
the rules (unmasked or oversized frames, bytes before the 101, a client that never reads,
one that never answers a close frame, one that half-closes).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode

from scribewire.server.wire import NOT_READING, Wire, WireConnection

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Echo:
    """Echoes binary messages, upper-cases text; ``flood`` sends ``nbytes`` back."""

    def __init__(self) -> None:
        self.wire: Wire | None = None
        self.closed_with: tuple[int, str] | None = None
        self.received: list[object] = []

    def binary(self, payload: bytes) -> None:
        assert self.wire is not None
        self.received.append(payload)
        if payload.startswith(b"flood"):
            chunk = b"x" * 65536
            for _ in range(int(payload[5:])):
                self.wire.send(chunk)
        elif payload == b"close":
            self.wire.start_close(4000, "asked to")
        else:
            self.wire.send(payload)

    def text(self, payload: str) -> None:
        assert self.wire is not None
        self.received.append(payload)
        self.wire.send_text(payload.upper())

    def closed(self, code: int, reason: str) -> None:
        assert self.closed_with is None, "closed() called twice"
        self.closed_with = (code, reason)


class Service:
    def __init__(self, **kw: Any) -> None:
        self.kw = {"max_message_nbytes": 1000, "send_timeout": 0.5, "close_timeout": 0.5, **kw}
        self.handlers: list[Echo] = []
        self.url = ""
        self.port = 0

    async def handler(self, ws: ServerConnection) -> None:
        assert isinstance(ws, WireConnection)
        echo = Echo()
        self.handlers.append(echo)
        echo.wire = ws.attach(echo, **self.kw)
        await echo.wire.wait_closed()


async def served(main: Any, **kw: Any) -> None:
    """Run ``main(service)`` against a fresh server in this loop."""
    svc = Service(**kw)
    server = await serve(svc.handler, "127.0.0.1", 0, create_connection=WireConnection, compression=None, ping_interval=None)
    svc.port = next(iter(server.sockets)).getsockname()[1]
    svc.url = f"ws://127.0.0.1:{svc.port}/"
    try:
        await main(svc)
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


# ---------------------------------------------------------------- raw peers


async def raw_open(port: int, extra: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection that did the upgrade by hand (``extra`` sent with the request)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n" + extra
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def masked(opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin=fin).serialize(mask=True, extensions=[])


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    assert not b1 & 0x80, "server frames are never masked"
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


async def read_close(reader: asyncio.StreamReader) -> Close:
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 8:
            return Close.parse(payload)


# ---------------------------------------------------------------- conforming peers


def test_messages_fragments_ping_and_client_close() -> None:
    async def main(service: Service) -> None:
        async with connect(service.url, compression=None, max_size=None) as ws:
            await ws.send(b"\x00\x01" * 10)
            assert await ws.recv() == b"\x00\x01" * 10
            await ws.send("héllo")
            assert await ws.recv() == "HÉLLO"
            await ws.send([b"ab", b"cd", b"ef"])  # one message in three frames
            assert await ws.recv() == b"abcdef"
            pong = await ws.ping(b"ping!")
            await asyncio.wait_for(pong, 5)
            await ws.close(1000, "bye")
            assert ws.close_code == 1000  # the server echoed the code
        (echo,) = service.handlers
        assert echo.closed_with == (1000, "bye")
        assert echo.received == [b"\x00\x01" * 10, "héllo", b"abcdef"]
        assert echo.wire is not None and echo.wire.close_code == 1000

    run(served(main))


def test_server_close_reaches_the_client() -> None:
    async def main(service: Service) -> None:
        async with connect(service.url, compression=None) as ws:
            await ws.send(b"close")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 4000 and ws.close_reason == "asked to"
        assert service.handlers[0].closed_with == (4000, "asked to")

    run(served(main))


def test_oversized_message_closes_1009() -> None:
    async def main(service: Service) -> None:
        async with connect(service.url, compression=None, max_size=None) as ws:
            await ws.send(b"x" * 1001)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1009
        assert service.handlers[0].closed_with is not None
        assert service.handlers[0].closed_with[0] == 1009
        assert service.handlers[0].received == []

    run(served(main))


# ---------------------------------------------------------------- peers breaking rules


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (Frame(Opcode.BINARY, b"x").serialize(mask=False, extensions=[]), 1002),  # §5.1
        (bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 40) + b"\0" * 4, 1009),  # header only
        (masked(Opcode.TEXT, b"\xff"), 1007),
        (masked(Opcode.CONT, b"x"), 1002),
    ],
    ids=["unmasked", "oversized-header", "bad-utf8", "stray-continuation"],
)
def test_faults_close_with_their_code(data: bytes, code: int) -> None:
    async def main(service: Service) -> None:
        reader, writer = await raw_open(service.port)
        writer.write(masked(Opcode.BINARY, b"first") + data)
        assert await read_frame(reader) == (2, b"first")  # the message before the fault
        close = await asyncio.wait_for(read_close(reader), 5)
        assert close.code == code
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed TCP
        writer.close()
        echo = service.handlers[0]
        assert echo.closed_with is not None and echo.closed_with[0] == code
        assert echo.received == [b"first"]

    run(served(main))


def test_bytes_sent_with_the_request_are_not_lost() -> None:
    async def main(service: Service) -> None:
        reader, writer = await raw_open(service.port, extra=masked(Opcode.BINARY, b"early") + masked(Opcode.PING, b"p"))
        assert await asyncio.wait_for(read_frame(reader), 5) == (2, b"early")
        assert await asyncio.wait_for(read_frame(reader), 5) == (10, b"p")  # pong, same payload
        writer.write(masked(Opcode.CLOSE, b""))  # no status code: echoed empty
        assert await asyncio.wait_for(read_frame(reader), 5) == (8, b"")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert service.handlers[0].closed_with == (1005, "")

    run(served(main))


def test_byte_by_byte_client() -> None:
    async def main(service: Service) -> None:
        reader, writer = await raw_open(service.port)
        data = masked(Opcode.BINARY, b"a", fin=False) + masked(Opcode.PING, b"") + masked(Opcode.CONT, b"bc")
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        assert await asyncio.wait_for(read_frame(reader), 5) == (10, b"")
        assert await asyncio.wait_for(read_frame(reader), 5) == (2, b"abc")
        writer.close()

    run(served(main))


def test_client_that_never_reads_is_closed_at_the_send_deadline() -> None:
    async def main(service: Service) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", service.port))
        reader, writer = await raw_open_sock(sock)
        writer.write(masked(Opcode.BINARY, b"flood200"))  # 13 MB back, never read
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while not service.handlers or service.handlers[0].closed_with is None:
            await asyncio.sleep(0.05)
            assert loop.time() - t0 < 10, "not closed at the send deadline"
        echo = service.handlers[0]
        assert echo.closed_with == (1008, NOT_READING)
        assert echo.wire is not None and echo.wire.not_reading
        await asyncio.wait_for(echo.wire.wait_closed(), 5)  # aborted: nothing pinned
        writer.close()

    run(served(main))


async def raw_open_sock(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


def test_client_that_never_answers_a_close_is_dropped() -> None:
    async def main(service: Service) -> None:
        reader, writer = await raw_open(service.port)
        writer.write(masked(Opcode.BINARY, b"close"))
        close = await asyncio.wait_for(read_close(reader), 5)
        assert close == Close(4000, "asked to")
        # no answer: the server closes TCP after close_timeout (0.5 s)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    run(served(main))


def test_half_close_without_close_frame_is_1006() -> None:
    async def main(service: Service) -> None:
        reader, writer = await raw_open(service.port)
        writer.write(masked(Opcode.BINARY, b"hi"))
        assert await read_frame(reader) == (2, b"hi")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await asyncio.sleep(0.1)
        assert service.handlers[0].closed_with == (1006, "")

    run(served(main))


def test_server_shutdown_closes_with_1001() -> None:
    async def main() -> None:
        svc = Service()
        server = await serve(svc.handler, "127.0.0.1", 0, create_connection=WireConnection, compression=None)
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            await ws.send(b"x")
            assert await ws.recv() == b"x"
            server.close()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1001
        await asyncio.wait_for(server.wait_closed(), 10)
        assert svc.handlers[0].closed_with is not None and svc.handlers[0].closed_with[0] == 1001

    run(main())
