"""Client CPU per sent AudioEvent at real-time pacing: ours, our pure twin, a peer, the floor.

The pieces:

- ``sink``: a minimal WebSocket server in a separate process (so its CPU is not
  counted): it answers the upgrade (RFC 6455 accept key), then reads and discards
  every byte. No event-stream parsing, no results.
- ``baseline``: the way pipecat's ``AWSTranscribeSTTService`` does it (pipecat
  1.14, ``pipecat/services/aws/stt.py``): ``websockets`` connect with
  ``compression=None, ping_interval=None``, one task per stream that frames each
  100 ms chunk with ``pipecat.services.aws.utils.build_event_message``, ``await
  ws.send(...)`` and ``await asyncio.sleep(0.1)``, plus one receive task per stream.
- ``scribewire``: ``TranscribeClient`` streams fed with ``stream.send`` in large
  pieces; one pacing wheel serves every stream. Native twins: the pacing kernel
  (``scribewire.transport._pacing_c``) writes each frame with one ``send(2)`` from C.
- ``scribewire-py``: the same driver on the pure-Python twins
  (``SCRIBEWIRE_NO_EXTENSIONS=1``; the pacing kernel writes with ``transport.write``).
  The twin selector reads the variable when scribewire is imported, so this kind runs
  only in an interpreter started with it set: ``measure_in_subprocess`` (and ``main``,
  when needed) start one; ``measure`` refuses it otherwise.
- ``floor``: NOT a client, the least any asyncio program can do for the same traffic:
  N plain TCP connections (``loop.create_connection``, then the WebSocket upgrade the
  sink expects: a GET with a ``Sec-WebSocket-Key``, the 101 read and its accept key
  checked), one AudioEvent WebSocket frame built once with scribewire's
  ``ClientFramer`` (3,200 audio bytes: the same size as ours on the wire) and sent
  again and again, and ONE loop timer that every 5 ms calls the raw socket's ``send``
  (one ``send(2)``) once for each stream that is due. No framing, no buffering, no
  backpressure, no error recovery: a would-block or a partial send just loses bytes
  (the sink discards them anyway; the count is of whole frames' worth of bytes sent).

``measure(kind, streams, ...)`` connects ``streams`` streams to a fresh sink,
starts them at phases spread evenly over one chunk period (live calls start at
independent moments; with ``stagger=False`` all start together, the worst case: one
burst of N messages every 100 ms), lets them run ``warmup`` seconds, then counts the
AudioEvents written and the process CPU time (user + system, ``time.process_time``)
over ``window`` seconds.
The default warm-up (``WARMUP``, 12 s) outlasts the first fill of each scribewire
stream's replay ring, bounded here at ``REPLAY_NBYTES`` (10 s of 16 kHz audio; the
client's default bound is 1 MiB, 33 s, which a 12 s warm-up would not fill, so the window
would count first-touch page faults instead of the steady state): the sink never sends a
result, so no audio is ever acknowledged and every ring grows to its bound, touching
its pages once (about 80 page faults per stream, once in the stream's life, not per
message). ``--warmup 2`` shows that start-up phase inside the window.
CPU per message = CPU seconds / messages; streams per core = 1 / (CPU per
message x messages per second per stream).

AssemblyAI (the same sink; each message is one binary WebSocket frame of 3,200 bytes of
16 kHz int16 PCM, 100 ms, assemblyai.md §3.1):

- ``assemblyai``: ``AssemblyAIClient`` streams (native twins) fed with ``stream.send``
  in large pieces, like ``scribewire``.
- ``assemblyai-baseline``: the way the official SDK's async client does it (assemblyai
  1.8, ``assemblyai/streaming/v3/async_client.py``, ``AsyncRealTimeTranscriber``):
  ``websockets`` connect with the key in ``Authorization``, then per stream the
  caller's task puts each 100 ms chunk on an ``asyncio.Queue`` (``stream(chunk)``) and
  sleeps 0.1 s, the SDK's write task takes it (``wait_for(queue.get(), timeout=1)``)
  and ``await ws.send(chunk)``, and its read task reads; written here with the same
  structure (the SDK's transcriber itself waits for a ``Begin`` the sink never sends).
- ``assemblyai-floor``: the floor above with a pre-built binary frame of the same 3,200
  audio bytes instead of an AudioEvent.

Every kind starts stream ``i`` of N at ``i / N`` of a chunk period (the same phases).
The drivers run on the stock asyncio event loop; ``--loop uvloop`` runs them on
uvloop instead (``scribewire.clients.run`` uses it when installed).

Run directly: ``python bench/client_load.py [--streams 1000 5000] [--window 5]
[--kind scribewire scribewire-py floor baseline assemblyai assemblyai-floor
assemblyai-baseline]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LoadResult", "measure", "measure_in_subprocess", "run_sink"]

CHUNK_SECONDS = 0.1
WARMUP = 12.0  # seconds before the window: past the replay rings' first fill
SAMPLE_RATE = 16_000
#: each scribewire stream's replay bound: 10 s of audio, filled within the warm-up
REPLAY_NBYTES = SAMPLE_RATE * 2 * 10
CHUNK_NBYTES = int(SAMPLE_RATE * CHUNK_SECONDS) * 2  # 3,200 B of 16-bit mono PCM
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
KINDS = (
    "scribewire", "scribewire-py", "floor", "baseline", "scribewire-idle",
    "assemblyai", "assemblyai-floor", "assemblyai-baseline",
)
#: the kinds of the AssemblyAI group (binary 3,200-byte audio messages, assemblyai.md §3.1)
ASSEMBLYAI_KINDS = ("assemblyai", "assemblyai-floor", "assemblyai-baseline")
#: the kinds a plain run measures (``scribewire-idle`` only on request, or with --idle)
DEFAULT_KINDS = ("scribewire", "scribewire-py", "floor", "baseline", *ASSEMBLYAI_KINDS)
TICK_SECONDS = 0.005  # the pacing wheel's slot (transport.pacing.DEFAULT_RESOLUTION)
FLOOR_TICK_SECONDS = 0.005  # the floor's one timer period
NO_EXTENSIONS_ENV = "SCRIBEWIRE_NO_EXTENSIONS"


def _accept(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value for ``key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


# --------------------------------------------------------------------------- sink


class _SinkProtocol(asyncio.Protocol):
    """Answers one WebSocket upgrade, then discards everything it receives."""

    received = 0

    def __init__(self) -> None:
        self.head = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            _SinkProtocol.received += len(data)
            return
        self.head += data
        answer = upgrade_answer(self.head)
        if answer is None:
            return
        assert self.transport is not None
        self.transport.write(answer)
        self.upgraded = True
        _SinkProtocol.received += len(self.head) - self.head.find(b"\r\n\r\n") - 4


def upgrade_answer(head: bytes) -> bytes | None:
    """The 101 answer to the upgrade request that starts ``head`` (None until its blank
    line has arrived)."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return None
    key = b""
    for line in head[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + _accept(key) + b"\r\n\r\n"
    )


