"""The front door's protocol sessions and coalescer, sans-I/O: messages in, events out,
every bad message a typed MediaStreamError (never a crash, never silently dropped)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scribewire.errors import AudioFormatError, MediaStreamError, ParameterError, ProtocolError
from scribewire.ingest import (
    Audio,
    AudioHookSession,
    CallEnd,
    CallStart,
    Gap,
    Reply,
    TwilioSession,
    WebSocketSession,
)
from scribewire.ingest.audiohook import parse_duration
from scribewire.ingest.coalesce import Coalescer
from scribewire.ingest.limits import MAX_GAP_FILL_MS, MAX_TRACK_SKEW_MS

# ----------------------------------------------------------------------------- Twilio


def tw_start(tracks: list[str] | None = None, **fmt: Any) -> str:
    media_format = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1, **fmt}
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ1",
            "start": {
                "streamSid": "MZ1",
                "accountSid": "AC1",
                "callSid": "CA1",
                "tracks": tracks or ["inbound"],
                "customParameters": {"lang": "en"},
                "mediaFormat": media_format,
            },
        }
    )


def tw_media(payload: bytes, track: str = "inbound", timestamp: int | None = None) -> str:
    media: dict[str, Any] = {"track": track, "payload": base64.b64encode(payload).decode()}
    if timestamp is not None:
        media["timestamp"] = str(timestamp)
    return json.dumps({"event": "media", "streamSid": "MZ1", "media": media})


def test_twilio_mono_call() -> None:
    s = TwilioSession(language="es-US")
    assert s.receive_text('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') == []
    (start,) = s.receive_text(tw_start())
    assert isinstance(start, CallStart)
    assert (start.call_id, start.sample_rate, start.channels, start.encoding, start.language) == (
        "CA1",
        8000,
        1,
        "mulaw",
        "es-US",
    )
    assert start.meta["stream_sid"] == "MZ1" and start.meta["param:lang"] == "en"
    assert s.receive_text(tw_media(b"\x01" * 160, timestamp=0)) == [Audio(b"\x01" * 160)]
    assert s.receive_text(tw_media(b"\x02" * 160, timestamp=20)) == [Audio(b"\x02" * 160)]
    assert s.receive_text('{"event": "mark", "mark": {"name": "x"}}') == []
    assert s.receive_text('{"event": "stop", "stop": {}}') == [CallEnd("stop")]
    with pytest.raises(MediaStreamError, match="after stop"):
        s.receive_text(tw_media(b"\x03"))


def test_twilio_two_tracks_interleave_and_the_late_one_is_filled() -> None:
    s = TwilioSession()
    (start,) = s.receive_text(tw_start(["inbound", "outbound"]))
    assert start.channels == 2 and start.bytes_per_frame == 2
    assert s.receive_text(tw_media(b"a" * 160, "inbound", 0)) == []  # waits for the other
    assert s.receive_text(tw_media(b"b" * 160, "outbound", 0)) == [Audio(b"ab" * 160)]
    # the outbound track stops: past the skew bound it is filled with silence (0xFF)
    out: list[Any] = []
    steps = MAX_TRACK_SKEW_MS // 20 + 2
    for i in range(steps):
        out += s.receive_text(tw_media(b"c" * 160, "inbound", 20 * (i + 1)))
    data = b"".join(e.data for e in out)
    assert data and data == b"c\xff" * (len(data) // 2)
    assert s.frames_filled > 0


def test_twilio_timestamp_gaps_are_filled_and_a_huge_jump_is_an_error() -> None:
    s = TwilioSession()
    s.receive_text(tw_start())
    s.receive_text(tw_media(b"\x01" * 160, timestamp=0))
    (audio,) = s.receive_text(tw_media(b"\x02" * 160, timestamp=60))  # 40 ms never sent
    assert audio.data == b"\xff" * 320 + b"\x02" * 160
    with pytest.raises(MediaStreamError, match="jumps"):
        s.receive_text(tw_media(b"\x03" * 160, timestamp=100 + MAX_GAP_FILL_MS + 1000))


@pytest.mark.parametrize(
    ("messages", "match", "code"),
    [
        (["{"], "not a Twilio", 1007),
        (['{"event": "bogus"}'], "not a Twilio", 1007),
        (["[1, 2]"], "not a Twilio", 1007),
        ([tw_media(b"x")], "before start", 1008),
        (["START", "START"], "second Twilio start", 1008),
        (["START", tw_media(b"x", track="mixed")], "track", 1008),
        (["START", '{"event": "media", "media": {"payload": "!!notbase64"}}'], "not a", 1007),
        (["START", '{"event": "media", "media": {"payload": 5}}'], "not a", 1007),
        (
            [
                "START",
                tw_media(b"x", timestamp=None).replace(
                    '"inbound"', '"inbound", "timestamp": "soon"'
                ),
            ],
            "timestamp",
            1008,
        ),
        (['{"event": "stop"}'], "before start", 1008),
        ([tw_start(encoding="audio/l16")], "mediaFormat", 1008),
        ([tw_start(sampleRate=16000)], "mediaFormat", 1008),
        ([tw_start(["inbound", "inbound"])], "tracks", 1008),
        ([tw_start(["both"])], "tracks", 1008),
    ],
)
def test_twilio_bad_messages(messages: list[str], match: str, code: int) -> None:
    s = TwilioSession()
    with pytest.raises(MediaStreamError, match=match) as info:
        for m in messages:
            s.receive_text(tw_start() if m == "START" else m)
    assert info.value.close_code == code and info.value.remote
    assert isinstance(info.value, ProtocolError)


def test_twilio_takes_no_binary_messages() -> None:
    with pytest.raises(MediaStreamError) as info:
        TwilioSession().receive_bytes(b"\x00")
    assert info.value.close_code == 1003


# ----------------------------------------------------------------------------- AudioHook

SESSION = "e160e428-53e2-487c-977d-96989bf5c99d"


class Client:
    """An AudioHook client's messages, numbered."""

    def __init__(self) -> None:
        self.seq = 0

    def msg(self, type_: str, parameters: dict[str, Any] | None = None, **over: Any) -> str:
        self.seq += 1
        m = {
            "version": "2",
            "id": SESSION,
            "type": type_,
            "seq": self.seq,
            "serverseq": 0,
            "position": "PT0S",
            "parameters": parameters or {},
        }
        m.update(over)
        return json.dumps(m)

    def open(self, media: list[dict[str, Any]] | None = None, **params: Any) -> str:
        p = {
            "organizationId": "org",
            "conversationId": "conv-1",
            "participant": {"id": "p1", "ani": "+1555", "aniName": "", "dnis": "+1666"},
            "media": media
            if media is not None
            else [
                {
                    "type": "audio",
                    "format": "PCMU",
                    "channels": ["external", "internal"],
                    "rate": 8000,
                }
            ],
            "language": "en-GB",
            **params,
        }
        return self.msg("open", p)


