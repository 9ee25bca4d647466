"""PacedWriter on real loopback sockets, on both twins: pace, order, backpressure, hooks.

The native twin writes straight to the socket while the transport's buffer is empty and
hands partial sends to the transport; these tests drive it into each of those paths
(a peer that stops reading, writes from someone else in between) and check every byte
arrives, in order.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

import pytest
from conftest import twin_params

pytestmark = pytest.mark.parametrize("mod", twin_params("pacing"))


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))

    return wrapper


class Sink(asyncio.Protocol):
    """The far end: collects bytes; can stop and resume reading."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.transport: asyncio.Transport | None = None
        self.more = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.more.set()


class Near(asyncio.Protocol):
    """The writer's end: flow control moves the writer's ``_writable`` flag."""

    writer: Any = None

    def __init__(self) -> None:
        self.paused = False

    def pause_writing(self) -> None:
        self.paused = True
        self.writer._writable = False

    def resume_writing(self) -> None:
        self.paused = False
        self.writer._writable = True


def make_writer(mod: ModuleType, **hooks: Callable[..., Any]) -> Any:
    cls = type("Writer", (mod.PacedWriter,), dict(hooks))
    return cls(mod.MessageCounter())


async def pair(writer: Any, *, sndbuf: int | None = None) -> tuple[Sink, asyncio.Transport, Any]:
    loop = asyncio.get_running_loop()
    sink = Sink()
    server = await loop.create_server(lambda: sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    near = Near()
    near.writer = writer
    transport, _ = await loop.create_connection(lambda: near, "127.0.0.1", port)
    if sndbuf is not None:
        import socket

        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    for _ in range(100):
        if sink.transport is not None:
            break
        await asyncio.sleep(0.001)
    writer._attach(transport)
    writer._writable = True
    return sink, transport, server


async def receive(sink: Sink, nbytes: int, timeout: float = 10.0) -> bytes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(sink.data) < nbytes:
        sink.more.clear()
        await asyncio.wait_for(sink.more.wait(), max(0.01, deadline - loop.time()))
    return bytes(sink.data)


def numbered(count: int, size: int) -> list[bytes]:
    return [i.to_bytes(4, "big") * (size // 4) for i in range(count)]


@aio
async def test_writes_one_frame_per_step_in_order(mod: ModuleType) -> None:
    w = make_writer(mod)
    sink, transport, server = await pair(w)
    frames = numbered(10, 400)
    w._queue_frames(frames)
    w._step = 0.1
    w._max_lag = 0.2
    w._next_due = 100.0
    assert w.pace(99.0) == 100.0  # nothing due yet
    assert w._queued() == 10 and w._counter.value == 0
    assert w.pace(100.0) == pytest.approx(100.1)  # one due
    assert w.pace(100.25) == pytest.approx(100.3)  # two more (100.1, 100.2)
    assert w._counter.value == 3 and w._queued() == 7
    # a long stall: at most max_lag behind, so a few frames, never the whole backlog
    assert w.pace(200.0) == pytest.approx(200.0 - 0.2 + 3 * 0.1)
    assert w._counter.value == 6
    assert await receive(sink, 6 * 400) == b"".join(frames[:6])
    transport.close()
    server.close()


@aio
async def test_direct_path_only_on_plain_sockets(mod: ModuleType) -> None:
    w = make_writer(mod)
    _sink, transport, server = await pair(w)
    assert w._direct is mod.__name__.endswith("_c")
    w._detach()
    assert w._direct is False
    transport.close()
    server.close()


@aio
async def test_peer_stops_reading_every_byte_arrives_in_order(mod: ModuleType) -> None:
    """Large frames into a small socket buffer: partial sends, would-block, the
    transport's buffer, pause/resume, then writes from someone else in between."""
    blocked: list[float] = []

    def not_writable(self: Any, now: float) -> float | None:
        blocked.append(now)
        return now + 0.001

    w = make_writer(mod, _not_writable=not_writable)
    sink, transport, server = await pair(w, sndbuf=16_384)
    transport.set_write_buffer_limits(high=65_536)
    assert sink.transport is not None
    sink.transport.pause_reading()
    frames = numbered(100, 20_000)  # 2 MB, far more than the buffers hold
    w._queue_frames(frames[:50])
    w._step = 0.0
    now = 0.0
    while w._writable and w._queued():
        w.pace(now)
        now += 1.0
    assert not w._writable and w._queued() > 0  # flow control stopped it
    assert w.pace(now) == now + 0.001 and blocked  # and it asks again soon
    # someone else (websockets answering a ping) writes while the buffer is full
    other = b"\xff" * 1000
    transport.write(other)
    w._transport_dirty()
    sink.transport.resume_reading()
    written_before = w._counter.value
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while w._queued() or frames[50:]:
        if not w._queued():
            w._queue_frames(frames[50:])
            del frames[50:]
        if w._writable:
            w.pace(now)
            now += 1.0
        else:
            await asyncio.sleep(0.001)
        assert loop.time() < deadline
    expected = b"".join(numbered(100, 20_000)[:written_before]) + other
    expected += b"".join(numbered(100, 20_000)[written_before:])
    got = await receive(sink, len(expected), timeout=20)
    assert got == expected
    assert w._counter.value == 100
    transport.close()
    server.close()


@aio
async def test_hooks_keepalive_end_and_space(mod: ModuleType) -> None:
    calls: list[str] = []

    def queue_silence(self: Any) -> None:
        calls.append("silence")
        self._queue_frames([b"S" * 8])

    def write_end(self: Any) -> None:
        calls.append("end")
        self._write(b"E" * 8)

    w = make_writer(mod, _queue_silence=queue_silence, _write_end=write_end)
    sink, transport, server = await pair(w)
    loop = asyncio.get_running_loop()
    w._step = 0.1
    w._max_lag = 0.2
    w._keepalive_after = 2.0
    w._low_water = 1
    w._next_due = 10.0
    w._idle_since = None
    w._space = space = loop.create_future()
    w._queue_frames([b"A" * 8, b"B" * 8, b"C" * 8])
    assert w.pace(10.0) == pytest.approx(10.1)
    assert not space.done()  # two left, low water is one
    assert w.pace(10.1) == pytest.approx(10.2)
    assert space.done() and w._space is None
    assert w.pace(10.2) == pytest.approx(10.3)  # queue empty, not idle yet
    assert w.pace(10.3) == pytest.approx(12.3)  # ran dry at 10.3: keepalive at 12.3
    assert calls == []
    assert w.pace(12.3) == pytest.approx(12.4)  # silence queued and written at once
    assert calls == ["silence"]
    w._ending = True
    assert w.pace(12.4) is None
    assert calls == ["silence", "end"]
    assert await receive(sink, 40) == b"A" * 8 + b"B" * 8 + b"C" * 8 + b"S" * 8 + b"E" * 8
    transport.close()
    server.close()


@aio
async def test_keepalive_hook_queueing_nothing_leaves_the_wheel(mod: ModuleType) -> None:
    w = make_writer(mod)  # the base hook queues nothing
    w._keepalive_after = 1.0
    w._idle_since = 0.0
    w._writable = True
    assert w.pace(5.0) is None


@aio
async def test_wheel_drives_writers(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.002)
    writers = [make_writer(mod) for _ in range(20)]
    sinks = []
    for w in writers:
        sink, transport, server = await pair(w)
        sinks.append((sink, transport, server))
        w._step = 0.005
        w._max_lag = 0.01
        w._next_due = loop.time()
        w._queue_frames(numbered(8, 64))
        wheel.schedule(w, w._next_due)
    deadline = loop.time() + 5
    while len(wheel):
        assert loop.time() < deadline
        await asyncio.sleep(0.005)
    for (sink, transport, server), w in zip(sinks, writers, strict=True):
        assert await receive(sink, 8 * 64) == b"".join(numbered(8, 64))
        assert w._counter.value == 8
        transport.close()
        server.close()


def test_schedule_rejects_bad_arguments(mod: ModuleType) -> None:
    loop = asyncio.new_event_loop()
    try:
        wheel = mod.PacingWheel(loop)
        other = mod.PacingWheel(loop)
        w = make_writer(mod)
        with pytest.raises(TypeError, match="Pacer"):
            wheel.schedule(object(), 1.0)
        for bad in (math.inf, math.nan):
            with pytest.raises(ValueError, match="finite"):
                wheel.schedule(w, bad)
        wheel.schedule(w, loop.time() + 10)
        assert w in wheel and w not in other and len(wheel) == 1
        with pytest.raises(ValueError, match="another wheel"):
            other.schedule(w, loop.time())
        other.discard(w)  # not in it: nothing happens
        assert w in wheel
        wheel.close()
        assert w not in wheel and len(wheel) == 0
        other.schedule(w, loop.time() + 10)
        assert w in other
        other.close()
    finally:
        loop.close()
