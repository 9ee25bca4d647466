"""TranscribeSession: chunking and alignment, states, receiving split frames, typed service errors."""

from __future__ import annotations

import datetime as dt
import random
import urllib.parse

import numpy as np
import pytest

from scribewire import eventstream
from scribewire.errors import (
    AudioFormatError,
    AudioTypeError,
    InvalidEventPayload,
    MessageChecksumMismatch,
    ProtocolError,
    SessionStateError,
    UnexpectedMessage,
)
from scribewire.transcribe import (
    CallAnalyticsParams,
    ChannelDefinition,
    ConfigurationEvent,
    Credentials,
    MedicalStreamParams,
    MedicalTranscriptEvent,
    SessionState,
    StreamParams,
    TranscribeSession,
    TranscriptEvent,
    UnknownEvent,
    UtteranceEvent,
    encode_event,
    encode_exception,
    verify_presigned,
)
from scribewire.transcribe.errors import BadRequestException, LimitExceededException
from scribewire.transcribe.events import Alternative, Result, Transcript

T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)


def payloads(frames: list[bytes]) -> list[bytes]:
    out = []
    for f in frames:
        m = eventstream.decode_message(f)
        assert m.headers[":event-type"] == "AudioEvent"
        out.append(m.payload)
    return out


def stereo(rate: int) -> StreamParams:
    return StreamParams(sample_rate=rate, language_code="en-US",
                        enable_channel_identification=True, number_of_channels=2)


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_chunking_aligned_and_lossless(rate: int, channels: int) -> None:
    params = stereo(rate) if channels == 2 else StreamParams(sample_rate=rate, language_code="en-US")
    s = TranscribeSession(params, chunk_duration=0.1)
    frames_per_chunk = round(rate * 0.1)
    assert s.chunk_bytes == frames_per_chunk * 2 * channels
    rng = random.Random(rate * channels)
    audio = rng.randbytes(int(rate * 2 * channels * 0.73) + 3)  # odd tail: a partial frame
    sent: list[bytes] = []
    pos = 0
    while pos < len(audio):
        n = rng.randint(0, 3000)
        sent += payloads(s.send_audio(audio[pos : pos + n]))
        pos += n
    assert all(len(p) == s.chunk_bytes for p in sent)
    flushed = payloads(s.flush_audio())
    assert len(flushed) <= 1
    assert all(len(p) % (2 * channels) == 0 and len(p) < s.chunk_bytes for p in flushed)
    sent += flushed
    joined = b"".join(sent)
    assert audio.startswith(joined)
    assert len(audio) - len(joined) == len(audio) % (2 * channels) == s.buffered_bytes
    assert s.audio_bytes_sent == len(joined)
    assert s.audio_seconds_sent == pytest.approx(len(joined) / (rate * 2 * channels))


def test_one_second_cap_and_chunk_duration_bounds() -> None:
    s = TranscribeSession(stereo(48000), chunk_duration=1.0)
    assert s.chunk_bytes == 192_000  # 1 s at 48 kHz stereo, the largest legal chunk
    out = payloads(s.send_audio(bytes(192_000 * 2 + 4)))
    assert [len(p) for p in out] == [192_000, 192_000]
    for bad in (0, -0.1, 1.01):
        with pytest.raises(ValueError, match="chunk_duration"):
            TranscribeSession(stereo(8000), chunk_duration=bad)


def test_end_of_stream_sends_remainder_then_empty_event_and_states() -> None:
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    assert s.state is SessionState.OPEN
    assert s.send_audio(b"") == []
    s.send_audio(np.zeros(1000, dtype=np.int16))
    out = s.end_of_stream()
    assert payloads(out) == [bytes(2000), b""]
    assert eventstream.decode_message(out[-1]).headers[":content-type"] == "application/octet-stream"
    assert s.state is SessionState.ENDING
    for call in (lambda: s.send_audio(b"ab"), s.flush_audio, s.end_of_stream,
                 lambda: s.send_configuration(None)):  # type: ignore[arg-type]
        with pytest.raises(SessionStateError, match="ending"):
            call()
    s.close()
    assert s.state is SessionState.CLOSED
    with pytest.raises(SessionStateError, match="closed"):
        s.receive_data(b"")


