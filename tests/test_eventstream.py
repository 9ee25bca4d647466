"""Event-stream codec (protocol.md §1) against every public vector, on both twins.

Vectors: ``shared/vectors/eventstream/`` (see its README). Positive cases must decode
to exactly the published headers (names, wire types, values, order) and payload and
re-encode byte for byte; negative cases must raise the matching ``scribewire.errors``
class. Each positive vector is also fed whole, byte by byte, in every chunk size 1..32,
at every split point, concatenated with the others, and interleaved with empty feeds.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import shared_path, twin_params

from scribewire import errors
from scribewire._kernels._eventstream_types import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    Byte,
    HeaderType,
    Integer,
    Long,
    Message,
    Short,
    Timestamp,
)

TWINS = twin_params("eventstream")


@dataclass
class Case:
    name: str
    encoded: bytes
    headers: list[tuple[str, object]] = field(default_factory=list)
    payload: bytes = b""
    error: type[Exception] | None = None


_TYPED = {
    HeaderType.BYTE: Byte,
    HeaderType.SHORT: Short,
    HeaderType.INTEGER: Integer,
    HeaderType.LONG: Long,
    HeaderType.TIMESTAMP: Timestamp,
}


def _value(type_byte: int, raw: object, binary: str) -> object:
    """A vector's header value as the Python object the codec must produce."""
    t = HeaderType(type_byte)
    if t in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        assert raw is (t is HeaderType.BOOL_TRUE)
        return raw
    if t in _TYPED:
        return _TYPED[t](raw)
    if t is HeaderType.STRING:
        return base64.b64decode(raw).decode() if binary == "base64" else raw
    blob = base64.b64decode(raw) if binary == "base64" else bytes.fromhex(raw)  # type: ignore[arg-type]
    return uuid.UUID(bytes=blob) if t is HeaderType.UUID else blob


def _headers(items: list[dict[str, object]], binary: str) -> list[tuple[str, object]]:
    return [(h["name"], _value(h["type"], h["value"], binary)) for h in items]  # type: ignore[arg-type]


def _smithy_valid() -> dict[str, tuple[list[tuple[str, object]], bytes]]:
    # Expected values as listed in shared/vectors/eventstream/README.md (smithy-rs).
    return {
        "valid_empty_payload": ([("some-header", Short(500))], b""),
        "valid_no_headers": ([], b"another test payload"),
        "valid_with_all_headers_and_payload": (
            [
                ("true", True),
                ("false", False),
                ("byte", Byte(50)),
                ("short", Short(20000)),
                ("int", Integer(500000)),
                ("long", Long(50_000_000_000)),
                ("bytes", b"some bytes"),
                ("str", "some str"),
                ("time", Timestamp(5_000_000_000)),
                ("uuid", uuid.UUID("b79bc914-de21-4e13-b8b2-bc47e85b7f0b")),
            ],
            b"some payload",
        ),
    }


