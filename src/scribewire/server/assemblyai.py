"""AssemblyAI Universal-Streaming v3 on the local service: ``/v3/ws`` and ``/v3/token``.

The same ``websockets`` server and port as the Transcribe paths, the same recognizers,
the same per-connection machinery (``server.wire``: every send has a deadline, a client
that stops reading is closed, bounded reads). What is checked and emitted is
``scribewire.assemblyai.server_session`` (assemblyai.md §6): this module only moves bytes
between the wire, that session and a recognizer.

- Auth: the raw API key in ``Authorization`` (constant-time compare) against the
  service's ``assemblyai_api_key``; temporary tokens from ``GET /v3/token`` (with the key)
  in the ``token`` query parameter or in ``Authorization``, single use, within their
  ``expires_in_seconds``, capped at their ``max_session_duration_seconds`` (§1.3). A bad
  credential is ``Error`` + close 1008 after the upgrade (the behaviour the SDKs handle,
  §1.4).
- Turns: each recognizer segment is one turn. Its partial updates are ``Turn`` messages
  with ``end_of_turn`` false, its final the end of turn (then, with ``format_turns``, the
  formatted copy from the session's small deterministic formatter: sentence case and a
  final period; it knows no punctuation inside a sentence, no numbers, no proper nouns).
  Word times are integer ms on the audio clock.
- ``ForceEndpoint``: the open turn ends at once with the words heard so far; later
  updates of that recognizer segment are dropped (the recognizer keeps its own
  segmentation). ``UpdateConfiguration`` is validated and applied to the session's
  parameters. Turn ends follow the recognizer's voice activity detection, and
  ``min_turn_silence`` (ms, set at the start or by ``UpdateConfiguration``) as far as
  that allows: a recognizer segment's end of turn waits until the audio heard is that
  much past its last word, and a segment that starts sooner continues the same turn
  (its words joined to the held ones). Unset, each segment is one turn (the recognizer's
  own silence rule; the service's 400 ms default is not imposed on it).
  ``max_turn_silence`` and ``end_of_turn_confidence_threshold`` are accepted and change
  nothing: the recognizer already ends a segment at its own silence limit and gives no
  end-of-turn confidence (documented, not hidden).
- ``speaker_labels``: answered with ``"UNKNOWN"`` (the recognizer cannot tell speakers
  apart; one speaker per stream is the honest label). μ-law audio is decoded for the
  recognizer.
- Quota: AssemblyAI sessions share the service's quota with Transcribe streams; over it,
  ``Error`` 3009 "Too many concurrent sessions" and close 3009 (§5.1; §9 D-CONC: the docs
  also name 1008 with the same reason; 3009 is the errors table's code).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from ..assemblyai.limits import REASON_TOO_MANY_SESSIONS, CloseCode
from ..assemblyai.server_session import (
    AssemblyAIServerSession,
    AudioReceived,
    ForceEndpointRequested,
    RecognizedWord,
    ServerState,
    TerminateRequested,
)
from ..audio import ulaw_decode
from .stats import StreamStats

if TYPE_CHECKING:
    from .recognizers import Recognizer, Segment
    from .service import LocalTranscribeService
    from .wire import Wire

__all__ = ["AssemblyAIStream", "run_session"]

logger = logging.getLogger("scribewire.server.assemblyai")

_END = object()  # the queue's "no more audio" item
_QUEUE_ITEMS = 32  # audio messages waiting for the recognizer before reading pauses


class AssemblyAIStream:
    """One ``/v3/ws`` session: the wire's handler and its recognizer.

    A non-blocking recognizer (``null``, ``digest``, ``replay``) runs within the read
    that completed each message, and what that read produced leaves in one write: no
    task wake-up, queue or drain per message (the Transcribe paths do the same). A
    blocking one (pocketsphinx, the recognizer pool) runs in a worker task fed by a
    bounded queue, in a thread; while the queue is full the socket is not read.
    """

    def __init__(
        self,
        service: LocalTranscribeService,
        session: AssemblyAIServerSession,
        stats: StreamStats,
    ) -> None:
        self.service = service
        self.session = session
        self.stats = stats
        self.wire: Wire | None = None
        self.loop = asyncio.get_running_loop()
        self.recognizer: Recognizer | None = None
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None  # made for a blocking recognizer
        self.inline: bool | None = None  # decided with the recognizer, at its first use
        self.paused = False
        self.ended: asyncio.Future[None] = self.loop.create_future()
        self.timer: asyncio.TimerHandle | None = None
        self.digest = hashlib.sha256() if service.digest else None
        self.forced: set[int] = set()  # recognizer segments ended by ForceEndpoint
        self.last: dict[int, Segment] = {}  # latest partial of each open segment
        # with min_turn_silence set: the words of ended segments whose end of turn waits
        # for that much silence (a segment starting sooner continues the same turn)
        self.held: list[RecognizedWord] = []
        self.waiting = False  # the held words' segment ended: silence decides the turn
        self.mulaw = session.params is not None and session.params.encoding == "pcm_mulaw"

    # ---------------------------------------------------------------- WireHandler

    def binary(self, payload: bytes) -> None:
        self._take(payload)

    def text(self, payload: str) -> None:
        self._take(payload)

    def closed(self, code: int, reason: str) -> None:
        self.session.receive_close(code, reason)
        self.service._live.pop(self.stats.stream_id, None)
        self._end_reading()

    # ---------------------------------------------------------------- input

    def _take(self, data: bytes | str) -> None:
        session = self.session
        if session.state is not ServerState.OPEN:
            return
        session.receive_message(data, self.loop.time())
        for event in session.events_received():
            if type(event) is AudioReceived:
                if self.digest is not None:
                    self.digest.update(event.audio)
                self._step(event)
            elif type(event) is ForceEndpointRequested:
                self._step(event)
            elif type(event) is TerminateRequested:
                self._step(_END)
        self.flush()
        if self.timer is None:  # one already set is due no later than any new deadline
            self._arm_timer()
        if session.state is not ServerState.OPEN:
            self._end_reading()

    def _step(self, item: Any) -> None:
        """One item for the recognizer: now, or queued for the worker of a blocking one."""
        if self.inline is None:
            self.inline = not getattr(self._recognizer(), "blocking", False)
        if not self.inline:
            self._queue(item)
            return
        rec = self._recognizer()
        try:
            if type(item) is AudioReceived:
                segments = rec.accept(*self._audio(item))
                if segments or self.waiting:  # (nothing to do otherwise: the common case)
                    self._handle(item, segments)
            elif item is _END:
                self._handle(item, rec.finish())
            else:
                self._handle(item, None)
        except Exception as exc:  # a bug in a recognizer ends this session, never the service
            self._failed(exc)

    def _queue(self, item: Any) -> None:
        if self.worker is None:
            self.worker = self.loop.create_task(self.work())
        self.queue.put_nowait(item)
        if self.queue.qsize() >= _QUEUE_ITEMS and not self.paused and self.wire is not None:
            self.paused = True
            self.wire.pause_reading()

    def _end_reading(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)

    # ---------------------------------------------------------------- output

    def flush(self) -> None:
        """Send what the session queued; close when it decided to."""
        wire = self.wire
        if wire is None:
            return
        for text in self.session.data_to_send():
            wire.send_text(text)
        decision = self.session.close_decision
        if decision is not None and self.session.state is ServerState.CLOSING:
            self.session.state = ServerState.CLOSED
            self.service._live.pop(self.stats.stream_id, None)
            wire.start_close(decision.code, decision.reason)
            self._end_reading()

    def _arm_timer(self) -> None:
        """Have :meth:`_on_timer` run by the session's next deadline. Deadlines only move
        later as audio arrives (the inactivity clock restarts; the expiry is fixed), so
        a timer already due sooner is kept: it fires early, finds nothing due, and is
        set again for the deadline then (one timer per inactivity period, not one per
        message)."""
        deadline = self.session.next_deadline()
        timer = self.timer
        if deadline is None or (timer is not None and timer.when() <= deadline):
            return
        if timer is not None:
            timer.cancel()
        self.timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.session.check_timers(self.loop.time())
        if self.session.state is ServerState.OPEN:
            self._arm_timer()
        else:  # expiry (3008) or inactivity (Termination + 1000)
            self.flush()

    # ---------------------------------------------------------------- recognition

    def _emit(self, segments: list[Segment]) -> None:
        session = self.session
        if session.state not in (ServerState.OPEN, ServerState.TERMINATING):
            return
        for seg in segments:
            if seg.segment_id in self.forced:
                if not seg.is_partial:
                    self.forced.discard(seg.segment_id)
                continue
            words = [
                RecognizedWord(
                    w.content,
                    round(w.start * 1000),
                    max(round(w.end * 1000), round(w.start * 1000)),
                    1.0 if w.confidence is None else float(w.confidence),
                    final=not seg.is_partial or i < len(seg.words) - 1,
                )
                for i, w in enumerate(seg.words)
            ]
            hold = self._hold_ms()
            if self.waiting and words:
                if hold is None or words[0].start - self.held[-1].end >= hold:
                    self._release()  # the silence before this segment ended the turn
                else:
                    self.waiting = False  # it starts sooner: the same turn goes on
            if self.held:
                words = [*self.held, *words]
            if seg.is_partial:
                self.last[seg.segment_id] = seg
                if words:
                    session.emit_turn(words, end_of_turn=False)
            else:
                self.last.pop(seg.segment_id, None)
                if words and hold is not None:  # the end of turn waits for the silence
                    self.held = [msgspec.structs.replace(w, final=True) for w in words]
                    self.waiting = True
                elif words or session.turn_is_open:
                    self.held, self.waiting = [], False
                    session.emit_turn(words, end_of_turn=True)
                    self.stats.finals_sent += 1

    def _hold_ms(self) -> int | None:
        """``min_turn_silence`` as the client set it (or updated it), ms; None: the
        recognizer's own segmentation decides where turns end."""
        params = self.session.params
        value = None if params is None else params.min_turn_silence
        return None if value is None else int(value)

    def _release(self, now_ms: float | None = None) -> None:
        """End the held turn: at once (``now_ms`` None), or once the audio heard reaches
        ``min_turn_silence`` past its last word."""
        if not self.held:
            return
        hold = self._hold_ms()
        if now_ms is not None and (
            not self.waiting or (hold is not None and now_ms - self.held[-1].end < hold)
        ):
            return
        words, self.held, self.waiting = self.held, [], False
        self.session.emit_turn(words, end_of_turn=True)
        self.stats.finals_sent += 1

    def _force_endpoint(self) -> None:
        """End the open turn now with the words of its latest partial."""
        if not self.last:
            self._release()  # a held turn ends now
            return
        if not self.session.turn_is_open:
            return
        seg_id, seg = max(self.last.items())
        self.last.clear()
        self._emit([type(seg)(seg.segment_id, seg.start, seg.end, seg.words, False)])
        self._release()  # now, whatever min_turn_silence says
        self.forced.add(seg_id)  # the recognizer's own updates of it are dropped

    def _failed(self, exc: Exception) -> None:
        """A failure of the recognizer ends this session with 3005, never the service."""
        logger.error("session %s failed", self.stats.stream_id, exc_info=exc)
        self.session.fail(CloseCode.SERVER_ERROR, f"Session Cancelled: {type(exc).__name__}")
        self.flush()
        self._end_reading()

    def _audio(self, item: AudioReceived) -> tuple[bytes, float]:
        """The recognizer's arguments for an audio message: int16 PCM, its start (s)."""
        pcm = bytes(ulaw_decode(item.audio)) if self.mulaw else item.audio
        return pcm, item.start

    def _handle(self, item: Any, segments: list[Segment] | None) -> bool:
        """What the recognizer returned for ``item`` (``segments``: of an audio message
        or of ``finish``), and the turn logic after it; True once the session is done."""
        session = self.session
        if session.state not in (ServerState.OPEN, ServerState.TERMINATING):
            return True
        if item is _END:
            self._emit(segments or [])
            self._release()
            if session.turn_is_open:  # a partial the recognizer never finalised
                self._force_endpoint()
            if session.state is ServerState.TERMINATING or session.state is ServerState.OPEN:
                session.finish(self.loop.time())
            return True
        if type(item) is ForceEndpointRequested:
            self._force_endpoint()
        else:
            self._emit(segments or [])
            if self.waiting:  # the audio clock at the end of this piece, ms
                rate = session.params.sample_rate if session.params else 16000
                samples = len(item.audio) if self.mulaw else len(item.audio) // 2
                self._release((item.start + samples / rate) * 1000)
        return False

    async def work(self) -> None:
        """The worker of a blocking recognizer: items in order, each call in a thread,
        results out as they come."""
        try:
            await self._work()
        except Exception as exc:
            self._failed(exc)

    async def _work(self) -> None:
        wire = self.wire
        assert wire is not None
        while True:
            item = await self.queue.get()
            if self.paused and self.queue.qsize() < _QUEUE_ITEMS:
                self.paused = False
                wire.resume_reading()
            if self.session.state not in (ServerState.OPEN, ServerState.TERMINATING):
                return
            rec = self._recognizer()
            segments: list[Segment] | None = None
            if item is _END:
                segments = await asyncio.to_thread(rec.finish)
            elif type(item) is AudioReceived:
                segments = await asyncio.to_thread(rec.accept, *self._audio(item))
            done = self._handle(item, segments)
            self.flush()
            if done:
                return
            await wire.drain()

    def _recognizer(self) -> Recognizer:
        if self.recognizer is None:
            params = self.session.params
            assert params is not None
            self.recognizer = self.service._factory(params.sample_rate, 0)
        return self.recognizer