def test_end_inside_a_frame_is_an_error() -> None:
    s = TranscribeSession(stereo(8000))
    s.send_audio(b"\x00" * 6)
    with pytest.raises(AudioFormatError, match="inside a frame"):
        s.end_of_stream()
    assert s.state is SessionState.OPEN
    assert payloads(s.flush_audio()) == [b"\x00" * 4]
    assert s.buffered_bytes == 2


def test_audio_type_errors() -> None:
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    with pytest.raises(AudioTypeError):
        s.send_audio("text")
    with pytest.raises(AudioTypeError):
        s.send_audio(12)
    with pytest.raises(AudioTypeError, match="contiguous"):
        s.send_audio(np.zeros((10, 2), dtype=np.int16)[:, 0])
    with pytest.raises(TypeError):
        TranscribeSession({"sample_rate": 8000})  # type: ignore[arg-type]


def test_compressed_encoding_passes_bytes_through() -> None:
    s = TranscribeSession(StreamParams(sample_rate=48000, media_encoding="ogg-opus", language_code="en-US"))
    assert s.bytes_per_frame is None and s.audio_seconds_sent is None
    data = bytes(range(256)) * 300
    out = payloads(s.send_audio(data) + s.end_of_stream())
    assert b"".join(out) == data and out[-1] == b"" and max(map(len, out)) <= 32768


def test_call_analytics_configuration_first() -> None:
    cfg = ConfigurationEvent(channel_definitions=(ChannelDefinition(0, "AGENT"), ChannelDefinition(1, "CUSTOMER")))
    s = TranscribeSession(CallAnalyticsParams(sample_rate=8000, language_code="en-US"))
    frame = s.send_configuration(cfg)
    assert eventstream.decode_message(frame).headers[":event-type"] == "ConfigurationEvent"
    assert s.channels == 2 and s.chunk_bytes == 3200
    with pytest.raises(SessionStateError, match="first"):
        s.send_configuration(cfg)
    late = TranscribeSession(CallAnalyticsParams(sample_rate=8000, language_code="en-US"))
    late.send_audio(b"\x00\x00")
    with pytest.raises(SessionStateError, match="first"):
        late.send_configuration(cfg)
    std = TranscribeSession(StreamParams(sample_rate=8000, language_code="en-US"))
    with pytest.raises(SessionStateError, match="only for Call Analytics"):
        std.send_configuration(cfg)


def test_request_url_verifies() -> None:
    creds = Credentials("AKID", "secret", "tok")
    s = TranscribeSession(MedicalStreamParams(sample_rate=16000, language_code="en-US",
                                              specialty="CARDIOLOGY", type="DICTATION"))
    url = s.request_url(creds, T0, region="us-east-1", endpoint="ws://127.0.0.1:9999", expires=60)
    parts = urllib.parse.urlsplit(url)
    assert parts.path == "/medical-stream-transcription-websocket"
    v = verify_presigned(path=parts.path, query_string=parts.query, host=parts.netloc, region="us-east-1",
                         now=T0, lookup_secret=lambda ak: ("secret", "tok"))
    assert v.params["specialty"] == "CARDIOLOGY" and v.expires == 60


def transcript(i: int, partial: bool) -> TranscriptEvent:
    return TranscriptEvent(Transcript((Result(f"r{i}", i * 1.0, i + 0.5, partial, (Alternative(f"word {i}"),)),)))


@pytest.mark.parametrize("seed", range(5))
def test_receive_data_split_arbitrarily(seed: int) -> None:
    events = [transcript(i, i % 3 != 2) for i in range(20)]
    stream = b"".join(encode_event(e) for e in events)
    rng = random.Random(seed)
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    got: list[object] = []
    pos = 0
    while pos < len(stream):
        n = rng.choice([0, 1, 2, 7, 13, 64, 300, 5000])
        got += s.receive_data(stream[pos : pos + n])
        pos += n
    assert got == events and s.events_received == 20


