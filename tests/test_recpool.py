"""The recognizer pool (server/recpool.py) on real worker processes (spawn start method).

- pocketsphinx through the pool gives exactly the in-process recognizer's segments
  (partials, finals, times, confidences) on short shared clips, directly and through the
  local service;
- per-stream order with many streams interleaved from threads (digest recognizer: every
  final names the SHA-1 of its samples);
- errors keep their type across the process boundary;
- ``kill -9`` of a worker fails that worker's streams with RecognizerCrashed, the other
  worker's streams carry on, and a replacement takes new streams;
- ``close()`` leaves no child process; neither does ``kill -9`` of ``scribewire serve``.

Every wait is bounded; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scribewire.errors import (
    AudioFormatError,
    ParameterError,
    RecognizerCrashed,
    RecognizerError,
    SessionStateError,
)
from scribewire.server import LocalTranscribeService
from scribewire.server.recognizers import Segment, recognizer_factory
from scribewire.server.recpool import PooledRecognizer, RecognizerPool, pooled_factory

pytest.importorskip("pocketsphinx")

READY = 120.0  # seconds a loaded machine may take to start the workers
CLIPS = ["arctic_axb_a0005.wav", "ps_cards_005.wav"]


def feed(rec: Any, pcm: bytes, rate: int, chunk_s: float = 0.1) -> list[Segment]:
    n = int(rate * chunk_s) * 2
    out: list[Segment] = []
    for i in range(0, len(pcm), n):
        out += rec.accept(pcm[i : i + n], i / 2 / rate)
    out += rec.finish()
    rec.close()
    return out


def clip(shared_dir: Path, name: str) -> tuple[bytes, int]:
    import soundfile

    x, rate = soundfile.read(str(shared_dir / "audio" / name), dtype="int16")
    return x.tobytes(), int(rate)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def ps_pool() -> Any:
    with RecognizerPool("pocketsphinx", processes=2) as pool:
        pool.wait_ready(READY)
        yield pool


def test_pocketsphinx_identical_to_in_process(shared_dir: Path, ps_pool: RecognizerPool) -> None:
    local = recognizer_factory("pocketsphinx")
    for name in CLIPS:
        pcm, rate = clip(shared_dir, name)
        pooled = feed(ps_pool(rate, 0), pcm, rate)
        assert pooled == feed(local(rate, 0), pcm, rate), name
        assert any(not s.is_partial and s.words for s in pooled), name
    # 8 kHz: resampled in the worker as in-process
    pcm, rate = clip(shared_dir, "asterisk_ss-noservice.wav")
    assert rate == 8000
    assert feed(ps_pool(rate, 0), pcm, rate) == feed(local(rate, 0), pcm, rate)


def test_errors_keep_their_type(ps_pool: RecognizerPool) -> None:
    rec = ps_pool(16000, 0)
    with pytest.raises(AudioFormatError):
        rec.accept(b"\0\0\0", 0.0)
    assert rec.accept(b"\0" * 3200, 0.0) == []
    rec.close()
    with pytest.raises(SessionStateError):
        rec.accept(b"\0" * 3200, 0.1)
    bad = ps_pool(4000, 0)  # built in the worker: its ParameterError comes with the first call
    with pytest.raises(ParameterError, match="8000..48000"):
        bad.accept(b"\0" * 800, 0.0)
    with pytest.raises(ParameterError, match="8000..48000"):
        bad.finish()
    bad.close()


def test_service_through_the_pool_matches_in_process(
    shared_dir: Path, ps_pool: RecognizerPool
) -> None:
    from test_server_corpus import stream

    from scribewire.transcribe.params import StreamParams

    audio = [clip(shared_dir, name) for name in CLIPS]

    async def run(recognizer: Any) -> list[list[Any]]:
        async with LocalTranscribeService(recognizer=recognizer) as svc:
            return list(
                await asyncio.gather(
                    *(
                        stream(
                            svc,
                            StreamParams(language_code="en-US", media_encoding="pcm",
                                         sample_rate=rate),
                            pcm,
                        )
                        for pcm, rate in audio
                    )
                )
            )

    def finals(results: list[Any]) -> list[tuple[str, list[tuple[float, float]]]]:
        return [
            (r.alternatives[0].transcript,
             [(i.start_time, i.end_time) for i in r.alternatives[0].items])
            for r in results
            if not r.is_partial
        ]

    pooled = asyncio.run(run(ps_pool))
    local = asyncio.run(run("pocketsphinx"))
    assert [finals(r) for r in pooled] == [finals(r) for r in local]
    assert all(finals(r) for r in pooled)


def test_order_per_stream_many_streams_interleaved() -> None:
    rng = np.random.default_rng(7)
    streams = [rng.integers(-3000, 3000, 8000 * 3, dtype=np.int16).tobytes() for _ in range(12)]
    expected = [feed(recognizer_factory("digest")(8000, 0), pcm, 8000, 0.05) for pcm in streams]
    got: list[list[Segment] | None] = [None] * len(streams)
    with RecognizerPool("digest", processes=2) as pool:
        pool.wait_ready(READY)
        recs = [pool(8000, 0) for _ in streams]
        assert len({r.pid for r in recs}) == 2  # spread over both processes

        def run(i: int) -> None:
            got[i] = feed(recs[i], streams[i], 8000, 0.05)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(streams))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(READY)
    assert got == expected


def test_kill_9_fails_only_that_workers_streams() -> None:
    pcm = b"\1\0" * 800
    with RecognizerPool("digest", processes=2) as pool:
        pool.wait_ready(READY)
        a, b = pool(8000, 0), pool(8000, 0)
        assert isinstance(a, PooledRecognizer) and a.pid != b.pid
        a.accept(pcm, 0.0)
        b.accept(pcm, 0.0)
        victim = a.pid
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in pool.pids, READY, "the pool notices the death")
        with pytest.raises(RecognizerCrashed, match=f"{victim} was killed by signal 9"):
            a.accept(pcm, 0.1)
        with pytest.raises(RecognizerCrashed):
            a.finish()
        a.close()
        # the other process's stream carries on, state intact
        b.accept(pcm, 0.1)
        assert [s.is_partial for s in b.finish()] == [False]
        b.close()
        wait_until(lambda: len(pool.pids) == 2, READY, "a replacement process")
        assert pool.replaced == 1 and victim not in pool.pids
        # new streams run, on both processes (the replacement included)
        recs = [pool(8000, 0) for _ in range(2)]
        assert {r.pid for r in recs} == set(pool.pids)
        for r in recs:
            assert len(feed(r, pcm * 10, 8000)) >= 1


def test_call_under_way_when_the_worker_dies() -> None:
    with RecognizerPool("pocketsphinx", processes=1) as pool:
        pool.wait_ready(READY)
        rec = pool(16000, 0)
        noise = np.random.default_rng(1).integers(-8000, 8000, 16000 * 20, dtype=np.int16)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                rec.accept(noise.tobytes(), 0.0)  # seconds of decoding
                rec.finish()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.2)
        os.kill(rec.pid, signal.SIGKILL)
        t.join(READY)
        assert not t.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], RecognizerCrashed)


def test_close_leaves_no_children_and_fails_later_calls() -> None:
    pool = RecognizerPool("digest", processes=2)
    pool.wait_ready(READY)
    pids = pool.pids
    rec = pool(8000, 0)
    assert set(pids) <= set(children(os.getpid()))
    pool.close()
    pool.close()  # idempotent
    assert not any(alive(p) for p in pids)
    assert not [p for p in children(os.getpid()) if p in pids]
    with pytest.raises(RecognizerError):
        rec.accept(b"\0\0", 0.0)
    with pytest.raises(RecognizerError, match="closed"):
        pool(8000, 0)


def test_a_process_that_cannot_start_is_reported_not_retried() -> None:
    pool = RecognizerPool(_broken_factory, processes=1)
    try:
        with pytest.raises(RecognizerError, match="could not start.*no model here"):
            pool.wait_ready(READY)
        with pytest.raises(RecognizerError, match="no model here"):
            pool(16000, 0)
        assert pool.replaced == 0
    finally:
        pool.close()


def _broken_factory(rate: int, channel: int) -> Any:
    raise OSError("no model here")


def test_pool_arguments() -> None:
    with pytest.raises(ParameterError):
        RecognizerPool("digest", processes=0)
    with pytest.raises(ParameterError):
        RecognizerPool("nonesuch", processes=1)
    with pytest.raises(ParameterError, match="picklable"):
        RecognizerPool(lambda rate, ch: None, processes=1)  # type: ignore[arg-type,return-value]
    with pytest.raises(ParameterError):
        pooled_factory("pocketsphinx", -1)
    # cheap recognizers and 0 stay in-process
    assert pooled_factory("null", 2)[0] == "null"
    assert pooled_factory("pocketsphinx", 0)[0] == "pocketsphinx"


def test_killed_service_leaves_no_recognizer_processes() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from scribewire.server import serve_main; sys.exit(serve_main(sys.argv[1:]))",
         "--port", "0", "--recognizer", "pocketsphinx", "--recognizer-processes", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on ws://"), line
        wait_until(lambda: len(children(proc.pid)) >= 2, READY, "two recognizer processes")
        workers = children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(READY)
        wait_until(lambda: not any(alive(p) for p in workers), READY, "the workers exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_interrupted_service_stops_its_recognizer_processes() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from scribewire.server import serve_main; sys.exit(serve_main(sys.argv[1:]))",
         "--port", "0", "--recognizer-processes", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("listening on ws://")
        wait_until(lambda: len(children(proc.pid)) >= 1, READY, "a recognizer process")
        workers = children(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(READY) == 130
        assert not any(alive(p) for p in workers)  # stopped and reaped before the exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_transcribe_cli_uses_the_pool_with_the_same_transcript(
    tmp_path: Path, shared_dir: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    clips = [str(shared_dir / "audio" / n) for n in ("ps_goforward.16k.wav", CLIPS[0])]
    out = {}
    for n in ("2", "0"):
        proc = subprocess.run(
            [sys.executable, "-m", "scribewire.cli.main", "transcribe", *clips, "--local",
             "--speed", "50", "--recognizer-processes", n],
            capture_output=True, text=True, timeout=300, env=env,
        )
        assert proc.returncode == 0, proc.stderr
        out[n] = proc.stdout
        where = "2 recognizer processes" if n == "2" else "in-process)"
        assert where in proc.stderr, proc.stderr
    assert "go forward" in out["2"]
    assert sorted(out["2"].splitlines()) == sorted(out["0"].splitlines())
