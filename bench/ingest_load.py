"""Front-door CPU per Twilio ``media`` message and Redis server CPU per stream-second, in
one run, beside the floor: a WebSocket server that receives the same messages and does
nothing with them (what any Python front door on ``websockets`` pays at least).

K simulated Twilio streams (20 ms μ-law ``media`` messages, one track, paced at
``--speed`` times real time, in a separate process whose CPU is not counted) go to:

- ``floor``: ``websockets.serve`` with a handler that only reads messages;
- ``scribewire``: ``scribewire ingest`` (a separate process) writing to a real
  redis-server (200 ms entries).

CPU is user + system time from ``/proc/<pid>/stat``; Redis' is ``INFO cpu``.

    python bench/ingest_load.py --calls 200 --seconds 20 --speed 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _pool_harness import RedisServer, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def platforms(url: str, calls: int, seconds: float, speed: float) -> None:
    """The K streams (run in a child process)."""
    import websockets

    payload = base64.b64encode(bytes(range(96, 256))).decode()

    async def one(i: int) -> None:
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            sid = f"MZ{i:032d}"
            await ws.send(
                json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            )
            await ws.send(
                json.dumps(
                    {
                        "event": "start",
                        "sequenceNumber": "1",
                        "streamSid": sid,
                        "start": {
                            "streamSid": sid,
                            "accountSid": "AC1",
                            "callSid": f"CA{i:032d}",
                            "tracks": ["inbound"],
                            "customParameters": {},
                            "mediaFormat": {
                                "encoding": "audio/x-mulaw",
                                "sampleRate": 8000,
                                "channels": 1,
                            },
                        },
                    }
                )
            )
            t0 = time.monotonic()
            for n in range(int(seconds * 50)):
                media = {"track": "inbound", "chunk": str(n + 1), "timestamp": str(n * 20),
                         "payload": payload}  # fmt: skip
                await ws.send(
                    json.dumps(
                        {
                            "event": "media",
                            "sequenceNumber": str(n + 2),
                            "media": media,
                            "streamSid": sid,
                        }  # fmt: skip
                    )
                )
                delay = t0 + (n + 1) * 0.02 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": "0", "streamSid": sid}))

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(calls)))

    asyncio.run(main())


def floor_server(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    import websockets
    from websockets.asyncio.server import serve

    async def handler(ws: object) -> None:
        try:
            async for _ in ws:  # type: ignore[attr-defined]
                pass
        except websockets.ConnectionClosed:
            pass

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None, max_size=262144):
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


def drive(url: str, pid: int, args: argparse.Namespace) -> float:
    before = cpu_of(pid)
    p = multiprocessing.Process(target=platforms, args=(url, args.calls, args.seconds, args.speed))
    p.start()
    p.join()
    return cpu_of(pid) - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=10.0)
    args = ap.parse_args()
    messages = args.calls * int(args.seconds * 50)
    stream_seconds = args.calls * args.seconds

    port = free_port()
    ready = multiprocessing.Event()
    floor = multiprocessing.Process(target=floor_server, args=(port, ready), daemon=True)
    floor.start()
    ready.wait(30)
    floor_cpu = drive(f"ws://127.0.0.1:{port}/twilio", floor.pid, args)  # type: ignore[arg-type]
    floor.terminate()

    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp))
        r = redis.client()
        port = free_port()
        door = subprocess.Popen(
            [sys.executable, "-m", "scribewire.cli.main", "ingest", "--redis", redis.url,
             "--port", str(port), "--min-free-capacity", "0"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert door.stdout is not None and "ingest on" in door.stdout.readline()
        cpu = r.info("cpu")
        redis_before = cpu["used_cpu_user"] + cpu["used_cpu_sys"]
        ours = drive(f"ws://127.0.0.1:{port}/twilio", door.pid, args)
        cpu = r.info("cpu")
        redis_cpu = cpu["used_cpu_user"] + cpu["used_cpu_sys"] - redis_before
        written = sum(1 for _ in r.scan_iter("sw:*:a:*", count=1000))
        door.terminate()
        door.wait(30)
        r.close()
        redis.stop()
    print(f"{args.calls} calls x {args.seconds:g} s at {args.speed:g}x: {messages} media messages")
    print(f"floor (websockets receive only): {floor_cpu / messages * 1e6:7.2f} us CPU / message")
    print(f"scribewire ingest:               {ours / messages * 1e6:7.2f} us CPU / message "
          f"({ours / floor_cpu:.2f}x the floor)")  # fmt: skip
    print(f"redis-server: {redis_cpu / stream_seconds * 1e3:.3f} ms CPU / stream-second "
          f"({written} audio streams in Redis)")  # fmt: skip


if __name__ == "__main__":
    main()
