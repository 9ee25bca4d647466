"""Server CPU per received AudioEvent at real-time load: our service, its pure twin, a peer, the floor.

Every kind is a server in its own process; a driver in another process (its CPU is not
counted) opens N WebSocket connections (the SigV4-presigned upgrade of a Transcribe
stream, 16 kHz PCM) and writes one 100 ms AudioEvent (3,200 audio bytes, one pre-built
masked client frame of 3,312 bytes) per stream every 100 ms from one 5 ms timer, the
streams' phases spread evenly over the period. With ``audio="speech"`` (the default) the
audio alternates 1 s of speech (a constant level far above the null recognizer's
threshold) and 1 s of silence, so the ``null`` recognizer opens a segment, sends a
partial and closes it with a final every 2 s per stream: results flow back as they would
from a real recognizer. With ``audio="silence"`` no result is ever sent (the service
only receives). The driver discards whatever comes back.

Kinds (``KINDS``):

- ``scribewire``: ``scribewire serve --recognizer null --no-digest`` (native kernels);
  the receive path of ``server/wire.py``.
- ``scribewire-py``: the same on the pure-Python twins (``SCRIBEWIRE_NO_EXTENSIONS=1``).
- ``before``: ``scribewire serve --recognizer null`` from another source tree (the
  service before this fast path: websockets' receive path, a flush per message, SHA-256
  of every byte), when ``SCRIBEWIRE_BENCH_BEFORE`` names that tree's ``src`` folder with
  its kernels built in place; skipped otherwise.
- ``websockets``: the peer, NOT a Transcribe service: a ``websockets`` server whose
  handler only does ``async for message in ws: pass`` (no parsing, no results): what any
  service built on that library's receive path spends before doing any work.
- ``floor``: NOT a service: an ``asyncio.BufferedProtocol`` that answers the upgrade
  and then reads every byte into one shared buffer and discards it: the least an asyncio
  server spends on this traffic (the loop's ``epoll_wait`` and ``recv_into``, one
  callback per read).

The server's CPU time (user + system, ``/proc/<pid>/stat``) over the window, divided by
the AudioEvents written in it, is the CPU per message; streams per core = 1 / (CPU per
message x 10). The server is one process on one core: ``server_load`` near 1.0 means it
could not keep up (``saturated``), and so does more than one AudioEvent per stream
left unread in the server's socket buffers at the end of the window (``unread_kib``,
from ``/proc/net/tcp``): the figure then understates its cost.

Run: ``python bench/server_load.py [--streams 1000 5000] [--kind ...] [--window 5]``;
the pytest-benchmark groups are in ``bench/test_bench_server.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _service_proc import AK, REGION, SK, cpu_seconds  # noqa: E402
from client_load import _FloorProtocol, upgrade_answer  # noqa: E402

__all__ = ["KINDS", "ServerLoadResult", "measure"]

KINDS = ("scribewire", "scribewire-py", "before", "websockets", "floor")
BEFORE_ENV = "SCRIBEWIRE_BENCH_BEFORE"
CHUNK_SECONDS = 0.1
SAMPLE_RATE = 16_000
CHUNK_SAMPLES = int(SAMPLE_RATE * CHUNK_SECONDS)
TICK_SECONDS = 0.005
WARMUP = 3.0


@dataclass
class ServerLoadResult:
    """One measurement: ``cpu_us_per_message`` is server CPU (user+sys) per AudioEvent."""

    kind: str
    streams: int
    audio: str  # "speech" (1 s speech, 1 s silence: results flow) or "silence" (none)
    window_s: float
    messages: int
    server_cpu_s: float
    cpu_us_per_message: float
    streams_per_core: float
    server_load: float  # server CPU seconds per wall second over the window
    saturated: bool
    backlog_kib: float  # bytes the driver could not hand to the kernel yet, at the end
    unread_kib: float  # bytes in the server's socket receive queues, at the end


# --------------------------------------------------------------------------- servers


class _FloorSink(asyncio.BufferedProtocol):
    """Answers one WebSocket upgrade, then reads into one shared buffer and discards.

    ``BufferedProtocol``: the transport reads with ``recv_into`` into ``_BUFFER``. A plain
    ``asyncio.Protocol`` gets a new ``bytes`` from ``recv(256 KiB)`` per read, which glibc
    serves with ``mmap``, shrinks with ``mremap`` and frees with ``munmap``: three more
    system calls per message, about 10 µs here, that no server needs to pay.
    """

    _BUFFER = memoryview(bytearray(2**16))

    def __init__(self) -> None:
        self.head = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        if self.upgraded:
            return
        self.head += bytes(self._BUFFER[:nbytes])
        answer = upgrade_answer(self.head)
        if answer is not None:
            assert self.transport is not None
            self.transport.write(answer)
            self.upgraded = True


def _serve_peer(kind: str) -> None:
    """Run the ``websockets`` peer or the floor sink on a free port; print its URL."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        if kind == "floor":
            server: Any = await loop.create_server(_FloorSink, "127.0.0.1", 0, backlog=4096)
            port = server.sockets[0].getsockname()[1]
        else:
            from websockets.asyncio.server import serve
            from websockets.exceptions import ConnectionClosed

            async def handler(ws: Any) -> None:
                try:
                    async for _ in ws:
                        pass
                except ConnectionClosed:  # the driver aborts its connections at the end
                    pass

            server = await serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None,
                                 max_size=2**20, backlog=4096)
            port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _server_argv(kind: str, streams: int) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "SCRIBEWIRE_NO_EXTENSIONS"}
    if kind in ("websockets", "floor"):
        return [sys.executable, __file__, "--peer", kind], env
    argv = [
        sys.executable, "-c",
        "import sys; from scribewire.server import serve_main; sys.exit(serve_main(sys.argv[1:]))",
        "--port", "0", "--recognizer", "null", "--quota", str(streams + 10),
        "--access-key-id", AK, "--secret-access-key", SK, "--region", REGION,
    ]
    if kind == "before":
        src = os.environ.get(BEFORE_ENV)
        if not src:
            raise LookupError(f"kind 'before' needs {BEFORE_ENV} (a source tree's src folder)")
        env["PYTHONPATH"] = src
    else:
        argv.append("--no-digest")
    if kind == "scribewire-py":
        env["SCRIBEWIRE_NO_EXTENSIONS"] = "1"
    return argv, env


