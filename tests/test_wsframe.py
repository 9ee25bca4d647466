"""WebSocket client frames (RFC 6455 §5.2, §5.3), both twins, against websockets' own parser.

The oracle is ``websockets.server.ServerProtocol`` in the OPEN state: it refuses an
unmasked client frame, unmasks, checks the header, and hands back the message.
"""

from __future__ import annotations

import os
import struct
from types import ModuleType

import numpy as np
import pytest
from conftest import twin_params
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from scribewire import eventstream, wsframe
from scribewire._kernels._wsframe_py import KEY_POOL_NBYTES
from scribewire.errors import MessageTooLarge
from scribewire.transcribe import (
    CallAnalyticsParams,
    ChannelDefinition,
    ConfigurationEvent,
    StreamParams,
    TranscribeSession,
)

pytestmark = pytest.mark.parametrize("mod", twin_params("wsframe"))

#: lengths on both sides of the 7-bit / 16-bit / 64-bit length boundaries, and an AudioEvent
LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 125, 126, 127, 3304, 65535, 65536, 70001]


def parse(data: bytes) -> list[Frame]:
    """What a WebSocket server makes of ``data`` (every frame must be complete)."""
    server = ServerProtocol(state=State.OPEN, max_size=None)
    server.receive_data(data)
    frames = server.events_received()
    assert not isinstance(server.parser_exc, Exception), server.parser_exc
    assert server.state is State.OPEN
    return [f for f in frames if isinstance(f, Frame)]


@pytest.mark.parametrize("n", LENGTHS)
def test_oracle_unmasks_every_length(mod: ModuleType, n: int) -> None:
    payload = os.urandom(n)
    key = os.urandom(4)
    frame = mod.encode_binary_frame(payload, key)
    (got,) = parse(frame)
    assert got.opcode is Opcode.BINARY and got.fin and got.data == payload
    head = 6 if n < 126 else 8 if n < 65536 else 14
    assert len(frame) == head + n
    assert frame[head - 4 : head] == key


def test_header_bytes(mod: ModuleType) -> None:
    key = b"\x01\x02\x03\x04"
    assert mod.encode_binary_frame(b"", key) == b"\x82\x80" + key
    assert mod.encode_binary_frame(b"\x00" * 125, key)[:2] == b"\x82\xfd"
    assert mod.encode_binary_frame(b"\x00" * 126, key)[:4] == b"\x82\xfe\x00\x7e"
    big = mod.encode_binary_frame(b"\x00" * 65536, key)
    assert big[:10] == b"\x82\xff" + struct.pack("!Q", 65536)
    # zero bytes masked are the key itself, repeated (RFC 6455 §5.3)
    assert big[14:] == key * 16384


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=600), key=st.binary(min_size=4, max_size=4))
def test_hypothesis_matches_oracle_and_twins(mod: ModuleType, payload: bytes, key: bytes) -> None:
    frame = mod.encode_binary_frame(payload, key)
    assert [f.data for f in parse(frame)] == [payload]
    assert frame == wsframe.encode_binary_frame(payload, key)  # the selected twin agrees


def test_buffers_of_any_item_size(mod: ModuleType) -> None:
    key = os.urandom(4)
    samples = np.arange(-500, 500, dtype=np.int16).reshape(10, 100)
    frame = mod.encode_binary_frame(samples, key)
    assert parse(frame)[0].data == samples.tobytes()
    assert mod.encode_binary_frame(bytearray(b"abc"), memoryview(key)) == mod.encode_binary_frame(
        b"abc", key
    )


def test_bad_arguments(mod: ModuleType) -> None:
    with pytest.raises(TypeError):
        mod.encode_binary_frame("text", b"abcd")
    with pytest.raises(TypeError):
        mod.encode_binary_frame(None, b"abcd")
    with pytest.raises(TypeError, match="C-contiguous"):
        mod.encode_binary_frame(np.arange(10, dtype=np.uint8)[::2], b"abcd")
    with pytest.raises(TypeError):
        mod.encode_binary_frame(b"x", "abcd")
    for key in (b"", b"abc", b"abcde"):
        with pytest.raises(ValueError, match="4 bytes"):
            mod.encode_binary_frame(b"x", key)
    with pytest.raises(TypeError):
        mod.ClientFramer().binary_frame(12)


