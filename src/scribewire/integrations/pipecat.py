"""pipecat speech-to-text services on scribewire streams (extra ``scribewire[pipecat]``).

Swapping the import is the whole migration::

    # from pipecat.services.aws.stt import AWSTranscribeSTTService
    from scribewire.integrations.pipecat import TranscribeSTTService as AWSTranscribeSTTService

    # from pipecat.services.assemblyai.stt import AssemblyAISTTService
    from scribewire.integrations.pipecat import AssemblyAISTTService

:class:`TranscribeSTTService` takes the constructor arguments and the ``Settings`` class
of pipecat's ``AWSTranscribeSTTService`` (``aws_access_key_id``, ``api_key`` (the secret
key), ``aws_session_token``, ``region``, ``sample_rate``, ``language``, ``settings``,
``ttfs_p99_latency``, and ``STTService``'s keyword arguments); :class:`AssemblyAISTTService`
those of pipecat's ``AssemblyAISTTService`` (``api_key``, ``api_endpoint_base_url``,
``encoding``, ``connection_params``, ``settings``, ``vad_force_turn_endpoint``,
``should_interrupt``, ``speaker_format``, ...). Both add ``endpoint`` (the local service's
``ws://`` URL) and ``client_options`` (any :class:`~scribewire.TranscribeClient` /
:class:`~scribewire.AssemblyAIClient` option).

They are plain pipecat ``STTService`` subclasses: scribewire's
:class:`~scribewire.transport.stream.Stream` owns the socket, so what pipecat's websocket
base does by hand is the stream's:

- audio is framed by the native kernels, paced, and sent in messages of the client's
  ``chunk_duration`` whatever the pipeline's frame size (AWS caps an event at 1 s,
  protocol.md §5; AssemblyAI takes 50-1000 ms per message, assemblyai.md §3.1);
- the pipeline's rate is the stream's (Transcribe takes 8,000-48,000 Hz, protocol.md §3;
  a rate outside that is resampled to 16 kHz), never labelled as another;
- a lost connection reconnects (Transcribe: with new credentials) and replays the audio
  the service had not finished with (nothing is dropped; memory bounded by
  ``max_replay_nbytes``); pipecat's own services drop it, and pipecat's AssemblyAI
  service buffers without bound while disconnected;
- silence keeps an idle call alive (pipecat's keepalive stays off);
- the end of the pipeline ends the audio (Transcribe's empty AudioEvent, AssemblyAI's
  ``Terminate``) and waits for every final; it never pushes an ``EndFrame``.

Frames: ``InterimTranscriptionFrame`` per partial result and ``TranscriptionFrame`` per
final one (``user_id`` of the last ``UserAudioRawFrame`` or the AssemblyAI speaker label,
ISO-8601 timestamp, the language, ``result`` = scribewire's typed
:class:`~scribewire.transcribe.events.Result` or :class:`~scribewire.assemblyai.Turn`,
times on the call's own time base across reconnects); usage metrics before each final,
TTFB as pipecat's base class measures it (VAD stop to final); a failure the stream gives
up on is an ``ErrorFrame`` through ``push_error``; ``on_connected`` / ``on_disconnected``
around each stream (and ``on_end_of_turn`` for AssemblyAI).

``STTUpdateSettingsFrame``: Transcribe binds every setting to the connection, and so does
AssemblyAI except what ``UpdateConfiguration`` may carry (assemblyai.md §3.3:
``agent_context``, ``language_codes``, the turn-silence settings, ...), which is sent on
the live session. Any other change opens a new stream with the new settings, moves the
audio to it at once, and ends the old stream cleanly (its finals still arrive): no audio
lost, nothing buffered without bound.
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
        ProposedUserStartedSpeakingFrame,
        ProposedUserStoppedSpeakingFrame,
        StartFrame,
        STTMetadataFrame,
        TranscriptionFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.services.assemblyai.models import AssemblyAIConnectionParams
    from pipecat.services.assemblyai.stt import (
        MAX_AGENT_CONTEXT_CHARS,
        AssemblyAISTTSettings,
        is_u3_pro_model,
        language_to_assemblyai_language,
        map_language_from_assemblyai,
    )
    from pipecat.services.assemblyai.stt import AssemblyAISTTService as _PipecatAssemblyAI
    from pipecat.services.aws.stt import AWSTranscribeSTTService as _PipecatTranscribe
    from pipecat.services.aws.stt import AWSTranscribeSTTSettings
    from pipecat.services.settings import STTSettings
    from pipecat.services.stt_latency import ASSEMBLYAI_TTFS_P99, AWS_TRANSCRIBE_TTFS_P99
    from pipecat.services.stt_service import STTService
    from pipecat.transcriptions.language import Language
    from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
    from pipecat.utils.time import time_now_iso8601
    from pipecat.utils.tracing.service_decorators import traced_stt
    from pipecat.utils.types import is_given
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "scribewire.integrations.pipecat needs pipecat: pip install 'scribewire[pipecat]'"
    ) from exc

from ..assemblyai.auth import WS_PATH as _AAI_WS_PATH
from ..assemblyai.events import Begin, SpeechStarted, Turn, WarningMessage
from ..assemblyai.params import UPDATABLE, StreamingParams
from ..clients import AssemblyAIClient, AssemblyAIStream, TranscribeClient
from ..errors import ParameterError, ScribewireError
from ..transcribe.credentials import Credentials
from ..transcribe.events import TranscriptEvent
from ..transcribe.params import StreamParams
from ..transport.stream import Stream

__all__ = ["AssemblyAISTTService", "TranscribeSTTService"]

logger = logging.getLogger("scribewire.integrations.pipecat")

#: rates the service takes (protocol.md §3: 8,000-48,000 Hz); others are resampled to 16 kHz
_MIN_RATE, _MAX_RATE, _FALLBACK_RATE = 8000, 48000, 16000


class _StreamSTTService(STTService):
    """What both providers' services share: one scribewire stream per call (opened at
    the ``StartFrame``, ended at the ``EndFrame``), audio in through ``run_stt``, the
    stream's events out through ``_on_event`` (a task per stream)."""

    _provider_name = ""
    _client: Any

    def _init_streams(self, client: Any) -> None:
        self._client = client
        self._stream: Stream | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._stream_rate = 0

    @property
    def stream(self) -> Stream | None:
        """The current scribewire stream (None before the pipeline starts)."""
        return self._stream

    def can_generate_metrics(self) -> bool:
        return True

    # ---------------------------------------------------------------- lifecycle

    def _params(self) -> Any:
        """The provider's parameters for a new stream from the current settings."""
        raise NotImplementedError

    async def _on_event(self, event: Any, params: Any) -> None:
        """One event of a stream opened with ``params``, as frames."""
        raise NotImplementedError

    async def _open(self) -> Stream:
        params = self._params()
        stream = self._client.stream(params)
        await stream.open()
        await self._call_event_handler("on_connected")
        pump = self.create_task(self._pump(stream, params), name="scribewire_stt_events")
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
                error_msg=f"Unable to connect to {self._provider_name}: {exc}", exception=exc
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

    async def _move_to_new_stream(self) -> None:
        """Settings bound to the connection changed: open a new stream with them (first,
        so audio goes straight on) and end the old one cleanly in the background (its
        finals still arrive). If the new one cannot open, the old one goes on."""
        old = self._stream
        if old is None:
            return
        try:
            self._stream = await self._open()
        except ScribewireError as exc:
            await self.push_error(
                error_msg=f"Unable to reconnect to {self._provider_name}: {exc}", exception=exc
            )
            return
        self.create_task(self._finish(old), name="scribewire_stt_finish")

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
                await self.push_error(
                    error_msg=f"{self._provider_name} error: {exc}", exception=exc
                )
        yield None

    # ---------------------------------------------------------------- results

    async def _pump(self, stream: Stream, params: Any) -> None:
        """Every event of ``stream`` as frames, until it ends or fails."""
        try:
            async for event in stream:
                await self._on_event(event, params)
        except ScribewireError as exc:
            if self._stream is stream:
                self._stream = None
            await self.push_error(error_msg=f"{self._provider_name} error: {exc}", exception=exc)
        finally:
            await self._call_event_handler("on_disconnected")

    @traced_stt
    async def _handle_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ) -> None:
        pass