def _sink_main(port_out: Any, stop: Any) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_SinkProtocol, "127.0.0.1", 0, backlog=4096)
        port_out.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, stop.wait)
        server.close()

    asyncio.run(main())


class run_sink:  # noqa: N801 - used as a context manager like a function
    """``with run_sink() as port:`` a sink server process on 127.0.0.1:port."""

    def __enter__(self) -> int:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_sink_main, args=(send, self._stop), daemon=True)
        self._proc.start()
        if not recv.poll(30):
            self._proc.kill()
            raise TimeoutError("sink server did not start")
        port: int = recv.recv()
        return port

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


# --------------------------------------------------------------------------- drivers


@dataclass
class LoadResult:
    """One measurement: ``cpu_us_per_message`` is client CPU (user+sys) per AudioEvent."""

    kind: str
    loop: str
    streams: int
    window_s: float
    messages: int
    cpu_s: float
    cpu_us_per_message: float
    streams_per_core: float
    achieved_rate: float  # messages sent / messages due at real time, over the window
    rss_mb: float
    #: (RSS after the warm-up - RSS before the first connection) / streams, KiB: what one
    #: stream costs, sockets and buffers included (for "scribewire-idle": an idle stream)
    rss_kib_per_stream: float = 0.0
    #: how late the loop ran a 5 ms timer over the window (median, p99, max; ms): a
    #: wheel tick is at most this late, the figure "lateness under one tick" refers to
    late_ms_p50: float = 0.0
    late_ms_p99: float = 0.0
    late_ms_max: float = 0.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


