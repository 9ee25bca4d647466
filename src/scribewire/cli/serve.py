"""``scribewire serve``: run the local Transcribe-compatible service from the command line.

``serve_main(argv)`` parses the arguments, starts :class:`LocalTranscribeService` and runs
until interrupted. It prints the base URL, the region and the access key id on stdout (the
secret only when it was generated here and ``--print-secret`` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ParameterError
from ..redact import install_log_redaction
from ..server.recognizers import RECOGNIZERS, ReplayScript
from ..server.recpool import pooled_factory
from ..server.service import LocalTranscribeService
from ..transcribe.credentials import Credentials
from .local import add_processes_flag, require_recognizer

__all__ = ["build_parser", "serve_main"]


def build_parser(prog: str = "scribewire serve") -> argparse.ArgumentParser:
    """The argument parser of ``scribewire serve``."""
    p = argparse.ArgumentParser(prog=prog, description="Local Amazon Transcribe streaming service.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8443, help="TCP port, 0 = any free port (default 8443)"
    )
    p.add_argument("--region", default="us-east-1", help="region in the accepted credential scope")
    p.add_argument("--access-key-id", help="accepted access key id (default: generated)")
    p.add_argument("--secret-access-key", help="its secret (default: generated)")
    p.add_argument("--session-token", help="required X-Amz-Security-Token, if any")
    p.add_argument("--print-secret", action="store_true", help="print generated secrets")
    p.add_argument(
        "--assemblyai-api-key",
        metavar="KEY",
        help="the key AssemblyAI clients present on /v3/ws and /v3/token (default: generated)",
    )
    p.add_argument("--recognizer", choices=RECOGNIZERS, default="pocketsphinx")
    add_processes_flag(p)
    p.add_argument(
        "--replay-script",
        help="JSON list of turns {start_s, end_s, text, channel} for --recognizer replay "
        "(the shape of MANIFEST.json 'turns')",
    )
    p.add_argument("--quota", type=int, default=25, help="concurrent streams (default 25)")
    p.add_argument("--idle-timeout", type=float, default=15.0, help="seconds without audio (15)")
    p.add_argument(
        "--send-timeout",
        type=float,
        default=10.0,
        help="seconds a message to a client may take to leave; then it is closed (10)",
    )
    p.add_argument("--max-duration", type=float, default=14_400.0, help="seconds of audio (4 h)")
    p.add_argument(
        "--auth-failure",
        choices=("http", "frame"),
        default="http",
        help="answer bad signatures with HTTP 403 or an UnrecognizedClientException frame",
    )
    p.add_argument("--verify-event-signatures", action="store_true")
    p.add_argument(
        "--no-digest",
        dest="digest",
        action="store_false",
        help="skip the SHA-256 of every stream's audio (the stats' audio_sha256; for load runs)",
    )
    p.add_argument("--tls-cert", help="PEM certificate chain: serve wss://")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("-v", "--verbose", action="store_true", help="log every stream")
    return p


def _service(args: argparse.Namespace) -> tuple[LocalTranscribeService, Callable[[], None]]:
    """The service the arguments describe, and what releases its recognizer processes."""
    require_recognizer(args.recognizer)
    credentials = None
    if args.access_key_id or args.secret_access_key:
        if not (args.access_key_id and args.secret_access_key):
            raise ParameterError("--access-key-id and --secret-access-key go together")
        credentials = Credentials(args.access_key_id, args.secret_access_key, args.session_token)
    replay = None
    if args.recognizer == "replay":
        if not args.replay_script:
            raise ParameterError("--recognizer replay needs --replay-script")
        with open(args.replay_script, encoding="utf-8") as f:
            turns = json.load(f)
        if isinstance(turns, dict):
            turns = turns.get("turns", [])
        replay = {ch: ReplayScript.from_turns(turns, channel=ch) for ch in (0, 1)}
    context = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise ParameterError("--tls-cert and --tls-key go together")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    recognizer, release = pooled_factory(
        args.recognizer, args.recognizer_processes, replay=replay
    )
    try:
        svc = _build(args, credentials, recognizer, replay, context)
    except BaseException:
        release()
        raise
    return svc, release


def _build(
    args: argparse.Namespace,
    credentials: Credentials | None,
    recognizer: Any,
    replay: Any,
    context: ssl.SSLContext | None,
) -> LocalTranscribeService:
    return LocalTranscribeService(
        host=args.host,
        port=args.port,
        region=args.region,
        credentials=credentials,
        recognizer=recognizer,
        replay=replay,
        quota=args.quota,
        idle_timeout=args.idle_timeout,
        max_audio_seconds=args.max_duration,
        auth_failure=args.auth_failure,
        verify_event_signatures=args.verify_event_signatures,
        ssl=context,
        send_timeout=args.send_timeout,
        digest=args.digest,
        assemblyai_api_key=args.assemblyai_api_key,
    )


async def _run(svc: LocalTranscribeService, args: argparse.Namespace) -> None:
    await svc.start()
    print(f"listening on {svc.url}  region {svc.region}", flush=True)
    print(f"access key id {svc.credentials.access_key_id}", flush=True)
    if args.print_secret and not args.secret_access_key:
        print(f"secret access key {svc.credentials.secret_access_key}", flush=True)
    print(f"AssemblyAI v3 at {svc.url}/v3/ws", flush=True)
    if args.print_secret and not args.assemblyai_api_key:
        print(f"assemblyai api key {svc.assemblyai_api_key.reveal()}", flush=True)
    try:
        await svc.serve_forever()
    finally:
        await svc.stop()


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scribewire serve``; returns the exit status.

    Raises:
        ParameterError: inconsistent arguments (also reported by ``cli.py``).
        LocalServiceUnavailable: the recognizer's extra is not installed.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    install_log_redaction(handlers=logging.getLogger().handlers)
    svc, release = _service(args)
    try:
        asyncio.run(_run(svc, args))
    except KeyboardInterrupt:
        return 130
    finally:
        release()  # the recognizer processes stop with the service
    return 0
