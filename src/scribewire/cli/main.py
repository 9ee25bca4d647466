"""The ``scribewire`` command: ``transcribe`` recordings, ``serve`` the local service.

``scribewire transcribe FILE...`` streams each file paced like live audio (``--speed``
for the local service) with ``--concurrency`` streams at once, prints final transcripts
(``--format text|jsonl|srt|vtt``, ``--out``), live partials on a terminal (stderr), a
progress line per file for batches and a summary at the end. With AWS credentials it
talks to Amazon Transcribe in ``--region``; with none and no ``--endpoint`` it starts
the local service in-process and says so on stderr.

Stereo files are streamed with channel identification (``ch_0``/``ch_1``), or one stream
per channel with ``--split-channels``; ``--call-analytics`` streams them to the Call
Analytics path with the agent on ``--agent-channel``. Files with more channels are
downmixed to mono.

Every failure (missing or unreadable file, unsupported format, invalid parameter,
unreachable endpoint, service exception) prints one line on stderr naming the file once;
the other files are still processed and the exit status is 1 at the end (2 for a usage
error). ``-v`` logs at INFO on stderr, ``-vv`` at DEBUG (websockets' frames too); every log
line and error line has credentials redacted (``scribewire.redact``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..assemblyai.events import Turn
from ..assemblyai.params import StreamingParams
from ..audio import RawFormat, is_headerless, open_audio
from ..clients import AssemblyAIClient, Params, Stream, TranscribeClient, run
from ..errors import AudioFileError, CredentialsError, ScribewireError
from ..redact import install_log_redaction, redact
from ..transcribe.credentials import Credentials
from ..transcribe.events import ChannelDefinition, ConfigurationEvent, Event
from ..transcribe.params import CallAnalyticsParams, MedicalStreamParams, StreamParams
from ..transport.credentials import resolve_credentials
from . import assemblyai as aai
from .flags import (
    HelpFormatter,
    add_param_flags,
    describe_error,
    flag_name,
    foreign_flags,
    param_values,
    subparser,
)
from .local import add_processes_flag, require_recognizer
from .output import FORMATS, Formatter, Segment, make_formatter, segments
from .progress import Display, make_display
from .version import VersionAction

__all__ = ["build_parser", "main", "transcribe_main"]

#: StreamParams fields set by the command itself, not by a flag of their own.
_DERIVED = frozenset(
    {"sample_rate", "media_encoding", "enable_channel_identification", "number_of_channels"}
)
_MIN_RATE, _MAX_RATE = 8_000, 48_000  # Transcribe's sample-rate range (protocol.md §3.3)


#: The operations whose parameters are flags, and the flag that picks each.
_PARAM_CLASSES = (StreamParams, MedicalStreamParams, CallAnalyticsParams)
_LABELS = {
    StreamParams: "standard",
    MedicalStreamParams: "--medical",
    CallAnalyticsParams: "--call-analytics",
}
_MEDICAL_DEFAULTS = {"specialty": "PRIMARYCARE", "type": "CONVERSATION"}
_DESCRIPTION = (
    "Stream audio files paced like live audio (faster with --speed on the local service), "
    "several at once, and print their final transcripts; on a terminal, live partials and "
    "progress go to stderr. Without AWS credentials and --endpoint, the local Transcribe "
    "service runs in-process."
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``scribewire`` (subcommands ``transcribe`` and ``serve``)."""
    parser = argparse.ArgumentParser(
        prog="scribewire",
        description="Stream audio to Amazon Transcribe (or the local service) at wire speed.",
    )
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="run the local Transcribe-compatible service", add_help=False)
    sub.add_parser(
        "worker", help="transcribe calls from Redis Streams (a pool worker)", add_help=False
    )
    sub.add_parser(
        "transcripts", help="print or follow the finals of calls in Redis", add_help=False
    )
    sub.add_parser(
        "ingest",
        help="the media front door: Twilio, AudioHook, generic WebSockets into Redis",
        add_help=False,
    )
    t = sub.add_parser(
        "transcribe",
        help="transcribe audio files",
        description=_DESCRIPTION,
        usage="scribewire transcribe [options] FILE...",
        formatter_class=HelpFormatter,
    )
    t.add_argument("files", nargs="+", metavar="FILE", help="WAV, FLAC, Ogg/Opus or raw audio")
    out = t.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="text", help="transcript format (text)")
    out.add_argument(
        "--out",
        metavar="PATH",
        help="write transcripts here instead of stdout (a directory for srt/vtt of several files)",
    )
    out.add_argument("--no-partials", action="store_true", help="no live partials on a terminal")
    out.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log on stderr: -v INFO, -vv DEBUG (credentials redacted)",
    )
    run_ = t.add_argument_group("streaming")
    run_.add_argument("--concurrency", type=int, default=4, metavar="N", help="streams at once (4)")
    run_.add_argument(
        "--speed", type=float, default=1.0, help="pacing, times real time (1; AWS needs 1)"
    )
    run_.add_argument(
        "--chunk-duration",
        type=float,
        default=0.1,
        metavar="S",
        help="seconds per AudioEvent (0.1)",
    )
    run_.add_argument(
        "--split-channels", action="store_true", help="one mono stream per channel of stereo files"
    )
    run_.add_argument(
        "--raw-format",
        metavar="RATE[:CHANNELS[:ENCODING]]",
        help="how to read headerless raw files, e.g. 16000:1:pcm_s16le or 8000:2:mulaw",
    )
    aws = t.add_argument_group("service")
    aws.add_argument(
        "--provider",
        choices=("transcribe", "assemblyai"),
        default="transcribe",
        help="the streaming service (transcribe)",
    )
    aws.add_argument(
        "--api-key",
        metavar="KEY",
        help="AssemblyAI API key (default: ASSEMBLYAI_API_KEY; never printed)",
    )
    aws.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    aws.add_argument("--profile", help="AWS profile for credentials and region")
    aws.add_argument("--endpoint", metavar="URL", help="another endpoint, e.g. ws://127.0.0.1:8443")
    aws.add_argument(
        "--local",
        action="store_true",
        help="use the in-process local service even with credentials",
    )
    aws.add_argument(
        "--recognizer",
        choices=("pocketsphinx", "replay", "null"),
        default="pocketsphinx",
        help="recognizer of the in-process local service (pocketsphinx)",
    )
    add_processes_flag(aws)
    p = t.add_argument_group("Amazon Transcribe stream parameters")
    p.add_argument(
        "--sample-rate", type=int, metavar="HZ", help="declared rate (default: the file's)"
    )
    p.add_argument("--call-analytics", action="store_true", help="Call Analytics path (stereo)")
    p.add_argument(
        "--agent-channel", type=int, choices=(0, 1), default=0, help="agent's channel (0)"
    )
    p.add_argument(
        "--medical", action="store_true", help="Medical path (--specialty, --type; en-US)"
    )
    add_param_flags(p, _PARAM_CLASSES, exclude=_DERIVED, labels=_LABELS, defaults=_MEDICAL_DEFAULTS)
    aai.add_flags(
        t,
        t.add_argument_group("AssemblyAI stream parameters (--provider assemblyai)"),
    )
    return parser