Driver = tuple[Callable[[], int], Callable[[], Awaitable[None]]]  # (messages sent so far, stop)


def _phase(i: int, streams: int, stagger: bool) -> float:
    """Seconds stream ``i`` waits before its first chunk."""
    return CHUNK_SECONDS * i / streams if stagger else 0.0


async def _baseline(port: int, streams: int, stagger: bool = True) -> Driver:
    from pipecat.services.aws.utils import build_event_message
    from websockets.asyncio.client import connect

    audio = bytes(CHUNK_NBYTES)
    counter = [0]
    url = f"ws://127.0.0.1:{port}/stream-transcription-websocket"
    sockets = []
    tasks: list[asyncio.Task[None]] = []

    async def sender(ws: Any, phase: float) -> None:
        await asyncio.sleep(phase)
        while True:
            await ws.send(build_event_message(audio))
            counter[0] += 1
            await asyncio.sleep(CHUNK_SECONDS)

    async def receiver(ws: Any) -> None:
        async for _ in ws:
            pass

    for _ in range(streams):
        ws = await connect(url, compression=None, ping_interval=None, ping_timeout=None)
        sockets.append(ws)
    for i, ws in enumerate(sockets):
        tasks.append(asyncio.create_task(sender(ws, _phase(i, streams, stagger))))
        tasks.append(asyncio.create_task(receiver(ws)))

    async def stop() -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in sockets:
            ws.transport.abort()

    return (lambda: counter[0]), stop


async def _scribewire(port: int, streams: int, stagger: bool = True, twin: str = "c") -> Driver:
    from scribewire import wsframe
    from scribewire.clients import TranscribeClient
    from scribewire.transcribe.credentials import Credentials
    from scribewire.transcribe.params import StreamParams
    from scribewire.transport import pacing as _pacing

    loaded = {"pacing": _pacing.IMPLEMENTATION, "wsframe": wsframe.IMPLEMENTATION}
    if set(loaded.values()) != {twin}:
        raise RuntimeError(
            f"expected the {twin!r} twins, this interpreter loaded {loaded} "
            f"({NO_EXTENSIONS_ENV}={os.environ.get(NO_EXTENSIONS_ENV, '')!r}; "
            "are the native kernels built?)"
        )

    client = TranscribeClient(
        endpoint=f"ws://127.0.0.1:{port}",
        region="us-east-1",
        credentials=Credentials("AKIDBENCHMARK", "bench-secret-not-used"),
        keepalive_after=None,  # no silence while the other streams connect; all are fed
        max_replay_nbytes=REPLAY_NBYTES,
    )
    params = StreamParams(language_code="en-US", sample_rate=SAMPLE_RATE)
    audio = bytes(CHUNK_NBYTES * 600)  # 60 s per send: the stream's buffer paces it
    contexts = []
    tasks: list[asyncio.Task[None]] = []

    async def feed(stream: Any, phase: float) -> None:
        await asyncio.sleep(phase)
        while True:
            await stream.send(audio)

    for _ in range(streams):
        cm = client.stream(params)
        stream = await cm.__aenter__()
        contexts.append((cm, stream))
    for i, (_, stream) in enumerate(contexts):
        tasks.append(asyncio.create_task(feed(stream, _phase(i, streams, stagger))))

    async def stop() -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, stream in contexts:  # the sink never closes: no end of stream, just close
            await stream.aclose()

    return (lambda: client.messages_sent), stop


