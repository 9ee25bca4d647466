"""The server side of WebSocket framing (RFC 6455 §5), both twins, against websockets.

Oracles: frames are built by ``websockets.frames.Frame.serialize(mask=True)`` (what the
websockets client sends), and the frames we build are parsed by
``websockets.client.ClientProtocol`` in the OPEN state (which refuses masked server
frames). Every fault of §5 gives ``WebSocketProtocolError`` with its close code, after
the messages before the bad bytes; any split of the byte stream (down to one byte at a
time) gives the same messages.
"""

from __future__ import annotations

import os
import struct
from types import ModuleType

import pytest
from conftest import twin_params, twins
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State

from scribewire.errors import ProtocolError, WebSocketProtocolError

pytestmark = pytest.mark.parametrize("mod", twin_params("wsserver"))

LENGTHS = [0, 1, 3, 4, 5, 125, 126, 127, 3304, 65535, 65536, 70001]


def masked(opcode: Opcode, payload: bytes, fin: bool = True, **kw: bool) -> bytes:
    """A client frame as the websockets library serializes it (masked, RFC 6455 §5.3)."""
    return Frame(opcode, payload, fin=fin, **kw).serialize(mask=True, extensions=[])


def raw_masked(first: int, payload: bytes, key: bytes = b"\x01\x02\x03\x04") -> bytes:
    """A masked frame with any first byte (FIN, RSV, opcode), for frames websockets
    refuses to build."""
    n = len(payload)
    if n < 126:
        head = bytes([first, 0x80 | n])
    elif n < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack("!Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def unmasked(opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin=fin).serialize(mask=False, extensions=[])


def close_body(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def feed_all(mod: ModuleType, data: bytes, chunks: list[int] | None = None, **kw: int) -> list[tuple[int, object]]:
    reader = mod.FrameReader(**kw)
    out: list[tuple[int, object]] = []
    if chunks is None:
        reader.feed(data, out)
    else:
        at = 0
        for n in chunks:
            reader.feed(data[at : at + n], out)
            at += n
        reader.feed(data[at:], out)
    return out


def bytewise(mod: ModuleType, data: bytes, **kw: int) -> list[tuple[int, object]]:
    reader = mod.FrameReader(**kw)
    out: list[tuple[int, object]] = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1], out)
    return out


def fault(mod: ModuleType, data: bytes, **kw: int) -> tuple[WebSocketProtocolError, list[tuple[int, object]]]:
    reader = mod.FrameReader(**kw)
    out: list[tuple[int, object]] = []
    with pytest.raises(WebSocketProtocolError) as info:
        reader.feed(data, out)
    # after a fault, nothing more is read
    more: list[tuple[int, object]] = []
    reader.feed(masked(Opcode.BINARY, b"later"), more)
    assert more == []
    return info.value, out


# ----------------------------------------------------------------------- messages


@pytest.mark.parametrize("n", LENGTHS)
def test_binary_of_every_length(mod: ModuleType, n: int) -> None:
    payload = os.urandom(n)
    data = masked(Opcode.BINARY, payload)
    assert feed_all(mod, data) == [(mod.OP_BINARY, payload)]
    assert feed_all(mod, data, [1, 1, 1, 5]) == [(mod.OP_BINARY, payload)]


def test_text_control_and_close(mod: ModuleType) -> None:
    data = (
        masked(Opcode.TEXT, "naïve ✓".encode())
        + masked(Opcode.PING, b"are you there")
        + masked(Opcode.PONG, b"")
        + masked(Opcode.CLOSE, close_body(1000, "done ✓"))
    )
    expect = [
        (mod.OP_TEXT, "naïve ✓"),
        (mod.OP_PING, b"are you there"),
        (mod.OP_PONG, b""),
        (mod.OP_CLOSE, (1000, "done ✓")),
    ]
    assert feed_all(mod, data) == expect
    assert bytewise(mod, data) == expect


def test_close_without_body_is_1005(mod: ModuleType) -> None:
    assert feed_all(mod, masked(Opcode.CLOSE, b"")) == [(mod.OP_CLOSE, (1005, ""))]


