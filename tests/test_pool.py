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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")
from _pool_harness import (  # noqa: E402
    CallWriter,
    Fleet,
    RedisServer,
    Service,
    append_audio,
    assert_no_secrets,
    check_call,
    free_port,
    keys,
    start_call,
    stop_all,
    wait_until,
)

from scribewire.audio import open_audio, ulaw_decode, ulaw_encode  # noqa: E402

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


def calls_from(shared: Path, k: int, repeat: int = 1, most: float = 12.0) -> dict[str, bytes]:
    """K calls of shared clips (``repeat`` times over), at most ``most`` seconds each."""
    out = {}
    for i in range(k):
        pcm = clip(shared, CLIPS[i % len(CLIPS)]) * repeat
        out[f"call-{i:03d}"] = pcm[: int(most * RATE) * 2]
    return out


def finished(r: Any, calls: dict[str, bytes]) -> bool:
    return all(r.hget(keys(c)["ledger"], "done") == b"1" for c in calls)


def check_all(r: Any, svc: Service, calls: dict[str, bytes]) -> list[dict[str, Any]]:
    # every connection closed on the service's side (its digests are final then)
    wait_until(lambda: not svc.svc.streams, 30, "the service's streams to close")
    stats = svc.stats()
    return [check_call(r, c, pcm, RATE, stats) for c, pcm in calls.items()]


def test_one_worker_transcribes_calls_transcripts_follow_and_metrics(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    calls = calls_from(shared_dir, 3)
    # one call arrives as G.711 μ-law (Twilio's encoding): what the service must receive
    # is its decoding, which the worker does on the way
    calls["call-002"] = ulaw_decode(ulaw_encode(calls["call-002"]))
    port = free_port()
    follow_out = tmp_path / "follow.jsonl"
    scraped: dict[str, float] = {}
    with Fleet(redis_server, tmp_path / "worker.log") as f:
        r, svc, log = f.r, f.svc, f.log
        with open(follow_out, "wb") as out:  # tails every call, started before any exists
            follower = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scribewire.cli.main",
                    "transcripts",
                    "--redis",
                    redis_server.url,
                    "--follow",
                    "--rescan",
                    "0.2",
                ],
                stdout=out,
            )
        f.procs.append(follower)  # stopped with the fleet
        # -v -v: DEBUG, websockets' handshake lines included
        w = f.worker("w1", extra=("--metrics-port", str(port), "-v"))
        writer = CallWriter(r, calls, RATE, speed=4.0, mulaw=frozenset({"call-002"}))
        writer.start()
        # a call whose source left a hole [1000, 1500) ms: filled with silence, said loudly
        hole = calls_from(shared_dir, 1, most=3.0)["call-000"]
        ms = RATE // 1000 * 2
        start_call(r, "hole-call", RATE)
        append_audio(r, "hole-call", hole[: 1000 * ms], 0, 250, RATE, False)
        append_audio(r, "hole-call", hole[1500 * ms :], 1500, 250, RATE, True)
        holed = {"hole-call": hole[: 1000 * ms] + bytes(500 * ms) + hole[1500 * ms :]}
        bad = keys("bad-call")  # parameters no provider takes: refused loudly, not retried
        r.hset(bad["ledger"], mapping={"rate": 8000, "channels": 1, "encoding": "opus"})
        r.xadd(bad["ctl"], {"call": "bad-call"})
        try:
            wait_until(lambda: owned_by(r, calls, "w1") == len(calls), 30, "w1 owning the calls")
            # its free capacity for the front door, renewed with its lease
            wait_until(lambda: cap_of(r, "w1") in {(n, 500) for n in range(496, 500)}, 30, "cap")
            wait_until(
                lambda: bool(
                    scraped.update(scrape(port)) or scraped.get("scribewire_streams_open")
                ),
                30,
                "a scrape",
            )
            wait_until(lambda: finished(r, calls), 60, "every call finished")
        finally:
            codes = stop_all([w])
        wait_until(lambda: finished(r, holed), 30, "the call with a hole")
        results = check_all(r, svc, calls)
        results_holed = check_all(r, svc, holed)
        assert r.xpending(bad["ctl"], "workers")["pending"] == 0
        total = sum(res["finals"] for res in results + results_holed)
        wait_until(lambda: len(follow_out.read_bytes().splitlines()) >= total, 30, "--follow")
    assert codes == [0], log.read_text()
    assert "> GET /stream-transcription-websocket?" in log.read_text()  # DEBUG was on
    assert_no_secrets(log)
    assert all(res["epochs"] == [1] for res in results)
    assert r.hget("sw:cap", "w1") is None  # gone with the worker
    assert b"unsupported audio" in r.hget(bad["ledger"], "failed")
    assert "call bad-call refused" in log.read_text()
    assert "call hole-call has no audio for [1000, 1500) ms" in log.read_text()
    followed = [json.loads(line) for line in follow_out.read_bytes().splitlines()]
    assert len(followed) == total
    assert {row["call"] for row in followed} == set(calls) | set(holed)
    # the worker's metrics: its calls, their lag and unacknowledged window, its streams
    assert scraped["scribewire_calls_owned"] >= 1
    assert scraped["scribewire_streams_open"] >= 1
    assert "scribewire_unacknowledged_seconds_max" in scraped
    # scribewire transcripts without --follow: one call's finals, then exit
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scribewire.cli.main",
            "transcripts",
            "--redis",
            redis_server.url,
            "call-001",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == results[1]["finals"]
    assert rows[0]["call"] == "call-001" and rows[0]["start_ms"] == 0
    assert all(a["end_ms"] == b["start_ms"] for a, b in zip(rows, rows[1:], strict=False))
    assert all(row["epoch"] == 1 and row["worker"] == "w1" for row in rows)