def load_cases() -> list[Case]:
    """Every vector, positive and negative; empty when the shared data is absent."""
    root = shared_path()
    if root is None:
        return []
    es = root / "vectors" / "eventstream"
    cases: list[Case] = []

    go = es / "aws-sdk-go"
    for f in sorted((go / "encoded" / "positive").iterdir()):
        d = json.loads((go / "decoded" / "positive" / f.name).read_text())
        cases.append(
            Case(f"go/{f.name}", f.read_bytes(), _headers(d["headers"], "base64"),
                 base64.b64decode(d["payload"]))
        )
    go_errors = {
        "Prelude checksum mismatch": errors.PreludeChecksumMismatch,
        "Message checksum mismatch": errors.MessageChecksumMismatch,
    }
    for f in sorted((go / "encoded" / "negative").iterdir()):
        text = (go / "decoded" / "negative" / f.name).read_text().strip()
        cases.append(Case(f"go/{f.name}", f.read_bytes(), error=go_errors[text]))

    rs = es / "smithy-rs"
    for name, (headers, payload) in _smithy_valid().items():
        cases.append(Case(f"smithy-rs/{name}", (rs / name).read_bytes(), headers, payload))
    for f in sorted(rs.glob("invalid_*")):
        # Only "must reject" is portable for these (README): stale message CRCs.
        cases.append(Case(f"smithy-rs/{f.name}", f.read_bytes(), error=errors.ProtocolError))

    bc = json.loads((es / "botocore" / "test_eventstream_cases.json").read_text())
    for c in bc["positive"]:
        cases.append(
            Case(f"botocore/{c['name']}", bytes.fromhex(c["encoded_hex"]),
                 _headers(c["headers"], "hex"), bytes.fromhex(c["payload_hex"]))
        )
    for c in bc["negative"]:
        if "encoded_parts" in c:
            parts = c["encoded_parts"]
            encoded = (
                bytes.fromhex(parts["prefix_hex"])
                + bytes.fromhex(parts["fill_byte_hex"]) * parts["fill_count"]
                + bytes.fromhex(parts["suffix_hex"])
            )
        else:
            encoded = bytes.fromhex(c["encoded_hex"])
        kind: type[Exception] = {
            "DuplicateHeader": errors.DuplicateHeader,
            # botocore's "headers too long"; here headers_length also exceeds total - 16
            "InvalidHeadersLength": errors.FramingError,
            "InvalidPayloadLength": errors.MessageTooLarge,
        }.get(c["botocore_error"], errors.ChecksumMismatch)
        if c["botocore_error"] == "ChecksumMismatch":
            kind = (
                errors.PreludeChecksumMismatch
                if not c["prelude_crc_ok"]
                else errors.MessageChecksumMismatch
            )
        cases.append(Case(f"botocore/{c['name']}", encoded, error=kind))

    docs = json.loads((es / "aws-docs" / "transcribe_http2_doc_examples.json").read_text())
    for c in docs["cases"]:
        encoded = base64.b64decode(c["encoded_base64"])
        assert encoded.hex() == c["encoded_hex"]
        if c["expect"] == "valid":
            cases.append(
                Case(f"aws-docs/{c['name']}", encoded, _headers(c["headers"], "hex"),
                     bytes.fromhex(c["payload_hex"]))
            )
        else:
            cases.append(
                Case(f"aws-docs/{c['name']}", encoded, error=errors.MessageChecksumMismatch)
            )

    derived = json.loads((es / "derived" / "transcribe_frames.json").read_text())
    for c in derived["cases"]:
        cases.append(
            Case(f"derived/{c['name']}", bytes.fromhex(c["encoded_hex"]),
                 _headers(c["headers"], "plain"), bytes.fromhex(c["payload_hex"]))
        )
    return cases


CASES = load_cases()
POSITIVE = [c for c in CASES if c.error is None]
NEGATIVE = [c for c in CASES if c.error is not None]
needs_shared = pytest.mark.skipif(not CASES, reason="shared vectors not found (SCRIBEWIRE_SHARED)")


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


def assert_message(msg: Message, case: Case) -> None:
    """Same header names, order, Python types (= wire types) and values; same payload."""
    got = [(k, type(v), v) for k, v in msg.headers.items()]
    want = [(k, type(v), v) for k, v in case.headers]
    assert got == want
    assert type(msg.payload) is bytes
    assert msg.payload == case.payload


def test_vector_counts(shared_dir: Path) -> None:
    # README: go 5+4, smithy-rs 3+8, botocore 9+7, aws-docs 1+1, derived 6
    assert len(POSITIVE) == 5 + 3 + 9 + 1 + 6
    assert len(NEGATIVE) == 4 + 8 + 7 + 1


# ------------------------------------------------------------------------ positive vectors


@needs_shared
@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("case", POSITIVE, ids=_ids(POSITIVE))
def test_positive_decodes_and_reencodes(es: ModuleType, case: Case) -> None:
    # smithy-rs valid_* files are exactly one message; no trailing bytes anywhere here
    msg = es.decode_message(case.encoded)
    assert_message(msg, case)
    assert es.encode_message(msg.headers, msg.payload) == case.encoded
    assert es.encode_message(case.headers, case.payload) == case.encoded
    total, headers_length = struct.unpack_from(">II", case.encoded)
    assert total == len(case.encoded)
    assert es.encode_headers(case.headers) == case.encoded[12 : 12 + headers_length]


