"""Property tests of the event-stream codec against independent implementations.

- botocore's ``EventStreamBuffer`` decodes everything both twins encode;
- both twins decode everything ``amazon_transcribe``'s ``EventStreamMessageSerializer``
  encodes;
- the fuzz rule (fuzz/README.md): any bytes parse or raise a ``ProtocolError``, the twins
  agree, and feeding in chunks gives what one feed gives.

Messages carry every header type and payloads of 0..64 KiB.
"""

from __future__ import annotations

import datetime
import importlib.util
import random
import uuid
from types import ModuleType

import pytest

hypothesis = pytest.importorskip("hypothesis")
from conftest import ROOT, twin_params, twins  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scribewire._kernels._eventstream_types import (  # noqa: E402
    Byte,
    Integer,
    Long,
    Message,
    Short,
    Timestamp,
)
from scribewire.errors import ProtocolError  # noqa: E402

pytestmark = pytest.mark.hypothesis


def _load_reseal():  # type: ignore[no-untyped-def]
    """fuzz/reseal.py (shared with the atheris harness), or None outside a checkout."""
    path = ROOT / "fuzz" / "reseal.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("scribewire_fuzz_reseal", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reseal


reseal = _load_reseal()
TWINS = twin_params("eventstream")
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _sized(cls: type, bits: int) -> st.SearchStrategy[object]:
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1).map(cls)


VALUES = st.one_of(
    st.booleans(),
    _sized(Byte, 8),
    _sized(Short, 16),
    _sized(Integer, 32),
    _sized(Long, 64),
    _sized(Timestamp, 64),
    st.binary(max_size=300),
    st.text(max_size=100),
    st.uuids(),
)
NAMES = st.text(min_size=1, max_size=40)
HEADERS = st.dictionaries(NAMES, VALUES, max_size=12)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    size = draw(st.one_of(st.integers(0, 64), st.integers(0, 65536)))
    return random.Random(draw(st.integers(0, 2**32))).randbytes(size)


def _botocore_value(value: object) -> object:
    """What botocore's parser returns for one of our header values."""
    if isinstance(value, uuid.UUID):
        return value.bytes  # raw 16 bytes
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return value


@SETTINGS
@given(headers=HEADERS, payload=payloads())
@pytest.mark.parametrize("es", TWINS)
def test_botocore_decodes_what_we_encode(es: ModuleType, headers: dict[str, object],
                                         payload: bytes) -> None:
    from botocore.eventstream import EventStreamBuffer

    data = es.encode_message(headers, payload)
    buf = EventStreamBuffer()
    buf.add_data(data)
    messages = list(buf)
    assert len(messages) == 1
    msg = messages[0]
    assert msg.payload == payload
    assert msg.headers == {k: _botocore_value(v) for k, v in headers.items()}
    # and we read back our own bytes exactly
    ours = es.decode_message(data)
    assert ours.payload == payload
    assert [(k, type(v), v) for k, v in ours.headers.items()] == [
        (k, type(v) if type(v) is not int else Integer, v) for k, v in headers.items()
    ]


# amazon_transcribe's serializer: ints need its wrappers; timestamps are datetimes
TS_MS = st.integers(0, 4_102_444_800_000)  # up to 2100-01-01


@st.composite
def transcribe_headers(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object]]:
    from amazon_transcribe.eventstream import (
        Int8HeaderValue,
        Int16HeaderValue,
        Int32HeaderValue,
        Int64HeaderValue,
    )

    theirs: dict[str, object] = {}
    expected: dict[str, object] = {}
    for name in draw(st.lists(NAMES, max_size=12, unique=True)):
        kinds = ["bool", "i8", "i16", "i32", "i64", "ts", "bytes", "str", "uuid"]
        kind = draw(st.sampled_from(kinds))
        if kind == "bool":
            theirs[name] = expected[name] = draw(st.booleans())
        elif kind in ("i8", "i16", "i32", "i64"):
            bits = int(kind[1:])
            v = draw(st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
            wrap = {8: Int8HeaderValue, 16: Int16HeaderValue, 32: Int32HeaderValue,
                    64: Int64HeaderValue}[bits]
            theirs[name] = wrap(v)
            expected[name] = {8: Byte, 16: Short, 32: Integer, 64: Long}[bits](v)
        elif kind == "ts":
            dt = datetime.datetime.fromtimestamp(draw(TS_MS) / 1000, tz=datetime.timezone.utc)
            theirs[name] = dt
            expected[name] = Timestamp(int(dt.timestamp() * 1000))
        elif kind == "bytes":
            theirs[name] = expected[name] = draw(st.binary(max_size=300))
        elif kind == "str":
            theirs[name] = expected[name] = draw(st.text(max_size=100))
        else:
            theirs[name] = expected[name] = draw(st.uuids())
    return theirs, expected


@SETTINGS
@given(pair=transcribe_headers(), payload=payloads())
@pytest.mark.parametrize("es", TWINS)
def test_we_decode_amazon_transcribe_serializer(
    es: ModuleType, pair: tuple[dict[str, object], dict[str, object]], payload: bytes
) -> None:
    from amazon_transcribe.eventstream import EventStreamMessageSerializer

    theirs, expected = pair
    data = EventStreamMessageSerializer().serialize(theirs, payload)
    msg = es.decode_message(data)
    assert msg.payload == payload
    assert [(k, type(v), v) for k, v in msg.headers.items()] == [
        (k, type(v), v) for k, v in expected.items()
    ]
    assert es.encode_message(msg.headers, msg.payload) == data


# ------------------------------------------------------------------------ the fuzz rule


ROUTING_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        ":message-type": st.sampled_from(["event", "exception", "Event", b"event"]),
        ":event-type": st.sampled_from(["a", "TranscriptEvent", "AudioEvent", "é", b"a"]),
    },
)


