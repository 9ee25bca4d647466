"""The local service's memory over many upgrade requests that never become streams.

Each request is a plain HTTP GET on a Transcribe path without the ``Upgrade`` header: the
service's ``process_request`` sees it (and, signed, verifies the URL), then websockets
refuses it (426) and no stream handler ever runs. Modes:

- ``signed``: a valid presigned URL (the service in its default ``--auth-failure http``);
- ``unsigned``: no signature at all, the service in ``--auth-failure frame`` (anyone can
  send these).

The service runs in a child process (``_service_proc``); its RSS is printed every
``--every`` requests. Run: ``python bench/rejected_upgrades.py [--requests 20000]
[--mode signed unsigned] [--concurrency 16]``. Loopback only; bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _service_proc import AK, REGION, SK, ServiceProcess  # noqa: E402

from scribewire.transcribe.credentials import Credentials  # noqa: E402
from scribewire.transcribe.params import StreamParams  # noqa: E402
from scribewire.transcribe.session import TranscribeSession  # noqa: E402

_LINGER_RST = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT left per request


async def _one(host: str, port: int, target: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    data = await reader.read(65536)
    while True:
        more = await reader.read(65536)
        if not more:
            break
        data += more
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    writer.close()
    status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else b"0"
    return int(status)


async def _guarded(sem: asyncio.Semaphore, host: str, port: int, target: str) -> int:
    async with sem:
        return await _one(host, port, target)


def _target(svc: ServiceProcess, signed: bool) -> str:
    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=16000)
    if not signed:
        return params.path + "?language-code=en-US&media-encoding=pcm&sample-rate=16000"
    url = TranscribeSession(params).request_url(
        Credentials(AK, SK), time.time(), region=REGION, endpoint=svc.url
    )
    return "/" + url.split("/", 3)[3]


async def _run(svc: ServiceProcess, signed: bool, requests: int, every: int, conc: int) -> None:
    host, port = svc.host_port
    statuses: dict[int, int] = {}
    done = 0
    target = _target(svc, signed)
    started = time.monotonic()
    print(f"  {'requests':>9} {'server RSS KiB':>15}  statuses")
    print(f"  {0:>9} {svc.rss_kib():>15}")
    while done < requests:
        if signed and time.monotonic() - started > 240:  # keep the URL inside X-Amz-Expires
            target, started = _target(svc, signed), time.monotonic()
        batch = min(every, requests - done)
        sem = asyncio.Semaphore(conc)
        for s in await asyncio.gather(*(_guarded(sem, host, port, target) for _ in range(batch))):
            statuses[s] = statuses.get(s, 0) + 1
        done += batch
        print(f"  {done:>9} {svc.rss_kib():>15}  {dict(sorted(statuses.items()))}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--every", type=int, default=2_000, help="print RSS every N requests")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--mode", nargs="+", choices=("signed", "unsigned"), default=["signed", "unsigned"])
    args = ap.parse_args(argv)
    for mode in args.mode:
        extra = ["--auth-failure", "frame"] if mode == "unsigned" else []
        with ServiceProcess(extra=extra) as svc:
            print(f"{mode}: {args.requests} upgrade requests without Upgrade header")
            asyncio.run(_run(svc, mode == "signed", args.requests, args.every, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
