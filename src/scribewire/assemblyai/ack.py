"""The acknowledgement rule of AssemblyAI v3 for the replay ring, and the time base.

AssemblyAI sends no audio acknowledgement (assemblyai.md §4: results, ``Termination``
and errors only). What a client can know is which audio the service has finished with:
the audio up to the end of the last word of a turn that has *ended*. Nothing before it
will be re-transcribed: the words of an ended turn are final and never change (§4.2),
and a turn's words only cover its own audio. :class:`TurnAck` tracks that point for one
connection and keeps ``turn_order`` continuous across connections; the provider-neutral
replay ring (``scribewire.streaming``) holds the audio and asks it where the ack is.

**The rule.** Audio is acknowledged through ``end`` of the last word of the latest
*final* ``Turn``, in ms of connection time, never moving backwards. A ``Turn`` is final
per §4.7: ``end_of_turn``, and ``turn_is_formatted`` when the session formats turns
(``format_turns`` on a universal model, or any U3-family model). With ``format_turns``
on a universal model the service sends two end-of-turn messages with the same
``turn_order``: the unformatted one first, then the formatted one (§4.2, D-OV L863);
pipecat counts only the formatted one as final (§4.2), and so do we. Acknowledging at
the unformatted one would lose the formatted final if the connection dropped between
the two (the replay would start after the turn, so it would never come). Two fallbacks
keep a model that skips the formatted copy from holding the ack forever: an unformatted
end of turn counts as final once a ``Turn`` of a later ``turn_order`` arrives, or at
``Termination`` (after which nothing more is sent, §4.4). A final ``Turn`` without
words moves nothing. Audio after the last word (the silence that ended the turn) stays
unacknowledged and is replayed: a few hundred ms, never lost.

**Across connections** (§4.6: each connection is a new session, ``turn_order`` restarts
at 0): :meth:`TurnAck.reset` starts a connection; it adds the number of turns the old
connection finalized to ``turn_order_offset``. The replay starts at the ack point, right
after the last final turn, so the new connection's turn 0 is the first turn not yet
final: a turn whose partials were seen before the drop keeps its stream ``turn_order``,
and no final is delivered twice. :meth:`TurnAck.shift` moves an event onto the stream's
bases: every ms time field plus ``seconds`` (where the connection's time 0 sits in the
stream, from the ring), and every ``turn_order`` plus ``turn_order_offset``.

Sans-I/O: no clock, no socket; events in, numbers and events out.
"""

from __future__ import annotations

from typing import TypeVar, get_args

import msgspec

from ..errors import EventTypeError
from .events import (
    LLMGatewayResponse,
    ServerMessage,
    Silence,
    SpeakerRevision,
    SpeakerRevisionItem,
    SpeechStarted,
    Termination,
    Turn,
    Word,
)

__all__ = ["TurnAck"]

_EVENT_TYPES: tuple[type, ...] = get_args(ServerMessage)
_E = TypeVar("_E")
_replace = msgspec.structs.replace


def _shift_words(words: tuple[Word, ...], ms: int) -> tuple[Word, ...]:
    if not ms or not words:
        return words
    return tuple([_replace(w, start=w.start + ms, end=w.end + ms) for w in words])