async def _scribewire_idle(port: int, streams: int, stagger: bool = True) -> Driver:
    """Open streams that the caller never feeds: each sends keepalive silence after the
    client's default ``keepalive_after`` (recorded as a count, not as ring bytes)."""
    from scribewire.clients import TranscribeClient
    from scribewire.transcribe.credentials import Credentials
    from scribewire.transcribe.params import StreamParams

    client = TranscribeClient(
        endpoint=f"ws://127.0.0.1:{port}",
        region="us-east-1",
        credentials=Credentials("AKIDBENCHMARK", "bench-secret-not-used"),
    )
    params = StreamParams(language_code="en-US", sample_rate=SAMPLE_RATE)
    contexts = []
    for _ in range(streams):
        cm = client.stream(params)
        contexts.append((cm, await cm.__aenter__()))

    async def stop() -> None:
        for _, stream in contexts:
            await stream.aclose()

    return (lambda: client.messages_sent), stop


async def _scribewire_py(port: int, streams: int, stagger: bool = True) -> Driver:
    return await _scribewire(port, streams, stagger, twin="py")


class _FloorProtocol(asyncio.Protocol):
    """Sends the upgrade request, checks the 101 and its accept key, then ignores input.

    ``target`` is the request target (path and query), ``host`` the ``Host`` header,
    ``headers`` more request headers (AssemblyAI's ``Authorization``).
    """

    def __init__(
        self,
        target: str = "/stream-transcription-websocket",
        host: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.key = base64.b64encode(os.urandom(16))
        self.target, self.host = target, host
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode()
        self.head = b""
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(  # type: ignore[attr-defined]
            f"GET {self.target} HTTP/1.1\r\nHost: {self.host}\r\n".encode()
            + self.extra
            + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + self.key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        if self.upgraded.done():
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.head[:end]
        if not head.startswith(b"HTTP/1.1 101 ") or _accept(self.key) not in head:
            self.upgraded.set_exception(ConnectionError(f"upgrade refused: {head[:200]!r}"))
        else:
            self.upgraded.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"closed during the upgrade: {exc}"))


def _raw_socket(transport: asyncio.BaseTransport, owned: list[socket.socket]) -> socket.socket:
    """The transport's own ``socket.socket`` (stock asyncio wraps it in a TransportSocket,
    whose ``_sock`` it is); uvloop's stand-in has no ``send``, so a ``dup`` of its fd,
    appended to ``owned`` for the caller to close."""
    sock = transport.get_extra_info("socket")
    sock = getattr(sock, "_sock", sock)
    if isinstance(sock, socket.socket):
        return sock
    dup = socket.socket(fileno=os.dup(sock.fileno()))
    dup.setblocking(False)
    owned.append(dup)
    return dup