@needs_shared
@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("case", POSITIVE, ids=_ids(POSITIVE))
def test_positive_in_every_chunking(es: ModuleType, case: Case) -> None:
    data = case.encoded
    # byte by byte, with an empty feed between bytes
    dec = es.EventStreamDecoder()
    out: list[Message] = []
    for i in range(len(data)):
        out += dec.feed(data[i : i + 1])
        out += dec.feed(b"")
        if i < len(data) - 1:
            assert out == [] and dec.buffered == i + 1
    assert len(out) == 1 and dec.buffered == 0
    assert_message(out[0], case)
    # every chunk size 1..32, as bytearray / memoryview / bytes
    kinds = (bytes, bytearray, memoryview)
    for size in range(1, 33):
        dec = es.EventStreamDecoder()
        out = []
        for j, i in enumerate(range(0, len(data), size)):
            out += dec.feed(kinds[j % 3](data[i : i + size]))
        assert len(out) == 1 and dec.buffered == 0
        assert_message(out[0], case)
    # every split point into two feeds
    for cut in range(len(data) + 1):
        dec = es.EventStreamDecoder()
        out = dec.feed(data[:cut]) + dec.feed(data[cut:])
        assert len(out) == 1
        assert_message(out[0], case)


@needs_shared
@pytest.mark.parametrize("es", TWINS)
def test_concatenated_stream(es: ModuleType) -> None:
    stream = b"".join(c.encoded for c in POSITIVE) * 3
    expected = POSITIVE * 3
    for size in (1, 7, 13, 64, 1000, len(stream)):
        dec = es.EventStreamDecoder()
        out: list[Message] = []
        for i in range(0, len(stream), size):
            out += dec.feed(stream[i : i + size])
            out += dec.feed(b"")
        assert len(out) == len(expected)
        for msg, case in zip(out, expected, strict=True):
            assert_message(msg, case)
        assert dec.buffered == 0
    # numpy input of another dtype is read as raw bytes
    padded = stream + b"\0" * (-len(stream) % 4)
    dec = es.EventStreamDecoder()
    out = dec.feed(np.frombuffer(padded, dtype=np.uint32))
    assert len(out) == len(expected) and dec.buffered == len(padded) - len(stream)


# ------------------------------------------------------------------------ negative vectors


@needs_shared
@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("case", NEGATIVE, ids=_ids(NEGATIVE))
def test_negative_rejected(es: ModuleType, case: Case) -> None:
    assert case.error is not None
    with pytest.raises(case.error) as info:
        es.EventStreamDecoder().feed(case.encoded)
    assert isinstance(info.value, errors.ProtocolError)
    # the same error whichever way the bytes arrive, and the decoder stays failed
    for size in (1, 5, 16):
        dec = es.EventStreamDecoder()
        with pytest.raises(case.error):
            for i in range(0, len(case.encoded), size):
                dec.feed(case.encoded[i : i + size])
        with pytest.raises(case.error):
            dec.feed(b"")


@needs_shared
@pytest.mark.parametrize("es", TWINS)
def test_oversized_payload_rejected_from_prelude(es: ModuleType) -> None:
    # botocore invalid_payload_length: the 12-byte prelude alone must be refused
    prelude = bytes.fromhex("0180002100000000dd3f33b1")
    dec = es.EventStreamDecoder()
    with pytest.raises(errors.MessageTooLarge) as info:
        dec.feed(prelude)
    assert (info.value.what, info.value.limit) == ("payload", DEFAULT_MAX_PAYLOAD_LENGTH)
    assert info.value.size == 0x01800021 - 16


def _reseal(data: bytes) -> bytes:
    """The message with its message CRC recomputed, so header checks are reached."""
    total = struct.unpack_from(">I", data)[0]
    body = data[: total - 4]
    return body + struct.pack(">I", zlib.crc32(body))


