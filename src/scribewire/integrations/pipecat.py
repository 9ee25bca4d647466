"""pipecat speech-to-text services on scribewire streams (extra ``scribewire[pipecat]``).

Swapping the import is the whole migration::

    # from pipecat.services.aws.stt import AWSTranscribeSTTService
    from scribewire.integrations.pipecat import TranscribeSTTService as AWSTranscribeSTTService

:class:`TranscribeSTTService` takes the constructor arguments and the ``Settings`` class
of pipecat's ``AWSTranscribeSTTService`` (``aws_access_key_id``, ``api_key`` (the secret
key), ``aws_session_token``, ``region``, ``sample_rate``, ``language``, ``settings``,
``ttfs_p99_latency``, and ``STTService``'s keyword arguments), plus ``endpoint`` (the
local service's ``ws://`` URL) and ``client_options`` (any :class:`TranscribeClient`
option).

It is a plain pipecat ``STTService``: scribewire's :class:`~scribewire.transport.stream.Stream`
owns the socket, so what pipecat's websocket base does by hand is the stream's:

- audio is framed by the native kernels, paced, and sent in 100 ms AudioEvents whatever
  the pipeline's frame size (AWS caps an event at 1 s; protocol.md §5);
- the pipeline's rate is the stream's (Transcribe takes 8,000-48,000 Hz, protocol.md §3;
  a rate outside that is resampled to 16 kHz), never labelled as another;
- a lost connection reconnects with new credentials and replays the audio the service
  had not finished with (nothing is dropped; memory bounded by ``max_replay_nbytes``);
  pipecat's own service drops it;
- silence keeps an idle call alive (pipecat's keepalive stays off);
- the end of the pipeline sends the empty AudioEvent and waits for every final;
  it never pushes an ``EndFrame``.

Frames: ``InterimTranscriptionFrame`` per partial result and ``TranscriptionFrame`` per
final one (``user_id`` of the last ``UserAudioRawFrame``, ISO-8601 timestamp, the
settings' language, ``result`` = scribewire's typed
:class:`~scribewire.transcribe.events.Result`, times on the call's own time base across
reconnects); usage metrics before each final, TTFB as pipecat's base class measures it
(VAD stop to final); a failure the stream gives up on is an ``ErrorFrame`` through
``push_error``; ``on_connected`` / ``on_disconnected`` around each stream.
``STTUpdateSettingsFrame``: Transcribe binds every setting to the connection, so a change
opens a new stream with the new settings, moves the audio to it at once, and ends the
old stream cleanly (its finals still arrive): no audio lost, nothing buffered without
bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

try:
    from pipecat.frames.frames import (
        CancelFrame,
        EndFrame,
        Frame,
        InterimTranscriptionFrame,
        StartFrame,
        TranscriptionFrame,
    )
    from pipecat.services.aws.stt import AWSTranscribeSTTService as _PipecatTranscribe
    from pipecat.services.aws.stt import AWSTranscribeSTTSettings
    from pipecat.services.settings import STTSettings
    from pipecat.services.stt_latency import AWS_TRANSCRIBE_TTFS_P99
    from pipecat.services.stt_service import STTService
    from pipecat.transcriptions.language import Language
    from pipecat.utils.time import time_now_iso8601
    from pipecat.utils.tracing.service_decorators import traced_stt
    from pipecat.utils.types import is_given
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "scribewire.integrations.pipecat needs pipecat: pip install 'scribewire[pipecat]'"
    ) from exc

from ..clients import TranscribeClient
from ..errors import ScribewireError
from ..transcribe.credentials import Credentials
from ..transcribe.events import TranscriptEvent
from ..transcribe.params import StreamParams
from ..transport.stream import Stream

__all__ = ["TranscribeSTTService"]

logger = logging.getLogger("scribewire.integrations.pipecat")

#: rates the service takes (protocol.md §3: 8,000-48,000 Hz); others are resampled to 16 kHz
_MIN_RATE, _MAX_RATE, _FALLBACK_RATE = 8000, 48000, 16000


class TranscribeSTTService(STTService):
    """Amazon Transcribe streaming for pipecat, on scribewire (see the module docstring).

    Args:
        api_key: AWS secret access key; with ``aws_access_key_id``. None: scribewire's
            credential chain (environment, profile, botocore: STS/SSO/IRSA refreshed
            before each connection).
        aws_access_key_id: AWS access key id.
        aws_session_token: session token of temporary credentials.
        region: AWS region; None resolves it from the environment or profile.
        sample_rate: input rate, Hz; None takes the pipeline's.
        language: deprecated by pipecat; use ``settings=Settings(language=...)``.
        settings: ``AWSTranscribeSTTService.Settings`` (``language``,
            ``partial_results_stability``).
        ttfs_p99_latency: as pipecat's (seconds, speech end to final).
        endpoint: base URL of another endpoint (``ws://127.0.0.1:PORT``: the local
            service); None for AWS.
        client_options: keyword arguments of :class:`~scribewire.TranscribeClient`
            (``max_replay_nbytes``, ``reconnect_attempts``, ``speed``, ...).
        **kwargs: ``STTService`` arguments (``audio_passthrough``, ...); pipecat's
            keepalive is always off (scribewire sends silence itself).

    Raises:
        ParameterError: a client option out of range.
    """

    Settings = AWSTranscribeSTTSettings
    _settings: AWSTranscribeSTTSettings

    def __init__(
        self,
        *,
        api_key: str | None = None,
        aws_access_key_id: str | None = None,
        aws_session_token: str | None = None,
        region: str | None = None,
        sample_rate: int | None = None,
        language: Language | None = None,
        settings: AWSTranscribeSTTSettings | None = None,
        ttfs_p99_latency: float | None = AWS_TRANSCRIBE_TTFS_P99,
        endpoint: str | None = None,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        defaults = self.Settings(model=None, language=Language.EN, partial_results_stability="high")
        if language is not None:
            self._warn_init_param_moved_to_settings("language", "language")
            defaults.language = language
        if settings is not None:
            defaults.apply_update(settings)
        kwargs["keepalive_timeout"] = None  # the stream sends silence (transport/stream.py)
        super().__init__(
            sample_rate=sample_rate,
            ttfs_p99_latency=ttfs_p99_latency,
            settings=defaults,
            **kwargs,
        )
        credentials: Credentials | None = None
        if aws_access_key_id or api_key:
            credentials = Credentials(
                access_key_id=aws_access_key_id or "",
                secret_access_key=api_key or "",
                session_token=aws_session_token,
            )
        self._client = TranscribeClient(
            region=region, credentials=credentials, endpoint=endpoint, **(client_options or {})
        )
        self._stream: Stream | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._stream_rate = 0

    @property
    def client(self) -> TranscribeClient:
        """The scribewire client the service's streams come from."""
        return self._client

    @property
    def stream(self) -> Stream | None:
        """The current scribewire stream (None before the pipeline starts)."""
        return self._stream

    def can_generate_metrics(self) -> bool:
        return True

    def language_to_service_language(self, language: Language) -> str | None:
        """pipecat's own Transcribe language table (``Language.EN`` -> ``"en-US"``)."""
        return _PipecatTranscribe.language_to_service_language(self, language)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- lifecycle

    def _params(self) -> StreamParams:
        rate = self.sample_rate
        self._stream_rate = rate if _MIN_RATE <= rate <= _MAX_RATE else _FALLBACK_RATE
        language = self._settings.language
        stability = self._settings.partial_results_stability
        return StreamParams(
            language_code=str(language) if is_given(language) and language else "en-US",
            media_encoding="pcm",
            sample_rate=self._stream_rate,
            enable_partial_results_stabilization=True,
            partial_results_stability=stability if is_given(stability) else "high",
        )

    async def _open(self) -> Stream:
        stream = self._client.stream(self._params())
        await stream.open()
        await self._call_event_handler("on_connected")
        pump = self.create_task(self._pump(stream), name="scribewire_transcribe_events")
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        return stream

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        try:
            self._stream = await self._open()
        except ScribewireError as exc:
            self._stream = None
            await self.push_error(
                error_msg=f"Unable to connect to Amazon Transcribe: {exc}", exception=exc
            )

    async def stop(self, frame: EndFrame) -> None:
        """End the audio and wait for every final before the pipeline goes on ending."""
        await super().stop(frame)
        stream, self._stream = self._stream, None
        if stream is not None:
            await self._finish(stream)
        await asyncio.gather(*list(self._pumps), return_exceptions=True)

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()
        for pump in list(self._pumps):
            await self.cancel_task(pump)

    async def cleanup(self) -> None:
        await super().cleanup()
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    async def _finish(self, stream: Stream) -> None:
        """``end()`` the stream (its pump pushes the last finals); a failure is reported."""
        try:
            await stream.end()
        except ScribewireError:
            pass  # the pump reports it from the iterator
        finally:
            await stream.aclose()

    async def _update_settings(self, delta: STTSettings) -> dict[str, Any]:  # type: ignore[override]
        """Transcribe binds settings to the connection: a change moves the call to a new
        stream with them (opened first, so audio goes straight on) and ends the old one
        cleanly in the background (its finals still arrive)."""
        changed = await super()._update_settings(delta)
        old = self._stream
        if changed and old is not None:
            try:
                self._stream = await self._open()
            except ScribewireError as exc:
                await self.push_error(
                    error_msg=f"Unable to reconnect to Amazon Transcribe: {exc}", exception=exc
                )
                return changed  # the old stream goes on with the old settings
            self.create_task(self._finish(old), name="scribewire_transcribe_finish")
        return changed

    # ---------------------------------------------------------------- audio

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Send the audio (int16 LE mono at ``sample_rate``) to the stream; results come
        from the stream's events, not from here."""
        stream = self._stream
        if stream is not None:
            try:
                rate = self.sample_rate
                await stream.send(audio, sample_rate=None if rate == self._stream_rate else rate)
            except ScribewireError as exc:
                self._stream = None
                await self.push_error(error_msg=f"Amazon Transcribe error: {exc}", exception=exc)
        yield None

    # ---------------------------------------------------------------- results

    async def _pump(self, stream: Stream) -> None:
        """Every event of ``stream`` as frames, until it ends or fails."""
        try:
            async for event in stream:
                if isinstance(event, TranscriptEvent):
                    for result in event.transcript.results:
                        await self._push_result(result)
        except ScribewireError as exc:
            if self._stream is stream:
                self._stream = None
            await self.push_error(error_msg=f"Amazon Transcribe error: {exc}", exception=exc)
        finally:
            await self._call_event_handler("on_disconnected")

    async def _push_result(self, result: Any) -> None:
        if not result.alternatives:
            return
        text = result.alternatives[0].transcript
        if not text:
            return
        language = self._settings.language
        # the service's code (a str; Language is a StrEnum, as pipecat's own service passes)
        lang: Language | None = language if is_given(language) else None  # type: ignore[assignment]
        if result.is_partial:
            await self.push_frame(
                InterimTranscriptionFrame(
                    text, self._user_id, time_now_iso8601(), lang, result=result
                )
            )
            return
        await self.emit_stt_usage_metrics()
        await self.push_frame(
            TranscriptionFrame(text, self._user_id, time_now_iso8601(), lang, result=result)
        )
        await self._handle_transcription(text, True, lang)

    @traced_stt
    async def _handle_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ) -> None:
        pass