def replies(events: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(e.text) for e in events if isinstance(e, Reply)]


def test_audiohook_session_lifecycle() -> None:
    s, c = AudioHookSession(), Client()
    (start,) = s.receive_text(c.open())
    assert (start.call_id, start.channels, start.encoding, start.language) == (
        "conv-1",
        2,
        "mulaw",
        "en-GB",
    )
    assert "+1555" not in json.dumps(start.meta)  # no phone numbers in the ledger
    (opened,) = replies(s.accept())
    assert opened["type"] == "opened" and opened["seq"] == 1 and opened["clientseq"] == 1
    assert opened["id"] == SESSION and opened["parameters"]["media"][0]["format"] == "PCMU"
    assert s.receive_bytes(b"\x00\x01" * 80) == [Audio(b"\x00\x01" * 80)]
    (pong,) = replies(s.receive_text(c.msg("ping", {"rtt": "PT0.05S"})))
    assert (pong["type"], pong["seq"], pong["clientseq"]) == ("pong", 2, 2)
    assert s.receive_text(c.msg("paused")) == [] and s.paused
    assert s.receive_text(c.msg("resumed", {"start": "PT2S", "discarded": "PT1.5S"})) == [
        Gap(12000, "resumed")
    ]
    assert s.receive_text(c.msg("discarded", {"start": "PT3S", "discarded": "PT0.25S"})) == [
        Gap(2000, "discarded")
    ]
    (updated,) = replies(s.receive_text(c.msg("update", {"language": "fr-FR"})))
    assert updated["type"] == "updated"
    assert s.receive_text(c.msg("error", {"code": 500, "message": "x"})) == []
    events = s.receive_text(c.msg("close", {"reason": "end"}))
    assert events[0] == CallEnd("end") and replies(events)[0]["type"] == "closed"
    with pytest.raises(MediaStreamError, match="outside"):
        s.receive_bytes(b"\x00\x00")


