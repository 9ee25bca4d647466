"""``ServerSession`` on its own (sans-I/O): no sockets, time given as ``now``.

Frames come from independent encoders where it matters: ``_server_client.frame`` (zlib CRCs,
hand-packed headers) for plain events and ``amazon_transcribe``'s ``EventSigner`` and
serializer for signed envelopes, beside scribewire's own ``EventSigner``. Covers: any split
of the byte stream (byte by byte, random), every validation error with its exception type
and message, the strict signature chain (tampered signature, wrong prior signature, stale
``:date``), the idle (15 s) and duration (4 h) rules, and the shape of the results sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
from typing import Any

import pytest
from _server_client import amazon_envelopes, audio_frame, configuration_frame, frame

from scribewire import eventstream
from scribewire.errors import ParameterError, ServiceError, SessionStateError
from scribewire.eventstream import Timestamp
from scribewire.transcribe.credentials import Credentials
from scribewire.transcribe.errors import BadRequestException, LimitExceededException
from scribewire.transcribe.events import ChannelDefinition, ConfigurationEvent
from scribewire.transcribe.frames import encode_configuration_event, encode_signed_envelope
from scribewire.transcribe.server_session import (
    EVENT_HEADER_ROOM,
    IDLE_TIMEOUT_MESSAGE,
    STREAM_TOO_BIG_MESSAGE,
    AudioReceived,
    ConfigurationReceived,
    InputEnded,
    ResultSegment,
    ResultWord,
    ServerSession,
    ServerState,
    StreamFailed,
)
from scribewire.transcribe.sigv4 import EventSignatureVerifier, EventSigner

RATE = 16000
END = audio_frame(b"")
CA_CONFIG = ConfigurationEvent(
    channel_definitions=(ChannelDefinition(0, "CUSTOMER"), ChannelDefinition(1, "AGENT"))
)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
SEED = "a1" * 32  # stands in for the URL's X-Amz-Signature
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def session(kind: str = "standard", **kw: Any) -> ServerSession:
    kw.setdefault("sample_rate", RATE)
    kw.setdefault("channels", 1)
    kw.setdefault("now", 0.0)
    return ServerSession(kind, **kw)  # type: ignore[arg-type]


def pcm(seconds: float, rate: int = RATE, channels: int = 1, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(int(seconds * rate) * 2 * channels)


def decoded(frames: list[bytes]) -> list[tuple[dict[str, Any], Any]]:
    out = []
    for f in frames:
        msg = eventstream.decode_message(f)
        out.append((dict(msg.headers), json.loads(msg.payload)))
    return out


def assert_failed(
    s: ServerSession,
    exc_type: type[ServiceError],
    message: str | re.Pattern[str],
    events: list[Any] | None = None,
) -> None:
    """The session failed with exactly one exception frame of this type and message.

    ``events``: what ``events_received`` returned after the last good event (default: read
    it now).
    """
    assert s.state is ServerState.FAILED
    assert type(s.error) is exc_type
    if events is None:
        events = s.events_received()
    assert events[-1] == StreamFailed(s.error)
    assert not any(isinstance(e, StreamFailed) for e in events[:-1])
    ((headers, body),) = decoded(s.data_to_send())
    assert headers == {
        ":message-type": "exception",
        ":exception-type": exc_type.__name__,
        ":content-type": "application/json",
    }
    assert body == {"Message": s.error.message}
    if isinstance(message, re.Pattern):
        assert message.fullmatch(s.error.message), s.error.message
    else:
        assert s.error.message == message
    # later input is ignored, a second failure is not sent, results are refused
    s.receive_data(audio_frame(b"\0\0"), 1.0)
    s.receive_text("x", 1.0)
    s.check_timers(1e9)
    s.fail(BadRequestException("again"))
    assert s.events_received() == [] and s.data_to_send() == []
    assert s.next_deadline() is None
    with pytest.raises(SessionStateError):
        s.send_results(0, [])


# --------------------------------------------------------------------------- splits


def _stream_bytes() -> tuple[bytes, list[bytes]]:
    chunks = [pcm(0.1, seed=i) for i in range(5)] + [pcm(0.033, seed=9), pcm(1.0, seed=7)]
    creds = Credentials("AKIDEXAMPLE", SECRET)
    signer = EventSigner(creds, REGION, SEED)
    frames = [audio_frame(c) for c in chunks[:4]]
    # two signed envelopes in the middle: the lenient default accepts both shapes
    frames += [encode_signed_envelope(audio_frame(c), signer, T0) for c in chunks[4:6]]
    frames += [audio_frame(chunks[6]), END]
    return b"".join(frames), chunks


def _check_stream_events(events: list[Any], chunks: list[bytes]) -> None:
    audio = [e for e in events if isinstance(e, AudioReceived)]
    assert [e.audio for e in audio] == chunks
    t = 0.0
    for e, c in zip(audio, chunks, strict=False):
        assert e.start == pytest.approx(t) and e.duration == pytest.approx(len(c) / 2 / RATE)
        t += e.duration
    assert events[-1] == InputEnded() and len(events) == len(chunks) + 1


def test_byte_by_byte() -> None:
    data, chunks = _stream_bytes()
    s = session()
    events = []
    for i in range(len(data)):
        s.receive_data(data[i : i + 1], 0.001 * i)
        events += s.events_received()
    _check_stream_events(events, chunks)
    assert s.state is ServerState.INPUT_ENDED and s.error is None
    assert s.audio_nbytes == sum(map(len, chunks)) and s.audio_events == len(chunks)
    assert s.audio_digest == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert s.audio_seconds == pytest.approx(s.audio_nbytes / 2 / RATE)
    assert s.data_to_send() == []


@pytest.mark.parametrize("seed", range(8))
def test_random_splits(seed: int) -> None:
    data, chunks = _stream_bytes()
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 60)))
    s = session()
    events = []
    for a, b in zip([0, *cuts], [*cuts, len(data)], strict=False):
        s.receive_data(data[a:b], 0.0)
        events += s.events_received()
    _check_stream_events(events, chunks)
    assert s.audio_digest == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_input_after_the_end_is_ignored() -> None:
    s = session()
    s.receive_data(audio_frame(pcm(0.1)) + END + audio_frame(pcm(0.1)), 0.0)
    assert [type(e) for e in s.events_received()] == [AudioReceived, InputEnded]
    s.receive_data(audio_frame(pcm(0.1)), 1.0)
    s.receive_text("late", 1.0)
    assert s.events_received() == [] and s.state is ServerState.INPUT_ENDED
    assert s.audio_events == 1


# --------------------------------------------------------------------------- validation

AUDIO_HEADERS = {
    ":content-type": "application/octet-stream",
    ":event-type": "AudioEvent",
    ":message-type": "event",
}


def _corrupt(data: bytes, index: int) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def _envelope(headers: list[tuple[str, object]], inner: bytes) -> bytes:
    return eventstream.encode_message(headers, inner)


GOOD_DATE = (":date", Timestamp(1_714_564_800_000))
GOOD_SIG = (":chunk-signature", b"\x07" * 32)

FRAME_FAULTS = [
    ("message-crc", _corrupt(audio_frame(b"\0\0"), -1), r"Invalid event-stream frame: .*"),
    ("prelude-crc", _corrupt(audio_frame(b"\0\0"), 9), r"Invalid event-stream frame: .*"),
    ("payload-byte", _corrupt(audio_frame(b"\0\0\0\0"), -6), r"Invalid event-stream frame: .*"),
    (
        "short-total",
        bytes.fromhex("0000000a00000000") + b"\0" * 8,
        r"Invalid event-stream frame: .*",
    ),
    (
        "message-type",
        frame({**AUDIO_HEADERS, ":message-type": "exception"}, b"\0\0"),
        "Invalid event: :message-type must be 'event', got 'exception'",
    ),
    (
        "no-message-type",
        frame({":content-type": "application/octet-stream", ":event-type": "AudioEvent"}, b"\0\0"),
        "Invalid event: :message-type must be 'event', got None",
    ),
    (
        "event-type",
        frame({**AUDIO_HEADERS, ":event-type": "TranscriptEvent"}, b"\0\0"),
        "Invalid event: unexpected :event-type 'TranscriptEvent' from a client",
    ),
    (
        "content-type",
        frame({**AUDIO_HEADERS, ":content-type": "audio/wav"}, b"\0\0"),
        "Invalid event: AudioEvent :content-type must be application/octet-stream, got 'audio/wav'",
    ),
    (
        "no-content-type",
        frame({":event-type": "AudioEvent", ":message-type": "event"}, b"\0\0"),
        "Invalid event: AudioEvent :content-type must be application/octet-stream, got None",
    ),
    (
        "end-content-type",
        frame({**AUDIO_HEADERS, ":content-type": "text/plain"}, b""),
        "Invalid event: end-of-stream AudioEvent with :content-type 'text/plain'",
    ),
    (
        "envelope-extra-header",
        _envelope([GOOD_DATE, GOOD_SIG, (":event-type", "AudioEvent")], END),
        "Invalid event: signed envelope must carry exactly :date and :chunk-signature",
    ),
    (
        "envelope-no-date",
        _envelope([GOOD_SIG], END),
        "Invalid event: signed envelope must carry exactly :date and :chunk-signature",
    ),
    (
        "envelope-short-signature",
        _envelope([GOOD_DATE, (":chunk-signature", b"\x07" * 31)], END),
        "Invalid event: signed envelope needs a timestamp :date and a 32-byte :chunk-signature",
    ),
    (
        "envelope-string-date",
        _envelope([(":date", "2024-05-01"), GOOD_SIG], END),
        "Invalid event: signed envelope needs a timestamp :date and a 32-byte :chunk-signature",
    ),
    (
        "envelope-nested",
        _envelope([GOOD_DATE, GOOD_SIG], _envelope([GOOD_DATE, GOOD_SIG], END)),
        "Invalid event: nested signed envelope",
    ),
    (
        "envelope-garbage",
        _envelope([GOOD_DATE, GOOD_SIG], b"not an event-stream message"),
        r"Invalid event: .+",
    ),
    (
        "configuration-on-standard",
        encode_configuration_event(CA_CONFIG),
        "ConfigurationEvent is only accepted on the Call Analytics path",
    ),
]


@pytest.mark.parametrize(
    ("data", "message"), [pytest.param(d, m, id=i) for i, d, m in FRAME_FAULTS]
)
def test_frame_faults(data: bytes, message: str) -> None:
    s = session()
    good = audio_frame(pcm(0.1))
    s.receive_data(good + data + good, 0.5)
    events = s.events_received()
    # the audio before the bad frame was taken; nothing after it
    assert isinstance(events[0], AudioReceived) and s.audio_events == 1
    pattern = (
        re.compile(message)
        if message.startswith("Invalid event-stream") or message.endswith(".+")
        else message
    )
    assert_failed(s, BadRequestException, pattern, events[1:])


def test_messages_before_a_corrupt_one_in_the_same_data_are_taken() -> None:
    s = session()
    good = audio_frame(pcm(0.1))
    s.receive_data(good + good + _corrupt(audio_frame(b"\0\0"), -1) + good, 0.0)
    first, second, *rest = s.events_received()
    assert isinstance(first, AudioReceived) and isinstance(second, AudioReceived)
    assert s.audio_events == 2 and second.start == pytest.approx(0.1)
    assert_failed(
        s, BadRequestException, re.compile(r"Invalid event-stream frame: .*CRC32.*"), rest
    )


def test_payload_over_the_decoder_limit() -> None:
    s = session(max_payload_length=1000)
    s.receive_data(audio_frame(pcm(0.04)), 0.0)  # 1280 bytes
    assert_failed(s, BadRequestException, STREAM_TOO_BIG_MESSAGE)


@pytest.mark.parametrize(
    ("kind", "rate", "encoding"),
    [("standard", 16000, "pcm"), ("standard", 8000, "flac"), ("call-analytics", 8000, "pcm")],
)
def test_message_limit_follows_the_parameters(kind: str, rate: int, encoding: str) -> None:
    # The limit is 1 s of audio at the stream's rate (the widest channel count the path
    # allows; twice that for compressed audio) plus header room: a prelude announcing
    # more fails the stream at once, before any of its body arrives.
    s = session(kind, sample_rate=rate, media_encoding=encoding)
    audio = rate * 2 * (2 if kind == "call-analytics" else 1) * (2 if encoding != "pcm" else 1)
    assert s.max_message_nbytes == 16 + EVENT_HEADER_ROOM + audio + 16 + EVENT_HEADER_ROOM
    big = audio_frame(bytes(s.max_message_nbytes))  # 24 MiB in the issue; one too many here
    s.receive_data(big[:12], 0.0)  # the prelude alone
    assert_failed(s, BadRequestException, STREAM_TOO_BIG_MESSAGE)
    ok = session(kind, sample_rate=rate, media_encoding=encoding)
    ok.receive_data(audio_frame(bytes(min(audio, ok.max_event_nbytes)))[:12], 0.0)
    assert ok.state is ServerState.OPEN and ok.events_received() == []


def test_paused_time_is_not_idle_time() -> None:
    # The service pauses the idle clock while it is not reading (recognizer busy, its
    # queue full): a 100 s pause after 1 s of listening leaves 14 s of the 15 s rule.
    s = session(idle_timeout=15.0)
    s.receive_data(audio_frame(pcm(0.1)), 0.0)
    s.pause_idle(1.0)
    s.pause_idle(5.0)  # ignored: already paused
    assert s.next_deadline() is None
    s.check_timers(100.0)
    assert s.state is ServerState.OPEN
    s.resume_idle(101.0)
    assert s.next_deadline() == pytest.approx(115.0)
    s.check_timers(114.9)
    assert s.state is ServerState.OPEN
    s.check_timers(115.0)
    assert_failed(s, BadRequestException, IDLE_TIMEOUT_MESSAGE.format(seconds="15"))


def test_resume_never_moves_the_idle_clock_past_now() -> None:
    s = session(idle_timeout=15.0)
    s.pause_idle(0.0)
    s.receive_data(audio_frame(pcm(0.1)), 50.0)  # audio at 50 s while paused
    s.resume_idle(60.0)
    assert s.next_deadline() == pytest.approx(75.0)
    s.resume_idle(70.0)  # not paused: nothing changes
    assert s.next_deadline() == pytest.approx(75.0)


def test_text_message() -> None:
    s = session()
    s.receive_text("hello", 0.0)
    assert_failed(
        s,
        BadRequestException,
        "Text WebSocket messages are not supported; send event-stream messages in binary frames.",
    )


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (16000, 1), (48000, 2), (44100, 2)])
def test_one_second_per_event(rate: int, channels: int) -> None:
    s = session(sample_rate=rate, channels=channels)
    assert s.max_event_nbytes == rate * 2 * channels
    s.receive_data(audio_frame(pcm(1.0, rate, channels)), 0.0)
    (ev,) = s.events_received()
    assert isinstance(ev, AudioReceived) and ev.duration == pytest.approx(1.0)
    s.receive_data(audio_frame(pcm(1.0, rate, channels) + b"\0" * 2 * channels), 0.1)
    assert_failed(s, BadRequestException, STREAM_TOO_BIG_MESSAGE)
    assert (
        STREAM_TOO_BIG_MESSAGE
        == "Your stream is too big. Reduce the frame size and try your request again."
    )


@pytest.mark.parametrize(("channels", "nbytes"), [(1, 3), (1, 3201), (2, 2), (2, 3202)])
def test_partial_samples(channels: int, nbytes: int) -> None:
    s = session(channels=channels)
    s.receive_data(audio_frame(b"\1" * nbytes), 0.0)
    assert_failed(
        s,
        BadRequestException,
        f"AudioEvent of {nbytes} bytes is not a whole number of {channels}-channel 16-bit samples",
    )


def test_non_pcm_encodings_are_not_measured() -> None:
    s = session(media_encoding="ogg-opus")
    blob = b"OggS" + bytes(40_001)  # odd length, over 1 s of 16 kHz PCM: no PCM rule applies
    s.receive_data(audio_frame(blob) + END, 0.0)
    ev, end = s.events_received()
    assert isinstance(ev, AudioReceived) and ev.audio == blob and ev.duration == 0.0
    assert end == InputEnded() and s.audio_seconds == 0.0 and s.audio_nbytes == len(blob)


@pytest.mark.parametrize(("kind", "channels"), [("stream", 1), ("standard", 3), ("medical", 0)])
def test_constructor_rejects(kind: str, channels: int) -> None:
    with pytest.raises(ParameterError):
        session(kind, channels=channels)


# --------------------------------------------------------------------------- Call Analytics


def test_call_analytics_configuration() -> None:
    s = session("call-analytics", sample_rate=8000)
    assert s.max_event_nbytes == 16000
    s.receive_data(encode_configuration_event(CA_CONFIG) + audio_frame(pcm(0.5, 8000, 2)), 0.0)
    conf, audio = s.events_received()
    assert isinstance(conf, ConfigurationReceived) and conf.roles == {0: "CUSTOMER", 1: "AGENT"}
    assert conf.event == CA_CONFIG
    assert s.channels == 2 and s.max_event_nbytes == 32000
    assert isinstance(audio, AudioReceived) and audio.duration == pytest.approx(0.5)
    s.send_results(1, [ResultSegment(0, 0.1, 0.4, (ResultWord("hi", 0.1, 0.4, 0.9),), False)])
    ((headers, body),) = decoded(s.data_to_send())
    assert headers[":event-type"] == "UtteranceEvent"
    assert body["ParticipantRole"] == "AGENT" and body["IsPartial"] is False
    assert (body["BeginOffsetMillis"], body["EndOffsetMillis"]) == (100, 400)
    assert body["Items"][0]["Confidence"] == 0.9 and body["Items"][0]["BeginOffsetMillis"] == 100


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", r"Invalid event: .+"),
        (
            b'{"ChannelDefinitions": [{"ChannelId": 0, "ParticipantRole": "AGENT"}]}',
            r"Invalid event: .+",
        ),
    ],
)
def test_call_analytics_bad_configuration(payload: bytes, message: str) -> None:
    s = session("call-analytics")
    s.receive_data(
        configuration_frame(payload),
        0.0,
    )
    assert_failed(s, BadRequestException, re.compile(message))


def test_call_analytics_late_configuration() -> None:
    s = session("call-analytics")
    s.receive_data(audio_frame(pcm(0.1)) + encode_configuration_event(CA_CONFIG), 0.0)
    audio, *rest = s.events_received()
    assert isinstance(audio, AudioReceived) and s.channels == 1
    assert_failed(
        s, BadRequestException, "ConfigurationEvent must be the first event of the stream", rest
    )


# --------------------------------------------------------------------------- signed envelopes


def _ours(
    payloads: list[bytes], times: list[dt.datetime], seed: str = SEED, secret: str = SECRET
) -> list[bytes]:
    signer = EventSigner(Credentials("AKIDEXAMPLE", secret), REGION, seed)
    return [encode_signed_envelope(p, signer, t) for p, t in zip(payloads, times, strict=False)]


def _amazon(
    payloads: list[bytes], times: list[dt.datetime], seed: str = SEED, secret: str = SECRET
) -> list[bytes]:
    """The same chain built with amazon_transcribe's EventSigner and serializer (oracle)."""
    clock = iter(times)
    return amazon_envelopes(payloads, bytes.fromhex(seed), secret, REGION, lambda: next(clock))


