"""Frames: byte-exact against the derived Transcribe vectors; server-side classification."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from scribewire import eventstream
from scribewire.errors import (
    AuthenticationError,
    InvalidEventPayload,
    ProtocolError,
    UnexpectedMessage,
)
from scribewire.transcribe import (
    AudioChunk,
    ChannelDefinition,
    Configuration,
    ConfigurationEvent,
    Credentials,
    EndOfStream,
    EventSignatureVerifier,
    EventSigner,
    Item,
    MedicalTranscriptEvent,
    Operation,
    TranscriptEvent,
    UtteranceEvent,
    classify_client_message,
    decode_event,
    encode_audio_event,
    encode_configuration_event,
    encode_end_of_stream,
    encode_event,
    encode_exception,
    encode_signed_envelope,
)
from scribewire.transcribe.events import Alternative, CategoryEvent, Result, Transcript

T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)


def cases(shared_dir: Path) -> dict[str, dict]:
    data = json.loads((shared_dir / "vectors/eventstream/derived/transcribe_frames.json").read_text())
    return {c["name"]: c for c in data["cases"]}


def test_client_frames_match_vectors(shared_dir: Path) -> None:
    c = cases(shared_dir)
    assert encode_audio_event(bytes(range(16))).hex() == c["audio_event_16_bytes"]["encoded_hex"]
    assert encode_end_of_stream().hex() == c["audio_event_end_of_stream"]["encoded_hex"]
    cfg = ConfigurationEvent(channel_definitions=(ChannelDefinition(0, "AGENT"), ChannelDefinition(1, "CUSTOMER")))
    assert encode_configuration_event(cfg).hex() == c["configuration_event"]["encoded_hex"]
    bad = c["exception_bad_request"]
    assert encode_exception("BadRequestException", json.loads(bad["payload_utf8"])["Message"]).hex() == bad[
        "encoded_hex"
    ]


def test_classify_vectors(shared_dir: Path) -> None:
    c = cases(shared_dir)

    def classify(name: str) -> object:
        return classify_client_message(eventstream.decode_message(bytes.fromhex(c[name]["encoded_hex"])))

    assert classify("audio_event_16_bytes") == AudioChunk(bytes(range(16)))
    assert classify("audio_event_end_of_stream") == EndOfStream()
    assert classify("audio_event_end_of_stream_no_content_type") == EndOfStream()
    got = classify("configuration_event")
    assert isinstance(got, Configuration) and got.event.channel_definitions[1].participant_role == "CUSTOMER"
    with pytest.raises(UnexpectedMessage):
        classify("transcript_event")
    with pytest.raises(UnexpectedMessage):
        classify("exception_bad_request")


def test_aws_doc_signed_end_envelope(shared_dir: Path) -> None:
    data = json.loads((shared_dir / "vectors/eventstream/aws-docs/transcribe_http2_doc_examples.json").read_text())
    case = next(x for x in data["cases"] if x["name"] == "http2_signed_envelope_example")
    msg = eventstream.decode_message(bytes.fromhex(case["encoded_hex"]))
    assert classify_client_message(msg) == EndOfStream()


def test_server_events_decode_on_the_client() -> None:
    ev = TranscriptEvent(Transcript((Result("r", 0.0, 1.5, True, (Alternative("hi", (Item(0.0, 1.5, "pronunciation", "hi"),)),)),)))
    frame = encode_event(ev)
    m = eventstream.decode_message(frame)
    assert m.headers == {":content-type": "application/json", ":event-type": "TranscriptEvent", ":message-type": "event"}
    assert decode_event(m, operation=Operation.STANDARD) == ev
    med = MedicalTranscriptEvent()
    assert eventstream.decode_message(encode_event(med)).headers[":event-type"] == "TranscriptEvent"
    u = UtteranceEvent(utterance_id="u", is_partial=True, transcript="x", begin_offset_millis=5)
    assert decode_event(eventstream.decode_message(encode_event(u)), operation=Operation.CALL_ANALYTICS) == u
    cat = CategoryEvent(matched_categories=("a",))
    assert decode_event(eventstream.decode_message(encode_event(cat)), operation=Operation.CALL_ANALYTICS) == cat
    with pytest.raises(TypeError):
        encode_event(ConfigurationEvent(channel_definitions=(ChannelDefinition(0, "AGENT"), ChannelDefinition(1, "AGENT"))))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_exception("", "x")


def test_signed_envelopes_round_trip_and_strict_mode() -> None:
    creds = Credentials("AKID", "secret")
    seed = "0f" * 32
    signer = EventSigner(creds, "us-east-1", seed)
    frames = [
        encode_signed_envelope(encode_audio_event(b"\x01\x02" * 10), signer, T0),
        encode_signed_envelope(encode_end_of_stream(), signer, T0.timestamp() + 0.1),
        encode_signed_envelope(b"", signer, T0.timestamp() + 0.2),
    ]
    verifier = EventSignatureVerifier("secret", "us-east-1", seed)
    got = [classify_client_message(eventstream.decode_message(f), verifier=verifier, now=T0) for f in frames]
    assert got == [AudioChunk(b"\x01\x02" * 10), EndOfStream(), EndOfStream()]
    # lenient mode accepts them without checking
    assert classify_client_message(eventstream.decode_message(frames[0])) == AudioChunk(b"\x01\x02" * 10)
    # wrong secret / plain event in strict mode
    with pytest.raises(AuthenticationError):
        classify_client_message(eventstream.decode_message(frames[0]),
                                verifier=EventSignatureVerifier("other", "us-east-1", seed))
    with pytest.raises(UnexpectedMessage, match="unsigned"):
        classify_client_message(eventstream.decode_message(encode_audio_event(b"ab")),
                                verifier=EventSignatureVerifier("secret", "us-east-1", seed))


@pytest.mark.parametrize(
    ("headers", "payload", "exc"),
    [
        ({":message-type": "exception", ":event-type": "AudioEvent"}, b"ab", UnexpectedMessage),
        ({":message-type": "event", ":event-type": "TranscriptEvent"}, b"{}", UnexpectedMessage),
        ({":message-type": "event", ":event-type": "AudioEvent"}, b"ab", UnexpectedMessage),
        ({":message-type": "event", ":event-type": "AudioEvent", ":content-type": "text/plain"}, b"ab",
         UnexpectedMessage),
        ({":message-type": "event", ":event-type": "AudioEvent", ":content-type": "text/plain"}, b"",
         UnexpectedMessage),
        ({":message-type": "event", ":event-type": "ConfigurationEvent", ":content-type": "application/json"},
         b'{"ChannelDefinitions": []}', InvalidEventPayload),
        ({":message-type": "event", ":event-type": "ConfigurationEvent", ":content-type": "text/xml"},
         b"{}", UnexpectedMessage),
        ({":date": eventstream.Timestamp(1)}, b"", UnexpectedMessage),
        ({":date": 1, ":chunk-signature": b"x" * 32}, b"", UnexpectedMessage),
        ({":date": eventstream.Timestamp(1), ":chunk-signature": b"x" * 31}, b"", UnexpectedMessage),
        ({":date": eventstream.Timestamp(1), ":chunk-signature": b"x" * 32}, b"garbage!" * 3, ProtocolError),
        ({":date": eventstream.Timestamp(1), ":chunk-signature": b"x" * 32},
         eventstream.encode_message({":date": eventstream.Timestamp(1), ":chunk-signature": b"x" * 32}, b""),
         UnexpectedMessage),
    ],
)
def test_classify_rejects(headers: dict, payload: bytes, exc: type) -> None:
    msg = eventstream.decode_message(eventstream.encode_message(headers, payload))
    with pytest.raises(exc):
        classify_client_message(msg)