def test_audiohook_server_messages_and_refusal_before_opened() -> None:
    s, c = AudioHookSession(), Client()
    s.receive_text(c.open())
    d = json.loads(s.disconnect("error", "refused: capacity").text)  # instead of opened
    assert (d["type"], d["seq"], d["parameters"]) == (
        "disconnect",
        1,
        {"reason": "error", "info": "refused: capacity"},
    )
    r = json.loads(s.reconnect("moving").text)
    assert (r["type"], r["seq"], r["parameters"]["info"]) == ("reconnect", 2, "moving")


@pytest.mark.parametrize(
    ("media", "chosen"),
    [
        ([{"type": "audio", "format": "L16", "channels": ["external"], "rate": 8000}], ("L16", 1)),
        (
            [
                {
                    "type": "audio",
                    "format": "L16",
                    "channels": ["external", "internal"],
                    "rate": 8000,
                },
                {
                    "type": "audio",
                    "format": "PCMU",
                    "channels": ["external", "internal"],
                    "rate": 8000,
                },
                {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000},
            ],
            ("PCMU", 2),
        ),
        (
            [
                {"type": "audio", "format": "OPUS", "channels": ["external"], "rate": 8000},
                {"type": "audio", "format": "PCMU", "channels": ["internal"], "rate": 8000},
            ],
            ("PCMU", 1),
        ),
    ],
)
def test_audiohook_media_choice(media: list[dict[str, Any]], chosen: tuple[str, int]) -> None:
    s, c = AudioHookSession(), Client()
    (start,) = s.receive_text(c.open(media))
    (opened,) = replies(s.accept())
    m = opened["parameters"]["media"][0]
    assert (
        (m["format"], len(m["channels"]))
        == chosen
        == (
            "PCMU" if start.encoding == "mulaw" else "L16",
            start.channels,
        )
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda c: ["nope"], "not an AudioHook"),
        (lambda c: [c.msg("open", version="1")], "version"),
        (lambda c: [c.msg("ping")], "before open"),
        (lambda c: [c.open(), c.msg("ping", seq=5)], "seq 5 after 1"),
        (lambda c: [c.open(), c.msg("ping", id="other")], "another session"),
        (lambda c: [c.open(), c.open()], "second AudioHook open"),
        (
            lambda c: [
                c.open(
                    [{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 16000}]
                )
            ],
            "no offer",
        ),
        (lambda c: [c.open([])], "must list"),
        (lambda c: [c.open(conversationId="")], "conversationId"),
        (lambda c: [c.open(language=5)], "language"),
        (lambda c: [c.open(), c.msg("discarded", {"discarded": "1.5 seconds"})], "duration"),
        (lambda c: [c.open(), c.msg("opened")], "not a client message"),
        (lambda c: [c.open(), c.msg("discarded", {"discarded": "PT86400S"})], "at most"),
        (lambda c: [c.open(), c.msg("close"), c.msg("ping")], "after close"),
    ],
)
def test_audiohook_bad_messages(make: Any, match: str) -> None:
    s, c = AudioHookSession(), Client()
    with pytest.raises(MediaStreamError, match=match):
        for m in make(c):
            s.receive_text(m)


def test_audiohook_audio_must_be_whole_frames() -> None:
    s, c = AudioHookSession(), Client()
    with pytest.raises(MediaStreamError, match="outside"):
        s.receive_bytes(b"\x00\x00")
    s.receive_text(
        c.open(
            [{"type": "audio", "format": "L16", "channels": ["external", "internal"], "rate": 8000}]
        )
    )
    with pytest.raises(MediaStreamError, match="4-byte frames") as info:
        s.receive_bytes(b"\x00" * 6)
    assert info.value.close_code == 1007


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT0S", 0.0), ("PT1.25S", 1.25), ("PT3600S", 3600.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["PT-1S", "1.5", "PT1.5M", "", None, 3])
def test_parse_duration_refuses(text: Any) -> None:
    with pytest.raises(MediaStreamError):
        parse_duration(text)


# ----------------------------------------------------------------------------- generic


