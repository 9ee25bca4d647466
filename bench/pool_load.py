"""Worker CPU per stream-second from Redis (250 ms entries) against the plain client, and
Redis server CPU per stream-second, in one run.

Both sides stream the same N calls of the same audio at the same pacing (``--speed``) to
the same local service (a separate process, digest recognizer, so its CPU is not counted):

- ``client``: one process running N ``TranscribeClient`` streams fed from memory;
- ``worker``: one ``scribewire worker`` process transcribing N calls written beforehand
  into Redis in 250 ms entries with the documented layout (it reads them in batches,
  publishes every final with the PUBLISH script, trims, finishes each call).

CPU is user + system time of the process from ``/proc/<pid>/stat``, divided by the audio
seconds streamed; Redis' is ``INFO cpu`` (``used_cpu_user + used_cpu_sys``) over the
worker's run. Goal (DESIGN.md): worker <= 1.3x the client.

    python bench/pool_load.py --calls 100 --seconds 30 --speed 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _pool_harness import CREDS, RedisServer, keys, start_call  # noqa: E402

RATE = 8000
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def audio(seconds: float) -> bytes:
    import numpy as np

    rng = np.random.default_rng(7)
    return (rng.standard_normal(int(seconds * RATE)) * 3000).astype("<i2").tobytes()


def start_service() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scribewire.cli.main",
            "serve",
            "--port",
            "0",
            "--recognizer",
            "digest",
            "--quota",
            "10000",
            "--access-key-id",
            CREDS.access_key_id,
            "--secret-access-key",
            CREDS.secret_access_key,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split()[2]


CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from scribewire import TranscribeClient
    from scribewire.transcribe import StreamParams
    url, n, seconds, speed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    import numpy as np
    pcm = (np.random.default_rng(7).standard_normal(int(seconds * 8000)) * 3000).astype("<i2").tobytes()
    async def one(client):
        async with client.stream(StreamParams(language_code="en-US", sample_rate=8000)) as s:
            async def feed():
                for i in range(0, len(pcm), 4000):   # 250 ms pieces, as the worker sends
                    await s.send(pcm[i:i + 4000])
                await s.end()
            t = asyncio.ensure_future(feed())
            async for _ in s:
                pass
            await t
    async def main():
        c = TranscribeClient(endpoint=url, region="us-east-1", speed=speed)
        print("ready", flush=True)
        await asyncio.sleep(0.5)  # the parent samples the CPU of the start-up meanwhile
        await asyncio.gather(*(one(c) for _ in range(n)))
    asyncio.run(main())
    """
)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        AWS_ACCESS_KEY_ID=CREDS.access_key_id,
        AWS_SECRET_ACCESS_KEY=CREDS.secret_access_key,
        AWS_REGION="us-east-1",
    )
    return e


def run_client(url: str, n: int, seconds: float, speed: float) -> float:
    p = subprocess.Popen(
        [sys.executable, "-c", CLIENT, url, str(n), str(seconds), str(speed)],
        env=env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = cpu_of(p.pid)  # imports and start-up are not the streams' cost
    cpu = start
    while p.poll() is None:
        cpu = cpu_of(p.pid)
        time.sleep(0.05)
    assert p.returncode == 0
    return cpu - start


def run_worker(
    url: str, redis: RedisServer, n: int, seconds: float, speed: float
) -> tuple[float, float]:
    r = redis.client()
    pcm = audio(seconds)
    per = RATE // 4 * 2  # 250 ms
    calls = [f"bench-{i:05d}" for i in range(n)]
    w = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scribewire.cli.main",
            "worker",
            "--redis",
            redis.url,
            "--endpoint",
            url,
            "--speed",
            str(speed),
            "--capacity",
            str(n),
            "--batch",
            "8",
            "--name",
            "bench",
        ],
        env=env(),
        stdout=subprocess.DEVNULL,
    )
    while not r.exists("sw:w:bench"):  # up: imports done, groups made
        time.sleep(0.05)
    time.sleep(0.3)
    start = cpu_of(w.pid)  # imports and start-up are not the calls' cost
    info = r.info("cpu")
    redis_before = info["used_cpu_user"] + info["used_cpu_sys"]
    for c in calls:  # audio first, then the call start: the worker never waits on us
        pipe = r.pipeline(transaction=False)
        for j in range(0, len(pcm), per):
            chunk = pcm[j : j + per]
            fields = {"pcm": chunk}
            if j + per >= len(pcm):
                fields["end"] = "1"
            pipe.xadd(keys(c)["audio"], fields, id=f"{(j + len(chunk)) * 1000 // (2 * RATE)}-0")
        pipe.execute()
        start_call(r, c, RATE)
    cpu = 0.0
    while True:
        cpu = cpu_of(w.pid)
        done = sum(r.hget(keys(c)["ledger"], "done") == b"1" for c in calls)
        if done == n:
            break
        time.sleep(0.2)
    info = r.info("cpu")
    redis_cpu = info["used_cpu_user"] + info["used_cpu_sys"] - redis_before
    w.send_signal(signal.SIGTERM)
    w.wait(30)
    r.close()
    return cpu - start, redis_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=10.0)
    a = ap.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed")
    svc, url = start_service()
    tmp = Path(tempfile.mkdtemp())
    redis = RedisServer(tmp)
    try:
        stream_seconds = a.calls * a.seconds
        client_cpu = run_client(url, a.calls, a.seconds, a.speed)
        worker_cpu, redis_cpu = run_worker(url, redis, a.calls, a.seconds, a.speed)
    finally:
        redis.stop()
        svc.send_signal(signal.SIGINT)
        svc.wait(30)
    c = client_cpu / stream_seconds * 1e6
    w = worker_cpu / stream_seconds * 1e6
    rs = redis_cpu / stream_seconds * 1e6
    print(f"{a.calls} calls x {a.seconds:g} s at {a.speed:g}x ({stream_seconds:g} stream-s)")
    print(f"client  CPU per stream-second: {c:8.1f} us")
    print(f"worker  CPU per stream-second: {w:8.1f} us   ({w / c:.2f}x the client; goal <= 1.3x)")
    print(f"redis   CPU per stream-second: {rs:8.1f} us")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