class Counting:
    """A known entropy source: consecutive byte values, and how often it was called."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, n: int) -> bytes:
        start = len(self.calls) * 7
        self.calls.append(n)
        return bytes((start + i) % 251 for i in range(n))


def test_framer_keys_are_consecutive_pool_slices(mod: ModuleType) -> None:
    source = Counting()
    framer = mod.ClientFramer(source)
    assert mod.KEY_POOL_NBYTES == KEY_POOL_NBYTES == 4096
    keys_per_pool = KEY_POOL_NBYTES // 4
    message = eventstream.encode_audio_event(bytes(3200))
    frames = [framer.binary_frame(message) for _ in range(keys_per_pool + 3)]
    assert source.calls == [KEY_POOL_NBYTES, KEY_POOL_NBYTES]  # one draw per 1,024 frames
    pools = Counting()
    expected = pools(KEY_POOL_NBYTES) + pools(KEY_POOL_NBYTES)
    for i, frame in enumerate(frames):
        assert frame[4:8] == expected[4 * i : 4 * i + 4]
        assert frame == mod.encode_binary_frame(message, expected[4 * i : 4 * i + 4])
    assert [f.data for f in parse(b"".join(frames))] == [message] * len(frames)


def test_framer_with_os_urandom_never_repeats_a_key(mod: ModuleType) -> None:
    framer = mod.ClientFramer()
    keys = {framer.binary_frame(b"ab")[2:6] for _ in range(3000)}
    assert len(keys) > 2990  # 3,000 random 32-bit keys: a collision is ~0.1 % likely


def test_framer_rejects_a_bad_entropy_source(mod: ModuleType) -> None:
    with pytest.raises(ValueError, match="4096"):
        mod.ClientFramer(lambda n: bytes(n - 1)).binary_frame(b"x")
    with pytest.raises(TypeError, match="bytes"):
        mod.ClientFramer(lambda n: bytearray(n)).binary_frame(b"x")
    with pytest.raises(TypeError, match="bytes"):
        mod.ClientFramer(lambda n: None).binary_frame(b"x")


@pytest.mark.parametrize(
    ("nbytes_audio", "nbytes"),
    [(0, 3200), (1, 3200), (32000, 3200), (32001, 3200), (9, 2), (70000, 70000)],
)
def test_audio_event_frames_are_framed_audio_events(
    mod: ModuleType, nbytes_audio: int, nbytes: int
) -> None:
    """The fused kernel gives the bytes of the two steps, with the same keys in order."""
    audio = os.urandom(nbytes_audio)
    fused = mod.ClientFramer(Counting()).audio_event_frames(memoryview(audio), nbytes)
    two_step = mod.ClientFramer(Counting())
    messages = eventstream.encode_audio_events(audio, nbytes)
    assert fused == [two_step.binary_frame(m) for m in messages]
    assert [f.data for f in parse(b"".join(fused))] == messages
    decoded = [eventstream.decode_message(f.data) for f in parse(b"".join(fused))]
    assert b"".join(m.payload for m in decoded) == audio
    assert all(m.headers[":event-type"] == "AudioEvent" for m in decoded)


def test_audio_event_frames_bad_arguments(mod: ModuleType) -> None:
    framer = mod.ClientFramer()
    with pytest.raises(ValueError, match="nbytes"):
        framer.audio_event_frames(b"abcd", 0)
    with pytest.raises(TypeError):
        framer.audio_event_frames("abcd", 2)
    with pytest.raises(TypeError, match="C-contiguous"):
        framer.audio_event_frames(np.zeros(8, np.int16)[::2], 2)
    too_big = eventstream.DEFAULT_MAX_PAYLOAD_LENGTH + 1
    with pytest.raises(MessageTooLarge):
        framer.audio_event_frames(bytes(too_big), too_big)


def _session_pair(mod: ModuleType, params: object) -> tuple[TranscribeSession, TranscribeSession]:
    return TranscribeSession(params), TranscribeSession(params, framer=mod.ClientFramer())  # type: ignore[arg-type]


def test_session_with_a_framer_returns_websocket_frames(mod: ModuleType) -> None:
    """Every frame of a session with a framer is a WebSocket frame holding exactly the
    message the same session without one returns."""
    bare, framed = _session_pair(mod, StreamParams(language_code="en-US", sample_rate=16_000))
    rng = np.random.default_rng(6)
    for size in (1, 3199, 2, 6400, 16_000, 3, 1_000, 33_333):
        audio = rng.integers(-32768, 32767, size, dtype=np.int16).tobytes()[:size]
        plain = bare.send_audio(audio)
        assert [f.data for f in parse(b"".join(framed.send_audio(audio)))] == plain
    assert bare.buffered_bytes == framed.buffered_bytes == 59_938 % 3200  # whole frames
    plain = bare.end_of_stream()
    assert [f.data for f in parse(b"".join(framed.end_of_stream()))] == plain
    assert plain[-1] == eventstream.encode_audio_event(b"")  # the empty AudioEvent ends it
    assert framed.audio_bytes_sent == bare.audio_bytes_sent


def test_session_with_a_framer_frames_the_configuration(mod: ModuleType) -> None:
    params = CallAnalyticsParams(language_code="en-US", sample_rate=8000)
    cfg = ConfigurationEvent(
        channel_definitions=(ChannelDefinition(0, "AGENT"), ChannelDefinition(1, "CUSTOMER"))
    )
    bare, framed = _session_pair(mod, params)
    assert [f.data for f in parse(framed.send_configuration(cfg))] == [bare.send_configuration(cfg)]
    stereo = bytes(range(256)) * 50
    assert [f.data for f in parse(b"".join(framed.send_audio(stereo)))] == bare.send_audio(stereo)