def cap_of(r: Any, worker: str) -> tuple[int, int] | None:
    """``(free, capacity)`` that ``worker`` published in ``sw:cap``."""
    value = r.hget("sw:cap", worker)
    if value is None:
        return None
    free, capacity = value.split()
    return int(free), int(capacity)


def scrape(port: int) -> dict[str, float]:
    """Unlabelled samples of the worker's /metrics (nothing when it is not up yet)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def owned_by(r: Any, calls: dict[str, bytes], worker: str) -> int:
    """Control entries of ``calls`` pending for ``worker`` (0 before the group exists)."""
    import redis

    n = 0
    for c in calls:
        try:
            n += len(
                r.xpending_range(keys(c)["ctl"], "workers", "-", "+", 100, consumername=worker)
            )
        except redis.exceptions.ResponseError:  # NOGROUP: no worker has started yet
            pass
    return n


def epochs(r: Any, calls: dict[str, bytes]) -> dict[str, int]:
    return {c: int(r.hget(keys(c)["ledger"], "epoch") or 0) for c in calls}


def test_kill9_at_named_and_random_points_loses_nothing(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    seed = int.from_bytes(os.urandom(2), "big")
    rng = random.Random(seed)
    calls = calls_from(shared_dir, 6, repeat=3)
    with Fleet(redis_server, tmp_path / "workers.log") as f:
        r, svc, log = f.r, f.svc, f.log
        # 1. a worker that dies after a final arrived, before it was published
        w_a = f.worker("w-after-final", fault="after_final:4")
        writer = CallWriter(r, calls, RATE, speed=4.0)
        writer.start()
        assert w_a.wait(60) == -signal.SIGKILL
        # 2. the only survivor claims every call and dies mid-replay
        w_m = f.worker("w-mid-replay", fault="mid_replay:2")
        assert w_m.wait(60) == -signal.SIGKILL
        assert owned_by(r, calls, "w-mid-replay") > 0  # it had claimed calls
        # 3. three workers; one of them killed -9 at a random moment
        crew = [f.worker(f"w{i}", extra=("--capacity", "3")) for i in (1, 2, 3)]
        names = [f"w{i}" for i in (1, 2, 3)]
        wait_until(lambda: any(owned_by(r, calls, n) for n in names), 60, "the fleet owning calls")
        time.sleep(rng.uniform(0.0, 1.0))
        owners = [i for i, n in enumerate(names) if owned_by(r, calls, n)] or [0, 1, 2]
        victim = crew[rng.choice(owners)]
        victim_name = names[crew.index(victim)]
        held = [c for c in calls if r.hget(keys(c)["ledger"], "owner") == victim_name.encode()]
        killed_at = time.time()
        victim.kill()
        victim.wait(10)
        wait_until(lambda: finished(r, calls), 90, f"every call finished (seed {seed})")
        # the dead offer no capacity (the survivors' reapers drop it once its lease is gone)
        wait_until(lambda: r.hget("sw:cap", victim_name) is None, 30, "the victim's capacity")
        codes = stop_all([p for p in crew if p is not victim])
        results = check_all(r, svc, calls)
        # the victim's calls moved after it died, never before (no lease was stolen)
        takeovers = []
        for c in held:
            led = r.hgetall(keys(c)["ledger"])
            if led[b"owner"] != victim_name.encode():
                taken = int(led[b"taken_at"]) / 1000
                assert taken > killed_at, (c, taken, killed_at)
                takeovers.append(taken - killed_at)
        print(f"seed {seed}: takeover after kill -9 (lease 1.5 s + reaper 0.3 s): {takeovers}")
    assert codes == [0, 0], log.read_text()[-3000:]
    # every call was taken over at least twice (the two named faults), never ping-ponged
    assert all(max(res["epochs"]) >= 2 for res in results), (seed, results)
    assert all(e <= 4 + 1 for e in epochs_seen(results)), results


def epochs_seen(results: list[dict[str, Any]]) -> list[int]:
    return [max(res["epochs"]) for res in results]


def test_paused_worker_is_fenced_and_ownership_never_ping_pongs(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    calls = calls_from(shared_dir, 4, repeat=3)
    with Fleet(redis_server, tmp_path / "workers.log") as f:
        r, svc, log = f.r, f.svc, f.log
        zombie = f.worker("zombie")
        writer = CallWriter(r, calls, RATE, speed=4.0)
        writer.start()
        wait_until(lambda: owned_by(r, calls, "zombie") == len(calls), 30, "the zombie owning all")
        wait_until(lambda: r.exists(keys("call-000")["transcript"]) == 1, 30, "a first final")
        zombie.send_signal(signal.SIGSTOP)
        f.worker("healthy")
        # the lease (1.5 s) runs out, the healthy worker's reaper claims every call
        wait_until(lambda: owned_by(r, calls, "healthy") == len(calls), 30, "the takeover")
        wait_until(lambda: set(epochs(r, calls).values()) == {2}, 30, "the new epochs")
        before = epochs(r, calls)
        zombie.send_signal(signal.SIGCONT)
        wait_until(lambda: finished(r, calls), 90, "every call finished")
        after = epochs(r, calls)
        codes = stop_all(f.procs)
        results = check_all(r, svc, calls)
    assert codes == [0, 0], log.read_text()[-3000:]
    assert before == after == {c: 2 for c in calls}  # taken once each, never back
    text = log.read_text()
    assert "lease had expired" in text and "owned by another worker now" in text
    for res in results:  # finals of both epochs, the zombie's fenced ones never appear
        assert res["epochs"][-1] == 2


def test_stt_connections_dropped_mid_call_are_replayed(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    calls = calls_from(shared_dir, 4, repeat=2)
    # every other connection cut mid-call
    with Fleet(redis_server, tmp_path / "workers.log", cut_every=2, cut_after=40_000) as f:
        r, svc, log = f.r, f.svc, f.log
        extra = ("--reconnect-attempts", "20", "--max-replay-bytes", "64000")
        for i in (1, 2, 3):
            f.worker(f"w{i}", extra=extra)
        writer = CallWriter(r, calls, RATE, speed=6.0)
        writer.start()
        wait_until(lambda: finished(r, calls), 90, "every call finished")
        codes = stop_all(f.procs)
        results = check_all(r, svc, calls)
    assert codes == [0, 0, 0], log.read_text()[-3000:]
    assert svc.cutter is not None and svc.cutter.cuts >= 2
    assert all(res["epochs"] == [1] for res in results)  # reconnects, not takeovers
    assert sum(res["connections"] for res in results) > len(calls)


def test_sigterm_drains_and_the_calls_move_on(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    calls = calls_from(shared_dir, 3, repeat=3)
    with Fleet(redis_server, tmp_path / "workers.log") as f:
        r, svc, log = f.r, f.svc, f.log
        first = f.worker("first")
        writer = CallWriter(r, calls, RATE, speed=3.0)
        writer.start()
        wait_until(lambda: owned_by(r, calls, "first") == len(calls), 30, "first owning all")
        wait_until(lambda: all(r.exists(keys(c)["transcript"]) for c in calls), 30, "finals")
        first.send_signal(signal.SIGTERM)  # mid-call: drain
        assert first.wait(30) == 0
        acked = {c: int(r.hget(keys(c)["ledger"], "acked_ms")) for c in calls}
        second = f.worker("second")
        wait_until(lambda: finished(r, calls), 60, "every call finished")
        codes = stop_all([second])
        results = check_all(r, svc, calls)
    assert codes == [0], log.read_text()[-3000:]
    assert all(res["epochs"] == [1, 2] for res in results), results
    assert all(a > 0 for a in acked.values())  # the drained worker published its finals


def test_a_worker_restarted_under_its_name_resumes_its_calls(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    calls = calls_from(shared_dir, 3, repeat=2)
    with Fleet(redis_server, tmp_path / "workers.log") as f:
        r, svc, log = f.r, f.svc, f.log
        # a long lease: no reaper could have taken the calls; the restart must
        w = f.worker("same", lease=30.0, renew=1.0)
        writer = CallWriter(r, calls, RATE, speed=3.0)
        writer.start()
        wait_until(lambda: owned_by(r, calls, "same") == len(calls), 30, "owning all")
        wait_until(lambda: all(r.exists(keys(c)["transcript"]) for c in calls), 30, "finals")
        w.kill()
        w.wait(10)
        again = f.worker("same", lease=30.0, renew=1.0)
        wait_until(lambda: finished(r, calls), 60, "every call finished")
        codes = stop_all([again])
        results = check_all(r, svc, calls)
    assert codes == [0], log.read_text()[-3000:]
    assert all(res["epochs"] == [1, 2] for res in results), results
