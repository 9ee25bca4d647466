"""livekit-agents speech-to-text plugins on scribewire streams (extra ``scribewire[livekit]``).

::

    from scribewire.integrations.livekit import AssemblyAISTT, TranscribeSTT
    session = AgentSession(stt=TranscribeSTT(language="en-US"), ...)
    session = AgentSession(stt=AssemblyAISTT(model="universal-streaming-english"), ...)

:class:`TranscribeSTT` and :class:`AssemblyAISTT` are ``stt.STT``\\s with
``STTCapabilities(streaming=True, interim_results=True)``; their ``stream()`` is a
``RecognizeStream`` that sends each pushed ``rtc.AudioFrame`` (int16 mono; resampled to
the stream's rate by soxr when it differs) to a scribewire
:class:`~scribewire.transport.stream.Stream`, and emits (Transcribe):

- ``START_OF_SPEECH`` with the first result of an utterance;
- ``INTERIM_TRANSCRIPT`` for each partial result, ``FINAL_TRANSCRIPT`` for each final;
- ``END_OF_SPEECH`` after a final that leaves no segment open;
- ``RECOGNITION_USAGE`` after each final: the audio seconds sent since the last one.

Each event's ``SpeechData`` carries the text, language, start/end times (seconds on the
call's one time base: scribewire shifts a reconnected connection's times, livekit's
``start_time_offset`` is added), confidence (mean over the words) and the words as
``TimedString``. ``flush()`` (the flush sentinel) is a no-op for Transcribe, which has no
way to close a segment early; ``end_input()`` ends the audio and waits for every final.

AssemblyAI (assemblyai.md): a turn is an utterance. ``START_OF_SPEECH`` at
``SpeechStarted`` (U3 models) or the turn's first ``Turn``; ``INTERIM_TRANSCRIPT`` for
each ``Turn`` before the turn's final; ``PREFLIGHT_TRANSCRIPT`` for the unformatted end
of turn when a formatted one follows (``format_turns`` on a universal model, §4.7);
``FINAL_TRANSCRIPT`` for the final, then ``RECOGNITION_USAGE`` and ``END_OF_SPEECH``.
``SpeechData.speaker_id`` is the speaker label (``speaker_labels``). ``flush()`` sends
``ForceEndpoint`` (§3.2): the open turn ends now.

Errors: a failure to open is raised as livekit's ``APIConnectionError`` /
``APIStatusError`` with the error's own retryability, so livekit's retry loop owns the
first connection. Once a stream is open, scribewire owns reconnecting (replaying the
unacknowledged audio, which livekit's retry cannot: the audio it consumed is gone), so
a failure scribewire gave up on is raised with ``retryable=False``: the two retry loops are
never stacked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

try:
    from livekit import rtc
    from livekit.agents import (
        DEFAULT_API_CONNECT_OPTIONS,
        NOT_GIVEN,
        APIConnectionError,
        APIConnectOptions,
        APIError,
        APIStatusError,
        NotGivenOr,
        stt,
        utils,
    )
    from livekit.agents.language import LanguageCode
    from livekit.agents.types import TimedString
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "scribewire.integrations.livekit needs livekit-agents: pip install 'scribewire[livekit]'"
    ) from exc

from ..assemblyai.events import SpeechStarted, Turn
from ..assemblyai.params import StreamingParams
from ..clients import AssemblyAIClient, AssemblyAIStream, TranscribeClient
from ..errors import ConnectionClosed, HandshakeRejected, ScribewireError, ServiceError
from ..transcribe.credentials import Credentials
from ..transcribe.events import TranscriptEvent
from ..transcribe.params import StreamParams
from ..transport.stream import Stream

__all__ = [
    "AssemblyAIRecognizeStream",
    "AssemblyAISTT",
    "TranscribeRecognizeStream",
    "TranscribeSTT",
    "api_error",
]


def api_error(exc: ScribewireError, *, opened: bool) -> APIError:
    """``exc`` as livekit's error type; retryable only before the stream opened (after
    that scribewire's own reconnect budget has been spent)."""
    if isinstance(exc, HandshakeRejected):
        retry = exc.status == 429 or exc.status >= 500
        return APIStatusError(
            str(exc), status_code=exc.status, body=exc.body, retryable=retry and not opened
        )
    if isinstance(exc, ServiceError):
        return APIStatusError(
            str(exc), status_code=-1, body=exc.code, retryable=exc.retryable and not opened
        )
    retryable = isinstance(exc, ConnectionClosed) and exc.retryable and not opened
    return APIConnectionError(str(exc), retryable=retryable)


@dataclasses.dataclass
class _Options:
    language: str
    sample_rate: int
    partial_results_stability: str | None


