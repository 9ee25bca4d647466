"""TurnAck: the AssemblyAI acknowledgement rule, time shift and turn_order continuity."""

from __future__ import annotations

import pytest

from scribewire.assemblyai.ack import TurnAck
from scribewire.assemblyai.events import (
    Begin,
    Heartbeat,
    LLMGatewayResponse,
    Silence,
    SpeakerRevision,
    SpeakerRevisionItem,
    SpeechStarted,
    Termination,
    Turn,
    Word,
)
from scribewire.errors import EventTypeError


def T(order: int, ends: list[int], *, eot: bool = False, fmt: bool = False) -> Turn:
    words = tuple(Word(e - 100, e, f"w{e}", 0.9, eot) for e in ends)
    return Turn(order, fmt, eot, " ".join(w.text for w in words), 1.0 if eot else 0.0, words)


def test_unformatted_sessions_ack_at_the_end_of_turn() -> None:
    a = TurnAck(formats_turns=False)
    assert a.ack_ms == 0 and a.ack_seconds == 0.0
    assert not a.observe(T(0, [300, 500]))  # partial: nothing
    assert a.observe(T(0, [300, 500, 800], eot=True))
    assert a.ack_ms == 800 and a.ack_seconds == 0.8 and a.finals == 1


def test_formatted_sessions_ack_at_the_formatted_copy() -> None:
    a = TurnAck(formats_turns=True)
    assert not a.observe(T(0, [300, 800], eot=True))  # unformatted end of turn: not yet
    assert a.ack_ms == 0
    assert a.observe(T(0, [300, 800], eot=True, fmt=True))
    assert a.ack_ms == 800 and a.finals == 1


def test_u3_partials_never_ack() -> None:
    a = TurnAck(formats_turns=True)
    for msg in (T(0, [400]), T(0, [400, 900]), T(0, [400, 900, 1200])):
        assert not a.observe(msg)
    assert a.observe(T(0, [400, 900, 1250], eot=True, fmt=True)) and a.ack_ms == 1250


def test_fallback_when_a_later_turn_starts() -> None:
    a = TurnAck(formats_turns=True)
    a.observe(T(0, [800], eot=True))
    assert a.observe(T(1, [1500]))  # turn 1 began: the unformatted end of turn 0 counts
    assert a.ack_ms == 800
    # a late formatted copy changes nothing and is not counted twice
    assert not a.observe(T(0, [800], eot=True, fmt=True)) and a.finals == 1


def test_fallback_at_termination() -> None:
    a = TurnAck(formats_turns=True)
    a.observe(T(0, [900], eot=True))
    assert a.observe(Termination(1, 1)) and a.ack_ms == 900
    assert not a.observe(Termination(1, 1))


def test_never_backwards_and_empty_words() -> None:
    a = TurnAck(formats_turns=False)
    a.observe(T(0, [900], eot=True))
    assert not a.observe(T(1, [700], eot=True))  # an earlier end moves nothing
    assert not a.observe(Turn(2, False, True, "", 1.0, ()))  # no words: nothing
    assert a.ack_ms == 900 and a.finals == 3


def test_other_events_move_nothing() -> None:
    a = TurnAck(formats_turns=False)
    for e in (Begin("x", 1), SpeechStarted(5), Silence(1, 2), Heartbeat(1, 2, 1.0)):
        assert not a.observe(e)
    with pytest.raises(EventTypeError):
        a.observe("Turn")  # type: ignore[arg-type]


def test_reset_and_turn_order_offset() -> None:
    a = TurnAck(formats_turns=False)
    for i in range(3):
        a.observe(T(i, [1000 * (i + 1)], eot=True))
    a.observe(T(3, [3500]))  # turn 3 open when the link drops
    a.reset()
    assert (a.ack_ms, a.finals, a.turn_order_offset) == (0, 0, 3)
    # the new connection's turn 0 is the unfinished turn 3 again
    assert a.shift(T(0, [400]), 3.0).turn_order == 3
    a.observe(T(0, [400], eot=True))
    a.reset()
    assert a.turn_order_offset == 4
    a.reset()  # a connection that finalized nothing adds nothing
    assert a.turn_order_offset == 4


def test_reset_forgets_a_pending_unformatted_turn() -> None:
    a = TurnAck(formats_turns=True)
    a.observe(T(0, [800], eot=True, fmt=True))
    a.observe(T(1, [1800], eot=True))  # formatted copy never arrived before the drop
    a.reset()
    assert a.turn_order_offset == 1  # turn 1 will be transcribed again as turn 0


def test_shift_every_time_field() -> None:
    a = TurnAck(formats_turns=False)
    a.turn_order_offset = 10
    t = a.shift(T(2, [300, 500], eot=True), 1.5)
    assert t.turn_order == 12 and [(w.start, w.end) for w in t.words] == [(1700, 1800), (1900, 2000)]
    assert a.shift(SpeechStarted(100, 0.9), 1.5) == SpeechStarted(1600, 0.9)
    assert a.shift(Silence(100, 200), 0.25) == Silence(350, 450)
    rev = SpeakerRevision((SpeakerRevisionItem(1, "A", (Word(10, 20, "x", 1.0, True),)),))
    r = a.shift(rev, 1.0)
    assert r.revisions[0].turn_order == 11 and (r.revisions[0].words[0].start, r.revisions[0].words[0].end) == (1010, 1020)
    assert a.shift(LLMGatewayResponse(3, "t", None), 9.0).turn_order == 13
    hb = Heartbeat(5000, 6000, 1.0)
    assert a.shift(hb, 2.0) is hb  # totals, not times
    b = Begin("x", 1)
    assert a.shift(b, 2.0) is b
    # nothing to do: the same object
    z = TurnAck(formats_turns=False)
    t0 = T(0, [300])
    assert z.shift(t0, 0.0) is t0
    assert z.shift(t0, 0.0004) is t0  # rounds to 0 ms


def test_two_connections_one_numbering_no_duplicate_finals() -> None:
    a = TurnAck(formats_turns=True)
    delivered: list[tuple[int, bool]] = []
    conn1 = [T(0, [500]), T(0, [500, 900], eot=True), T(0, [500, 900], eot=True, fmt=True),
             T(1, [1400]), T(1, [1400, 1800])]  # link drops inside turn 1
    for e in conn1:
        a.observe(e)
        s = a.shift(e, 0.0)
        delivered.append((s.turn_order, s.is_final(True)))
    replay_from = a.ack_seconds  # the ring replays from here; new connection's time 0
    a.reset()
    conn2 = [T(0, [500 - 900 + 1400]), T(0, [1000], eot=True), T(0, [1000], eot=True, fmt=True), T(1, [2000])]
    for e in conn2:
        a.observe(e)
        s = a.shift(e, replay_from)
        delivered.append((s.turn_order, s.is_final(True)))
    finals = [o for o, f in delivered if f]
    assert finals == [0, 1] and [o for o, _ in delivered] == sorted(o for o, _ in delivered)
    assert a.shift(conn2[2], replay_from).words[-1].end == 1900  # stream time