async def run_session(
    service: LocalTranscribeService, ws: Any, session: AssemblyAIServerSession
) -> StreamStats:
    """Serve one ``/v3/ws`` connection whose upgrade ``process_request`` accepted."""
    stream_id = str(uuid.uuid4())
    stats = StreamStats(stream_id=stream_id, path="/v3/ws", recognizer=service.recognizer_name)
    params = session.params
    if params is not None:
        stats.sample_rate = params.sample_rate
        stats.channels = 1
        stats.media_encoding = params.encoding
    stats.session_id = session.session_id
    stream = AssemblyAIStream(service, session, stats)
    service.streams[stream_id] = stats
    service._live[stream_id] = stream
    stream.wire = ws.attach(
        stream,
        max_message_nbytes=service.max_message_nbytes,
        send_timeout=service.send_timeout,
        close_timeout=service.close_timeout,
    )
    try:
        if len(service._live) > service.quota and session.state is ServerState.OPEN:
            session.fail(CloseCode.TOO_MANY_SESSIONS, REASON_TOO_MANY_SESSIONS)
        stream.flush()
        stream._arm_timer()
        if session.state is ServerState.OPEN:
            await stream.ended
            worker = stream.worker
            if session.state in (ServerState.TERMINATING,) and worker is not None:
                # a blocking recognizer's finals, then Termination
                await asyncio.wait_for(asyncio.shield(worker), service.close_timeout + 60)
    except Exception as exc:  # a bug in a recognizer must not kill the service
        logger.exception("session %s failed", stream_id)
        session.fail(CloseCode.SERVER_ERROR, f"Session Cancelled: {type(exc).__name__}")
        stream.flush()
    finally:
        worker = stream.worker
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        if stream.timer is not None:
            stream.timer.cancel()
        if stream.wire is not None:
            await stream.wire.close(1000, "")
            stats.close_code = stream.wire.close_code
        if stream.recognizer is not None:
            stream.recognizer.close()
        service._live.pop(stream_id, None)
        stats.audio_nbytes = session.audio_nbytes
        stats.audio_seconds = session.audio_seconds
        stats.audio_events = session.audio_messages
        stats.events_sent = session.turns_sent
        stats.input_ended = session.audio_nbytes > 0 and session.error is None
        if stream.digest is not None:
            stats.audio_sha256 = stream.digest.hexdigest()
        if session.error is not None:
            stats.exceptions.append(str(session.error.code))
            stats.exception_messages.append(session.error.reason)
        service.streams.pop(stream_id, None)
        service.finished_streams.append(stats)
        service.totals.add(stats)
        service._finished_event.set()
    return stats


def unix_now() -> float:
    """POSIX seconds (the token and ``expires_at`` clock)."""
    return time.time()