SIGNERS = [pytest.param(_ours, id="scribewire"), pytest.param(_amazon, id="amazon_transcribe")]


def strict(**kw: Any) -> ServerSession:
    # now = seconds since T0 on the session's clock; epoch maps it to POSIX time
    return session(
        envelope_verifier=EventSignatureVerifier(SECRET, REGION, SEED), epoch=T0.timestamp(), **kw
    )


def _chain_input(n: int = 4) -> tuple[list[bytes], list[dt.datetime]]:
    payloads = [audio_frame(pcm(0.1, seed=i)) for i in range(n)] + [END, b""]
    times = [T0 + dt.timedelta(seconds=0.1 * i) for i in range(len(payloads))]
    return payloads, times


@pytest.mark.parametrize("sign", SIGNERS)
def test_strict_chain_accepted(sign: Any) -> None:
    payloads, times = _chain_input()
    frames = sign(payloads, times)
    s = strict()
    events = []
    for i, f in enumerate(frames):
        s.receive_data(f, 0.1 * i)
        events += s.events_received()
    # 4 audio events, then the AudioEvent end frame ends input (the empty envelope is not read)
    assert [type(e) for e in events] == [AudioReceived] * 4 + [InputEnded]
    assert s.state is ServerState.INPUT_ENDED


@pytest.mark.parametrize("sign", SIGNERS)
def test_strict_empty_envelope_ends_input(sign: Any) -> None:
    payloads, times = _chain_input(2)
    frames = sign(payloads[:2] + [b""], times[:3])
    s = strict()
    s.receive_data(b"".join(frames), 0.3)
    assert [type(e) for e in s.events_received()] == [AudioReceived, AudioReceived, InputEnded]