class _StreamSTT(stt.STT[Any]):
    """What both providers' plugins share: a client, and one-shot recognition through
    a stream."""

    _client: Any

    def _language(self, language: NotGivenOr[str]) -> str:
        """The language code events carry when the service names none."""
        raise NotImplementedError

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        raise NotImplementedError

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        """One buffer through a stream: a single ``FINAL_TRANSCRIPT`` of every final."""
        frame = rtc.combine_audio_frames(buffer)
        finals: list[stt.SpeechData] = []
        async with self.stream(language=language, conn_options=conn_options) as s:
            s.push_frame(frame)
            s.end_input()
            async for ev in s:
                if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                    finals.extend(ev.alternatives)
        text = " ".join(d.text for d in finals)
        lang = finals[0].language if finals else LanguageCode(self._language(language))
        data = stt.SpeechData(
            language=lang,
            text=text,
            start_time=finals[0].start_time if finals else 0.0,
            end_time=finals[-1].end_time if finals else 0.0,
            confidence=sum(d.confidence for d in finals) / len(finals) if finals else 0.0,
        )
        return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])


class TranscribeSTT(_StreamSTT):
    """Amazon Transcribe streaming for livekit-agents, on scribewire.

    Args:
        language: Transcribe ``language-code`` (``en-US``, ...).
        sample_rate: the stream's rate, Hz (8,000-48,000; frames at another rate are
            resampled).
        partial_results_stability: ``"high"``, ``"medium"``, ``"low"`` or None (no
            stabilization).
        region: AWS region; None resolves it from the environment or profile.
        api_key: AWS access key id; with ``api_secret``. None: scribewire's credential
            chain (environment, profile, botocore; refreshed before each connection).
        api_secret: AWS secret access key.
        session_token: session token of temporary credentials.
        endpoint: another endpoint's base URL (``ws://127.0.0.1:PORT``: the local
            service); None for AWS.
        client_options: keyword arguments of :class:`~scribewire.TranscribeClient`.

    Raises:
        ParameterError: a parameter or client option out of range.
    """

    def __init__(
        self,
        *,
        language: str = "en-US",
        sample_rate: int = 16000,
        partial_results_stability: str | None = "high",
        region: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        session_token: str | None = None,
        endpoint: str | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True, interim_results=True, aligned_transcript="word"
            )
        )
        self._opts = _Options(language, sample_rate, partial_results_stability)
        self._params(language)  # parameters checked now, not at the first stream
        credentials = None
        if api_key or api_secret:
            credentials = Credentials(
                access_key_id=api_key or "",
                secret_access_key=api_secret or "",
                session_token=session_token,
            )
        self._client = TranscribeClient(
            region=region, credentials=credentials, endpoint=endpoint, **(client_options or {})
        )

    @property
    def client(self) -> TranscribeClient:
        return self._client

    @property
    def model(self) -> str:
        return "transcribe-streaming"

    @property
    def provider(self) -> str:
        return "Amazon Transcribe (scribewire)"

    def _language(self, language: NotGivenOr[str]) -> str:
        return self._params(language).language_code or ""

    def _params(self, language: NotGivenOr[str] | str) -> StreamParams:
        o = self._opts
        return StreamParams(
            language_code=language if isinstance(language, str) and language else o.language,
            media_encoding="pcm",
            sample_rate=o.sample_rate,
            enable_partial_results_stabilization=o.partial_results_stability is not None,
            partial_results_stability=o.partial_results_stability,
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> TranscribeRecognizeStream:
        return TranscribeRecognizeStream(
            stt=self, params=self._params(language), conn_options=conn_options
        )


class _StreamRecognizeStream(stt.RecognizeStream):
    """What both providers' streams share: open (livekit's retry owns this step), send
    the pushed frames, turn the stream's events into speech events."""

    def __init__(
        self,
        *,
        stt: _StreamSTT,
        params: Any,
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._scribewire_stt = stt
        self._params = params
        self._in_speech = False
        self._reported_seconds = 0.0
        self.stream: Stream | None = None

    def _on_event(self, stream: Stream, event: Any) -> None:
        raise NotImplementedError

    def _on_flush(self, stream: Stream) -> None:
        """The flush sentinel: close the open segment if the provider can."""

    async def _run(self) -> None:
        stream = self._scribewire_stt._client.stream(self._params)
        try:
            started = time.perf_counter()
            await stream.open()
            self._report_connection_acquired(time.perf_counter() - started, False)
        except ScribewireError as exc:
            await stream.aclose()
            raise api_error(exc, opened=False) from exc
        self.stream = stream
        sender = asyncio.create_task(self._send(stream), name="scribewire_livekit_send")
        try:
            async for event in stream:
                self._on_event(stream, event)
            await sender
        except ScribewireError as exc:
            raise api_error(exc, opened=True) from exc
        finally:
            if not sender.done():
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await stream.aclose()

    async def _send(self, stream: Stream) -> None:
        rate = self._params.sample_rate
        try:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    self._on_flush(stream)
                    continue
                if item.num_channels != 1:
                    raise APIConnectionError(
                        f"frames must be mono, not {item.num_channels} channels",
                        retryable=False,
                    )
                await stream.send(
                    item.data, sample_rate=None if item.sample_rate == rate else item.sample_rate
                )
            await stream.end()
        except ScribewireError as exc:
            stream._fail(exc, abort=True)  # the receiving side raises it
        except APIError as exc:
            stream._fail(exc, abort=True)

    def _start_of_speech(self) -> None:
        if not self._in_speech:
            self._in_speech = True
            self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH))

    def _final(self, stream: Stream, data: stt.SpeechData) -> None:
        """``FINAL_TRANSCRIPT``, the audio seconds sent since the last usage report, and
        ``END_OF_SPEECH``."""
        send = self._event_ch.send_nowait
        send(stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data]))
        sent = stream.audio_seconds_sent
        if sent > self._reported_seconds:
            usage = stt.RecognitionUsage(audio_duration=sent - self._reported_seconds)
            self._reported_seconds = sent
            send(
                stt.SpeechEvent(type=stt.SpeechEventType.RECOGNITION_USAGE, recognition_usage=usage)
            )
        self._in_speech = False
        send(stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH))


