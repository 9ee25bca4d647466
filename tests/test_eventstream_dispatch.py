"""``EventStreamDecoder.feed_events``: the event-routing fast path, on both twins.

Its contract is "exactly ``feed`` followed by routing each message": handlers for
``event`` messages by ``:event-type``, the fallback for everything else and for any
message whose handler raises. Every public vector and every framing/header fault is run
through both paths and must give the same results or the same error (class and text).
"""

from __future__ import annotations

import struct
import uuid
from types import ModuleType
from typing import Any

import pytest
from conftest import twin_params
from test_eventstream import FAULTS, NEGATIVE, POSITIVE, frame, needs_shared

from scribewire import errors
from scribewire._kernels._eventstream_types import Message
from scribewire.errors import DecoderClosed, ReentrantFeed

TWINS = twin_params("eventstream")


def routed(msg: Message, handled: set[str]) -> tuple[Any, ...]:
    """The reference routing of one message (what feed_events must produce)."""
    mtype = msg.headers.get(":message-type")
    etype = msg.headers.get(":event-type")
    if type(mtype) is str and mtype == "event" and type(etype) is str and etype in handled:
        return ("handler", etype, msg.payload)
    return ("fallback", msg)


def recorder(event_types: set[str]) -> tuple[dict[str, Any], Any]:
    """Handlers that tag what they saw, and a fallback that does likewise."""

    def make(etype: str) -> Any:
        def handler(payload: bytes) -> tuple[Any, ...]:
            assert type(payload) is bytes
            return ("handler", etype, payload)

        return handler

    return {t: make(t) for t in event_types}, lambda msg: ("fallback", msg)


def event(etype: str, payload: bytes = b"{}", **extra: object) -> bytes:
    from scribewire import eventstream

    headers: dict[str, object] = {":message-type": "event", ":event-type": etype}
    headers.update(extra)
    return eventstream.encode_message(headers, payload)


# ------------------------------------------------------------------------ equivalence with feed


@needs_shared
@pytest.mark.parametrize("es", TWINS)
def test_vectors_route_like_feed_in_every_chunking(es: ModuleType) -> None:
    stream = b"".join(c.encoded for c in POSITIVE) * 2
    types = {v for c in POSITIVE for k, v in c.headers if k == ":event-type" and isinstance(v, str)}
    assert types, "the vectors hold event messages"
    # handle some of the event types only: the others must reach the fallback
    handled = set(sorted(types)[::2])
    want = [routed(m, handled) for m in es.EventStreamDecoder().feed(stream)]
    assert {w[0] for w in want} == {"handler", "fallback"}
    for size in (1, 7, 64, len(stream)):
        handlers, fallback = recorder(handled)
        dec = es.EventStreamDecoder()
        out: list[Any] = []
        for i in range(0, len(stream), size):
            assert dec.feed_events(stream[i : i + size], handlers, fallback, out) is out
            dec.feed_events(b"", handlers, fallback, out)
        assert out == want and dec.buffered == 0


def _outcome(call: Any) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


@needs_shared
@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("case", NEGATIVE, ids=[c.name for c in NEGATIVE])
def test_negative_vectors_same_error(es: ModuleType, case: Any) -> None:
    handlers, fallback = recorder({"TranscriptEvent", "MessageWithNoHeaders"})
    want = _outcome(lambda: es.EventStreamDecoder().feed(case.encoded))
    assert issubclass(want[0], errors.ProtocolError)
    dec = es.EventStreamDecoder()
    got = _outcome(lambda: dec.feed_events(case.encoded, handlers, fallback, []))
    assert got == want


