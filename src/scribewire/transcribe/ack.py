"""Amazon Transcribe's acknowledgement rule and time shift, for the replay ledger.

Amazon Transcribe streaming has no audio acknowledgement message (protocol.md §4.3-§4.5:
the service sends results and exceptions only): what a client can know is which audio the
service has *finished with*, namely the audio up to the end of a final (``IsPartial``
false) result that no open partial still reaches back into. :class:`TranscribeAck` is
that rule (a :class:`~scribewire.streaming.session.AckRule`), for
:class:`~scribewire.streaming.replay.AudioLedger`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, get_args

import msgspec

from ..errors import EventTypeError, ParameterError
from .events import (
    CategoryEvent,
    Event,
    MedicalTranscriptEvent,
    TranscriptEvent,
    UtteranceEvent,
)

__all__ = ["TranscribeAck"]

_EVENT_TYPES: tuple[type, ...] = get_args(Event)

_E = TypeVar("_E", bound=msgspec.Struct)

_replace = msgspec.structs.replace


def _check_event(event: object) -> None:
    if not isinstance(event, _EVENT_TYPES):
        raise EventTypeError(
            "expected a TranscriptEvent, MedicalTranscriptEvent, UtteranceEvent, "
            f"CategoryEvent, ConfigurationEvent or UnknownEvent, got {type(event).__name__}"
        )


def _shift_all(items: tuple[_E, ...], shift: Callable[[_E], _E]) -> tuple[_E, ...]:
    return tuple([shift(x) for x in items]) if items else items


def _millis_shifter(ms: int) -> Callable[[Any], Any]:
    """A function moving a struct's ``BeginOffsetMillis``/``EndOffsetMillis`` by ``ms``."""

    def timed(x: Any) -> Any:
        return _replace(
            x,
            begin_offset_millis=x.begin_offset_millis + ms,
            end_offset_millis=x.end_offset_millis + ms,
        )

    return timed


