"""Server CPU per received audio message at real-time load: our service, its pure twin, a peer, the floor.

Every kind is a server in its own process; a driver in another process (its CPU is not
counted) opens N WebSocket connections and writes one 100 ms audio message (3,200 bytes
of 16 kHz PCM) per stream every 100 ms from one 5 ms timer, the streams' phases spread
evenly over the period. Two protocols (``PROTOCOLS``), the same traffic for every kind:

- ``transcribe``: the SigV4-presigned upgrade of a Transcribe stream; each message an
  AudioEvent (one pre-built masked client frame of 3,312 bytes).
- ``assemblyai``: the upgrade of an AssemblyAI v3 session (``/v3/ws?sample_rate=16000
  &encoding=pcm_s16le``, the API key in ``Authorization``, assemblyai.md §1.2, §2.3);
  each message one binary frame of the 3,200 audio bytes (3,208 bytes masked, §3.1).
  Our service answers ``Begin`` and, with speech, ``Turn`` messages. A refusal comes
  after the 101 (``Error``, then a close frame, §1.4): ``closed`` counts the streams
  the server closed or sent a close frame, and must be 0.

With ``audio="speech"`` (the default) the audio alternates 1 s of speech (a constant
level far above the null recognizer's threshold) and 1 s of silence, so the ``null``
recognizer opens a segment, sends a partial and closes it with a final every 2 s per
stream: results flow back as they would from a real recognizer. With ``audio="silence"`` no result is ever sent (the service
only receives). The driver discards whatever comes back.

Kinds (``KINDS``):

- ``scribewire``: ``scribewire serve --recognizer null --no-digest`` (native kernels);
  the receive path of ``server/wire.py`` (AssemblyAI: the same, into
  ``server/assemblyai.py`` and the sans-I/O AssemblyAI server session).
- ``scribewire-py``: the same on the pure-Python twins (``SCRIBEWIRE_NO_EXTENSIONS=1``).
- ``before``: ``scribewire serve --recognizer null`` from another source tree (the
  service before this fast path: websockets' receive path, a flush per message, SHA-256
  of every byte), when ``SCRIBEWIRE_BENCH_BEFORE`` names that tree's ``src`` folder with
  its kernels built in place; skipped otherwise.
- ``websockets``: the peer, NOT a Transcribe or AssemblyAI service: a ``websockets`` server whose
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

Run: ``python bench/server_load.py [--streams 1000 5000] [--kind ...] [--window 5]
[--protocol transcribe assemblyai]``; the pytest-benchmark groups are in
``bench/test_bench_server.py``.
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
PROTOCOLS = ("transcribe", "assemblyai")
#: the API key the AssemblyAI upgrades carry (``scribewire serve --assemblyai-api-key``)
AAI_KEY = "bench-assemblyai-server-key"
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
    protocol: str  # "transcribe" (AudioEvents) or "assemblyai" (binary audio frames)
    window_s: float
    messages: int
    server_cpu_s: float
    cpu_us_per_message: float
    streams_per_core: float
    server_load: float  # server CPU seconds per wall second over the window
    saturated: bool
    backlog_kib: float  # bytes the driver could not hand to the kernel yet, at the end
    unread_kib: float  # bytes in the server's socket receive queues, at the end
    closed: int  # connections the server closed before the end (an AssemblyAI refusal
    # comes after the 101: a wrong key would otherwise measure nothing)


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
    """The command of the ``kind`` server (ours answer both protocols on one port)."""
    env = {k: v for k, v in os.environ.items() if k != "SCRIBEWIRE_NO_EXTENSIONS"}
    if kind in ("websockets", "floor"):
        return [sys.executable, __file__, "--peer", kind], env
    argv = [
        sys.executable, "-c",
        "import sys; from scribewire.server import serve_main; sys.exit(serve_main(sys.argv[1:]))",
        "--port", "0", "--recognizer", "null", "--quota", str(streams + 10),
        "--access-key-id", AK, "--secret-access-key", SK, "--region", REGION,
        "--assemblyai-api-key", AAI_KEY,
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


class _Client(_FloorProtocol):
    """A driver connection that keeps the first ``EARLY_NBYTES`` the server sends after
    the 101 (where an AssemblyAI refusal's ``Error`` and close frame come) and ignores
    the rest."""

    EARLY_NBYTES = 4096

    def __init__(self, target: str, host: str, headers: dict[str, str]) -> None:
        super().__init__(target, host, headers)
        self.early = bytearray()

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            super().data_received(data)
            if self.upgraded.done():
                self.early += self.head[self.head.find(b"\r\n\r\n") + 4 :]
        elif len(self.early) < self.EARLY_NBYTES:
            self.early += data

    def server_closed(self) -> bool:
        """Whether the server closed the connection or sent a close frame (RFC 6455
        §5.2: server frames are unmasked; only the frame headers are walked)."""
        if self.transport is None or self.transport.is_closing():
            return True
        data, at = bytes(self.early), 0
        while at + 2 <= len(data):
            opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
            at += 2
            if size >= 126:
                width = 2 if size == 126 else 8
                size = int.from_bytes(data[at : at + width], "big")
                at += width
            if opcode == 0x8:
                return True
            at += size
        return False


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


def _frames(protocol: str) -> tuple[bytes, bytes]:
    """The masked audio message frames of 100 ms of speech and of silence: AudioEvents
    (``transcribe``) or binary frames (``assemblyai``)."""
    import numpy as np

    from scribewire.wsframe import ClientFramer

    framer = ClientFramer()
    speech = np.full(CHUNK_SAMPLES, 1000, "<i2").tobytes()  # -30 dBFS: speech to `null`
    silence = bytes(2 * CHUNK_SAMPLES)
    if protocol == "assemblyai":
        return framer.binary_frame(speech), framer.binary_frame(silence)
    (s,) = framer.audio_event_frames(speech, len(speech))
    (q,) = framer.audio_event_frames(silence, len(silence))
    return s, q


def _upgrade(url: str, protocol: str) -> tuple[str, dict[str, str]]:
    """The request target and extra headers of one stream's upgrade."""
    if protocol == "assemblyai":
        query = f"sample_rate={SAMPLE_RATE}&encoding=pcm_s16le"
        return f"/v3/ws?{query}", {"Authorization": AAI_KEY}
    from scribewire.transcribe.credentials import Credentials
    from scribewire.transcribe.params import StreamParams
    from scribewire.transcribe.session import TranscribeSession

    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=SAMPLE_RATE)
    full = TranscribeSession(params).request_url(
        Credentials(AK, SK), time.time(), region=REGION, endpoint=url
    )
    return "/" + full.split("://", 1)[1].split("/", 1)[1], {}