@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("name,data,kind", FAULTS, ids=[f[0] for f in FAULTS])
def test_faults_same_error_after_dispatched_messages(
    es: ModuleType, name: str, data: bytes, kind: type[Exception]
) -> None:
    handlers, fallback = recorder({"TranscriptEvent"})
    good = event("TranscriptEvent", b'{"a":1}')
    other = frame(b"")
    want = _outcome(lambda: es.EventStreamDecoder().feed(good + other + data))
    assert want[0] is kind
    dec = es.EventStreamDecoder()
    out: list[Any] = []
    got = _outcome(lambda: dec.feed_events(good + other + data, handlers, fallback, out))
    assert got == want
    # the messages before the bad bytes were dispatched, in order
    assert out == [("handler", "TranscriptEvent", b'{"a":1}'), ("fallback", Message({}, b""))]
    # and the decoder stays failed with the same error
    assert _outcome(lambda: dec.feed_events(b"", handlers, fallback, [])) == want
    assert _outcome(lambda: dec.feed(b"")) == want


def _header(name: bytes, type_byte: int, value: bytes) -> bytes:
    return bytes([len(name)]) + name + bytes([type_byte]) + value


def _string(name: bytes, value: bytes) -> bytes:
    return _header(name, 7, struct.pack(">H", len(value)) + value)


EVENT_HEADERS = _string(b":message-type", b"event") + _string(b":event-type", b"TranscriptEvent")

HEADER_CASES: list[tuple[str, bytes]] = [
    ("duplicate_message_type", EVENT_HEADERS + _string(b":message-type", b"event")),
    ("duplicate_event_type_other_value", EVENT_HEADERS + _string(b":event-type", b"Other")),
    ("duplicate_unknown_name", _string(b"x-a", b"1") + EVENT_HEADERS + _string(b"x-a", b"2")),
    ("duplicate_across_types", EVENT_HEADERS + _header(b"flag", 0, b"") + _header(b"flag", 1, b"")),
    # 20 headers: more than the native scan tracks, duplicate at the end
    ("many_then_duplicate", EVENT_HEADERS + b"".join(_string(b"h%02d" % i, b"v") for i in range(18))
     + _string(b"h03", b"v")),
    ("many_then_bad_utf8", EVENT_HEADERS + b"".join(_string(b"h%02d" % i, b"v") for i in range(18))
     + _string(b"bad", b"\xc3\x28")),
    ("bad_utf8_event_type", _string(b":message-type", b"event") + _string(b":event-type", b"\xff")),
    ("truncated_after_event", EVENT_HEADERS + b"\x05ab"),
]