@pytest.mark.parametrize("sign", SIGNERS)
def test_strict_tampered_signature(sign: Any) -> None:
    payloads, times = _chain_input()
    frames = sign(payloads, times)
    msg = eventstream.decode_message(frames[1])
    sig = bytearray(msg.headers[":chunk-signature"])
    sig[0] ^= 0x80
    bad = eventstream.encode_message(
        [(":date", msg.headers[":date"]), (":chunk-signature", bytes(sig))], msg.payload
    )
    s = strict()
    s.receive_data(frames[0] + bad + frames[2], 0.2)
    events = s.events_received()
    assert isinstance(events[0], AudioReceived) and s.audio_events == 1
    assert_failed(
        s,
        BadRequestException,
        "Invalid event signature: envelope :chunk-signature does not match",
        events[1:],
    )


@pytest.mark.parametrize("sign", SIGNERS)
def test_strict_tampered_payload(sign: Any) -> None:
    payloads, times = _chain_input(1)
    (first,) = sign(payloads[:1], times[:1])
    msg = eventstream.decode_message(first)
    inner = audio_frame(pcm(0.1, seed=99))  # same size, other audio, same signature
    s = strict()
    s.receive_data(eventstream.encode_message(list(msg.headers.items()), inner), 0.0)
    assert_failed(
        s, BadRequestException, "Invalid event signature: envelope :chunk-signature does not match"
    )


