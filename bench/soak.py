"""Soak: N concurrent streams for T minutes against the local service, memory and sockets
of both processes sampled (issue 13).

Not a test and not a benchmark of speed: it watches for growth. The service runs in a
child process (``scribewire serve --recognizer null``, see ``_service_proc``); this
process runs N stream slots with ``TranscribeClient``. Each slot streams silence-free PCM
(16 kHz mono, paced at real time by the client) for a random 5..30 s, ends the stream,
reads every result, and starts a new stream, until T minutes have passed; so streams
finish all along and the service's per-stream state (finished stats, connections) turns
over thousands of times. Every ``--every`` seconds one line: live streams, streams
finished, errors, then RSS (MiB) and open file descriptors of the service and of this
client process. Starts are spread over the first ``--ramp`` seconds.

Loopback only; bounded in count (N slots) and time (T minutes, then every stream ends).

Run: ``python bench/soak.py [--streams 2000] [--minutes 10] [--every 10]``
(briefly: ``--streams 200 --minutes 1``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _service_proc import AK, REGION, SK, ServiceProcess, cpu_seconds, fd_count, rss_kib  # noqa: E402

from scribewire.clients import TranscribeClient  # noqa: E402
from scribewire.errors import ScribewireError  # noqa: E402
from scribewire.transcribe.credentials import Credentials  # noqa: E402
from scribewire.transcribe.params import StreamParams  # noqa: E402

RATE = 16_000
SECOND = (b"\x10\x27\xf0\xd8" * (RATE // 2))  # 1 s of a loud square wave: "speech" to null


class Soak:
    def __init__(self, url: str, streams: int, minutes: float, seed: int) -> None:
        self.client = TranscribeClient(
            endpoint=url, region=REGION, credentials=Credentials(AK, SK), reconnect_attempts=0
        )
        self.params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=RATE)
        self.slots = streams
        self.until = time.monotonic() + minutes * 60
        self.rng = random.Random(seed)
        self.live = 0
        self.finished = 0
        self.events = 0
        self.errors: Counter[str] = Counter()
        self.first_error: dict[str, str] = {}  # one message per error type, to diagnose

    async def one(self) -> None:
        seconds = self.rng.randint(5, 30)
        self.live += 1
        try:
            async with self.client.stream(self.params) as stream:

                async def read() -> None:
                    async for _ in stream:
                        self.events += 1

                reader = asyncio.create_task(read())
                for _ in range(seconds):
                    if time.monotonic() >= self.until:
                        break
                    await stream.send(SECOND)
                await stream.end()
                await reader
            self.finished += 1
        except ScribewireError as exc:
            name = type(exc).__name__
            self.errors[name] += 1
            if name not in self.first_error:
                self.first_error[name] = str(exc)[:200]
                print(f"first {name}: {self.first_error[name]}", flush=True)
        finally:
            self.live -= 1

    async def slot(self, delay: float) -> None:
        await asyncio.sleep(delay)
        while time.monotonic() < self.until:
            await self.one()


async def run(svc: ServiceProcess, args: argparse.Namespace) -> int:
    soak = Soak(svc.url, args.streams, args.minutes, args.seed)
    started = time.monotonic()
    tasks = [
        asyncio.create_task(soak.slot(args.ramp * i / args.streams)) for i in range(args.streams)
    ]
    print(
        f"{'t s':>6} {'live':>5} {'finished':>8} {'events':>9} {'errors':>6} "
        f"{'svc RSS MiB':>11} {'svc FDs':>7} {'svc CPU%':>8} "
        f"{'cli RSS MiB':>11} {'cli FDs':>7} {'cli CPU%':>8}",
        flush=True,
    )
    samples: list[tuple[float, float, float]] = []  # (t s, service RSS MiB, client RSS MiB)
    last = [time.monotonic(), cpu_seconds(svc.pid), cpu_seconds()]

    def line() -> None:
        now, svc_cpu, cli_cpu = time.monotonic(), cpu_seconds(svc.pid), cpu_seconds()
        span = max(now - last[0], 1e-9)
        svc_pct, cli_pct = 100 * (svc_cpu - last[1]) / span, 100 * (cli_cpu - last[2]) / span
        last[:] = [now, svc_cpu, cli_cpu]
        svc_rss, cli_rss = svc.rss_kib() / 1024, rss_kib() / 1024
        samples.append((now - started, svc_rss, cli_rss))
        print(
            f"{now - started:6.0f} {soak.live:5d} {soak.finished:8d} "
            f"{soak.events:9d} {sum(soak.errors.values()):6d} "
            f"{svc_rss:11.1f} {svc.fd_count():7d} {svc_pct:8.0f} "
            f"{cli_rss:11.1f} {fd_count():7d} {cli_pct:8.0f}",
            flush=True,
        )

    line()
    steady: list[tuple[float, float, float]] = []
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=args.every)
        line()
        if time.monotonic() < soak.until:
            steady.append(samples[-1])
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)  # let the service close the last sockets
    line()
    # growth: the second half of the steady part (past the ramp and the longest stream,
    # 30 s, so the live streams' ages have mixed), as a least-squares slope
    tail = [x for x in steady if x[0] >= args.ramp + 30]
    tail = tail[len(tail) // 2 :]
    if len(tail) >= 3:
        for label, col in (("service", 1), ("client", 2)):
            print(
                f"{label} RSS over t {tail[0][0]:.0f}..{tail[-1][0]:.0f} s: "
                f"{tail[0][col]:.1f} -> {tail[-1][col]:.1f} MiB, slope "
                f"{_slope([(x[0], x[col]) for x in tail]):+.2f} MiB/min"
            )
    print(f"streams finished {soak.finished}, errors {dict(soak.errors) or 'none'}")
    return 0 if not soak.errors else 1


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, MiB per minute."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mr = sum(r for _, r in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    cov = sum((t - mt) * (r - mr) for t, r in points)
    return 60 * cov / var if var else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=2_000, help="concurrent streams (2,000)")
    ap.add_argument("--minutes", type=float, default=10.0, help="soak length (10)")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples (10)")
    ap.add_argument("--ramp", type=float, default=20.0, help="seconds over which slots start")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    if args.streams < 1 or args.minutes <= 0:
        ap.error("--streams >= 1 and --minutes > 0")
    with ServiceProcess(quota=args.streams + 50) as svc:
        print(f"service pid {svc.pid} at {svc.url}; {args.streams} streams x {args.minutes:g} min")
        return asyncio.run(run(svc, args))


if __name__ == "__main__":
    sys.exit(main())