class TranscribeRecognizeStream(_StreamRecognizeStream):
    """One Transcribe stream (see the module docstring for the events)."""

    _params: StreamParams

    def _on_event(self, stream: Stream, event: Any) -> None:
        if isinstance(event, TranscriptEvent):
            for result in event.transcript.results:
                self._emit_result(stream, result)

    def _emit_result(self, stream: Stream, result: Any) -> None:
        if not result.alternatives or not result.alternatives[0].transcript:
            return
        alt = result.alternatives[0]
        offset = self.start_time_offset
        words = [
            TimedString(
                item.content or "",
                start_time=item.start_time + offset,
                end_time=item.end_time + offset,
                confidence=item.confidence if item.confidence is not None else NOT_GIVEN,
                start_time_offset=offset,
            )
            for item in alt.items
            if item.type != "punctuation"
        ]
        scores = [i.confidence for i in alt.items if i.confidence is not None]
        data = stt.SpeechData(
            language=LanguageCode(result.language_code or self._params.language_code or ""),
            text=alt.transcript,
            start_time=result.start_time + offset,
            end_time=result.end_time + offset,
            confidence=sum(scores) / len(scores) if scores else 0.0,
            words=words,
        )
        self._start_of_speech()
        if result.is_partial:
            self._event_ch.send_nowait(
                stt.SpeechEvent(type=stt.SpeechEventType.INTERIM_TRANSCRIPT, alternatives=[data])
            )
            return
        self._final(stream, data)


# ------------------------------------------------------------------------- AssemblyAI


