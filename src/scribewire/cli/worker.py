"""``scribewire worker`` and ``scribewire transcripts``: the Redis Streams pool from a shell.

``scribewire worker`` runs one :class:`~scribewire.pool.Worker` (one per core is the
intended deployment): it transcribes the calls its consumer group hands it with Amazon
Transcribe (``--region``/``--profile``) or another endpoint (``--endpoint``, e.g. the local
service; credentials from the usual AWS chain), publishes their finals into Redis, and
exposes Prometheus metrics on ``--metrics-port``. SIGTERM drains it.

``scribewire transcripts`` prints the finals of the calls in Redis as JSON lines
(``call``, ``id``, ``ch``, ``start_ms``, ``end_ms``, ``text``, ``epoch``, ``worker``);
``--follow`` keeps tailing them, new calls included.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ..errors import ScribewireError
from ..redact import install_log_redaction

__all__ = ["transcripts_main", "worker_main"]


def _redis_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        metavar="URL",
        help="the fleet's Redis (redis://127.0.0.1:6379/0)",
    )


def build_worker_parser() -> argparse.ArgumentParser:
    """The argument parser of ``scribewire worker``."""
    p = argparse.ArgumentParser(
        prog="scribewire worker",
        description="Transcribe the calls a Redis Streams consumer group hands this process.",
    )
    _redis_arg(p)
    p.add_argument("--name", help="consumer name, unique in the fleet (default host-pid)")
    p.add_argument("--capacity", type=int, default=500, help="most calls at once (500)")
    p.add_argument("--lease", type=float, default=10.0, help="liveness lease, s (10)")
    p.add_argument("--renew", type=float, default=2.0, help="lease renewal period, s (2)")
    p.add_argument("--reaper-period", type=float, default=2.0, help="reaper period, s (2)")
    p.add_argument("--block", type=float, default=0.1, help="XREAD block, s (0.1)")
    p.add_argument("--batch", type=int, default=20, help="audio entries per call per read (20)")
    p.add_argument("--ttl", type=float, default=86_400.0, help="finished calls kept, s (1 day)")
    s = p.add_argument_group("speech service")
    s.add_argument("--region", help="AWS region")
    s.add_argument("--profile", help="AWS profile")
    s.add_argument("--endpoint", help="another endpoint, e.g. ws://127.0.0.1:8443 (local)")
    s.add_argument(
        "--assemblyai-endpoint",
        help="AssemblyAI calls (ledger provider=assemblyai) go here instead of AssemblyAI's "
        "host, e.g. ws://127.0.0.1:8443 (the local service); the key is ASSEMBLYAI_API_KEY",
    )
    s.add_argument("--speed", type=float, default=1.0, help="pacing, times real time (1)")
    s.add_argument("--chunk-duration", type=float, default=0.1, help="s per AudioEvent (0.1)")
    s.add_argument("--reconnect-attempts", type=int, default=3, help="per 60 s window (3)")
    s.add_argument(
        "--max-replay-bytes",
        type=int,
        default=1_048_576,
        help="replay ring per call (bytes); audio past it is read back from Redis (1 MiB)",
    )
    _service_args(p)
    return p


def _service_args(p: argparse.ArgumentParser) -> None:
    """The flags of every long-running fleet process: metrics and verbosity."""
    m = p.add_argument_group("metrics")
    m.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    m.add_argument("--metrics-host", default="127.0.0.1", help="their address (127.0.0.1)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v INFO, -vv DEBUG")


def _start_logging(verbose: int) -> None:
    """Log on stderr (-v INFO, -vv DEBUG), secrets redacted."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(message)s")
    install_log_redaction(handlers=logging.getLogger().handlers)


def _require_redis(command: str) -> int | None:
    """None when redis-py (the ``pool`` extra) imports; else say on stderr that
    ``scribewire COMMAND`` needs it and return the exit status, 2. (The fleet's packages
    import redis lazily, so importing them proves nothing.)"""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError as exc:
        sys.stderr.write(
            f"scribewire {command}: needs redis-py: pip install 'scribewire[pool]' ({exc})\n"
        )
        return 2
    return None