# --------------------------------------------------------------------------- driver


def _unread_nbytes(port: int) -> int:
    """Bytes waiting in the receive queues of the TCP sockets bound to local ``port``
    (``/proc/net/tcp``: what the server has not read yet)."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += int(fields[4].split(":")[1], 16)
    return total


def _frames() -> tuple[bytes, bytes]:
    """The masked AudioEvent frames of 100 ms of speech and of silence."""
    import numpy as np

    from scribewire.wsframe import ClientFramer

    framer = ClientFramer()
    speech = np.full(CHUNK_SAMPLES, 1000, "<i2").tobytes()  # -30 dBFS: speech to `null`
    silence = bytes(2 * CHUNK_SAMPLES)
    (s,) = framer.audio_event_frames(speech, len(speech))
    (q,) = framer.audio_event_frames(silence, len(silence))
    return s, q


async def _drive(
    url: str, streams: int, warmup: float, window: float, pid: int, audio: str = "speech"
) -> ServerLoadResult:
    from scribewire.transcribe.credentials import Credentials
    from scribewire.transcribe.params import StreamParams
    from scribewire.transcribe.session import TranscribeSession

    loop = asyncio.get_running_loop()
    hostport = url.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    creds = Credentials(AK, SK)
    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=SAMPLE_RATE)
    clients: list[_FloorProtocol] = []

    async def one() -> None:
        full = TranscribeSession(params).request_url(creds, time.time(), region=REGION, endpoint=url)
        target = "/" + full.split("://", 1)[1].split("/", 1)[1]
        _, client = await loop.create_connection(lambda: _FloorProtocol(target, hostport), host, int(port))
        await client.upgraded
        clients.append(client)

    for at in range(0, streams, 100):
        await asyncio.gather(*(one() for _ in range(min(100, streams - at))))
    writes = [c.transport.write for c in clients if c.transport is not None]
    speech, silence = _frames()

    t0 = loop.time()
    next_frame = 0
    ticks = 0
    sent = 0
    handle: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal next_frame, ticks, sent, handle
        now = loop.time()
        due = int((now - t0) / CHUNK_SECONDS * streams) + 1
        while next_frame < due:
            a = next_frame % streams
            b = min(streams, a + due - next_frame)
            chunk = next_frame // streams  # this round's chunk index: 1 s speech, 1 s silence
            frame = speech if audio == "speech" and (chunk // 10) % 2 == 0 else silence
            for write in writes[a:b]:
                write(frame)
            sent += b - a
            next_frame += b - a
        ticks = max(ticks + 1, int((now - t0) / TICK_SECONDS) + 1)
        handle = loop.call_at(t0 + ticks * TICK_SECONDS, tick)

    handle = loop.call_at(t0, tick)
    await asyncio.sleep(warmup)
    m0, c0, w0 = sent, cpu_seconds(pid), loop.time()
    await asyncio.sleep(window)
    m1, c1, w1 = sent, cpu_seconds(pid), loop.time()
    backlog = sum(c.transport.get_write_buffer_size() for c in clients if c.transport is not None)
    unread = _unread_nbytes(int(port))
    if handle is not None:
        handle.cancel()
    for c in clients:
        if c.transport is not None:
            c.transport.abort()
    messages = m1 - m0
    cpu = c1 - c0
    per = cpu / messages if messages else float("inf")
    load = cpu / (w1 - w0)
    return ServerLoadResult(
        kind="",
        streams=streams,
        audio=audio,
        window_s=round(w1 - w0, 3),
        messages=messages,
        server_cpu_s=round(cpu, 3),
        cpu_us_per_message=round(per * 1e6, 2),
        streams_per_core=round(1.0 / (per / CHUNK_SECONDS)) if messages and cpu else 0.0,
        server_load=round(load, 3),
        saturated=load > 0.9 or unread > streams * len(speech),
        backlog_kib=round(backlog / 1024, 1),
        unread_kib=round(unread / 1024, 1),
    )


# --------------------------------------------------------------------------- measure


def measure(
    kind: str, streams: int, *, warmup: float = WARMUP, window: float = 5.0, audio: str = "speech"
) -> ServerLoadResult:
    """Start the ``kind`` server, drive it with ``streams`` streams from a child process,
    return the figures.

    Raises:
        ValueError: unknown ``kind``.
        LookupError: ``before`` without ``SCRIBEWIRE_BENCH_BEFORE``.
        RuntimeError: the server did not start.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}, expected one of {KINDS}")
    argv, env = _server_argv(kind, streams)
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        url = line.split()[2]
        driver_env = {k: v for k, v in os.environ.items() if k != "SCRIBEWIRE_NO_EXTENSIONS"}
        out = subprocess.run(
            [sys.executable, __file__, "--drive", url, "--server-pid", str(server.pid),
             "--streams", str(streams), "--warmup", str(warmup), "--window", str(window),
             "--audio", audio],
            check=True, capture_output=True, text=True, timeout=600, env=driver_env,
        ).stdout
        result = ServerLoadResult(**json.loads(out.strip().splitlines()[-1]))
        result.kind = kind
        return result
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--kind", choices=KINDS, nargs="+", default=list(KINDS))
    parser.add_argument("--warmup", type=float, default=WARMUP)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1, help="repeat, kinds interleaved")
    parser.add_argument("--audio", choices=["speech", "silence"], default="speech",
                        help="speech: 1 s speech, 1 s silence (results flow); silence: no results")
    parser.add_argument("--json", action="store_true", help="one JSON line per result")
    parser.add_argument("--peer", choices=["websockets", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--drive", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        _serve_peer(args.peer)
        return 0
    if args.drive:
        r = asyncio.run(
            _drive(args.drive, args.streams[0], args.warmup, args.window, args.server_pid, args.audio)
        )
        print(json.dumps(asdict(r)), flush=True)
        return 0
    for _ in range(args.rounds):
        for n in args.streams:
            for kind in args.kind:
                if kind == "before" and not os.environ.get(BEFORE_ENV):
                    continue
                r = measure(kind, n, warmup=args.warmup, window=args.window, audio=args.audio)
                if args.json:
                    print(json.dumps(asdict(r)), flush=True)
                else:
                    print(f"{r.kind:>13} N={r.streams:>5} {r.audio}: {r.cpu_us_per_message:7.2f} us server CPU/message, "
                          f"{r.streams_per_core:>6.0f} streams/core, load {r.server_load:.2f}"
                          f"{' SATURATED' if r.saturated else ''}, unread {r.unread_kib} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