@pytest.mark.parametrize("sign", SIGNERS)
def test_strict_wrong_prior_signature(sign: Any) -> None:
    payloads, times = _chain_input()
    good = sign(payloads, times)
    # envelope 2 signed as if envelope 1 had never been sent (its prior is the seed)
    skipped = sign(payloads[1:2], times[1:2])
    s = strict()
    s.receive_data(good[0] + skipped[0], 0.1)
    first, *rest = s.events_received()
    assert isinstance(first, AudioReceived)
    assert_failed(
        s,
        BadRequestException,
        "Invalid event signature: envelope :chunk-signature does not match",
        rest,
    )
    # a chain seeded with another URL signature fails on its first envelope
    other = sign(payloads[:1], times[:1], seed="b2" * 32)
    s = strict()
    s.receive_data(other[0], 0.0)
    assert_failed(
        s, BadRequestException, "Invalid event signature: envelope :chunk-signature does not match"
    )
    # and so does one signed with another secret
    s = strict()
    s.receive_data(sign(payloads[:1], times[:1], secret="not-the-secret")[0], 0.0)
    assert_failed(
        s, BadRequestException, "Invalid event signature: envelope :chunk-signature does not match"
    )


@pytest.mark.parametrize("sign", SIGNERS)
@pytest.mark.parametrize("offset", [-301.0, 301.0, -3600.0])
def test_strict_stale_or_future_date(sign: Any, offset: float) -> None:
    payloads, times = _chain_input(1)
    (f,) = sign(payloads[:1], [T0 + dt.timedelta(seconds=offset)])
    s = strict()
    s.receive_data(f, 0.0)
    assert_failed(
        s,
        BadRequestException,
        "Invalid event signature: envelope :date is outside the allowed clock skew",
    )
    # the same envelope 301 s later on the session clock is fresh (within 300 s skew)
    s = strict()
    s.receive_data(f, offset)
    assert isinstance(s.events_received()[0], AudioReceived)