SMITHY_RESEALED = {
    # smithy-rs's own verdicts (README), in our error classes
    "invalid_header_string_value_length": errors.TruncatedHeader,
    "invalid_header_string_length_cut_off": errors.TruncatedHeader,
    "invalid_header_value_type": errors.UnknownHeaderType,
    "invalid_header_name_length": errors.TruncatedHeader,
    "invalid_headers_length": errors.InvalidLength,
    "invalid_prelude_checksum": errors.PreludeChecksumMismatch,
    "invalid_header_name_length_too_long": errors.TruncatedHeader,
}


@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("name", sorted(SMITHY_RESEALED))
def test_smithy_invalid_resealed(es: ModuleType, name: str, shared_dir: Path) -> None:
    data = _reseal((shared_dir / "vectors/eventstream/smithy-rs" / name).read_bytes())
    with pytest.raises(SMITHY_RESEALED[name]):
        es.EventStreamDecoder().feed(data)


# ------------------------------------------------------------------------ hand-built faults


def frame(headers: bytes, payload: bytes = b"", *, total: int | None = None,
          hlen: int | None = None) -> bytes:
    """A message from a raw headers section, with optional lying lengths (valid CRCs)."""
    total = 16 + len(headers) + len(payload) if total is None else total
    hlen = len(headers) if hlen is None else hlen
    prelude = struct.pack(">II", total, hlen)
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


FAULTS: list[tuple[str, bytes, type[Exception]]] = [
    ("total_length_below_16", frame(b"", total=15), errors.InvalidLength),
    ("total_length_zero", frame(b"", total=0), errors.InvalidLength),
    ("headers_past_total", frame(b"\x01a\x00", hlen=4), errors.InvalidLength),
    ("empty_name", frame(b"\x00\x00"), errors.InvalidHeaderName),
    ("unknown_type_10", frame(b"\x01a\x0a"), errors.UnknownHeaderType),
    ("unknown_type_255", frame(b"\x01a\xff"), errors.UnknownHeaderType),
    ("name_past_section", frame(b"\x05ab"), errors.TruncatedHeader),
    ("type_byte_missing", frame(b"\x02ab"), errors.TruncatedHeader),
    ("short_truncated", frame(b"\x01a\x03\x00"), errors.TruncatedHeader),
    ("long_truncated", frame(b"\x01a\x05" + b"\x00" * 7), errors.TruncatedHeader),
    ("string_len_truncated", frame(b"\x01a\x07\x00"), errors.TruncatedHeader),
    ("string_past_section", frame(b"\x01a\x07\x00\x05abc"), errors.TruncatedHeader),
    ("uuid_truncated", frame(b"\x01a\x09" + b"\x00" * 15), errors.TruncatedHeader),
    ("bad_utf8_value", frame(b"\x01a\x07\x00\x02\xc3\x28"), errors.InvalidHeaderValue),
    ("bad_utf8_name", frame(b"\x02\xff\xfe\x00"), errors.InvalidHeaderName),
    ("duplicate", frame(b"\x01a\x00\x01a\x01"), errors.DuplicateHeader),
    (
        "headers_over_limit",
        frame(b"".join(b"\x02%02d\x06\x7f\xff" % i + b"x" * 32767 for i in range(5))),
        errors.MessageTooLarge,
    ),
]


