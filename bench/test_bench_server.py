"""How many real-time streams one server core sustains (null recognizer, 100 ms chunks).

The service runs in a subprocess (``scribewire serve --recognizer null``); this process
opens N streams and sends one 100 ms AudioEvent (16 kHz mono, 3,200 B) per stream every
100 ms. The server's CPU time (utime + stime from ``/proc/<pid>/stat``) over the steady
part of the run, divided by the messages it received, is the CPU per message; one core
then sustains ``1 / (cpu_per_message * 10)`` streams.

Run: ``pytest bench/test_bench_server.py --benchmark-only -s`` or
``python bench/test_bench_server.py [streams] [seconds]``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from scribewire.eventstream import encode_audio_event
from scribewire.transcribe.credentials import Credentials
from scribewire.transcribe.params import StreamParams
from scribewire.transcribe.session import TranscribeSession

AK, SK, REGION = "AKIDBENCH", "bench-secret-not-real", "us-east-1"
CHUNK = encode_audio_event(b"\1\0" * 1600)  # 100 ms at 16 kHz: above the null threshold


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(url_base: str, pid: int, streams: int, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    creds = Credentials(AK, SK)
    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=16000)
    conns = []
    for _ in range(streams):
        url = TranscribeSession(params).request_url(creds, time.time(), region=REGION, endpoint=url_base)
        conns.append(await connect(url, compression=None, ping_interval=None))
    sent = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    warm = 1.0
    cpu0 = None
    sent0 = 0
    tick = 0
    while True:
        tick += 1
        for ws in conns:
            await ws.send(CHUNK)
            sent += 1
        if cpu0 is None and loop.time() - start >= warm:
            cpu0, sent0, t0 = _cpu_seconds(pid), sent, loop.time()
        if loop.time() - start >= warm + seconds:
            break
        await asyncio.sleep(max(0.0, start + tick * 0.1 - loop.time()))
    await asyncio.sleep(0.2)  # let the server drain what was sent
    cpu1, t1 = _cpu_seconds(pid), loop.time()
    for ws in conns:
        await ws.send(encode_audio_event(b""))
    await asyncio.gather(*(ws.wait_closed() for ws in conns))
    assert cpu0 is not None
    msgs = sent - sent0
    per_msg = (cpu1 - cpu0) / msgs
    return {
        "streams": streams,
        "messages": msgs,
        "server_cpu_s": round(cpu1 - cpu0, 3),
        "wall_s": round(t1 - t0, 2),
        "cpu_us_per_message": round(per_msg * 1e6, 1),
        "streams_per_core": int(1 / (per_msg * 10)),
        "server_core_load": round((cpu1 - cpu0) / (t1 - t0), 3),
    }


def measure(streams: int = 200, seconds: float = 5.0) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from scribewire.server import serve_main; "
         "sys.exit(serve_main(sys.argv[1:]))", "--port", "0", "--recognizer", "null",
         "--quota", str(streams + 10), "--access-key-id", AK, "--secret-access-key", SK,
         "--region", REGION],
        stdout=subprocess.PIPE, text=True,
    )
    with proc:  # closes the stdout pipe on the way out
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = line.split()[2]
            return asyncio.run(_drive(url, proc.pid, streams, seconds))
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc for CPU time")
def test_server_null_streams(benchmark: Any) -> None:
    result = benchmark.pedantic(measure, kwargs={"streams": 200, "seconds": 5.0}, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(result)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    s = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    print(measure(n, s))
