"""``scribewire ingest``: the media front door from a shell.

It listens for the WebSockets contact-center platforms open (``/twilio``: Twilio Media
Streams, ``/audiohook``: Genesys Cloud AudioHook, ``/ws``: a generic binary WebSocket such
as FreeSWITCH ``mod_audio_fork``), writes each call's audio to the fleet's Redis for the
workers, and answers the platforms' protocols. No speech-to-text, no cloud credentials.
SIGTERM (or Ctrl-C) stops it: AudioHook sessions are asked to reconnect (to another front
door), the other calls' sockets are closed and their calls ended.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from collections.abc import Sequence

from ..errors import ScribewireError
from .worker import (
    _metrics_observer,
    _redis_arg,
    _require_redis,
    _run_service,
    _safe_url,
    _service_args,
    _start_logging,
)

__all__ = ["build_ingest_parser", "ingest_main"]


def build_ingest_parser() -> argparse.ArgumentParser:
    """The argument parser of ``scribewire ingest``."""
    from ..ingest.limits import DEFAULT_ENTRY_MS

    p = argparse.ArgumentParser(
        prog="scribewire ingest",
        description="Terminate Twilio Media Streams, Genesys AudioHook and generic media "
        "WebSockets; write each call's audio to Redis Streams for the workers.",
    )
    _redis_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (8080; 0: a free one)")
    p.add_argument(
        "--entry-ms", type=int, default=DEFAULT_ENTRY_MS, help="audio per Redis entry, ms (200)"
    )
    p.add_argument(
        "--min-free-capacity",
        type=int,
        default=1,
        help="refuse new calls while the workers' free capacity is below this (1; 0: never)",
    )
    p.add_argument("--language", default="en-US", help="language of Twilio calls (en-US)")
    p.add_argument(
        "--provider",
        choices=("transcribe", "assemblyai"),
        default="transcribe",
        help="the speech provider the workers use for these calls (transcribe)",
    )
    p.add_argument("--tls-cert", help="PEM certificate chain: serve wss://")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    _service_args(p)
    return p


def ingest_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scribewire ingest``; returns the exit status."""
    args = build_ingest_parser().parse_args(argv)
    _start_logging(args.verbose)
    if (missing := _require_redis("ingest")) is not None:
        return missing
    from ..ingest import IngestServer

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            sys.stderr.write(f"scribewire ingest: error: the TLS certificate: {exc}\n")
            return 2
    try:
        observer = _metrics_observer(args)
        door = IngestServer(
            args.redis,
            host=args.host,
            port=args.port,
            entry_ms=args.entry_ms,
            min_free_capacity=args.min_free_capacity,
            language=args.language,
            provider=args.provider,
            ssl=context,
            observer=observer,
        )
    except ScribewireError as exc:
        sys.stderr.write(f"scribewire ingest: error: {exc}\n")
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await door.start()
        scheme = "wss" if context else "ws"
        print(
            f"ingest on {scheme}://{args.host}:{door.port} (/twilio, /audiohook, /ws) -> "
            f"{_safe_url(args.redis)}",
            flush=True,
        )
        await stop.wait()
        await door.close()

    return _run_service("ingest", lambda: asyncio.run(main()))