def test_nothing_is_read_after_a_close_frame(mod: ModuleType) -> None:
    reader = mod.FrameReader()
    out: list[tuple[int, object]] = []
    reader.feed(masked(Opcode.CLOSE, close_body(1001)) + masked(Opcode.BINARY, b"x"), out)
    reader.feed(masked(Opcode.BINARY, b"y"), out)
    assert out == [(mod.OP_CLOSE, (1001, ""))]
    assert reader.closed


def test_fragments_with_control_frames_between(mod: ModuleType) -> None:
    data = (
        masked(Opcode.BINARY, b"ab", fin=False)
        + masked(Opcode.PING, b"1")
        + masked(Opcode.CONT, b"cd", fin=False)
        + masked(Opcode.PONG, b"2")
        + masked(Opcode.CONT, b"ef")
        + masked(Opcode.TEXT, "€".encode()[:2], fin=False)  # a character split across frames
        + masked(Opcode.CONT, "€".encode()[2:])
    )
    expect = [
        (mod.OP_PING, b"1"),
        (mod.OP_PONG, b"2"),
        (mod.OP_BINARY, b"abcdef"),
        (mod.OP_TEXT, "€"),
    ]
    assert feed_all(mod, data) == expect
    assert bytewise(mod, data) == expect


def test_fragment_of_empty_frames(mod: ModuleType) -> None:
    data = masked(Opcode.TEXT, b"", fin=False) + masked(Opcode.CONT, b"", fin=False) + masked(Opcode.CONT, b"")
    assert feed_all(mod, data) == [(mod.OP_TEXT, "")]


@st.composite
def conversations(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, object]]]:
    """Random messages, some fragmented with control frames between the fragments."""
    data = b""
    expect: list[tuple[int, object]] = []
    for _ in range(draw(st.integers(1, 6))):
        text = draw(st.booleans())
        if text:
            value: object = draw(st.text(max_size=300))
            payload = str(value).encode()
        else:
            payload = draw(st.binary(max_size=700))
            value = payload
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        controls: list[tuple[int, object]] = []
        for i, piece in enumerate(pieces):
            op = (Opcode.TEXT if text else Opcode.BINARY) if i == 0 else Opcode.CONT
            data += masked(op, piece, fin=i == len(pieces) - 1)
            if i < len(pieces) - 1 and draw(st.booleans()):
                body = draw(st.binary(max_size=125))
                ping = draw(st.booleans())
                data += masked(Opcode.PING if ping else Opcode.PONG, body)
                controls.append((0x9 if ping else 0xA, body))
        expect.extend(controls)
        expect.append((0x1 if text else 0x2, value))
    return data, expect


@settings(max_examples=150, deadline=None)
@given(conv=conversations(), seed=st.randoms(use_true_random=False))
def test_any_split_gives_the_same_messages(mod: ModuleType, conv: tuple[bytes, list[tuple[int, object]]], seed) -> None:  # type: ignore[no-untyped-def]
    data, expect = conv
    chunks = [seed.randint(1, 64) for _ in range(len(data) // 8 + 1)]
    assert feed_all(mod, data) == expect
    assert feed_all(mod, data, chunks) == expect


@settings(max_examples=30, deadline=None)
@given(conv=conversations())
def test_byte_by_byte_and_the_twins_agree(mod: ModuleType, conv: tuple[bytes, list[tuple[int, object]]]) -> None:
    data, expect = conv
    assert bytewise(mod, data) == expect
    for other in twins("wsserver"):
        assert feed_all(other, data) == expect


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), cut=st.integers(0, 200))
def test_arbitrary_bytes_never_crash(mod: ModuleType, data: bytes, cut: int) -> None:
    """Garbage gives messages or a WebSocketProtocolError, the same in both twins and any split."""
    results = []
    for m in twins("wsserver"):
        for chunks in (None, [cut]):
            reader = m.FrameReader(max_message_nbytes=100)
            out: list[tuple[int, object]] = []
            code = None
            try:
                if chunks is None:
                    reader.feed(data, out)
                else:
                    reader.feed(data[:cut], out)
                    reader.feed(data[cut:], out)
            except WebSocketProtocolError as exc:
                code = exc.close_code
            assert reader.buffered_nbytes <= 100 + 14
            results.append((out, code))
    assert all(r == results[0] for r in results)