class TurnAck:
    """Where AssemblyAI has finished with the audio of one logical stream's connection.

    Args:
        formats_turns: whether a turn's final message is the formatted one
            (``StreamingParams.formats_turns``: ``format_turns`` on a universal model,
            or a U3-family model).

    Attributes:
        ack_ms: the acknowledgement point, ms of connection time (0 before any final).
        turn_order_offset: added to every ``turn_order`` by :meth:`shift`.
        finals: final turns seen on this connection.
    """

    __slots__ = ("_pending", "ack_ms", "finals", "formats_turns", "turn_order_offset", "_top")

    def __init__(self, *, formats_turns: bool) -> None:
        self.formats_turns = formats_turns
        self.ack_ms = 0
        self.turn_order_offset = 0
        self.finals = 0
        # highest turn_order finalized on this connection (-1: none)
        self._top = -1
        # an unformatted end of turn waiting for its formatted copy: (turn_order, end ms)
        self._pending: tuple[int, int | None] | None = None

    @property
    def ack_seconds(self) -> float:
        """The acknowledgement point in seconds of connection time."""
        return self.ack_ms / 1000

    def _final(self, turn_order: int, end_ms: int | None) -> bool:
        if turn_order > self._top:  # not the formatted copy of a turn already settled
            self.finals += 1
            self._top = turn_order
        if end_ms is not None and end_ms > self.ack_ms:
            self.ack_ms = end_ms
            return True
        return False

    def _settle_pending(self, before_turn: int | None) -> bool:
        """Count the waiting unformatted end of turn as final (a later turn began, or
        the session terminated: no formatted copy will come)."""
        pending = self._pending
        if pending is None or (before_turn is not None and pending[0] >= before_turn):
            return False
        self._pending = None
        return self._final(*pending)

    def observe(self, event: ServerMessage) -> bool:
        """Take one event of this connection, in connection time (before :meth:`shift`).

        Returns:
            True when the acknowledgement point moved.

        Raises:
            EventTypeError: not an AssemblyAI server message.
        """
        if isinstance(event, Turn):
            moved = self._settle_pending(event.turn_order)
            if not event.end_of_turn:
                return moved
            end = max(w.end for w in event.words) if event.words else None
            if event.turn_is_formatted or not self.formats_turns:
                pending = self._pending
                if pending is not None and pending[0] == event.turn_order:
                    self._pending = None
                return self._final(event.turn_order, end) or moved
            # unformatted end of turn with formatting on: the formatted copy is the final
            self._pending = (event.turn_order, end)
            return moved
        if isinstance(event, Termination):
            return self._settle_pending(None)
        if not isinstance(event, _EVENT_TYPES):
            raise EventTypeError(
                f"expected an AssemblyAI server message, got {type(event).__name__}"
            )
        return False

    def reset(self) -> None:
        """Start a new connection: the ack returns to 0 (connection time restarts), and
        ``turn_order_offset`` grows by the turns the old connection finalized."""
        self.turn_order_offset += self._top + 1
        self.ack_ms = 0
        self.finals = 0
        self._top = -1
        self._pending = None

    def shift(self, event: _E, seconds: float) -> _E:
        """``event`` on the stream's time base and turn numbering.

        Args:
            event: an event of this connection (not shifted before).
            seconds: stream time of this connection's time 0 (seconds, >= 0; rounded to
                whole ms as the wire's times are).

        Returns:
            A copy with ``seconds`` added to every time field (``Word.start``/``end``,
            ``SpeechStarted.timestamp``, ``Silence.start_ms``/``end_ms``, the words of
            ``SpeakerRevision``) and ``turn_order_offset`` added to every ``turn_order``
            (``Turn``, ``SpeakerRevision`` items, ``LLMGatewayResponse``); the event
            itself when nothing changes. ``Heartbeat`` counters are totals, not times,
            and stay as they are.
        """
        ms = round(seconds * 1000)
        off = self.turn_order_offset
        if isinstance(event, Turn):
            if not ms and not off:
                return event
            return _replace(
                event, turn_order=event.turn_order + off, words=_shift_words(event.words, ms)
            )
        if isinstance(event, SpeechStarted):
            return _replace(event, timestamp=event.timestamp + ms) if ms else event
        if isinstance(event, Silence):
            if not ms:
                return event
            return _replace(
                event, start_ms=event.start_ms + ms, end_ms=event.end_ms + ms
            )
        if isinstance(event, SpeakerRevision):
            if not ms and not off:
                return event
            items: tuple[SpeakerRevisionItem, ...] = tuple(
                [
                    _replace(r, turn_order=r.turn_order + off, words=_shift_words(r.words, ms))
                    for r in event.revisions
                ]
            )
            return _replace(event, revisions=items)
        if isinstance(event, LLMGatewayResponse):
            return _replace(event, turn_order=event.turn_order + off) if off else event
        return event
