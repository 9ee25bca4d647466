"""The Redis Streams pool with real parts: a redis-server, the local service (digest
recognizer: each final names the SHA-1 of its exact samples), ``scribewire worker``
processes, calls written with the documented key layout, and faults: ``kill -9`` at random
and at named points, ``SIGSTOP``/``SIGCONT``, the STT connection dropped.

Every call is checked by ``_pool_harness.check_call``: finals tile the audio (no gap, no
overlap, no duplicate, the right samples in each), nothing pending, the audio key gone,
and the service's per-connection digests cover the audio. Leases, renewals and reaper
periods are made small so runs take seconds; nothing asserts wall-clock timings (waits
are bounded, and only bound how long a failing run takes).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")
from _pool_harness import (  # noqa: E402
    CallWriter,
    RedisServer,
    Service,
    check_call,
    keys,
    spawn_worker,
    wait_until,
)

from scribewire.audio import open_audio  # noqa: E402

RATE = 8000
CLIPS = [
    "arctic_aew_a0001.wav",
    "arctic_axb_a0004.wav",
    "asterisk_vm-options.wav",
    "asterisk_basic-pbx-ivr-main.wav",
    "call_synth_billing.16k.wav",
    "arctic_aew_a0002.wav",
]


def clip(shared: Path, name: str) -> bytes:
    with open_audio(shared / "audio" / name) as src:
        pcm = src.read(sample_rate=RATE, channels=1)
    n = len(pcm) // (RATE // 1000 * 2) * (RATE // 1000 * 2)  # whole ms
    return pcm[:n]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def calls_from(shared: Path, k: int, repeat: int = 1) -> dict[str, bytes]:
    out = {}
    for i in range(k):
        pcm = clip(shared, CLIPS[i % len(CLIPS)]) * repeat
        out[f"call-{i:03d}"] = pcm
    return out


def finished(r: Any, calls: dict[str, bytes]) -> bool:
    return all(r.hget(keys(c)["ledger"], "done") == b"1" for c in calls)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    codes = []
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            codes.append(p.wait(30))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(None)
    return codes


def check_all(r: Any, svc: Service, calls: dict[str, bytes]) -> list[dict[str, Any]]:
    stats = svc.stats()
    return [check_call(r, c, pcm, RATE, stats) for c, pcm in calls.items()]


def test_one_worker_transcribes_calls_and_transcripts_follows(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    r = redis_server.client()
    calls = calls_from(shared_dir, 3)
    svc = Service()
    log = tmp_path / "worker.log"
    try:
        w = spawn_worker(redis_server.url, svc.url, "w1", log=log)
        writer = CallWriter(r, calls, RATE, speed=20.0)
        writer.start()
        try:
            wait_until(lambda: finished(r, calls), 60, "every call finished")
        finally:
            codes = stop_all([w])
        results = check_all(r, svc, calls)
    finally:
        svc.stop()
        r.close()
    assert codes == [0], log.read_text()
    assert all(res["epochs"] == [1] for res in results)
    # scribewire transcripts prints them as JSON lines
    out = subprocess.run(
        [sys.executable, "-m", "scribewire.cli.main", "transcripts", "--redis",
         redis_server.url, "call-001"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == results[1]["finals"]
    assert rows[0]["call"] == "call-001" and rows[0]["start_ms"] == 0
    assert all(a["end_ms"] == b["start_ms"] for a, b in zip(rows, rows[1:], strict=False))
