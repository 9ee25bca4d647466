"""Real parts for the pool tests: a redis-server, the local service in a thread, a call
writer following the documented key layout, worker processes, and the per-call checks.

Nothing here imports the worker's code: calls are written with plain redis-py commands
from ``scaleout.md`` §4 and the checks read Redis and the service's stats directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scribewire.audio import ulaw_encode
from scribewire.pool.keys import session_id
from scribewire.server import LocalTranscribeService
from scribewire.server.stats import StreamStats
from scribewire.transcribe.credentials import Credentials

BUCKETS = 1024
CREDS = Credentials("AKIDPOOLTEST0001", "pool-test-secret-not-real-0123456789")
AAI_KEY = "pool-test-assemblyai-key-not-real"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server on a free loopback port in ``tmp``; stopped by its PID."""

    def __init__(self, tmp: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (.ci/run installs it)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        r = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                if r.ping():
                    break
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        else:
            self.stop()
            raise RuntimeError("redis-server did not answer PING")
        r.close()

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


class Cutter:
    """A TCP relay to the service that aborts every ``every``-th connection once it has
    carried ``after`` bytes upstream (the STT link dropping mid-call)."""

    def __init__(self, upstream: int, every: int, after: int) -> None:
        self.upstream, self.every, self.after = upstream, every, after
        self.connections = 0
        self.cuts = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        cut = self.after if self.every and self.connections % self.every == 0 else None
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.transport.abort()
            return

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, limit: int | None
        ) -> None:
            moved = 0
            try:
                while data := await src.read(65_536):
                    moved += len(data)
                    dst.write(data)
                    if limit is not None and moved >= limit:
                        self.cuts += 1
                        writer.transport.abort()
                        uw.transport.abort()
                        return
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, uw, cut), pump(ur, writer, None), return_exceptions=True)