def test_generic_socket() -> None:
    s = WebSocketSession(call_id="from-url")
    (start,) = s.receive_text('{"sample_rate": 16000, "channels": 2, "extra": "kept out"}')
    assert (start.call_id, start.sample_rate, start.channels, start.encoding) == (
        "from-url",
        16000,
        2,
        "pcm",
    )
    assert s.receive_bytes(b"\x00" * 8) == [Audio(b"\x00" * 8)]
    with pytest.raises(MediaStreamError, match="whole 4-byte"):
        s.receive_bytes(b"\x00" * 6)
    assert s.receive_text('{"event": "stop"}') == [CallEnd("stop")]
    with pytest.raises(MediaStreamError, match="after the stop"):
        s.receive_bytes(b"\x00" * 4)


@pytest.mark.parametrize(
    ("start", "match"),
    [
        ('{"call_id": "a"}', "not a start"),
        ('{"call_id": "a", "sample_rate": 44100}', "sample_rate"),
        ('{"call_id": "a", "sample_rate": 8000, "channels": 3}', "channels"),
        ('{"call_id": "a", "sample_rate": 8000, "encoding": "OPUS"}', "encoding"),
        ('{"sample_rate": 8000}', "call_id"),
        (json.dumps({"call_id": "x" * 201, "sample_rate": 8000}), "call_id"),
    ],
)
def test_generic_bad_start(start: str, match: str) -> None:
    with pytest.raises(MediaStreamError, match=match):
        WebSocketSession().receive_text(start)


def test_generic_audio_before_start_and_other_text_after() -> None:
    with pytest.raises(MediaStreamError, match="before the start") as info:
        WebSocketSession().receive_bytes(b"\x00\x00")
    assert info.value.close_code == 1003
    s = WebSocketSession()
    s.receive_text('{"call_id": "a", "sample_rate": 8000, "encoding": "PCMU"}')
    with pytest.raises(MediaStreamError, match="only stop"):
        s.receive_text('{"event": "pause"}')


# ----------------------------------------------------------------------------- coalescer


def test_coalescer_entries_end_on_whole_ms_and_the_last_is_padded() -> None:
    c = Coalescer(8000, 2, 200, silence=0)
    assert c.add(b"\x01\x00" * 1000) == []  # 125 ms
    (e,) = c.add(b"\x02\x00" * 700)  # 212.5 ms in all: one entry of 200 ms
    assert e[0] == 200 and len(e[1]) == 3200
    assert c.buffered_nbytes == 100 * 2 and c.position_ms == 212
    ((ms, last),) = c.flush()  # 12.5 ms padded to 13
    assert ms == 213 and len(last) == 13 * 16 and last.endswith(b"\x00" * 8)
    assert c.flush() == []
    assert c.skip(4001) == [] and c.position_ms == 213 + 501  # a gap, rounded up to whole ms
    with pytest.raises(AudioFormatError):
        c.add(b"\x00")


@pytest.mark.parametrize(
    "kw",
    [
        {"sample_rate": 11025, "bytes_per_frame": 2, "entry_ms": 200},
        {"sample_rate": 8000, "bytes_per_frame": 3, "entry_ms": 200},
        {"sample_rate": 8000, "bytes_per_frame": 2, "entry_ms": 0},
    ],
)
def test_coalescer_parameters(kw: dict[str, int]) -> None:
    with pytest.raises(ParameterError):
        Coalescer(**kw)


@settings(max_examples=150, deadline=None)
@given(
    rate=st.sampled_from([8000, 16000]),
    bpf=st.sampled_from([1, 2, 4]),
    entry_ms=st.integers(1, 300),
    sizes=st.lists(st.integers(0, 3000), max_size=30),
)
def test_coalescer_keeps_every_byte_in_order_with_increasing_ms(
    rate: int, bpf: int, entry_ms: int, sizes: list[int]
) -> None:
    c = Coalescer(rate, bpf, entry_ms, start_ms=7, silence=0xFF)
    sent = bytearray()
    out: list[tuple[int, bytes]] = []
    for i, n in enumerate(sizes):
        chunk = bytes([i % 251]) * (n * bpf)
        sent += chunk
        out += c.add(chunk)
        assert c.buffered_nbytes < entry_ms * rate // 1000 * bpf  # less than one entry held
    out += c.flush()
    data = b"".join(d for _, d in out)
    assert data[: len(sent)] == sent and set(data[len(sent) :]) <= {0xFF}
    assert len(data) - len(sent) < rate // 1000 * bpf  # less than 1 ms of padding
    ends = [ms for ms, _ in out]
    assert ends == sorted(set(ends))
    pos = 7
    for ms, d in out:  # each entry's length is exactly its span of ms
        assert len(d) == (ms - pos) * rate // 1000 * bpf
        pos = ms