@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("name,data,kind", FAULTS, ids=[f[0] for f in FAULTS])
def test_faults(es: ModuleType, name: str, data: bytes, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        es.EventStreamDecoder().feed(data)
    # a good message first: the error names the stream offset of the bad one
    good = frame(b"")
    dec = es.EventStreamDecoder()
    with pytest.raises(kind) as info:
        dec.feed(good + data)
    if isinstance(info.value, (errors.ChecksumMismatch, errors.InvalidLength)):
        assert "offset 16" in str(info.value)


@pytest.mark.parametrize("es", TWINS)
def test_checksum_errors_carry_values(es: ModuleType) -> None:
    good = frame(b"\x01a\x00", b"payload")
    bad_prelude = good[:8] + b"\0\0\0\0" + good[12:]
    with pytest.raises(errors.PreludeChecksumMismatch) as info:
        es.EventStreamDecoder().feed(bad_prelude)
    assert info.value.expected == 0
    assert info.value.actual == zlib.crc32(good[:8])
    assert info.value.offset == 0
    bad_msg = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(errors.MessageChecksumMismatch) as info2:
        es.EventStreamDecoder().feed(good + bad_msg)
    assert info2.value.expected == int.from_bytes(bad_msg[-4:], "big")
    assert info2.value.actual == zlib.crc32(good[:-4])
    assert info2.value.offset == len(good)
    assert isinstance(info2.value, ValueError)


@pytest.mark.parametrize("es", TWINS)
def test_message_crc_checked_before_headers(es: ModuleType) -> None:
    # unknown header type AND a wrong message CRC: the CRC is reported
    bad = frame(b"\x01a\x0a")
    bad = bad[:-4] + bytes(4)
    with pytest.raises(errors.MessageChecksumMismatch):
        es.EventStreamDecoder().feed(bad)


@pytest.mark.parametrize("es", TWINS)
def test_configurable_limits(es: ModuleType) -> None:
    msg = frame(b"\x01a\x07\x00\x03abc", b"x" * 100)
    dec = es.EventStreamDecoder(max_headers_length=8, max_payload_length=100)
    assert dec.max_headers_length == 8 and dec.max_payload_length == 100
    assert len(dec.feed(msg)) == 1
    with pytest.raises(errors.MessageTooLarge) as info:
        es.EventStreamDecoder(max_headers_length=7).feed(msg)
    assert (info.value.what, info.value.size, info.value.limit) == ("headers", 8, 7)
    with pytest.raises(errors.MessageTooLarge) as info:
        es.EventStreamDecoder(max_payload_length=99).feed(msg[:12])  # prelude suffices
    assert (info.value.what, info.value.size, info.value.limit) == ("payload", 100, 99)
    with pytest.raises(ValueError):
        es.EventStreamDecoder(max_headers_length=-1)
    assert DEFAULT_MAX_HEADERS_LENGTH == 131_072


@pytest.mark.parametrize("es", TWINS)
def test_decode_message_wants_exactly_one(es: ModuleType) -> None:
    one = frame(b"", b"x")
    assert es.decode_message(one).payload == b"x"
    for data in (b"", one[:-1], one + one, one + b"\0"):
        with pytest.raises(errors.InvalidLength):
            es.decode_message(data)


@pytest.mark.parametrize("es", TWINS)
def test_large_message_in_small_chunks_is_linear(es: ModuleType) -> None:
    # 4 MiB payload fed in 1 KiB pieces: would take minutes with quadratic buffering
    payload = bytes(range(256)) * (4 << 12)
    data = es.encode_message({":event-type": "Big"}, payload)
    dec = es.EventStreamDecoder()
    out: list[Message] = []
    for i in range(0, len(data), 1024):
        out += dec.feed(data[i : i + 1024])
    assert len(out) == 1 and out[0].payload == payload and dec.buffered == 0


# ------------------------------------------------------------------------ encoding


@pytest.mark.parametrize("es", TWINS)
def test_every_header_type_round_trips(es: ModuleType) -> None:
    u = uuid.UUID("01020304-0506-0708-090a-0b0c0d0e0f10")
    headers = {
        "t": True, "f": False, "b": Byte(-128), "s": Short(32767), "i": Integer(-(2**31)),
        "l": Long(2**63 - 1), "ba": b"\x00\xff", "str": "h\u00e9llo \U0001f600",
        "ts": Timestamp(-1),
        "u": u, "plain": 7, "big": 2**40, "neg_big": -(2**63), "empty_s": "", "empty_b": b"",
        "bytearray": bytearray(b"ab"), "memoryview": memoryview(b"cd"),
    }
    data = es.encode_message(headers, np.arange(4, dtype=np.int16))
    msg = es.decode_message(data)
    assert msg.payload == np.arange(4, dtype=np.int16).tobytes()
    h = msg.headers
    assert h["t"] is True and h["f"] is False
    for k, cls in (("b", Byte), ("s", Short), ("i", Integer), ("l", Long), ("ts", Timestamp),
                   ("plain", Integer), ("big", Long), ("neg_big", Long)):
        assert type(h[k]) is cls and h[k] == headers[k]
    assert h["ba"] == b"\x00\xff" and h["str"] == headers["str"] and h["u"] == u
    assert h["empty_s"] == "" and h["empty_b"] == b""
    assert h["bytearray"] == b"ab" and h["memoryview"] == b"cd"
    assert list(h) == list(headers)
    # iterable of pairs gives the same bytes as the mapping
    assert es.encode_message(list(headers.items()), msg.payload) == data


@pytest.mark.parametrize("es", TWINS)
def test_encode_rejects_bad_headers(es: ModuleType) -> None:
    cases: list[tuple[object, type[Exception]]] = [
        ([("a", 1), ("a", 2)], errors.DuplicateHeader),
        ({"": 1}, errors.InvalidHeaderName),
        ({"x" * 256: 1}, errors.InvalidHeaderName),
        ({"\ud800": 1}, errors.InvalidHeaderName),
        ({"a": "\ud800"}, errors.InvalidHeaderValue),
        ({"a": "x" * 32768}, errors.InvalidHeaderValue),
        ({"a": b"x" * 32768}, errors.InvalidHeaderValue),
        ({"a": 2**63}, errors.InvalidHeaderValue),
        ({"a": 1.5}, TypeError),
        ({"a": None}, TypeError),
        ([(1, "x")], TypeError),
    ]
    for headers, kind in cases:
        with pytest.raises(kind):
            es.encode_headers(headers)
    assert len(es.encode_headers({"a": "x" * 32767})) == 2 + 3 + 32767
    with pytest.raises(errors.MessageTooLarge):
        es.encode_message({}, bytes(DEFAULT_MAX_PAYLOAD_LENGTH + 1))
    with pytest.raises(errors.MessageTooLarge):
        es.encode_message({f"h{i}": b"x" * 32767 for i in range(5)})


@needs_shared
@pytest.mark.parametrize("es", TWINS)
def test_audio_event_matches_derived_vectors(es: ModuleType) -> None:
    by_name = {c.name: c for c in POSITIVE}
    frame16 = by_name["derived/audio_event_16_bytes"].encoded
    eos = by_name["derived/audio_event_end_of_stream"].encoded
    payload = bytes(range(16))
    for kind in (bytes, bytearray, memoryview):
        assert es.encode_audio_event(kind(payload)) == frame16
    assert es.encode_audio_event(np.frombuffer(payload, dtype=np.int16)) == frame16
    assert es.encode_audio_event(b"") == eos
    assert len(eos) == 104


@pytest.mark.parametrize("es", TWINS)
def test_encode_audio_events_batches(es: ModuleType) -> None:
    audio = np.arange(5000, dtype=np.int16)
    raw = audio.tobytes()
    for nbytes in (1, 320, 3200, 9999, 10000, 20000):
        frames = es.encode_audio_events(audio, nbytes)
        singles = [es.encode_audio_event(raw[i : i + nbytes]) for i in range(0, len(raw), nbytes)]
        assert frames == singles
    assert es.encode_audio_events(b"", 320) == []
    with pytest.raises(ValueError):
        es.encode_audio_events(raw, 0)
    with pytest.raises(errors.MessageTooLarge):
        es.encode_audio_event(bytes(DEFAULT_MAX_PAYLOAD_LENGTH + 1))


@pytest.mark.parametrize("es", TWINS)
def test_non_buffer_inputs_are_type_errors(es: ModuleType) -> None:
    for bad in ("text", 12, None):
        with pytest.raises(TypeError):
            es.encode_audio_event(bad)
        with pytest.raises(TypeError):
            es.EventStreamDecoder().feed(bad)


@pytest.mark.parametrize("es", TWINS)
@pytest.mark.parametrize("name,data,kind", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_after_consumed_messages(es: ModuleType, name: str, data: bytes,
                                       kind: type[Exception]) -> None:
    # found by fuzz/: the pure twin compacted its buffer while an exception still
    # held a view of it (BufferError instead of the ProtocolError)
    dec = es.EventStreamDecoder()
    with pytest.raises(kind):
        dec.feed(frame(b"") * 3 + data)
    with pytest.raises(kind):
        dec.feed(b"")