class TranscribeSTTService(_StreamSTTService):
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
    _provider_name = "Amazon Transcribe"

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
        self._init_streams(
            TranscribeClient(
                region=region, credentials=credentials, endpoint=endpoint, **(client_options or {})
            )
        )

    @property
    def client(self) -> TranscribeClient:
        """The scribewire client the service's streams come from."""
        client: TranscribeClient = self._client
        return client

    def language_to_service_language(self, language: Language) -> str | None:
        """pipecat's own Transcribe language table (``Language.EN`` -> ``"en-US"``)."""
        return _PipecatTranscribe.language_to_service_language(self, language)  # type: ignore[arg-type]

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

    async def _update_settings(self, delta: STTSettings) -> dict[str, Any]:  # type: ignore[override]
        """Transcribe binds settings to the connection: a change moves the call to a new
        stream with them (see ``_move_to_new_stream``)."""
        changed = await super()._update_settings(delta)
        if changed:
            await self._move_to_new_stream()
        return changed

    async def _on_event(self, event: Any, params: Any) -> None:
        if isinstance(event, TranscriptEvent):
            for result in event.transcript.results:
                await self._push_result(result)

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


# ------------------------------------------------------------------------- AssemblyAI

#: pipecat settings sent as the query parameter of the same name for every model
#: (assemblyai.md §2.3). pipecat's v2-era ``formatted_finals`` and
#: ``word_finalization_max_wait_time`` are not sent: v3 ignores them (§2.1).
_AAI_SENT = (
    "end_of_turn_confidence_threshold",
    "min_turn_silence",
    "max_turn_silence",
    "keyterms_prompt",
    "prompt",
    "language_detection",
    "language_code",
    "format_turns",
    "speaker_labels",
    "vad_threshold",
    "domain",
)
#: sent for U3 Pro models only, as pipecat's own service does (§2.3: U3-only parameters)
_AAI_U3_ONLY = (
    "continuous_partials",
    "interruption_delay",
    "previous_context_n_turns",
    "voice_focus",
    "voice_focus_threshold",
    "mode",
    "agent_context",
    "language_codes",
)
#: settings ``UpdateConfiguration`` may change on the live session (§3.3); not
#: ``format_turns``, which decides which message is a turn's final for the whole stream
_AAI_HOT = (UPDATABLE - {"format_turns"}) & frozenset(_AAI_SENT + _AAI_U3_ONLY)
#: a detected language below this confidence is not trusted (pipecat's rule, §4.2)
_MIN_LANGUAGE_CONFIDENCE = 0.7
_PIPECAT_AAI_URL = "wss://streaming.assemblyai.com" + _AAI_WS_PATH


