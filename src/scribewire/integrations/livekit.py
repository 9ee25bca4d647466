"""A livekit-agents speech-to-text plugin on scribewire streams (extra ``scribewire[livekit]``).

::

    from scribewire.integrations.livekit import TranscribeSTT
    session = AgentSession(stt=TranscribeSTT(language="en-US"), ...)

:class:`TranscribeSTT` is an ``stt.STT`` with ``STTCapabilities(streaming=True,
interim_results=True)``; its ``stream()`` is a ``RecognizeStream`` that sends each pushed
``rtc.AudioFrame`` (int16 interleaved; resampled to the stream's rate by soxr when it
differs) to a scribewire :class:`~scribewire.transport.stream.Stream`, and emits:

- ``START_OF_SPEECH`` with the first result of an utterance;
- ``INTERIM_TRANSCRIPT`` for each partial result, ``FINAL_TRANSCRIPT`` for each final;
- ``END_OF_SPEECH`` after a final that leaves no segment open;
- ``RECOGNITION_USAGE`` after each final: the audio seconds sent since the last one.

Each event's ``SpeechData`` carries the text, language, start/end times (seconds on the
call's one time base: scribewire shifts a reconnected connection's times, livekit's
``start_time_offset`` is added), confidence (mean over the words) and the words as
``TimedString``. ``flush()`` (the flush sentinel) is a no-op for Transcribe, which has no
way to close a segment early; ``end_input()`` ends the audio and waits for every final.

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

from ..clients import TranscribeClient
from ..errors import ConnectionClosed, HandshakeRejected, ScribewireError, ServiceError
from ..transcribe.credentials import Credentials
from ..transcribe.events import TranscriptEvent
from ..transcribe.params import StreamParams
from ..transport.stream import Stream

__all__ = ["TranscribeSTT", "TranscribeRecognizeStream", "api_error"]


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


class TranscribeSTT(stt.STT[Any]):
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
        lang = (
            finals[0].language
            if finals
            else LanguageCode(self._params(language).language_code or "")
        )
        data = stt.SpeechData(
            language=lang,
            text=text,
            start_time=finals[0].start_time if finals else 0.0,
            end_time=finals[-1].end_time if finals else 0.0,
            confidence=sum(d.confidence for d in finals) / len(finals) if finals else 0.0,
        )
        return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])


class TranscribeRecognizeStream(stt.RecognizeStream):
    """One utterance stream (see the module docstring for the events)."""

    def __init__(
        self, *, stt: TranscribeSTT, params: StreamParams, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._scribewire_stt = stt
        self._params = params
        self._in_speech = False
        self._reported_seconds = 0.0
        self.stream: Stream | None = None

    async def _run(self) -> None:
        stream = self._scribewire_stt.client.stream(self._params)
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
                if isinstance(event, TranscriptEvent):
                    for result in event.transcript.results:
                        self._emit_result(stream, result)
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
                    continue  # Transcribe cannot close a segment early
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
        send = self._event_ch.send_nowait
        if not self._in_speech:
            self._in_speech = True
            send(stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH))
        if result.is_partial:
            send(stt.SpeechEvent(type=stt.SpeechEventType.INTERIM_TRANSCRIPT, alternatives=[data]))
            return
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