async def _drive(
    url: str, streams: int, warmup: float, window: float, pid: int, audio: str = "speech",
    protocol: str = "transcribe",
) -> ServerLoadResult:
    loop = asyncio.get_running_loop()
    hostport = url.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    clients: list[_Client] = []

    async def one() -> None:
        target, headers = _upgrade(url, protocol)
        _, client = await loop.create_connection(
            lambda: _Client(target, hostport, headers), host, int(port)
        )
        await client.upgraded
        clients.append(client)

    for at in range(0, streams, 100):
        await asyncio.gather(*(one() for _ in range(min(100, streams - at))))
    writes = [c.transport.write for c in clients if c.transport is not None]
    speech, silence = _frames(protocol)

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
    closed = sum(c.server_closed() for c in clients)
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
        protocol=protocol,
        window_s=round(w1 - w0, 3),
        messages=messages,
        server_cpu_s=round(cpu, 3),
        cpu_us_per_message=round(per * 1e6, 2),
        streams_per_core=round(1.0 / (per / CHUNK_SECONDS)) if messages and cpu else 0.0,
        server_load=round(load, 3),
        saturated=load > 0.9 or unread > streams * len(speech),
        backlog_kib=round(backlog / 1024, 1),
        unread_kib=round(unread / 1024, 1),
        closed=closed,
    )


# --------------------------------------------------------------------------- measure


def measure(
    kind: str, streams: int, *, warmup: float = WARMUP, window: float = 5.0, audio: str = "speech",
    protocol: str = "transcribe",
) -> ServerLoadResult:
    """Start the ``kind`` server, drive it with ``streams`` streams of ``protocol`` from a
    child process, return the figures.

    Raises:
        ValueError: unknown ``kind`` or ``protocol``.
        LookupError: ``before`` without ``SCRIBEWIRE_BENCH_BEFORE``.
        RuntimeError: the server did not start.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}, expected one of {KINDS}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}, expected one of {PROTOCOLS}")
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
             "--audio", audio, "--protocol", protocol],
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
    parser.add_argument("--protocol", choices=PROTOCOLS, nargs="+", default=["transcribe"],
                        help="the streams' protocol(s): Transcribe AudioEvents, AssemblyAI binary audio")
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
            _drive(args.drive, args.streams[0], args.warmup, args.window, args.server_pid, args.audio,
                   args.protocol[0])
        )
        print(json.dumps(asdict(r)), flush=True)
        return 0
    runs = [(p, n, k) for p in args.protocol for n in args.streams for k in args.kind
            if k != "before" or os.environ.get(BEFORE_ENV)]
    for _ in range(args.rounds):
        for protocol, n, kind in runs:
            r = measure(kind, n, warmup=args.warmup, window=args.window, audio=args.audio,
                        protocol=protocol)
            if args.json:
                print(json.dumps(asdict(r)), flush=True)
            else:
                print(f"{r.protocol:>10} {r.kind:>13} N={r.streams:>5} {r.audio}: "
                      f"{r.cpu_us_per_message:7.2f} us server CPU/message, "
                      f"{r.streams_per_core:>6.0f} streams/core, load {r.server_load:.2f}"
                      f"{' SATURATED' if r.saturated else ''}, unread {r.unread_kib} KiB"
                      f"{f', {r.closed} CLOSED by the server' if r.closed else ''}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