class AssemblyAISTT(_StreamSTT):
    """AssemblyAI Universal-Streaming v3 for livekit-agents, on scribewire.

    The arguments are livekit's AssemblyAI plugin's where it has them; each is the
    query parameter of the same name (assemblyai.md §2.3), checked at construction.

    Args:
        api_key: the AssemblyAI API key (None: ``ASSEMBLYAI_API_KEY``); never shown.
        sample_rate: the stream's rate, Hz (frames at another rate are resampled).
        encoding: ``"pcm_s16le"`` or ``"pcm_mulaw"`` (the frames' int16 audio is encoded
            to μ-law by the stream).
        model: the ``speech_model`` (§2.2).
        language_detection, end_of_turn_confidence_threshold, min_turn_silence,
        max_turn_silence, format_turns, keyterms_prompt, prompt, vad_threshold,
        speaker_labels, max_speakers, domain: the parameters of §2.3 (unset: the
            service's default).
        params: a :class:`~scribewire.assemblyai.StreamingParams` for any other
            parameter; the arguments above that are given override its fields.
        base_url: the host or base URL (``wss://streaming.eu.assemblyai.com``: the EU).
        endpoint: another endpoint's base URL (``ws://127.0.0.1:PORT``: the local
            service); overrides ``base_url``.
        client_options: keyword arguments of :class:`~scribewire.AssemblyAIClient`
            (``token``, ``max_replay_nbytes``, ``speed``, ...).

    Raises:
        ParameterError: a parameter or client option breaking its rule.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        sample_rate: int = 16000,
        encoding: str = "pcm_s16le",
        model: str = "universal-streaming-english",
        language_detection: NotGivenOr[bool] = NOT_GIVEN,
        end_of_turn_confidence_threshold: NotGivenOr[float] = NOT_GIVEN,
        min_turn_silence: NotGivenOr[int] = NOT_GIVEN,
        max_turn_silence: NotGivenOr[int] = NOT_GIVEN,
        format_turns: NotGivenOr[bool] = NOT_GIVEN,
        keyterms_prompt: NotGivenOr[list[str]] = NOT_GIVEN,
        prompt: NotGivenOr[str] = NOT_GIVEN,
        vad_threshold: NotGivenOr[float] = NOT_GIVEN,
        speaker_labels: NotGivenOr[bool] = NOT_GIVEN,
        max_speakers: NotGivenOr[int] = NOT_GIVEN,
        domain: NotGivenOr[str] = NOT_GIVEN,
        params: StreamingParams | None = None,
        base_url: str = "default",
        endpoint: str | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        given = {
            "language_detection": language_detection,
            "end_of_turn_confidence_threshold": end_of_turn_confidence_threshold,
            "min_turn_silence": min_turn_silence,
            "max_turn_silence": max_turn_silence,
            "format_turns": format_turns,
            "keyterms_prompt": keyterms_prompt,
            "prompt": prompt,
            "vad_threshold": vad_threshold,
            "speaker_labels": speaker_labels,
            "max_speakers": max_speakers,
            "domain": domain,
        }
        fields: dict[str, Any] = {k: v for k, v in given.items() if utils.is_given(v)}
        base = params or StreamingParams()
        self._streaming = base.update(
            sample_rate=sample_rate, encoding=encoding, speech_model=model, **fields
        )
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=True,
                aligned_transcript="word",
                diarization=self._streaming.speaker_labels is True,
            )
        )
        self._client = AssemblyAIClient(
            api_key=api_key, host=base_url, endpoint=endpoint, **(client_options or {})
        )

    @property
    def client(self) -> AssemblyAIClient:
        client: AssemblyAIClient = self._client
        return client

    @property
    def params(self) -> StreamingParams:
        """The parameters every stream opens with."""
        return self._streaming

    @property
    def model(self) -> str:
        return self._streaming.speech_model or "default"

    @property
    def provider(self) -> str:
        return "AssemblyAI (scribewire)"

    def _language(self, language: NotGivenOr[str]) -> str:
        if isinstance(language, str) and language:
            return language
        codes = self._streaming.language_codes
        return codes[0] if codes else "en"

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> AssemblyAIRecognizeStream:
        """A stream; ``language`` is the code events carry when the service detects
        none (AssemblyAI takes no language for the universal models, §2.3)."""
        return AssemblyAIRecognizeStream(
            stt=self,
            params=self._streaming,
            conn_options=conn_options,
            language=self._language(language),
        )


class AssemblyAIRecognizeStream(_StreamRecognizeStream):
    """One AssemblyAI session (see the module docstring for the events)."""

    _params: StreamingParams

    def __init__(
        self,
        *,
        stt: AssemblyAISTT,
        params: StreamingParams,
        conn_options: APIConnectOptions,
        language: str,
    ) -> None:
        super().__init__(stt=stt, params=params, conn_options=conn_options)
        self._language = language

    def _on_flush(self, stream: Stream) -> None:
        assert isinstance(stream, AssemblyAIStream)
        try:
            stream.force_endpoint()  # §3.2: the open turn's final now
        except ScribewireError:
            pass  # ending or not open: the end of audio brings the finals anyway

    def _on_event(self, stream: Stream, event: Any) -> None:
        if isinstance(event, SpeechStarted):
            self._start_of_speech()
        elif isinstance(event, Turn) and event.transcript:
            self._emit_turn(stream, event)

    def _emit_turn(self, stream: Stream, turn: Turn) -> None:
        offset = self.start_time_offset
        words = [
            TimedString(
                w.text,
                start_time=w.start / 1000 + offset,  # ms on the stream's time base (§4.2)
                end_time=w.end / 1000 + offset,
                confidence=w.confidence,
                start_time_offset=offset,
            )
            for w in turn.words
        ]
        first, last = (turn.words[0], turn.words[-1]) if turn.words else (None, None)
        data = stt.SpeechData(
            language=LanguageCode(turn.language_code or self._language),
            text=turn.transcript,
            start_time=(first.start / 1000 if first else 0.0) + offset,
            end_time=(last.end / 1000 if last else 0.0) + offset,
            confidence=sum(w.confidence for w in turn.words) / len(turn.words)
            if turn.words
            else 0.0,
            speaker_id=turn.speaker_label,
            words=words,
        )
        self._start_of_speech()
        if turn.is_final(self._params.formats_turns):
            self._final(stream, data)
            return
        kind = (
            stt.SpeechEventType.PREFLIGHT_TRANSCRIPT
            if turn.end_of_turn
            else stt.SpeechEventType.INTERIM_TRANSCRIPT
        )
        self._event_ch.send_nowait(stt.SpeechEvent(type=kind, alternatives=[data]))