# ----------------------------------------------------------------------- faults


def test_unmasked_client_frame_is_1002(mod: ModuleType) -> None:
    err, out = fault(mod, masked(Opcode.BINARY, b"ok") + unmasked(Opcode.BINARY, b"bad"))
    assert err.close_code == 1002 and "masked" in str(err)
    assert out == [(mod.OP_BINARY, b"ok")]  # the message before the fault
    assert isinstance(err, ProtocolError) and err.remote


@pytest.mark.parametrize("bits", [0x40, 0x20, 0x10])
def test_reserved_bits_are_1002(mod: ModuleType, bits: int) -> None:
    data = bytearray(masked(Opcode.BINARY, b"x"))
    data[0] |= bits
    err, _ = fault(mod, bytes(data))
    assert err.close_code == 1002 and "reserved bits" in str(err)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_1002(mod: ModuleType, opcode: int) -> None:
    data = bytearray(masked(Opcode.BINARY, b"x"))
    data[0] = 0x80 | opcode
    err, _ = fault(mod, bytes(data))
    assert err.close_code == 1002 and "reserved" in str(err)


def test_fragmented_control_frame_is_1002(mod: ModuleType) -> None:
    err, _ = fault(mod, raw_masked(0x09, b"x"))
    assert err.close_code == 1002 and "fragmented control" in str(err)


def test_control_frame_over_125_bytes_is_1002_from_its_header(mod: ModuleType) -> None:
    data = raw_masked(0x89, b"x" * 126)
    err, _ = fault(mod, data[:8])  # header only
    assert err.close_code == 1002 and "125" in str(err)


def test_continuation_without_a_message_is_1002(mod: ModuleType) -> None:
    err, _ = fault(mod, masked(Opcode.CONT, b"x"))
    assert err.close_code == 1002 and "continuation" in str(err)


def test_new_message_inside_a_fragmented_one_is_1002(mod: ModuleType) -> None:
    err, _ = fault(mod, masked(Opcode.BINARY, b"a", fin=False) + masked(Opcode.TEXT, b"b"))
    assert err.close_code == 1002 and "fragmented one" in str(err)


def test_64_bit_length_with_top_bit_is_1002(mod: ModuleType) -> None:
    data = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0"
    err, _ = fault(mod, data)
    assert err.close_code == 1002 and "top bit" in str(err)


@pytest.mark.parametrize("n", [101, 70_000, 2**40])
def test_oversized_message_is_1009_from_its_header(mod: ModuleType, n: int) -> None:
    """The announcing header alone is refused: no payload byte is buffered."""
    if n < 126:
        head = bytes([0x82, 0x80 | n])
    elif n < 65536:
        head = bytes([0x82, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", n)
    err, _ = fault(mod, head + b"\1\2\3\4", max_message_nbytes=100)
    assert err.close_code == 1009 and "100 bytes" in str(err)


def test_oversized_across_fragments_is_1009(mod: ModuleType) -> None:
    data = masked(Opcode.BINARY, b"a" * 60, fin=False) + masked(Opcode.CONT, b"b" * 41)
    err, _ = fault(mod, data, max_message_nbytes=100)
    assert err.close_code == 1009
    ok = masked(Opcode.BINARY, b"a" * 60, fin=False) + masked(Opcode.CONT, b"b" * 40)
    assert feed_all(mod, ok, max_message_nbytes=100) == [(mod.OP_BINARY, b"a" * 60 + b"b" * 40)]


def test_the_limit_can_be_narrowed(mod: ModuleType) -> None:
    reader = mod.FrameReader()
    assert reader.max_message_nbytes == mod.DEFAULT_MAX_MESSAGE_NBYTES
    reader.max_message_nbytes = 10
    out: list[tuple[int, object]] = []
    reader.feed(masked(Opcode.BINARY, b"x" * 10), out)
    with pytest.raises(WebSocketProtocolError):
        reader.feed(masked(Opcode.BINARY, b"x" * 11), out)
    with pytest.raises(ValueError):
        mod.FrameReader(max_message_nbytes=-1)


def test_text_not_utf8_is_1007(mod: ModuleType) -> None:
    err, _ = fault(mod, masked(Opcode.TEXT, b"\xff\xfe"))
    assert err.close_code == 1007
    err, _ = fault(mod, masked(Opcode.TEXT, b"\xe2\x82", fin=False) + masked(Opcode.CONT, b"!"))
    assert err.close_code == 1007


def test_close_with_one_byte_is_1002(mod: ModuleType) -> None:
    err, _ = fault(mod, masked(Opcode.CLOSE, b"\x03"))
    assert err.close_code == 1002


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_codes_that_may_not_be_sent_are_1002(mod: ModuleType, code: int) -> None:
    err, _ = fault(mod, masked(Opcode.CLOSE, close_body(code)))
    assert err.close_code == 1002 and str(code) in str(err)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999])