class Service:
    """The local Transcribe service (digest recognizer) in a thread with its own loop,
    optionally behind a :class:`Cutter`."""

    def __init__(self, cut_every: int = 0, cut_after: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.svc = LocalTranscribeService(
            recognizer="digest", credentials=CREDS, quota=1000, assemblyai_api_key=AAI_KEY
        )
        self.cutter: Cutter | None = None
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.svc.start())
            port = self.svc.port
            if cut_every:
                self.cutter = Cutter(port, cut_every, cut_after)
                port = self.loop.run_until_complete(self.cutter.start())
            self.port = port
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait(30)
        self.url = f"ws://127.0.0.1:{self.port}"

    def stats(self) -> list[StreamStats]:
        async def get() -> list[StreamStats]:
            return list(self.svc.finished_streams) + list(self.svc.streams.values())

        return asyncio.run_coroutine_threadsafe(get(), self.loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            if self.cutter is not None:
                self.cutter.server.close()
                await self.cutter.server.wait_closed()
            await self.svc.stop()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# ----------------------------------------------------------------------------- calls


def bucket(call_id: str) -> int:
    return zlib.crc32(call_id.encode()) % BUCKETS


def keys(call_id: str) -> dict[str, str]:
    b = bucket(call_id)
    return {
        "ctl": f"sw:{{{b}}}:ctl",
        "audio": f"sw:{{{b}}}:a:{call_id}",
        "ledger": f"sw:{{{b}}}:s:{call_id}",
        "transcript": f"sw:{{{b}}}:t:{call_id}",
    }


def start_call(r: Any, call_id: str, rate: int = 8000, encoding: str = "pcm") -> None:
    k = keys(call_id)
    r.hset(
        k["ledger"],
        mapping={
            "rate": rate,
            "channels": 1,
            "encoding": encoding,
            "language": "en-US",
            "acked_ms": 0,
            "acked_frames": 0,
            "epoch": 0,
        },
    )
    r.xadd(k["ctl"], {"call": call_id})


def append_audio(
    r: Any,
    call_id: str,
    pcm: bytes,
    start_ms: int,
    entry_ms: int,
    rate: int,
    last: bool,
    mulaw: bool = False,
) -> None:
    """XADD ``pcm`` (int16 mono) from ``start_ms`` in entries of ``entry_ms``; ID = end ms;
    stored as G.711 μ-law with ``mulaw``."""
    k = keys(call_id)
    per = rate * entry_ms // 1000 * 2
    pipe = r.pipeline(transaction=False)
    n = -(-len(pcm) // per)
    for i in range(n):
        chunk = pcm[i * per : (i + 1) * per]
        end_ms = start_ms + (i * per + len(chunk)) * 1000 // (2 * rate)
        fields = {"pcm": ulaw_encode(chunk) if mulaw else chunk}
        if last and i == n - 1:
            fields["end"] = "1"
        pipe.xadd(k["audio"], fields, id=f"{end_ms}-0")
    pipe.execute()


class CallWriter:
    """Writes K calls paced at ``speed`` times real time from a thread (a front door)."""

    def __init__(
        self,
        r: Any,
        calls: dict[str, bytes],
        rate: int,
        entry_ms: int = 250,
        speed: float = 8.0,
        mulaw: frozenset[str] = frozenset(),
    ) -> None:
        self.r, self.calls, self.rate, self.entry_ms, self.speed = r, calls, rate, entry_ms, speed
        self.mulaw = mulaw  # calls written as G.711 μ-law
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        for c in self.calls:
            start_call(self.r, c, self.rate, "mulaw" if c in self.mulaw else "pcm")
        self.thread.start()

    def _run(self) -> None:
        per = self.rate * self.entry_ms // 1000 * 2
        longest = max(len(p) for p in self.calls.values())
        pos = 0
        while pos < longest:
            for c, pcm in self.calls.items():
                if pos < len(pcm):
                    piece = pcm[pos : pos + per]
                    append_audio(
                        self.r,
                        c,
                        piece,
                        pos * 1000 // (2 * self.rate),
                        self.entry_ms,
                        self.rate,
                        pos + per >= len(pcm),
                        c in self.mulaw,
                    )
            pos += per
            time.sleep(self.entry_ms / 1000 / self.speed)
        self.done.set()


def spawn_worker(
    redis_url: str,
    service_url: str,
    name: str,
    *,
    fault: str | None = None,
    lease: float = 1.5,
    renew: float = 0.3,
    reaper: float = 0.3,
    log: Path | None = None,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=CREDS.access_key_id,
        AWS_SECRET_ACCESS_KEY=CREDS.secret_access_key,
        AWS_REGION="us-east-1",
        ASSEMBLYAI_API_KEY=AAI_KEY,
    )
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("SCRIBEWIRE_POOL_FAULT", None)
    if fault:
        env["SCRIBEWIRE_POOL_FAULT"] = fault
    cmd = [
        sys.executable,
        "-m",
        "scribewire.cli.main",
        "worker",
        "--redis",
        redis_url,
        "--endpoint",
        service_url,
        "--assemblyai-endpoint",
        service_url,
        "--region",
        "us-east-1",
        "--name",
        name,
        "--lease",
        str(lease),
        "--renew",
        str(renew),
        "--reaper-period",
        str(reaper),
        "--speed",
        "20",
        "--block",
        "0.05",
        "-v",
        *extra,
    ]
    if log is None:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    """SIGTERM (and SIGCONT) each process still running, then wait for each (SIGKILL
    after 30 s): the exit codes, None for one that had to be killed."""
    codes: list[int | None] = []
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.send_signal(signal.SIGCONT)  # a stopped one (SIGSTOP) acts on it now
    for p in procs:
        try:
            codes.append(p.wait(30))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(None)
    return codes


class Fleet:
    """One test's fleet: a Redis client (``r``), a local service (``svc``), the log every
    process writes (``log``) and the processes started (``procs``: workers, front doors).
    Leaving the ``with`` block stops every process, the service and the client."""

    def __init__(self, redis_server: RedisServer, log: Path, **service: Any) -> None:
        self.redis_url = redis_server.url
        self.r = redis_server.client()
        self.svc = Service(**service)
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []

    def worker(self, name: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``scribewire worker --name NAME`` (:func:`spawn_worker`'s options)."""
        proc = spawn_worker(self.redis_url, self.svc.url, name, log=self.log, **kwargs)
        self.procs.append(proc)
        return proc

    def ingest(self, port: int, *flags: str) -> subprocess.Popen[bytes]:
        """Start ``scribewire ingest --port PORT FLAGS...``; returns once it listens."""
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "scribewire.cli.main", "ingest",
                 "--redis", self.redis_url, "--port", str(port), *flags],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.procs.append(proc)
        wait_until(lambda: b"ingest on ws://" in self.log.read_bytes(), 30, "the front door")
        return proc

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            stop_all(self.procs)
        finally:
            self.svc.stop()
            self.r.close()


def assert_no_secrets(log: Path) -> None:
    """The fleet's log (workers and front door, at any level) carries none of the test
    credentials: the AWS secret key, the full access key id, the AssemblyAI key, a
    SigV4 signature (64 hex digits)."""
    import re

    text = log.read_text(errors="replace")
    for secret in (CREDS.secret_access_key, CREDS.access_key_id, AAI_KEY):
        assert secret not in text, f"a test credential is in {log.name}"
    assert not re.search(r"X-Amz-Signature=[0-9a-f]{64}", text), "a signature in the log"


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# ----------------------------------------------------------------------------- checks


def digest(pcm: bytes) -> str:
    return "d" + hashlib.sha1(pcm).hexdigest()[:16]


def check_call(
    r: Any,
    call_id: str,
    pcm: bytes,
    rate: int,
    stats: list[StreamStats],
    *,
    by_session: bool = True,
) -> dict[str, Any]:
    """Per call: the finals tile [0, end) with no gap, overlap or duplicate, each one's
    text is the digest of its samples, IDs increase, nothing is pending, the audio key
    is gone, and the service's per-connection digests (placed by the connection starts
    the workers recorded) cover the audio."""
    k = keys(call_id)
    entries = r.xrange(k["transcript"])
    assert entries, f"{call_id}: no finals"
    pos = 0
    last_id = (0, -1)
    epochs = set()
    for eid, f in entries:
        ms, seq = (int(x) for x in eid.split(b"-"))
        assert (ms, seq) > last_id
        last_id = (ms, seq)
        start, end = int(f[b"start_ms"]), int(f[b"end_ms"])
        assert start == pos, f"{call_id}: final [{start}, {end}) after {pos} (gap or overlap)"
        a, b = start * rate // 1000 * 2, end * rate // 1000 * 2
        assert f[b"text"].decode() == digest(pcm[a:b]), (
            f"{call_id}: wrong samples in [{start}, {end})"
        )
        pos = end
        epochs.add(int(f[b"epoch"]))
    assert pos * rate // 1000 * 2 == len(pcm), f"{call_id}: finals end at {pos} ms"
    led = {a.decode(): b.decode() for a, b in r.hgetall(k["ledger"]).items()}
    assert led.get("done") == "1"
    assert not r.exists(k["audio"])
    pending = r.xpending(k["ctl"], "workers")
    assert pending["pending"] == 0, f"{call_id}: control entries still pending"
    # the service side: every recorded connection start whose digest matches covers it
    sids = {session_id(call_id, e) for e in range(1, int(led["epoch"]) + 1)}
    sid_conns = [s for s in stats if s.audio_nbytes and (not by_session or s.session_id in sids)]
    starts = {int(v) * 2 for f, v in led.items() if f.startswith("conn:")}
    covered: list[tuple[int, int]] = []
    for st in sid_conns:
        for s0 in starts:
            if hashlib.sha256(pcm[s0 : s0 + st.audio_nbytes]).hexdigest() == st.audio_sha256:
                covered.append((s0, s0 + st.audio_nbytes))
                break
    reach = 0
    detail = (
        f"starts {sorted(starts)}, connections "
        f"{[(s.session_id[:8], s.audio_nbytes, s.close_code) for s in sid_conns]}, "
        f"matched {sorted(covered)}"
    )
    for a, b in sorted(covered):
        assert a <= reach, f"{call_id}: the service never received [{reach}, {a}): {detail}"
        reach = max(reach, b)
    assert reach == len(pcm), f"{call_id}: the service got up to {reach} of {len(pcm)}: {detail}"
    return {"finals": len(entries), "epochs": sorted(epochs), "connections": len(covered)}