def test_medical_and_call_analytics_events_typed() -> None:
    med = TranscribeSession(MedicalStreamParams(sample_rate=16000, language_code="en-US",
                                                specialty="UROLOGY", type="CONVERSATION"))
    ev = med.receive_data(encode_event(TranscriptEvent(Transcript((Result("m", 0, 1, False),)))))
    assert type(ev[0]) is MedicalTranscriptEvent and ev[0].transcript.results[0].result_id == "m"
    ca = TranscribeSession(CallAnalyticsParams(sample_rate=8000, language_code="en-US"))
    u = UtteranceEvent(utterance_id="u1", is_partial=False, participant_role="AGENT", transcript="hello")
    assert ca.receive_data(encode_event(u)) == [u]


def test_service_exception_raised_typed_with_preceding_events() -> None:
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    data = encode_event(transcript(0, True)) + encode_exception(
        "BadRequestException", "Your request timed out because no new audio was received for 15 seconds."
    )
    # the events before the fault come back; the fault waits in session.error
    assert s.receive_data(data) == [transcript(0, True)]
    assert isinstance(s.error, BadRequestException) and "15 seconds" in str(s.error)
    assert not s.error.retryable
    assert s.state is SessionState.CLOSED
    s2 = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    with pytest.raises(LimitExceededException) as info2:
        s2.receive_data(encode_exception("LimitExceededException", "quota"))
    assert info2.value.retryable


def test_malformed_frame_from_service_is_remote_protocol_error() -> None:
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    frame = bytearray(encode_event(transcript(0, False)))
    frame[-5] ^= 0xFF
    with pytest.raises(MessageChecksumMismatch) as info:
        s.receive_data(bytes(frame))
    assert info.value.remote is True
    assert s.state is SessionState.CLOSED
    s2 = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    bad_json = eventstream.encode_message(
        {":message-type": "event", ":event-type": "TranscriptEvent"}, b'{"Transcript": []}'
    )
    with pytest.raises(ProtocolError) as info2:
        s2.receive_data(bad_json)
    assert info2.value.remote is True


def test_receive_data_reports_in_stream_order() -> None:
    good = encode_event(transcript(0, True))
    corrupt = bytearray(encode_event(transcript(1, False)))
    corrupt[-5] ^= 0xFF
    # events before corrupt bytes are returned; the fault waits in session.error
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    assert s.receive_data(good + good + bytes(corrupt)) == [transcript(0, True)] * 2
    assert isinstance(s.error, MessageChecksumMismatch) and s.error.remote is True
    assert s.state is SessionState.CLOSED
    with pytest.raises(SessionStateError):
        s.receive_data(good)
    # the service's exception comes before the corrupt bytes that follow it
    s2 = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    got = s2.receive_data(good + encode_exception("BadRequestException", "no audio") + bytes(corrupt))
    assert got == [transcript(0, True)] and isinstance(s2.error, BadRequestException)
    # bad JSON after a good event: the typed payload error, with the good event on it
    bad_json = eventstream.encode_message(
        {":message-type": "event", ":event-type": "TranscriptEvent"}, b'{"Transcript": []}'
    )
    s3 = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    assert s3.receive_data(good + bad_json) == [transcript(0, True)]
    assert isinstance(s3.error, InvalidEventPayload) and "TranscriptEvent payload" in str(s3.error)
    assert s3.error.remote is True
    # a fault before any event is raised at once
    s4 = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    with pytest.raises(InvalidEventPayload):
        s4.receive_data(bad_json)
    assert s4.error is None


def test_text_frame_from_the_service_is_an_unexpected_message() -> None:
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    with pytest.raises(UnexpectedMessage, match="text WebSocket frame") as info:
        s.receive_message('{"not": "event-stream"}')
    assert info.value.remote is True and s.state is SessionState.CLOSED
    assert TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US")).receive_close(
        1000, ""
    ) is None


def test_receive_data_other_messages_still_typed() -> None:
    # event types the operation does not model, and a byte-array :event-type, are kept raw
    s = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    headers = {":message-type": "event", ":event-type": "FutureEvent"}
    new = eventstream.encode_message(headers, b"{}")
    got = s.receive_data(new + encode_event(transcript(2, False)))
    assert got[0] == UnknownEvent("FutureEvent", b"{}") and got[1] == transcript(2, False)
    assert s.events_received == 2