def test_strict_without_epoch_checks_signatures_only() -> None:
    payloads, times = _chain_input(1)
    (f,) = _ours(payloads[:1], [T0 - dt.timedelta(days=2)])
    s = session(envelope_verifier=EventSignatureVerifier(SECRET, REGION, SEED))
    s.receive_data(f, 0.0)
    assert isinstance(s.events_received()[0], AudioReceived)


def test_strict_refuses_plain_events() -> None:
    s = strict()
    s.receive_data(audio_frame(pcm(0.1)), 0.0)
    assert_failed(
        s, BadRequestException, "Invalid event: unsigned event where signed envelopes are required"
    )


# --------------------------------------------------------------------------- timers


def test_idle_rule_follows_now() -> None:
    s = session(now=100.0)
    assert s.idle_timeout == 15.0 and s.next_deadline() == 115.0
    s.check_timers(114.999)
    assert s.state is ServerState.OPEN
    s.receive_data(audio_frame(pcm(0.1)), 110.0)
    assert s.next_deadline() == 125.0
    s.check_timers(124.9)
    assert s.state is ServerState.OPEN and s.data_to_send() == []
    s.events_received()
    s.check_timers(125.0)
    assert_failed(
        s,
        BadRequestException,
        "Your request timed out because no new audio was received for 15 seconds.",
    )
    assert IDLE_TIMEOUT_MESSAGE.format(seconds=15) == s.error.message  # type: ignore[union-attr]