def test_close_codes_that_may_be_sent(mod: ModuleType, code: int) -> None:
    assert feed_all(mod, masked(Opcode.CLOSE, close_body(code, "r"))) == [(mod.OP_CLOSE, (code, "r"))]


def test_close_reason_not_utf8_is_1007(mod: ModuleType) -> None:
    err, _ = fault(mod, masked(Opcode.CLOSE, close_body(1000) + b"\xc3"))
    assert err.close_code == 1007


def test_buffers_are_bounded(mod: ModuleType) -> None:
    """A frame announced but not delivered, and a fragmented message, hold no more than the limit."""
    reader = mod.FrameReader(max_message_nbytes=1000)
    out: list[tuple[int, object]] = []
    data = masked(Opcode.BINARY, b"a" * 600, fin=False) + masked(Opcode.CONT, b"b" * 400)
    for i in range(len(data) - 1):
        reader.feed(data[i : i + 1], out)
        assert reader.buffered_nbytes <= 1000 + 14
    reader.feed(data[-1:], out)
    assert out == [(mod.OP_BINARY, b"a" * 600 + b"b" * 400)] and reader.buffered_nbytes == 0


def test_bytes_like_input(mod: ModuleType) -> None:
    data = masked(Opcode.BINARY, b"xyz")
    for arg in (bytearray(data), memoryview(data)):
        assert feed_all(mod, arg) == [(mod.OP_BINARY, b"xyz")]  # type: ignore[arg-type]


# ----------------------------------------------------------------------- server frames


def client_parse(data: bytes) -> list[Frame]:
    """What a websockets client makes of ``data``."""
    client = ClientProtocol("ws://x/", state=State.OPEN, max_size=None)  # type: ignore[arg-type]
    client.receive_data(data)
    frames = [e for e in client.events_received() if isinstance(e, Frame)]
    assert client.parser_exc is None, client.parser_exc
    return frames


@pytest.mark.parametrize("n", LENGTHS)
def test_server_frames_parse_in_the_websockets_client(mod: ModuleType, n: int) -> None:
    payload = os.urandom(n)
    (frame,) = client_parse(mod.encode_frame(mod.OP_BINARY, payload))
    assert (frame.opcode, frame.data, frame.fin) == (Opcode.BINARY, payload, True)
    (frame,) = client_parse(mod.encode_frame(mod.OP_TEXT, "é".encode() * (n // 2)))
    assert frame.opcode is Opcode.TEXT and frame.data.decode() == "é" * (n // 2)


def test_server_control_frames(mod: ModuleType) -> None:
    frames = client_parse(mod.encode_frame(mod.OP_PONG, b"p") + mod.encode_close(1008, "client not reading"))
    assert (frames[0].opcode, frames[0].data) == (Opcode.PONG, b"p")
    assert frames[1].opcode is Opcode.CLOSE
    assert Close.parse(frames[1].data) == Close(1008, "client not reading")
    # the reason is cut to what a close frame holds, at a character boundary
    long = mod.encode_close(1000, "é" * 100)
    assert len(long) == 2 + 2 + 122  # 61 two-byte characters fit in 123 bytes
    (frame,) = client_parse(long)
    assert Close.parse(frame.data).reason == "é" * 61
    with pytest.raises(ValueError):
        mod.encode_close(1005)
    with pytest.raises(ValueError):
        mod.encode_frame(mod.OP_PING, b"x" * 126)
    with pytest.raises(ValueError):
        mod.encode_frame(0, b"")