@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("name,headers", HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_header_faults_in_event_messages_same_error(
    es: ModuleType, name: str, headers: bytes
) -> None:
    data = frame(headers, b"{}")
    handlers, fallback = recorder({"TranscriptEvent"})
    want = _outcome(lambda: es.EventStreamDecoder().feed(data))
    assert issubclass(want[0], errors.InvalidHeader)
    dec = es.EventStreamDecoder()
    assert _outcome(lambda: dec.feed_events(data, handlers, fallback, [])) == want


# ------------------------------------------------------------------------ routing


ROUTING: list[tuple[str, bytes, str]] = [
    ("event_handled", frame(EVENT_HEADERS, b"p"), "handler"),
    ("event_unhandled_type",
     frame(_string(b":message-type", b"event") + _string(b":event-type", b"Nope")), "fallback"),
    ("event_type_not_interned", frame(_string(b":message-type", b"event")
                                      + _string(b":event-type", b"MedicalScribeEvent")), "handler"),
    ("exception", frame(_string(b":message-type", b"exception")
                        + _string(b":exception-type", b"BadRequestException")), "fallback"),
    ("no_message_type", frame(_string(b":event-type", b"TranscriptEvent")), "fallback"),
    ("no_event_type", frame(_string(b":message-type", b"event")), "fallback"),
    ("message_type_bytes", frame(_header(b":message-type", 6, b"\x00\x05event")
                                 + _string(b":event-type", b"TranscriptEvent")), "fallback"),
    ("event_type_bytes",
     frame(_string(b":message-type", b"event")
           + _header(b":event-type", 6, b"\x00\x0fTranscriptEvent")), "fallback"),
    ("message_type_Event", frame(_string(b":message-type", b"Event")
                                 + _string(b":event-type", b"TranscriptEvent")), "fallback"),
    ("headers_reordered_with_others", frame(_header(b"n", 4, b"\x00\x00\x00\x07")
                                            + _string(b":event-type", b"TranscriptEvent")
                                            + _header(b"id", 9, uuid.UUID(int=5).bytes)
                                            + _string(b":message-type", b"event")), "handler"),
    ("many_headers", frame(EVENT_HEADERS + b"".join(_string(b"h%02d" % i, b"v") for i in range(30)),
                           b"p"), "handler"),
]


@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("name,data,path", ROUTING, ids=[r[0] for r in ROUTING])
def test_routing(es: ModuleType, name: str, data: bytes, path: str) -> None:
    handlers, fallback = recorder({"TranscriptEvent", "MedicalScribeEvent"})
    (msg,) = es.EventStreamDecoder().feed(data)
    out = es.EventStreamDecoder().feed_events(data, handlers, fallback, [])
    assert out == [routed(msg, set(handlers))]
    assert out[0][0] == path
    # split in two at every point: the buffered path routes the same way
    for cut in range(len(data) + 1):
        dec = es.EventStreamDecoder()
        got: list[Any] = []
        dec.feed_events(data[:cut], handlers, fallback, got)
        dec.feed_events(data[cut:], handlers, fallback, got)
        assert got == out


@pytest.mark.parametrize("es", TWINS)
def test_failing_handler_defers_to_fallback(es: ModuleType) -> None:
    seen: list[Message] = []

    def bad(payload: bytes) -> object:
        raise ValueError(f"cannot decode {payload!r}")

    def fallback(msg: Message) -> object:
        seen.append(msg)
        return ("fallback", msg.payload)

    data = event("A", b"1") + event("B", b"2") + event("A", b"3")
    for cut in (len(data), 5, 40):
        seen.clear()
        dec = es.EventStreamDecoder()
        out: list[Any] = []
        dec.feed_events(data[:cut], {"A": bad, "B": lambda p: ("B", p)}, fallback, out)
        dec.feed_events(data[cut:], {"A": bad, "B": lambda p: ("B", p)}, fallback, out)
        assert out == [("fallback", b"1"), ("B", b"2"), ("fallback", b"3")]
        assert [m.headers[":event-type"] for m in seen] == ["A", "A"]
        assert seen[0].headers == {":message-type": "event", ":event-type": "A"}


class Stop(Exception):
    pass


@pytest.mark.parametrize("es", TWINS)
def test_fallback_exception_stops_and_closes(es: ModuleType) -> None:
    def fallback(msg: Message) -> object:
        raise Stop(msg.payload)

    data = event("A", b"1") + event("X", b"2") + event("A", b"3") + b"\x00" * 7
    dec = es.EventStreamDecoder()
    out: list[Any] = []
    with pytest.raises(Stop) as info:
        dec.feed_events(data, {"A": lambda p: p}, fallback, out)
    assert info.value.args == (b"2",) and out == [b"1"]
    with pytest.raises(Stop):
        dec.feed(event("A"))


@pytest.mark.parametrize("es", TWINS)
def test_handlers_cannot_feed_the_decoder_again(es: ModuleType) -> None:
    dec = es.EventStreamDecoder()
    inner: list[BaseException] = []

    def handler(payload: bytes) -> bytes:
        try:
            dec.feed(event("A", b"inner"))
        except (DecoderClosed, ReentrantFeed) as exc:
            inner.append(exc)
        try:
            dec.feed_events(b"x", {}, lambda m: m, [])
        except (DecoderClosed, ReentrantFeed) as exc:
            inner.append(exc)
        return payload

    data = event("A", b"1") + event("A", b"2")
    out: list[Any] = []
    dec.feed_events(data[:30], {"A": handler}, lambda m: m, out)
    dec.feed_events(data[30:], {"A": handler}, lambda m: m, out)
    assert out == [b"1", b"2"] and len(inner) == 4
    assert all("inside one of its handlers" in str(e) for e in inner)
    # the refused calls left no trace: the decoder carries on
    assert dec.feed(event("A", b"3"))[0].payload == b"3" and dec.buffered == 0


@pytest.mark.parametrize("es", TWINS)
def test_argument_types(es: ModuleType) -> None:
    dec = es.EventStreamDecoder()
    with pytest.raises(TypeError):
        dec.feed_events(event("A"), [("A", len)], lambda m: m, [])
    with pytest.raises(TypeError):
        dec.feed_events(event("A"), {"A": len}, lambda m: m, ())
    with pytest.raises(TypeError):
        dec.feed_events("text", {"A": len}, lambda m: m, [])
    # none of those closed the decoder
    assert dec.feed_events(event("A", b"xy"), {"A": len}, lambda m: m, []) == [2]


@pytest.mark.parametrize("es", TWINS)
def test_common_header_strings_decode_exactly(es: ModuleType) -> None:
    # the native twin returns shared str objects for the common names and values:
    # they must be exactly the strings on the wire, near misses included
    values = ["event", "exception", "error", "application/json", "application/octet-stream",
              "TranscriptEvent", "AudioEvent", "UtteranceEvent", "CategoryEvent",
              "ConfigurationEvent", "even", "events", "Event", "TranscriptEvenT", ""]
    names = [":message-type", ":event-type", ":content-type", ":exception-type", ":error-code",
             ":error-message", ":message-typ", ":event-types", "event"]
    for name in names:
        for value in values:
            data = frame(_string(name.encode(), value.encode()))
            (msg,) = es.EventStreamDecoder().feed(data)
            assert msg.headers == {name: value}
            assert all(type(k) is str and type(v) is str for k, v in msg.headers.items())


@pytest.mark.parametrize("es", TWINS)
def test_repeated_header_sections_route_by_their_bytes(es: ModuleType) -> None:
    # streams repeat the same headers section: each message is still routed (and checked)
    # by its own bytes, with the handlers given to that call
    a, b = event("AAAA", b"1"), event("BBBB", b"2")
    dup = frame(_string(b":message-type", b"event") + _string(b":message-type", b"event"))
    dec = es.EventStreamDecoder()
    out: list[Any] = []
    fb = lambda m: ("fallback", m.headers.get(":event-type"))  # noqa: E731
    dec.feed_events(a + a + b + a, {"AAAA": lambda p: ("A", p)}, fb, out)
    dec.feed_events(a, {"BBBB": lambda p: ("B", p)}, fb, out)
    dec.feed_events(b + b, {"BBBB": lambda p: ("B", p)}, fb, out)
    assert out == [("A", b"1"), ("A", b"1"), ("fallback", "BBBB"), ("A", b"1"),
                   ("fallback", "AAAA"), ("B", b"2"), ("B", b"2")]
    # a section of the same length as the last one but different bytes is checked anew
    ok = frame(_string(b":message-type", b"event") + _string(b":message-typo", b"event"))
    assert len(ok) == len(dup)
    dec.feed_events(ok + ok, {}, fb, out)
    assert out[-2:] == [("fallback", None)] * 2
    with pytest.raises(errors.DuplicateHeader):
        dec.feed_events(dup, {}, fb, out)


@pytest.mark.parametrize("es", TWINS)
def test_interrupted_handler_closes_the_decoder(es: ModuleType) -> None:
    # a BaseException (KeyboardInterrupt) escaping a handler passes through once; the
    # bytes after it are lost, so every later call says so instead of desynchronising
    def handler(payload: bytes) -> bytes:
        if payload == b"2":
            raise KeyboardInterrupt
        return payload

    dec = es.EventStreamDecoder()
    out: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        dec.feed_events(event("A", b"1") + event("A", b"2") + event("A", b"3"), {"A": handler},
                        lambda m: m, out)
    assert out == [b"1"]
    for call in (lambda: dec.feed(event("A")), lambda: dec.feed_events(b"", {}, len, [])):
        with pytest.raises(DecoderClosed, match="interrupted by KeyboardInterrupt") as info:
            call()
        assert isinstance(info.value.__cause__, KeyboardInterrupt)