def test_idle_rule_counts_audio_only() -> None:
    s = session("call-analytics", now=0.0, idle_timeout=2.5)
    s.receive_data(encode_configuration_event(CA_CONFIG), 2.0)  # not audio: no reset
    assert s.next_deadline() == 2.5
    s.check_timers(2.5)
    assert_failed(
        s,
        BadRequestException,
        "Your request timed out because no new audio was received for 2.5 seconds.",
    )


def test_idle_rule_stops_at_end_of_input() -> None:
    s = session()
    s.receive_data(audio_frame(pcm(0.1)) + END, 1.0)
    assert s.next_deadline() is None
    s.check_timers(1000.0)
    assert s.state is ServerState.INPUT_ENDED and s.data_to_send() == []


def test_four_hours_of_audio() -> None:
    """The real limit: 14,400 one-second events at 8 kHz pass; one more sample fails."""
    s = session(sample_rate=8000, now=0.0)
    assert s.max_audio_seconds == 14_400.0
    one_second = audio_frame(bytes(16000))
    for i in range(0, 14_400, 400):
        s.receive_data(one_second * 400, float(i))
        assert len(s.events_received()) == 400
    assert s.state is ServerState.OPEN and s.audio_seconds == 14_400.0
    s.receive_data(audio_frame(b"\0\0"), 14_400.0)
    assert_failed(
        s,
        LimitExceededException,
        "Your stream has exceeded the maximum audio duration of 14400 seconds.",
    )
    assert s.audio_nbytes == 14_400 * 16000 + 2