@st.composite
def streams(draw: st.DrawFn, events: bool = False) -> bytes:
    """Valid messages, then byte edits, optionally resealed so edits reach the parser.
    With ``events``, the messages often carry routing headers, and sometimes over 16
    headers (more than the native routing scan tracks)."""
    es = twins("eventstream")[0]

    def headers() -> dict[str, object]:
        if not events:
            return draw(HEADERS)
        many = st.dictionaries(NAMES, VALUES, min_size=14, max_size=20)
        return {**draw(st.one_of(HEADERS, many)), **draw(ROUTING_HEADERS)}

    parts = [es.encode_message(headers(), draw(st.binary(max_size=200)))
             for _ in range(draw(st.integers(0, 3)))]
    data = bytearray(b"".join(parts))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        if op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i]
    return reseal(data) if reseal is not None and draw(st.booleans()) else bytes(data)


def _outcome(es: ModuleType, data: bytes, chunk: int) -> tuple[str, object]:
    dec = es.EventStreamDecoder(max_headers_length=4096, max_payload_length=65536)
    out = []
    try:
        for i in range(0, len(data), chunk):
            out += dec.feed(data[i : i + chunk])
    except ProtocolError as exc:
        return ("error", type(exc))
    return ("ok", (out, dec.buffered))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(streams(), st.binary(max_size=300)), chunk=st.integers(1, 40))
def test_parses_or_raises_protocol_error_and_twins_agree(data: bytes, chunk: int) -> None:
    results = set()
    for es in twins("eventstream"):
        whole = _outcome(es, data, max(len(data), 1))
        assert _outcome(es, data, chunk) == whole
        results.add(repr(whole))
    assert len(results) == 1


def _routed_outcome(es: ModuleType, data: bytes, chunk: int, handled: frozenset[str]) -> object:
    """``feed_events`` with tagging handlers; each error as (class, message)."""
    dec = es.EventStreamDecoder(max_headers_length=4096, max_payload_length=65536)
    handlers = {t: (lambda p, t=t: ("handler", t, p)) for t in handled}
    out: list[object] = []
    try:
        for i in range(0, len(data), chunk):
            dec.feed_events(data[i : i + chunk], handlers, lambda m: ("fallback", m), out)
    except ProtocolError as exc:
        return ("error", type(exc), str(exc), out, dec.buffered)
    return ("ok", out, dec.buffered)


def _route(msg: Message, handled: frozenset[str]) -> tuple[object, ...]:
    mtype, etype = msg.headers.get(":message-type"), msg.headers.get(":event-type")
    if type(mtype) is str and mtype == "event" and type(etype) is str and etype in handled:
        return ("handler", etype, msg.payload)
    return ("fallback", msg)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(streams(events=True), st.binary(max_size=300)), chunk=st.integers(1, 40),
       handled=st.frozensets(st.sampled_from(["a", "TranscriptEvent", "AudioEvent", "", "é"])))
def test_feed_events_is_feed_then_routing(data: bytes, chunk: int, handled: frozenset[str]) -> None:
    # the same rule for the routing fast path: same messages routed, or the same error
    # (class and text) after the same messages
    for es in twins("eventstream"):
        dec = es.EventStreamDecoder(max_headers_length=4096, max_payload_length=65536)
        msgs: list[Message] = []
        error = None
        try:
            msgs += dec.feed(data)
        except ProtocolError as exc:
            error = exc
        whole = _routed_outcome(es, data, max(len(data), 1), handled)
        if error is None:
            assert whole == ("ok", [_route(m, handled) for m in msgs], dec.buffered)
        else:
            assert whole[:3] == ("error", type(error), str(error))
        assert _routed_outcome(es, data, chunk, handled)[:3] == whole[:3]