class TranscribeAck:
    """Where the service has finished with a connection's audio, by Transcribe's results.

    **Rule.** Audio is acknowledged through::

        ack = min over lanes of min(greatest EndTime of the lane's finals so far (0 if none),
                                    StartTime of every result of the lane still partial)

    in connection time (seconds), as of the latest event (the ledger turns it into a
    position capped at the audio recorded, which never moves backwards). A result is
    *still partial* from its first ``IsPartial`` true update until a final (``IsPartial``
    false) with the same ``ResultId`` (``UtteranceId`` for Call Analytics, protocol.md
    §4.3, §4.4). A *lane* is one channel's results: ``ChannelId`` (``ch_0`` / ``ch_1``,
    channel identification) or ``ParticipantRole`` (``AGENT`` / ``CUSTOMER``, Call
    Analytics); results without one are a lane covering every channel. With two channels
    both lanes must have reported a result before anything is acknowledged, and each lane
    only ever acknowledges its own audio, so a final on ``ch_0`` never acknowledges audio
    that ``ch_1`` still has open. The trade-off: a channel that never speaks keeps the
    acknowledgement at the start (the ledger's memory budget bounds what that costs).
    Finals whose ``EndTime`` goes backwards move nothing; negative times count as 0;
    ``CategoryEvent``, ``ConfigurationEvent`` and ``UnknownEvent`` carry no result and
    move nothing.

    Args:
        channels: 1, or 2 (channel identification, Call Analytics).

    Raises:
        ParameterError: ``channels`` not 1 or 2.
    """

    __slots__ = ("channels", "_ack", "_open", "_finals")

    def __init__(self, channels: int = 1) -> None:
        if isinstance(channels, bool) or channels not in (1, 2):
            raise ParameterError(f"channels must be 1 or 2, got {channels!r}")
        #: interleaved channels
        self.channels = channels
        self._ack = 0.0
        # ResultId / UtteranceId -> (lane, start seconds) of results still partial
        self._open: dict[str, tuple[str | None, float]] = {}
        # lane -> latest final end, seconds (connection time)
        self._finals: dict[str | None, float] = {}

    @property
    def ack_seconds(self) -> float:
        """Connection time (s) through which the audio is acknowledged."""
        return self._ack

    def reset(self) -> None:
        """A new connection: its times start at 0; open partials are forgotten (the
        service recognises them again from the replay)."""
        self._ack = 0.0
        self._open.clear()
        self._finals.clear()

    def observe(self, event: Event) -> None:
        """Feed one event received on the current connection (connection times).

        Finals advance the acknowledgement point, open partials hold it back (the rule
        is in the class docstring).

        Args:
            event: a decoded event as the session returns it.

        Raises:
            EventTypeError: not one of the event types above (a ``ServiceError`` the
                session returned, a raw message...).
        """
        if type(event) is TranscriptEvent or type(event) is MedicalTranscriptEvent:
            results = event.transcript.results
            if not results:
                return
            for r in results:
                self._note(r.result_id, r.channel_id, r.is_partial, r.start_time, r.end_time)
        elif type(event) is UtteranceEvent:
            self._note(
                event.utterance_id,
                event.participant_role,
                event.is_partial,
                event.begin_offset_millis / 1000.0,
                event.end_offset_millis / 1000.0,
            )
        else:
            _check_event(event)
            return
        self._advance()

    def _note(self, rid: str, lane: str | None, partial: bool, start: float, end: float) -> None:
        if partial:
            self._open[rid] = (lane, start)
            self._finals.setdefault(lane, 0.0)
        else:
            self._open.pop(rid, None)
            if end > self._finals.get(lane, 0.0):
                self._finals[lane] = end
            else:
                self._finals.setdefault(lane, 0.0)

    def _advance(self) -> None:
        finals = self._finals
        if None not in finals and len(finals) < self.channels:
            return  # a channel has not reported yet: nothing of it is known finished
        frontier = dict(finals)
        for lane, start in self._open.values():
            if start < frontier[lane]:
                frontier[lane] = start
        self._ack = min(frontier.values())

    def shift(self, event: _E, seconds: float) -> _E:
        """``event`` with every time moved ``seconds`` later: from a connection's time
        base to the logical stream's.

        Moved: ``Result``/``MedicalResult``, ``Item``/``MedicalItem`` and
        ``Entity``/``MedicalEntity`` ``StartTime``/``EndTime`` (seconds); ``UtteranceEvent``
        and its items' and entities' ``BeginOffsetMillis``/``EndOffsetMillis`` and
        ``CategoryEvent`` ``TimestampRanges`` (milliseconds, offset rounded to the
        nearest ms). Not moved: ``CharacterOffsets`` (characters in the transcript, not
        times), ``ConfigurationEvent`` and ``UnknownEvent`` (returned as they are).

        Args:
            event: an event received on the current connection.

        Returns:
            A new frozen event (``msgspec.structs.replace``), or ``event`` itself when
            ``seconds`` is 0 or it has no times.

        Raises:
            EventTypeError: not one of the event types :meth:`observe` takes.
        """
        if not seconds:
            _check_event(event)
            return event
        kind = type(event)
        if kind is TranscriptEvent or kind is MedicalTranscriptEvent:
            shifted: _E = _shift_transcript(event, seconds)
            return shifted
        if kind is UtteranceEvent:
            return _shift_utterance(event, seconds)  # type: ignore[arg-type, return-value]
        if kind is CategoryEvent:
            return _shift_category(event, seconds)  # type: ignore[arg-type, return-value]
        _check_event(event)
        return event


def _shift_transcript(event: Any, off: float) -> Any:
    results = event.transcript.results
    if not results:
        return event

    def timed(x: Any) -> Any:
        return _replace(x, start_time=x.start_time + off, end_time=x.end_time + off)

    def alternative(a: Any) -> Any:
        return _replace(a, items=_shift_all(a.items, timed), entities=_shift_all(a.entities, timed))

    shifted = tuple(
        [
            _replace(
                r,
                start_time=r.start_time + off,
                end_time=r.end_time + off,
                alternatives=_shift_all(r.alternatives, alternative),
            )
            for r in results
        ]
    )
    return _replace(event, transcript=_replace(event.transcript, results=shifted))


def _shift_utterance(event: UtteranceEvent, seconds: float) -> UtteranceEvent:
    ms = round(seconds * 1000)
    timed = _millis_shifter(ms)

    return _replace(
        event,
        begin_offset_millis=event.begin_offset_millis + ms,
        end_offset_millis=event.end_offset_millis + ms,
        items=_shift_all(event.items, timed),
        entities=_shift_all(event.entities, timed),
    )


def _shift_category(event: CategoryEvent, seconds: float) -> CategoryEvent:
    if not event.matched_details:
        return event
    ms = round(seconds * 1000)
    timed = _millis_shifter(ms)

    details = {
        name: _replace(poi, timestamp_ranges=_shift_all(poi.timestamp_ranges, timed))
        for name, poi in event.matched_details.items()
    }
    return _replace(event, matched_details=details)