def test_duration_rule_is_cumulative() -> None:
    s = session(max_audio_seconds=1.5)
    s.receive_data(audio_frame(pcm(1.0)) + audio_frame(pcm(0.5)), 0.0)
    assert len(s.events_received()) == 2 and s.state is ServerState.OPEN
    s.receive_data(audio_frame(pcm(0.01)), 0.0)
    assert_failed(
        s,
        LimitExceededException,
        "Your stream has exceeded the maximum audio duration of 1.5 seconds.",
    )


# --------------------------------------------------------------------------- results


def _seg(sid: int, words: list[str], partial: bool, t: float = 0.0) -> ResultSegment:
    return ResultSegment(
        sid,
        t,
        t + len(words) * 0.5,
        tuple(ResultWord(w, t + i * 0.5, t + i * 0.5 + 0.4, 0.75) for i, w in enumerate(words)),
        partial,
    )


def test_results_result_ids_stability_and_channels() -> None:
    s = session(channels=2, channel_identification=True, stabilization=True)
    s.send_results(0, [_seg(0, ["the"], True), _seg(0, ["the", "cat"], True)])
    s.send_results(1, [_seg(0, ["hello"], True)])
    s.send_results(0, [_seg(0, ["the", "cat", "sat"], True), _seg(0, ["the", "cat", "sat"], False)])
    s.send_results(0, [_seg(1, ["again"], False, t=3.0)])
    out = [body["Transcript"]["Results"][0] for _, body in decoded(s.data_to_send())]
    assert s.events_sent == 6 and s.partials_sent == 4 and s.finals_sent == 2
    ch0 = [r for r in out if r["ChannelId"] == "ch_0"]
    (ch1,) = [r for r in out if r["ChannelId"] == "ch_1"]
    # one ResultId per segment and channel; the ch_1 segment 0 is another result
    assert len({r["ResultId"] for r in ch0[:4]}) == 1 and ch1["ResultId"] != ch0[0]["ResultId"]
    assert ch0[4]["ResultId"] != ch0[0]["ResultId"]
    assert [r["IsPartial"] for r in ch0] == [True, True, True, False, False]
    stable = [[i["Stable"] for i in r["Alternatives"][0]["Items"]] for r in ch0]
    assert stable == [[False], [True, False], [True, True, False], [True, True, True], [True]]
    # confidence on final items only; times in seconds
    assert all("Confidence" not in i for r in ch0[:3] for i in r["Alternatives"][0]["Items"])
    item = ch0[3]["Alternatives"][0]["Items"][1]
    assert (item["StartTime"], item["EndTime"], item["Type"], item["Content"]) == (
        0.5,
        0.9,
        "pronunciation",
        "cat",
    )
    assert item["Confidence"] == 0.75 and item["Stable"] is True
    assert ch0[3]["Alternatives"][0]["Transcript"] == "the cat sat"
    assert (ch0[4]["StartTime"], ch0[4]["EndTime"]) == (3.0, 3.5)


def test_results_plain_shape() -> None:
    s = session()
    s.send_results(0, [_seg(0, ["hi"], False)])
    ((headers, body),) = decoded(s.data_to_send())
    assert headers == {
        ":message-type": "event",
        ":event-type": "TranscriptEvent",
        ":content-type": "application/json",
    }
    (r,) = body["Transcript"]["Results"]
    assert "ChannelId" not in r and all("Stable" not in i for i in r["Alternatives"][0]["Items"])
    assert r["IsPartial"] is False and r["StartTime"] == 0.0 and r["EndTime"] == 0.5