# --------------------------------------------------------------------------- jobs


@dataclass
class _Job:
    path: str
    name: str
    channel: int | None = None
    params: Params | StreamingParams | None = None
    configuration: ConfigurationEvent | None = None
    audio_seconds: float = 0.0
    error: str | None = None


@dataclass
class _Summary:
    files: int = 0
    streams: int = 0
    audio: dict[str, float] = field(default_factory=dict)  # path -> seconds, files done
    errors: int = 0
    done: int = 0
    reconnects: int = 0
    dropped_seconds: float = 0.0
    fatal: bool = False  # nothing could start (no credentials): no summary line
    started: float = field(default_factory=time.monotonic)


def _raw_format(spec: str | None) -> RawFormat | None:
    if spec is None:
        return None
    parts = spec.split(":")
    try:
        rate = int(parts[0])
        channels = int(parts[1]) if len(parts) > 1 else 1
    except ValueError:
        raise ScribewireError(
            f"--raw-format {spec!r}: expected RATE[:CHANNELS[:ENCODING]]"
        ) from None
    encoding = parts[2] if len(parts) > 2 else "pcm_s16le"
    return RawFormat(sample_rate=rate, channels=channels, encoding=encoding)


def _raw_for(path: str, raw: RawFormat | None) -> RawFormat | None:
    """``--raw-format`` applies to headerless files only (by suffix, as ``open_audio``)."""
    if not is_headerless(path):
        return None
    if raw is None and Path(path).is_file():
        raise AudioFileError(
            "headerless raw audio: give --raw-format RATE:CHANNELS:ENCODING "
            "(e.g. 16000:1:pcm_s16le or 8000:2:mulaw)",
            path=path,
        )
    return raw