async def _floor(
    port: int, streams: int, stagger: bool = True, frame: bytes | None = None
) -> Driver:
    """The floor (see the module docstring): a raw ``send`` per due stream from one timer;
    ``frame`` is the message sent (default: an AudioEvent of ``CHUNK_NBYTES``)."""
    from scribewire.wsframe import ClientFramer

    if frame is None:
        (frame,) = ClientFramer().audio_event_frames(bytes(CHUNK_NBYTES), CHUNK_NBYTES)
    loop = asyncio.get_running_loop()
    transports: list[asyncio.BaseTransport] = []
    dups: list[socket.socket] = []
    sends: list[Callable[[bytes], int]] = []
    for _ in range(streams):
        transport, protocol = await loop.create_connection(_FloorProtocol, "127.0.0.1", port)
        transports.append(transport)
        await protocol.upgraded
        sends.append(_raw_socket(transport, dups).send)

    # Frame j goes to stream j % N, due at t0 + (j // N) x period + phase(j % N): with
    # the phases i / N of a period that is t0 + j x period / N, else all N at each period.
    t0 = loop.time()
    sent_bytes = 0
    next_frame = 0
    ticks = 0
    errors: list[OSError] = []

    def tick() -> None:
        nonlocal sent_bytes, next_frame, ticks, handle
        now = loop.time()
        periods = (now - t0) / CHUNK_SECONDS
        due = int(periods * streams) + 1 if stagger else (int(periods) + 1) * streams
        n = 0
        while next_frame < due:
            a = next_frame % streams
            b = min(streams, a + due - next_frame)
            for send in sends[a:b]:
                try:
                    n += send(frame)
                except BlockingIOError:
                    pass  # no buffering: a full socket buffer loses the frame
                except OSError as exc:
                    errors.append(exc)
            next_frame += b - a
        sent_bytes += n
        ticks = max(ticks + 1, int((now - t0) / FLOOR_TICK_SECONDS) + 1)
        handle = loop.call_at(t0 + ticks * FLOOR_TICK_SECONDS, tick)

    handle = loop.call_at(t0, tick)

    def sample() -> int:
        if errors:
            raise errors[0]
        return sent_bytes // len(frame)

    async def stop() -> None:
        handle.cancel()
        for sock in dups:
            sock.close()
        for transport in transports:
            transport.abort()  # type: ignore[attr-defined]

    return sample, stop


BENCH_API_KEY = "bench-assemblyai-key-not-used"  # the sink never checks it


async def _assemblyai(port: int, streams: int, stagger: bool = True) -> Driver:
    """``AssemblyAIClient`` streams on the native twins, fed like ``_scribewire``."""
    from scribewire import wsframe
    from scribewire.assemblyai import StreamingParams
    from scribewire.clients import AssemblyAIClient
    from scribewire.transport import pacing as _pacing

    loaded = {"pacing": _pacing.IMPLEMENTATION, "wsframe": wsframe.IMPLEMENTATION}
    if set(loaded.values()) != {"c"}:
        raise RuntimeError(f"expected the native twins, this interpreter loaded {loaded}")
    client = AssemblyAIClient(
        endpoint=f"ws://127.0.0.1:{port}",
        api_key=BENCH_API_KEY,
        keepalive_after=None,
        max_replay_nbytes=REPLAY_NBYTES,
        chunk_duration=CHUNK_SECONDS,
    )
    params = StreamingParams(sample_rate=SAMPLE_RATE)
    audio = bytes(CHUNK_NBYTES * 600)
    contexts = []
    tasks: list[asyncio.Task[None]] = []

    async def feed(stream: Any, phase: float) -> None:
        await asyncio.sleep(phase)
        while True:
            await stream.send(audio)

    for _ in range(streams):
        cm = client.stream(params)
        stream = await cm.__aenter__()
        contexts.append(stream)
    for i, stream in enumerate(contexts):
        tasks.append(asyncio.create_task(feed(stream, _phase(i, streams, stagger))))

    async def stop() -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in contexts:
            await stream.aclose()

    return (lambda: client.messages_sent), stop


async def _assemblyai_baseline(port: int, streams: int, stagger: bool = True) -> Driver:
    """The official SDK's async client's structure (see the module docstring)."""
    from websockets.asyncio.client import connect

    audio = bytes(CHUNK_NBYTES)
    counter = [0]
    url = f"ws://127.0.0.1:{port}/v3/ws?sample_rate={SAMPLE_RATE}&encoding=pcm_s16le"
    headers = {"Authorization": BENCH_API_KEY}
    sockets = []
    tasks: list[asyncio.Task[None]] = []

    async def caller(queue: asyncio.Queue[bytes], phase: float) -> None:
        await asyncio.sleep(phase)
        while True:
            await queue.put(audio)  # AsyncRealTimeTranscriber.stream(chunk)
            await asyncio.sleep(CHUNK_SECONDS)

    async def write_loop(ws: Any, queue: asyncio.Queue[bytes]) -> None:
        while True:
            try:
                data = await asyncio.wait_for(queue.get(), timeout=1)
            except asyncio.TimeoutError:
                continue
            await ws.send(data)
            counter[0] += 1

    async def read_loop(ws: Any) -> None:
        async for _ in ws:
            pass

    for _ in range(streams):
        ws = await connect(url, additional_headers=headers, compression=None,
                           ping_interval=None, ping_timeout=None)
        sockets.append(ws)
    for i, ws in enumerate(sockets):
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        tasks.append(asyncio.create_task(caller(queue, _phase(i, streams, stagger))))
        tasks.append(asyncio.create_task(write_loop(ws, queue)))
        tasks.append(asyncio.create_task(read_loop(ws)))

    async def stop() -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in sockets:
            ws.transport.abort()

    return (lambda: counter[0]), stop