class AssemblyAISTTService(_StreamSTTService):
    """AssemblyAI Universal-Streaming v3 for pipecat, on scribewire (see the module
    docstring).

    The arguments are pipecat's ``AssemblyAISTTService``'s; pipecat's own constructor
    computes and checks the settings from them (its defaults, the U3 Pro rules, the
    turn-mode settings of ``vad_force_turn_endpoint``), so a configuration means here what
    it means there. Every setting goes to :class:`~scribewire.assemblyai.StreamingParams`
    under its own name (``model`` as ``speech_model``; U3 Pro-only ones only on U3 Pro
    models), checked by the service's rules (``lenient``: what the service tolerates is
    accepted).

    Behaviour, as pipecat's: a ``Turn`` that is its turn's final (``end_of_turn``, and the
    formatted copy when the session formats turns, §4.7) is a ``TranscriptionFrame``
    (``result``: the typed :class:`~scribewire.assemblyai.Turn`) and ``on_end_of_turn``;
    other non-empty turns are ``InterimTranscriptionFrame``\\s. The language is the
    detected one (``language_detection``, confidence >= 0.7) or the settings'. With
    ``speaker_labels`` the ``user_id`` is the speaker label (``speaker_format`` formats
    the text). With ``vad_force_turn_endpoint`` (pipecat's turn detection, the default),
    ``VADUserStoppedSpeakingFrame`` sends ``ForceEndpoint`` (§3.2) and the final it brings
    is marked ``finalized``; without it (AssemblyAI's turn detection, U3 Pro), ``SpeechStarted``
    and each final are broadcast as ``ProposedUserStarted/StoppedSpeakingFrame`` and the
    service asks for external user-turn strategies. Each completed assistant reply is sent
    as ``agent_context`` (U3 Pro, unless ``previous_context_n_turns`` is 0). The session's
    ``Termination`` never pushes an ``EndFrame``.

    Args:
        api_key: the AssemblyAI API key (None: ``ASSEMBLYAI_API_KEY``); never shown.
        language: deprecated by pipecat; use ``settings=Settings(language=...)``.
        api_endpoint_base_url: pipecat's WebSocket URL (``wss://.../v3/ws``); its base
            picks the host (``wss://streaming.eu.assemblyai.com/v3/ws``: the EU).
        sample_rate: input rate, Hz; None takes the pipeline's (also the stream's).
        encoding: ``"pcm_s16le"`` or ``"pcm_mulaw"`` (the pipeline's int16 audio is
            encoded to μ-law by the stream).
        connection_params: pipecat's deprecated ``AssemblyAIConnectionParams``.
        vad_force_turn_endpoint, should_interrupt, speaker_format: as pipecat's.
        settings: ``AssemblyAISTTService.Settings``.
        ttfs_p99_latency: as pipecat's (seconds, speech end to final).
        endpoint: base URL of another endpoint (``ws://127.0.0.1:PORT``: the local
            service); overrides ``api_endpoint_base_url``.
        client_options: keyword arguments of :class:`~scribewire.AssemblyAIClient`
            (``max_replay_nbytes``, ``reconnect_attempts``, ``speed``, ``token``, ...).
        **kwargs: ``STTService`` arguments; pipecat's keepalive is always off.

    Raises:
        ValueError: settings pipecat's own service refuses (e.g.
            ``vad_force_turn_endpoint=False`` on a non-U3 Pro model).
        ParameterError: a client option out of range.
    """

    Settings = AssemblyAISTTSettings
    _settings: AssemblyAISTTSettings
    _provider_name = "AssemblyAI"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        language: Language | None = None,
        api_endpoint_base_url: str = _PIPECAT_AAI_URL,
        sample_rate: int | None = None,
        encoding: str = "pcm_s16le",
        connection_params: AssemblyAIConnectionParams | None = None,
        vad_force_turn_endpoint: bool = True,
        should_interrupt: bool = True,
        speaker_format: str | None = None,
        settings: AssemblyAISTTSettings | None = None,
        ttfs_p99_latency: float | None = ASSEMBLYAI_TTFS_P99,
        endpoint: str | None = None,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # pipecat's own constructor computes the settings (it opens nothing)
        theirs = _PipecatAssemblyAI(
            api_key="",
            language=language,
            sample_rate=sample_rate,
            encoding=encoding,
            connection_params=connection_params,
            vad_force_turn_endpoint=vad_force_turn_endpoint,
            should_interrupt=should_interrupt,
            speaker_format=speaker_format,
            settings=settings,
        )
        kwargs["keepalive_timeout"] = None  # the stream sends silence (transport/stream.py)
        super().__init__(
            sample_rate=theirs._init_sample_rate,  # connection_params may set it
            ttfs_p99_latency=ttfs_p99_latency,
            settings=theirs._settings,
            **kwargs,
        )
        self._encoding: str = theirs._encoding
        self._vad_force_turn_endpoint = vad_force_turn_endpoint
        self._should_interrupt = should_interrupt
        self._speaker_format = speaker_format
        self._agent_context_warned = False
        host = api_endpoint_base_url.removesuffix(_AAI_WS_PATH)
        self._init_streams(
            AssemblyAIClient(
                api_key=api_key, host=host, endpoint=endpoint, **(client_options or {})
            )
        )
        self._register_event_handler("on_end_of_turn")

    @property
    def client(self) -> AssemblyAIClient:
        """The scribewire client the service's streams come from."""
        client: AssemblyAIClient = self._client
        return client

    def service_metadata_frame(self) -> STTMetadataFrame:
        """In AssemblyAI's turn detection (``vad_force_turn_endpoint=False``) the user
        aggregator follows the service's proposed turns (pipecat's rule)."""
        frame = super().service_metadata_frame()
        if not self._vad_force_turn_endpoint:
            frame.user_turn_strategies = ExternalUserTurnStrategies(
                enable_interruptions=self._should_interrupt
            )
        return frame

    # ---------------------------------------------------------------- parameters

    def _u3(self) -> bool:
        return is_u3_pro_model(self._settings.model)

    def _wire(self, name: str, value: Any) -> Any:
        """A setting's value as sent: ``agent_context`` keeps its last 1,500 characters
        (the service's carryover budget), ``language_codes`` become AssemblyAI's base
        codes, deduplicated in order."""
        if name == "agent_context":
            return value[-MAX_AGENT_CONTEXT_CHARS:]
        if name == "language_codes":
            return list(dict.fromkeys(language_to_assemblyai_language(v) for v in value))
        return value

    def _params(self) -> StreamingParams:
        s = self._settings
        self._stream_rate = self.sample_rate
        fields: dict[str, Any] = {}
        for name in _AAI_SENT + (_AAI_U3_ONLY if self._u3() else ()):
            value = getattr(s, name)
            if is_given(value) and value is not None:
                fields[name] = self._wire(name, value)
        model = s.model if is_given(s.model) and s.model else None
        return StreamingParams(
            sample_rate=self.sample_rate,
            encoding=self._encoding,
            speech_model=model,
            lenient=True,
            **fields,
        )

    async def _update_settings(self, delta: STTSettings) -> dict[str, Any]:  # type: ignore[override]
        """What ``UpdateConfiguration`` may carry goes to the live session (§3.3; also
        kept for every later connection of the stream); any other change, or a value
        that cannot be sent mid-session (None), moves the call to a new stream."""
        changed = await super()._update_settings(delta)
        stream = self._stream
        if not changed or stream is None:
            return changed
        if set(changed) <= _AAI_HOT:
            fields = self._hot_fields(changed)
            if fields is not None:
                if not fields:  # U3 Pro-only settings on another model: never sent
                    return changed
                try:
                    self._update_configuration(stream, fields)
                    return changed
                except ScribewireError as exc:
                    logger.debug("%s: UpdateConfiguration not possible (%s): new stream", self, exc)
        await self._move_to_new_stream()
        return changed

    def _hot_fields(self, changed: dict[str, Any]) -> dict[str, Any] | None:
        fields: dict[str, Any] = {}
        for name in changed:
            if name in _AAI_U3_ONLY and not self._u3():
                continue
            value = getattr(self._settings, name)
            if not is_given(value) or value is None:
                return None  # a value cannot be unset mid-session (§3.3)
            fields[name] = self._wire(name, value)
        return fields

    def _update_configuration(self, stream: Stream, fields: dict[str, Any]) -> None:
        assert isinstance(stream, AssemblyAIStream)
        stream.update_configuration(**fields)

    async def update_agent_context(self, text: str) -> None:
        """Send the agent's latest reply as ``agent_context`` (``UpdateConfiguration``,
        §3.3; U3 Pro models only, a warning once otherwise). Its last 1,500 characters
        are kept in the settings, so every later connection starts with it."""
        if not self._u3():
            if not self._agent_context_warned:
                self._agent_context_warned = True
                logger.warning(
                    "%s: agent_context needs a U3 Pro model, not %r: not sent",
                    self,
                    self._settings.model,
                )
            return
        if not text:
            return
        clipped = self._wire("agent_context", text)
        self._settings.agent_context = clipped
        stream = self._stream
        if stream is not None:
            try:
                self._update_configuration(stream, {"agent_context": clipped})
            except (ParameterError, ScribewireError) as exc:
                logger.warning("%s: agent_context not sent now (%s)", self, exc)

    async def _process_assistant_turn(self, text: str) -> None:
        """Each completed assistant reply becomes the context of the user's next turn
        (unless ``previous_context_n_turns`` is 0: carryover off)."""
        if self._u3() and self._settings.previous_context_n_turns != 0:
            await self.update_agent_context(text)

    # ---------------------------------------------------------------- frames

    async def process_frame(self, frame: Frame, direction: Any) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStoppedSpeakingFrame) and self._vad_force_turn_endpoint:
            stream = self._stream
            if isinstance(stream, AssemblyAIStream):
                try:
                    stream.force_endpoint()
                except ScribewireError:
                    return  # ending or not open: Terminate brings the finals anyway
                self.request_finalize()

    async def _on_event(self, event: Any, params: Any) -> None:
        if isinstance(event, Turn):
            if event.transcript:
                await self._push_turn(event, params.formats_turns)
        elif isinstance(event, SpeechStarted):
            if not self._vad_force_turn_endpoint:
                await self.broadcast_frame(ProposedUserStartedSpeakingFrame)
        elif isinstance(event, Begin):
            logger.debug("%s: session %s (expires at %d)", self, event.id, event.expires_at)
        elif isinstance(event, WarningMessage):
            logger.warning("%s: AssemblyAI warning %d: %s", self, event.warning_code, event.warning)

    def _language_of(self, turn: Turn) -> Language | None:
        code, confidence = turn.language_code, turn.language_confidence
        if code and confidence is not None and confidence >= _MIN_LANGUAGE_CONFIDENCE:
            return map_language_from_assemblyai(code)
        language = self._settings.language
        return language if is_given(language) else None  # type: ignore[return-value]

    async def _push_turn(self, turn: Turn, formats_turns: bool) -> None:
        text, user = turn.transcript, self._user_id
        if turn.speaker_label:
            user = turn.speaker_label
            if self._speaker_format:
                text = self._speaker_format.format(speaker=turn.speaker_label, text=text)
        language = self._language_of(turn)
        stamp = time_now_iso8601()
        if not turn.is_final(formats_turns):
            await self.push_frame(InterimTranscriptionFrame(text, user, stamp, language, turn))
            return
        ours = not self._vad_force_turn_endpoint  # AssemblyAI's turn detection
        if not ours and turn.turn_is_formatted:
            self.confirm_finalize()  # the final a ForceEndpoint asked for
        await self.emit_stt_usage_metrics()
        await self.push_frame(TranscriptionFrame(text, user, stamp, language, turn, finalized=ours))
        await self._handle_transcription(text, True, language)
        if ours:
            await self.broadcast_frame(ProposedUserStoppedSpeakingFrame)
        await self._call_event_handler("on_end_of_turn", text)