def _extra_params(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    out = param_values(args, cls)
    out.pop("sample_rate", None)  # the stream's rate is decided per file (--sample-rate)
    if not any(
        k in out for k in ("language_code", "identify_language", "identify_multiple_languages")
    ):
        out["language_code"] = "en-US"
    return out


def _params_for(
    args: argparse.Namespace, rate: int, channels: int
) -> tuple[Params, ConfigurationEvent | None]:
    if args.call_analytics:
        if channels != 2:
            raise ScribewireError(
                f"--call-analytics needs a stereo file, this one has {channels} channel(s)"
            )
        kwargs = _extra_params(args, CallAnalyticsParams)
        agent = args.agent_channel
        config = ConfigurationEvent(
            channel_definitions=(
                ChannelDefinition(channel_id=agent, participant_role="AGENT"),
                ChannelDefinition(channel_id=1 - agent, participant_role="CUSTOMER"),
            )
        )
        return CallAnalyticsParams(sample_rate=rate, **kwargs), config
    ident: dict[str, Any] = (
        {"enable_channel_identification": True, "number_of_channels": 2} if channels == 2 else {}
    )
    if args.medical:
        kwargs = {**_MEDICAL_DEFAULTS, **_extra_params(args, MedicalStreamParams)}
        return MedicalStreamParams(sample_rate=rate, **{**kwargs, **ident}), None
    kwargs = {**_extra_params(args, StreamParams), **ident}
    return StreamParams(sample_rate=rate, **kwargs), None


def _check_params(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every parameter rule that does not depend on a file, as a usage error (exit 2)."""
    transcribe_only = [f.name for c in _PARAM_CLASSES for f in c.fields() if f.name not in _DERIVED]
    if args.provider == "assemblyai":
        shared = set(aai.given(args)) | {"sample_rate"}
        foreign = [
            flag_name(n)
            for n in transcribe_only
            if n not in shared and getattr(args, n, None) is not None
        ]
        foreign += [
            f
            for f, on in (("--medical", args.medical), ("--call-analytics", args.call_analytics))
            if on
        ]
        if foreign:
            parser.error(f"{', '.join(foreign)}: not a parameter of AssemblyAI streaming")
        try:
            aai.params_for(args, 16_000)
        except ScribewireError as exc:
            parser.error(describe_error(exc))
        return
    foreign_aai = [flag_name(n) for n in aai.given(args) if n not in transcribe_only]
    if foreign_aai or args.api_key:
        parser.error(
            f"{', '.join(foreign_aai or ['--api-key'])}: AssemblyAI flags need "
            "--provider assemblyai"
        )
    if args.medical and args.call_analytics:
        parser.error("--medical and --call-analytics exclude each other")
    cls: type[StreamParams | MedicalStreamParams | CallAnalyticsParams] = StreamParams
    if args.medical:
        cls = MedicalStreamParams
    elif args.call_analytics:
        cls = CallAnalyticsParams
    names = [f.name for c in _PARAM_CLASSES for f in c.fields() if f.name not in _DERIVED]
    foreign = foreign_flags(args, dict.fromkeys(names), cls)
    if foreign:
        parser.error(f"{', '.join(foreign)}: not a parameter of {cls.operation.value}")
    try:
        _params_for(args, 16_000, 2 if args.call_analytics else 1)
    except ScribewireError as exc:
        parser.error(describe_error(exc))


def _plan(args: argparse.Namespace, raw: RawFormat | None, path: str) -> list[_Job]:
    """One job per stream for ``path`` (two with --split-channels), params decided."""
    name = Path(path).name
    with open_audio(path, raw_format=_raw_for(path, raw)) as src:
        rate = args.sample_rate or min(max(src.sample_rate, _MIN_RATE), _MAX_RATE)
        duration = src.duration
        file_channels = src.channels
    if args.provider == "assemblyai":
        # no channel identification in AssemblyAI: one mono session per channel
        aparams = aai.params_for(args, rate)
        if file_channels == 1:
            return [_Job(path, name, None, aparams, None, duration)]
        return [
            _Job(path, f"{name}#ch{ch}", ch, aparams, None, duration) for ch in range(file_channels)
        ]
    if args.split_channels and file_channels > 1 and not args.call_analytics:
        jobs = []
        for ch in range(file_channels):
            params, _ = _params_for(args, rate, 1)
            jobs.append(_Job(path, f"{name}#ch{ch}", ch, params, None, duration))
        return jobs
    channels = 2 if file_channels == 2 else 1
    params, config = _params_for(args, rate, channels)
    return [_Job(path, name, None, params, config, duration)]


# --------------------------------------------------------------------------- running


def _show(seg: Segment, job: _Job, formatter: Formatter, display: Display) -> None:
    """A partial to the live display; a final to the display and the transcript."""
    if seg.is_partial:
        display.partial(job, seg.label, seg.text, seg.end)
    else:
        display.final(job, seg.end)
        formatter.write(seg)


async def _transcribe_job(
    client: TranscribeClient | AssemblyAIClient,
    job: _Job,
    formatter: Formatter,
    display: Display,
    raw: RawFormat | None,
) -> Stream:
    assert job.params is not None
    raw_format = _raw_for(job.path, raw)
    params = job.params
    if isinstance(params, StreamingParams):
        assert isinstance(client, AssemblyAIClient)
        label = "" if job.channel is None else f"ch_{job.channel}"

        def show_turn(event: Any) -> None:
            if not isinstance(event, Turn):
                return
            seg = aai.segment_of(event, params, job.name)
            if label and not seg.label:
                seg = dataclasses.replace(seg, label=label)
            _show(seg, job, formatter, display)

        formatter.begin(job.name)
        return await client._stream_source(
            lambda: open_audio(job.path, raw_format=raw_format),
            params,
            job.channel,
            show_turn,
            finish=lambda: formatter.end(job.name),
        )
    assert isinstance(client, TranscribeClient)
    channels = params.channels if job.configuration is None else 2

    def show(event: Event) -> None:
        for seg in segments(event, job.name):
            _show(seg, job, formatter, display)

    formatter.begin(job.name)
    return await client._stream_source(
        lambda: open_audio(job.path, raw_format=raw_format),
        params,
        job.configuration,
        channels,
        job.channel,
        show,
        finish=lambda: formatter.end(job.name),
    )


def _error_text(exc: BaseException) -> str:
    """The error part of an error line (after ``error: <file>:``): the file is not named
    again, and no credential appears."""
    if isinstance(exc, AudioFileError) and exc.path is not None:
        text = exc.reason
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, ScribewireError) and type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return redact(text)


def _setup_logging(verbose: int, err: TextIO, stack: contextlib.ExitStack) -> None:
    """``-v``: INFO, ``-vv``: DEBUG on ``err`` until ``stack`` closes; the redaction
    filter on the handler sees every record, from any logger."""
    if not verbose:
        return
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    install_log_redaction(handlers=[handler])

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(level)

    stack.callback(restore)


async def _run_jobs(
    args: argparse.Namespace,
    jobs: list[_Job],
    client_options: dict[str, Any],
    formatters: Iterator[tuple[_Job, Formatter]] | list[tuple[_Job, Formatter]],
    display: Display,
    summary: _Summary,
    raw: RawFormat | None,
) -> None:
    client: TranscribeClient | AssemblyAIClient
    if args.provider == "assemblyai":
        client = AssemblyAIClient(
            speed=args.speed, chunk_duration=args.chunk_duration, **client_options
        )
    else:
        client = TranscribeClient(
            speed=args.speed, chunk_duration=args.chunk_duration, **client_options
        )
    limit = asyncio.Semaphore(max(1, args.concurrency))

    async def one(job: _Job, formatter: Formatter) -> None:
        async with limit:
            display.started(job)
            try:
                stream = await _transcribe_job(client, job, formatter, display, raw)
                summary.reconnects += stream.supervisor.reconnects
                summary.dropped_seconds += stream.ledger.dropped_seconds
            except (ScribewireError, OSError, ValueError) as exc:
                summary.errors += 1
                display.finished(job, _error_text(exc))
                return
            summary.done += 1
            summary.audio.setdefault(job.path, job.audio_seconds)  # once per file
            display.finished(job)

    await asyncio.gather(*(one(job, fmt) for job, fmt in formatters))


#: ``end()``'s deadline against the in-process service, s. It stays a deadline (a service
#: cannot hold ``end()`` forever), but the embedded recognizer shares this machine's cores
#: with every stream of ``--concurrency``: with pocketsphinx (about 0.5 CPU s per audio s)
#: eight streams on two cores finish their last words well after the 30 s that suits a
#: cloud service, and a stream ended at 30 s would be an error for no fault of anyone's.
LOCAL_END_TIMEOUT = 600.0


def _client_options(args: argparse.Namespace, err: TextIO, stack: contextlib.AsyncExitStack) -> Any:
    """Decide the endpoint: AWS, --endpoint, or the in-process local service."""

    async def decide() -> dict[str, Any]:
        if args.provider == "assemblyai":
            return await _assemblyai_options(args, err, stack)
        if args.endpoint and not args.local:
            return {
                "endpoint": args.endpoint,
                "region": args.region or "us-east-1",
                "profile": args.profile,
            }
        if not args.local:
            # AWS was asked for by name: a failure to find credentials is an error, never a
            # silent switch to the local service
            asked = [
                flag
                for flag, given in (
                    ("--region", args.region),
                    ("--profile", args.profile),
                    ("AWS_PROFILE", os.environ.get("AWS_PROFILE")),
                )
                if given
            ]
            try:
                await asyncio.to_thread(resolve_credentials, profile=args.profile)
            except CredentialsError as exc:
                if asked:
                    raise CredentialsError(
                        f"{' and '.join(asked)} asked for Amazon Transcribe, but {exc}"
                    ) from None
            else:
                return {"region": args.region, "profile": args.profile}
        require_recognizer(args.recognizer)
        from ..server import LocalTranscribeService

        recognizer, where = _local_recognizer(args, stack)
        svc = LocalTranscribeService(recognizer=recognizer, quota=max(25, 2 * args.concurrency))
        await stack.enter_async_context(svc)
        why = "--local given" if args.local else "no AWS credentials found"
        err.write(
            f"scribewire: {why}: using the local Transcribe service at {svc.url} "
            f"(recognizer {args.recognizer}, {where})\n"
        )
        credentials: Credentials = svc.credentials
        return {
            "endpoint": svc.url,
            "region": svc.region,
            "credentials": credentials,
            "end_timeout": LOCAL_END_TIMEOUT,
        }

    return decide()


def _local_recognizer(
    args: argparse.Namespace, stack: contextlib.AsyncExitStack
) -> tuple[Any, str]:
    """The in-process service's recognizer (a process pool for pocketsphinx unless
    ``--recognizer-processes 0``; closed by ``stack`` after the service) and where it runs."""
    from ..server.recpool import RecognizerPool, pooled_factory

    recognizer, release = pooled_factory(args.recognizer, args.recognizer_processes)
    stack.callback(release)  # registered first: runs after the service has stopped
    if isinstance(recognizer, RecognizerPool):
        return recognizer, f"in-process, {recognizer.processes} recognizer processes"
    return recognizer, "in-process"


async def _assemblyai_options(
    args: argparse.Namespace, err: TextIO, stack: contextlib.AsyncExitStack
) -> dict[str, Any]:
    """AssemblyAI: --endpoint, the service with a key, or the in-process local service."""
    key = args.api_key or os.environ.get("ASSEMBLYAI_API_KEY")
    if args.endpoint and not args.local:
        return {"endpoint": args.endpoint, "api_key": key or "local"}
    if key and not args.local:
        return {"api_key": key}
    require_recognizer(args.recognizer)
    from ..server import LocalTranscribeService

    recognizer, where = _local_recognizer(args, stack)
    svc = LocalTranscribeService(recognizer=recognizer, quota=max(25, 2 * args.concurrency))
    local_key = getattr(svc, "assemblyai_api_key", None)
    if local_key is None:
        raise CredentialsError(
            "no AssemblyAI API key (--api-key or ASSEMBLYAI_API_KEY), and this build's "
            "local service has no AssemblyAI endpoint: give a key or --endpoint"
        )
    await stack.enter_async_context(svc)
    why = "--local given" if args.local else "no AssemblyAI API key found"
    err.write(
        f"scribewire: {why}: using the local AssemblyAI service at {svc.url} "
        f"(recognizer {args.recognizer}, {where})\n"
    )
    reveal = getattr(local_key, "reveal", None)
    return {
        "endpoint": svc.url,
        "api_key": reveal() if reveal else str(local_key),
        "end_timeout": LOCAL_END_TIMEOUT,
    }


def transcribe_main(
    argv: Sequence[str], *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``scribewire transcribe``; returns the exit status (0, 1 on any error, 2 on usage)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = build_parser()
    args = parser.parse_args(["transcribe", *argv])
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    if not (args.speed > 0) or not (0 < args.chunk_duration <= 1.0):
        parser.error("--speed must be > 0 and --chunk-duration in (0, 1] seconds")
    try:
        raw = _raw_format(args.raw_format)
    except (ScribewireError, ValueError) as exc:
        parser.error(str(exc))
    _check_params(subparser(parser, "transcribe"), args)
    log_stack = contextlib.ExitStack()
    with log_stack:
        _setup_logging(args.verbose, err, log_stack)
        return _transcribe(args, parser, raw, out, err)


def _transcribe(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    raw: RawFormat | None,
    out: TextIO,
    err: TextIO,
) -> int:
    summary = _Summary()
    jobs: list[_Job] = []
    for path in args.files:
        summary.files += 1
        try:
            jobs.extend(_plan(args, raw, path))
        except (ScribewireError, OSError, ValueError) as exc:
            summary.errors += 1
            err.write(f"scribewire: error: {path}: {_error_text(exc)}\n")
    summary.streams = len(jobs)
    display = make_display(err, jobs, partials=not args.no_partials, speed=args.speed)
    exit_stack = contextlib.ExitStack()
    exit_stack.callback(display.close)
    per_file = args.format in ("srt", "vtt") and args.out and len(jobs) > 1
    if per_file:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        pairs = []
        for job in jobs:
            stem = Path(job.path).stem + ("" if job.channel is None else f"_ch{job.channel}")
            f = exit_stack.enter_context(
                open(folder / f"{stem}.{args.format}", "w", encoding="utf-8")
            )
            pairs.append((job, make_formatter(args.format, f)))
        closers = [fmt for _, fmt in pairs]
    else:
        target: TextIO = display.stdout(out)
        if args.out:
            target = exit_stack.enter_context(open(args.out, "w", encoding="utf-8"))
        shared = make_formatter(args.format, target, show_source=len(jobs) > 1)
        pairs = [(job, shared) for job in jobs]
        closers = [shared]

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            try:
                options = await _client_options(args, err, stack)
            except ScribewireError as exc:
                summary.errors += len(jobs)
                summary.fatal = True
                display.line(f"scribewire: error: {_error_text(exc)}")
                return
            await _run_jobs(args, jobs, options, pairs, display, summary, raw)

    with exit_stack:
        if jobs:
            try:
                run(main())
            except KeyboardInterrupt:
                display.line("scribewire: interrupted")
                return 130
        for fmt in closers:
            fmt.close()
    if summary.fatal:
        return 1
    wall = time.monotonic() - summary.started
    audio = sum(summary.audio.values())
    rtf = audio / wall if wall > 0 else math.inf
    display.line(
        f"scribewire: {summary.files} file(s), {summary.streams} stream(s), "
        f"{audio:.1f} s of audio in {wall:.1f} s ({rtf:.2f}x real time), "
        f"{summary.errors} error(s)"
        + (f", {summary.reconnects} reconnect(s)" if summary.reconnects else "")
        + (
            f", {summary.dropped_seconds:.1f} s of audio DROPPED unacknowledged"
            if summary.dropped_seconds
            else ""
        )
    )
    return 1 if summary.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scribewire`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":
        from ..server import serve_main

        try:
            return serve_main(args[1:])
        except ScribewireError as exc:
            sys.stderr.write(f"scribewire serve: error: {exc}\n")
            return 2
    if args and args[0] == "transcribe":
        return transcribe_main(args[1:])
    if args and args[0] in ("worker", "transcripts"):
        from .worker import transcripts_main, worker_main

        return (worker_main if args[0] == "worker" else transcripts_main)(args[1:])
    if args and args[0] == "ingest":
        from .ingest import ingest_main

        return ingest_main(args[1:])
    parser = build_parser()
    parser.parse_args(args)  # --version, --help, or an error
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