async def _assemblyai_floor(port: int, streams: int, stagger: bool = True) -> Driver:
    """The floor with one pre-built binary frame of ``CHUNK_NBYTES`` audio bytes."""
    from scribewire.wsframe import ClientFramer

    return await _floor(port, streams, stagger, ClientFramer().binary_frame(bytes(CHUNK_NBYTES)))


_DRIVERS: dict[str, Callable[[int, int, bool], Awaitable[Driver]]] = {
    "scribewire": _scribewire,
    "scribewire-py": _scribewire_py,
    "floor": _floor,
    "baseline": _baseline,
    "scribewire-idle": _scribewire_idle,
    "assemblyai": _assemblyai,
    "assemblyai-floor": _assemblyai_floor,
    "assemblyai-baseline": _assemblyai_baseline,
}


def _runs_here(kind: str) -> bool:
    """Whether this interpreter's environment selects the twins ``kind`` measures."""
    pure = bool(os.environ.get(NO_EXTENSIONS_ENV))
    native = kind in ("scribewire", "assemblyai")
    return pure if kind == "scribewire-py" else not native or not pure


async def _measure(
    kind: str, port: int, streams: int, warmup: float, window: float, stagger: bool, loop: str
) -> LoadResult:
    rss0 = _rss_mb()
    sample, stop = await _DRIVERS[kind](port, streams, stagger)
    await asyncio.sleep(warmup)
    lateness: list[float] = []
    probe = asyncio.create_task(_late_probe(lateness))
    m0, c0, t0 = sample(), time.process_time(), time.monotonic()
    await asyncio.sleep(window)
    m1, c1, t1 = sample(), time.process_time(), time.monotonic()
    rss = _rss_mb()
    probe.cancel()
    await asyncio.gather(probe, return_exceptions=True)
    await stop()
    lateness.sort()
    late = (
        [lateness[len(lateness) // 2], lateness[min(len(lateness) - 1, len(lateness) * 99 // 100)],
         lateness[-1]] if lateness else [0.0, 0.0, 0.0]
    )
    messages = m1 - m0
    cpu = c1 - c0
    per = cpu / messages if messages else float("inf")
    return LoadResult(
        kind=kind,
        loop=loop,
        streams=streams,
        window_s=round(t1 - t0, 3),
        messages=messages,
        cpu_s=round(cpu, 4),
        cpu_us_per_message=round(per * 1e6, 2),
        streams_per_core=round(1.0 / (per / CHUNK_SECONDS)) if messages else 0.0,
        achieved_rate=round(messages / (streams * (t1 - t0) / CHUNK_SECONDS), 3),
        rss_mb=round(rss, 1),
        rss_kib_per_stream=round((rss - rss0) * 1024 / streams, 1),
        late_ms_p50=round(late[0] * 1e3, 2),
        late_ms_p99=round(late[1] * 1e3, 2),
        late_ms_max=round(late[2] * 1e3, 2),
    )


async def _late_probe(out: list[float]) -> None:
    """Sleep one tick again and again; record how late the loop woke us (s)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + TICK_SECONDS
        await asyncio.sleep(TICK_SECONDS)
        out.append(max(0.0, loop.time() - due))


def measure(
    kind: str,
    streams: int,
    *,
    warmup: float = WARMUP,
    window: float = 5.0,
    stagger: bool = True,
    loop: str = "asyncio",
) -> LoadResult:
    """Measure ``kind`` (one of ``KINDS``) with ``streams`` streams (own sink), on the
    ``loop`` event loop ("asyncio" or "uvloop"), in this interpreter.

    Raises:
        ValueError: unknown ``kind``, or this interpreter's ``SCRIBEWIRE_NO_EXTENSIONS``
            does not match it ("scribewire-py" needs it set before scribewire is
            imported, "scribewire" needs it unset); ``measure_in_subprocess`` sets it.
        RuntimeError: the scribewire twins loaded are not the ones ``kind`` names (for
            "scribewire": the native kernels are not built).
    """
    if kind not in _DRIVERS:
        raise ValueError(f"unknown kind {kind!r}, expected one of {KINDS}")
    if not _runs_here(kind):
        need = "set to 1" if kind == "scribewire-py" else "unset"
        raise ValueError(
            f"kind {kind!r} needs {NO_EXTENSIONS_ENV} {need} when scribewire is first "
            "imported (the twin selector reads it at import); start Python with it "
            "that way, or use measure_in_subprocess(), which does"
        )
    with run_sink() as port:
        coro = _measure(kind, port, streams, warmup, window, stagger, loop)
        if loop == "uvloop":
            import uvloop

            result: LoadResult = uvloop.run(coro)
            return result
        return asyncio.run(coro)


def measure_in_subprocess(
    kind: str,
    streams: int,
    *,
    warmup: float = WARMUP,
    window: float = 5.0,
    stagger: bool = True,
    loop: str = "asyncio",
) -> LoadResult:
    """``measure`` in a fresh interpreter, so runs do not share heap or loop state;
    ``SCRIBEWIRE_NO_EXTENSIONS=1`` in its environment for "scribewire-py", unset else."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != NO_EXTENSIONS_ENV}
    if kind == "scribewire-py":
        env[NO_EXTENSIONS_ENV] = "1"
    out = subprocess.run(
        [sys.executable, __file__, "--json", "--kind", kind, "--streams", str(streams),
         "--warmup", str(warmup), "--window", str(window), "--loop", loop]
        + ([] if stagger else ["--no-stagger"]),
        check=True, capture_output=True, text=True, timeout=600, env=env,
    ).stdout
    return LoadResult(**json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--kind", choices=KINDS, nargs="+", default=list(DEFAULT_KINDS),
                        help="scribewire-py (or scribewire under SCRIBEWIRE_NO_EXTENSIONS) "
                        "runs in a fresh interpreter with the variable set (unset)")
    parser.add_argument("--warmup", type=float, default=WARMUP)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="one JSON line per result")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--no-stagger", dest="stagger", action="store_false",
                        help="start every stream at the same moment (one burst per chunk period)")
    args = parser.parse_args(argv)
    for n in args.streams:
        for kind in args.kind:
            # a fresh interpreter per measurement, so that RSS per stream starts from a
            # clean heap; --json is what that child runs (measure, here)
            run = measure if args.json and _runs_here(kind) else measure_in_subprocess
            r = run(kind, n, warmup=args.warmup, window=args.window, stagger=args.stagger,
                    loop=args.loop)
            if args.json:
                print(json.dumps(asdict(r)), flush=True)
            else:
                print(f"{r.kind:>19} N={r.streams:>5} {r.loop}: {r.cpu_us_per_message:7.2f} us CPU/message, "
                      f"{r.streams_per_core:>6.0f} streams/core, achieved {r.achieved_rate:.0%} "
                      f"of real time, RSS {r.rss_mb} MB ({r.rss_kib_per_stream:.0f} KiB/stream), "
                      f"late p50/p99/max {r.late_ms_p50}/{r.late_ms_p99}/{r.late_ms_max} ms",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
