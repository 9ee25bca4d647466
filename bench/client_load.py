"""Client CPU per sent AudioEvent at real-time pacing, ours against a pipecat-style baseline.

Three pieces:

- ``sink``: a minimal WebSocket server in a separate process (so its CPU is not
  counted): it answers the upgrade (RFC 6455 accept key), then reads and discards
  every byte. No event-stream parsing, no results.
- ``baseline``: the way pipecat's ``AWSTranscribeSTTService`` does it (pipecat
  1.14, ``pipecat/services/aws/stt.py``): ``websockets`` connect with
  ``compression=None, ping_interval=None``, one task per stream that frames each
  100 ms chunk with ``pipecat.services.aws.utils.build_event_message``, ``await
  ws.send(...)`` and ``await asyncio.sleep(0.1)``, plus one receive task per stream.
- ``scribewire``: ``TranscribeClient`` streams fed with ``stream.send`` in large
  pieces; one pacing wheel serves every stream.

``measure(kind, streams, ...)`` connects ``streams`` streams to a fresh sink,
starts them at phases spread evenly over one chunk period (live calls start at
independent moments; with ``stagger=False`` all start together, the worst case: one
burst of N messages every 100 ms), lets them run ``warmup`` seconds, then counts the
AudioEvents written and the process CPU time (user + system, ``time.process_time``)
over ``window`` seconds.
CPU per message = CPU seconds / messages; streams per core = 1 / (CPU per
message x messages per second per stream).

Both drivers run on the stock asyncio event loop; ``--loop uvloop`` runs them on
uvloop instead (``scribewire.client.run`` uses it when installed).

Run directly: ``python bench/client_load.py [--streams 1000 5000] [--window 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LoadResult", "measure", "measure_in_subprocess", "run_sink"]

CHUNK_SECONDS = 0.1
SAMPLE_RATE = 16_000
CHUNK_NBYTES = int(SAMPLE_RATE * CHUNK_SECONDS) * 2  # 3,200 B of 16-bit mono PCM
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


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
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return
        key = b""
        for line in self.head[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.upgraded = True
        _SinkProtocol.received += len(self.head) - end - 4


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


async def _scribewire(port: int, streams: int, stagger: bool = True) -> Driver:
    from scribewire.client import TranscribeClient
    from scribewire.transcribe.credentials import Credentials
    from scribewire.transcribe.params import StreamParams

    client = TranscribeClient(
        endpoint=f"ws://127.0.0.1:{port}",
        region="us-east-1",
        credentials=Credentials("AKIDBENCHMARK", "bench-secret-not-used"),
        keepalive_after=None,  # no silence while the other streams connect; all are fed
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


async def _measure(
    kind: str, port: int, streams: int, warmup: float, window: float, stagger: bool, loop: str
) -> LoadResult:
    sample, stop = await (_baseline if kind == "baseline" else _scribewire)(port, streams, stagger)
    await asyncio.sleep(warmup)
    m0, c0, t0 = sample(), time.process_time(), time.monotonic()
    await asyncio.sleep(window)
    m1, c1, t1 = sample(), time.process_time(), time.monotonic()
    rss = _rss_mb()
    await stop()
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
    )


def measure(
    kind: str,
    streams: int,
    *,
    warmup: float = 2.0,
    window: float = 5.0,
    stagger: bool = True,
    loop: str = "asyncio",
) -> LoadResult:
    """Measure ``kind`` ("scribewire" or "baseline") with ``streams`` streams (own sink),
    on the ``loop`` event loop ("asyncio" or "uvloop")."""
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
    warmup: float = 2.0,
    window: float = 5.0,
    stagger: bool = True,
    loop: str = "asyncio",
) -> LoadResult:
    """``measure`` in a fresh interpreter, so runs do not share heap or loop state."""
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--json", "--kind", kind, "--streams", str(streams),
         "--warmup", str(warmup), "--window", str(window), "--loop", loop]
        + ([] if stagger else ["--no-stagger"]),
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    return LoadResult(**json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--kind", choices=["scribewire", "baseline"], nargs="+",
                        default=["scribewire", "baseline"])
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="one JSON line per result")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--no-stagger", dest="stagger", action="store_false",
                        help="start every stream at the same moment (one burst per chunk period)")
    args = parser.parse_args(argv)
    for n in args.streams:
        for kind in args.kind:
            r = measure(kind, n, warmup=args.warmup, window=args.window, stagger=args.stagger,
                        loop=args.loop)
            if args.json:
                print(json.dumps(asdict(r)), flush=True)
            else:
                print(f"{r.kind:>10} N={r.streams:>5} {r.loop}: {r.cpu_us_per_message:7.2f} us CPU/message, "
                      f"{r.streams_per_core:>6.0f} streams/core, achieved {r.achieved_rate:.0%} "
                      f"of real time, RSS {r.rss_mb} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