def worker_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scribewire worker``; returns the exit status (0 after a drain)."""
    args = build_worker_parser().parse_args(argv)
    _start_logging(args.verbose)
    if (missing := _require_redis("worker")) is not None:
        return missing
    from ..clients import run
    from ..pool import Worker, WorkerOptions

    try:
        options = WorkerOptions(
            name=args.name,
            capacity=args.capacity,
            lease=args.lease,
            renew=args.renew,
            reaper_period=args.reaper_period,
            block=args.block,
            batch=args.batch,
            ttl=args.ttl,
        )
        observer = _metrics_observer(args)
        client: dict[str, Any] = {
            "region": args.region,
            "profile": args.profile,
            "endpoint": args.endpoint,
            "assemblyai_endpoint": args.assemblyai_endpoint,
            "speed": args.speed,
            "chunk_duration": args.chunk_duration,
            "reconnect_attempts": args.reconnect_attempts,
            "max_replay_nbytes": args.max_replay_bytes,
        }
        worker = Worker(args.redis, client, options, observer=observer)
    except ScribewireError as exc:
        sys.stderr.write(f"scribewire worker: error: {exc}\n")
        return 2

    async def main() -> None:
        worker.install_signals()
        print(f"worker {worker.name} on {_safe_url(args.redis)}", flush=True)
        await worker.run()

    return _run_service("worker", lambda: run(main()))


def _metrics_observer(args: argparse.Namespace) -> Any:
    """A PrometheusObserver serving ``--metrics-port`` (said on stdout), or None."""
    if args.metrics_port is None:
        return None
    from ..metrics import PrometheusObserver

    observer = PrometheusObserver()
    port = observer.serve(args.metrics_port, args.metrics_host)
    print(f"metrics on http://{args.metrics_host}:{port}/metrics", flush=True)
    return observer


def _run_service(command: str, start: Callable[[], object]) -> int:
    """Run a fleet process' loop; its failures as one line on stderr, not a traceback."""
    try:
        start()
    except KeyboardInterrupt:
        return 130
    except (ScribewireError, OSError) as exc:
        sys.stderr.write(f"scribewire {command}: error: {exc}\n")
        return 1
    except Exception as exc:  # redis-py's errors: one line, not a traceback
        if type(exc).__module__.startswith("redis"):
            sys.stderr.write(f"scribewire {command}: Redis: {exc}\n")
            return 1
        raise
    return 0


def _safe_url(url: str) -> str:
    """The Redis URL without a password."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"


def build_transcripts_parser() -> argparse.ArgumentParser:
    """The argument parser of ``scribewire transcripts``."""
    p = argparse.ArgumentParser(
        prog="scribewire transcripts",
        description="Print the finals of calls in Redis as JSON lines; --follow tails them.",
    )
    _redis_arg(p)
    p.add_argument("calls", nargs="*", metavar="CALL", help="call ids (default: every call)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new finals")
    p.add_argument(
        "--rescan", type=float, default=2.0, help="with --follow: look for new calls every N s"
    )
    return p


def transcripts_main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of ``scribewire transcripts``; returns the exit status."""
    args = build_transcripts_parser().parse_args(argv)
    out = out or sys.stdout
    if (missing := _require_redis("transcripts")) is not None:
        return missing
    import redis

    from ..pool.keys import CallKeys

    r = redis.Redis.from_url(args.redis)
    positions: dict[Any, Any] = {}
    names: dict[str, str] = {}

    def discover() -> None:
        if args.calls:
            for c in args.calls:
                k = CallKeys(c).transcript
                positions.setdefault(k, "0-0")
                names[k] = c
            return
        for key in r.scan_iter(match="sw:{*}:t:*", count=1000):
            k = key.decode()
            if k not in positions:
                positions[k] = "0-0"
                names[k] = k.split(":t:", 1)[1]

    def emit(entries: Any) -> None:
        for key, items in entries or []:
            k = key.decode() if isinstance(key, bytes) else key
            for eid, fields in items:
                positions[k] = eid.decode()
                row = {"call": names[k], "id": positions[k]}
                for f, v in fields.items():
                    name = f.decode()
                    text = v.decode()
                    row[name] = int(text) if name in ("start_ms", "end_ms", "epoch") else text
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()

    try:
        discover()
        if positions:
            emit(r.xread(dict(positions), count=1000))
            while True:  # the rest of long transcripts
                before = dict(positions)
                emit(r.xread(dict(positions), count=1000))
                if positions == before:
                    break
        if not args.follow:
            return 0
        last_scan = time.monotonic()
        while True:
            if time.monotonic() - last_scan >= args.rescan:
                discover()
                last_scan = time.monotonic()
            if not positions:
                time.sleep(args.rescan)
                continue
            emit(r.xread(dict(positions), count=1000, block=int(args.rescan * 1000)))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    except redis.exceptions.RedisError as exc:
        sys.stderr.write(f"scribewire transcripts: Redis: {exc}\n")
        return 1
    finally:
        r.close()
