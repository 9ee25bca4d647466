"""Typed events: service-shaped JSON of protocol.md §4 decodes and round-trips; decode_event."""

from __future__ import annotations

import json

import msgspec
import pytest

from scribewire import eventstream
from scribewire.errors import (
    InvalidEventPayload,
    ParameterError,
    ServiceError,
    UnexpectedMessage,
)
from scribewire.transcribe import (
    CategoryEvent,
    ChannelDefinition,
    ConfigurationEvent,
    MedicalTranscriptEvent,
    Operation,
    PostCallAnalyticsSettings,
    Result,
    Transcript,
    TranscriptEvent,
    UnknownEvent,
    UtteranceEvent,
    decode_event,
)
from scribewire.transcribe.errors import (
    BadRequestException,
    ConflictException,
    InternalFailureException,
    LimitExceededException,
    ServiceUnavailableException,
)
from scribewire.transcribe.events import decode_payload, encode_payload

# Service-shaped bodies following protocol.md §4.3 / §4.4 (PascalCase, seconds vs ms).
PARTIAL = {
    "Transcript": {
        "Results": [
            {
                "ResultId": "6d5d9b5c-2d8b-4f5e-9d8c-3b1f2c7e8a90",
                "StartTime": 1.65,
                "EndTime": 3.2,
                "IsPartial": True,
                "ChannelId": "ch_1",
                "LanguageCode": "en-US",
                "LanguageIdentification": [
                    {"LanguageCode": "en-US", "Score": 0.93},
                    {"LanguageCode": "de-DE", "Score": 0.07},
                ],
                "Alternatives": [
                    {
                        "Transcript": "my name is John",
                        "Items": [
                            {"StartTime": 1.65, "EndTime": 1.9, "Type": "pronunciation", "Content": "my",
                             "VocabularyFilterMatch": False, "Speaker": "0", "Stable": True},
                            {"StartTime": 1.9, "EndTime": 2.3, "Type": "pronunciation", "Content": "name",
                             "VocabularyFilterMatch": True, "Speaker": "0", "Stable": False,
                             "Confidence": 0.87},
                        ],
                        "Entities": [
                            {"StartTime": 2.9, "EndTime": 3.2, "Category": "PII", "Type": "NAME",
                             "Content": "John", "Confidence": 0.95}
                        ],
                    }
                ],
                "SomeFutureField": {"x": 1},
            }
        ]
    }
}
EMPTY_RESULTS = {"Transcript": {"Results": []}}
MEDICAL = {
    "Transcript": {
        "Results": [
            {"ResultId": "r1", "StartTime": 0.1, "EndTime": 1.0, "IsPartial": False, "ChannelId": "ch_0",
             "Alternatives": [{"Transcript": "aspirin", "Items": [
                 {"StartTime": 0.1, "EndTime": 1.0, "Type": "pronunciation", "Content": "aspirin",
                  "Confidence": 1.0, "Speaker": "1"}],
                 "Entities": [{"StartTime": 0.1, "EndTime": 1.0, "Category": "PHI", "Content": "aspirin",
                               "Confidence": 0.9}]}]}
        ]
    }
}
UTTERANCE = {
    "UtteranceId": "u-1", "IsPartial": False, "ParticipantRole": "CUSTOMER",
    "BeginOffsetMillis": 1200, "EndOffsetMillis": 3400, "Transcript": "my card is broken",
    "Items": [{"BeginOffsetMillis": 1200, "EndOffsetMillis": 1400, "Type": "pronunciation",
               "Content": "my", "Confidence": 0.99, "VocabularyFilterMatch": False, "Stable": True}],
    "Entities": [{"BeginOffsetMillis": 1500, "EndOffsetMillis": 1900, "Category": "PII",
                  "Type": "CREDIT_DEBIT_NUMBER", "Content": "[CREDIT_DEBIT_NUMBER]", "Confidence": 0.9}],
    "Sentiment": "NEGATIVE",
    "IssuesDetected": [{"CharacterOffsets": {"Begin": 3, "End": 17}}],
}
CATEGORY = {
    "MatchedCategories": ["billing", "complaint"],
    "MatchedDetails": {"card": {"TimestampRanges": [{"BeginOffsetMillis": 1200, "EndOffsetMillis": 3400}]}},
}
CONFIG = {"ChannelDefinitions": [{"ChannelId": 0, "ParticipantRole": "AGENT"},
                                 {"ChannelId": 1, "ParticipantRole": "CUSTOMER"}]}


def msg(event_type: str, body: object, message_type: str = "event") -> eventstream.Message:
    return eventstream.decode_message(
        eventstream.encode_message(
            {":content-type": "application/json", ":event-type": event_type, ":message-type": message_type},
            json.dumps(body).encode(),
        )
    )


def strip_defaults(obj: object) -> object:
    """The JSON with members that equal their default removed (what omit_defaults drops).

    ``IsPartial`` has no default: it is always encoded, false included, as the service does.
    """
    if isinstance(obj, dict):
        return {k: strip_defaults(v) for k, v in obj.items()
                if not (v is False and k == "VocabularyFilterMatch")
                and v != [] and v is not None and k != "SomeFutureField"}
    if isinstance(obj, list):
        return [strip_defaults(v) for v in obj]
    return obj


def test_final_results_carry_is_partial_false() -> None:
    final = TranscriptEvent(Transcript((Result("r", 0.0, 1.0, False),)))
    wire = json.loads(encode_payload(final))
    assert wire["Transcript"]["Results"][0]["IsPartial"] is False
    utterance = UtteranceEvent(utterance_id="u", is_partial=False)
    assert json.loads(encode_payload(utterance))["IsPartial"] is False


@pytest.mark.parametrize(
    ("body", "cls", "event_type", "op"),
    [
        (PARTIAL, TranscriptEvent, "TranscriptEvent", Operation.STANDARD),
        (EMPTY_RESULTS, TranscriptEvent, "TranscriptEvent", Operation.STANDARD),
        (MEDICAL, MedicalTranscriptEvent, "TranscriptEvent", Operation.MEDICAL),
        (UTTERANCE, UtteranceEvent, "UtteranceEvent", Operation.CALL_ANALYTICS),
        (CATEGORY, CategoryEvent, "CategoryEvent", Operation.CALL_ANALYTICS),
    ],
)
def test_service_json_round_trip(body: dict, cls: type, event_type: str, op: Operation) -> None:
    event = decode_event(msg(event_type, body), operation=op)
    assert type(event) is cls
    encoded = encode_payload(event)
    assert json.loads(encoded) == strip_defaults(body)
    assert decode_payload(event_type, encoded, op) == event


def test_snake_case_attributes_and_units() -> None:
    ev = decode_event(msg("TranscriptEvent", PARTIAL), operation="StartStreamTranscription")
    assert isinstance(ev, TranscriptEvent)
    r = ev.transcript.results[0]
    assert r.result_id.startswith("6d5d") and r.is_partial and r.channel_id == "ch_1"
    assert r.start_time == 1.65 and r.language_identification[1].score == 0.07
    item = r.alternatives[0].items[1]
    assert item.vocabulary_filter_match and item.stable is False and item.confidence == 0.87
    assert r.alternatives[0].entities[0].type == "NAME"
    u = decode_event(msg("UtteranceEvent", UTTERANCE), operation=Operation.CALL_ANALYTICS)
    assert isinstance(u, UtteranceEvent)
    assert u.begin_offset_millis == 1200 and u.issues_detected[0].character_offsets.end == 17
    with pytest.raises(AttributeError):
        r.is_partial = False  # type: ignore[misc]


def test_character_offsets_doc_spelling() -> None:
    body = {**UTTERANCE, "IssuesDetected": [{"CharacterOffsets": {"BeginOffsetChar": 4, "EndOffsetChar": 9}}]}
    u = decode_event(msg("UtteranceEvent", body), operation=Operation.CALL_ANALYTICS)
    offsets = u.issues_detected[0].character_offsets  # type: ignore[union-attr]
    assert (offsets.begin, offsets.end) == (4, 9)
    assert json.loads(encode_payload(u))["IssuesDetected"] == [{"CharacterOffsets": {"Begin": 4, "End": 9}}]


def test_configuration_event_validation_and_json() -> None:
    cfg = ConfigurationEvent(
        channel_definitions=(ChannelDefinition(0, "AGENT"), ChannelDefinition(1, "CUSTOMER")),
        post_call_analytics_settings=PostCallAnalyticsSettings(
            output_location="s3://bucket/prefix", data_access_role_arn="arn:aws:iam::1:role/r",
            content_redaction_output="redacted", output_encryption_kms_key_id="key",
        ),
    )
    body = json.loads(encode_payload(cfg))
    assert body["ChannelDefinitions"] == CONFIG["ChannelDefinitions"]
    assert body["PostCallAnalyticsSettings"]["OutputEncryptionKMSKeyId"] == "key"
    assert decode_payload("ConfigurationEvent", encode_payload(cfg), Operation.CALL_ANALYTICS) == cfg
    assert decode_payload("ConfigurationEvent", json.dumps(CONFIG).encode(), "StartCallAnalyticsStreamTranscription")
    with pytest.raises(ParameterError, match="exactly two"):
        ConfigurationEvent(channel_definitions=(ChannelDefinition(0, "AGENT"),))
    with pytest.raises(ParameterError, match="exactly two"):
        ConfigurationEvent(channel_definitions=(ChannelDefinition(0, "AGENT"), ChannelDefinition(0, "CUSTOMER")))
    with pytest.raises(ParameterError, match="0 or 1"):
        ChannelDefinition(2, "AGENT")
    with pytest.raises(ParameterError, match="AGENT or CUSTOMER"):
        ChannelDefinition(0, "SUPERVISOR")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="s3://"):
        PostCallAnalyticsSettings(output_location="bucket", data_access_role_arn="arn:x")
    with pytest.raises(ParameterError, match="ARN"):
        PostCallAnalyticsSettings(output_location="s3://b", data_access_role_arn="role")
    with pytest.raises(ParameterError, match="ContentRedactionOutput"):
        PostCallAnalyticsSettings(output_location="s3://b", data_access_role_arn="arn:x",
                                  content_redaction_output="all")  # type: ignore[arg-type]
    for bad in (
        {"ChannelDefinitions": [{"ChannelId": 0, "ParticipantRole": "AGENT"}]},
        {"ChannelDefinitions": [{"ChannelId": 0, "ParticipantRole": "AGENT"},
                                {"ChannelId": 1, "ParticipantRole": "BOSS"}]},
        {"ChannelDefinitions": [{"ChannelId": "0", "ParticipantRole": "AGENT"},
                                {"ChannelId": 1, "ParticipantRole": "CUSTOMER"}]},
        {},
    ):
        with pytest.raises(InvalidEventPayload):
            decode_payload("ConfigurationEvent", json.dumps(bad).encode(), Operation.CALL_ANALYTICS)
    with pytest.raises(UnexpectedMessage):
        decode_payload("ConfigurationEvent", json.dumps(CONFIG).encode(), Operation.STANDARD)


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("BadRequestException", BadRequestException, False),
        ("LimitExceededException", LimitExceededException, True),
        ("InternalFailureException", InternalFailureException, True),
        ("ConflictException", ConflictException, False),
        ("ServiceUnavailableException", ServiceUnavailableException, True),
        ("SomethingNewException", ServiceError, False),
    ],
)
def test_exception_messages_become_service_errors(code: str, cls: type, retryable: bool) -> None:
    m = eventstream.decode_message(eventstream.encode_message(
        {":content-type": "application/json", ":exception-type": code, ":message-type": "exception"},
        b'{"Message":"Your stream is too big."}'))
    err = decode_event(m, operation=Operation.STANDARD)
    assert type(err) is cls
    assert err.code == code and err.message == "Your stream is too big." and err.retryable is retryable


def test_error_message_type(shared_dir) -> None:  # type: ignore[no-untyped-def]
    cases = json.loads((shared_dir / "vectors/eventstream/botocore/test_eventstream_cases.json").read_text())
    case = next(c for c in cases["positive"] if c["name"] == "error_event_message")
    err = decode_event(eventstream.decode_message(bytes.fromhex(case["encoded_hex"])), operation=Operation.STANDARD)
    assert isinstance(err, ServiceError) and err.code == "code" and err.message == "message"


def test_exception_with_non_json_body_keeps_text() -> None:
    m = eventstream.Message({":message-type": "exception", ":exception-type": "BadRequestException"}, b"plain")
    err = decode_event(m, operation=Operation.STANDARD)
    assert isinstance(err, BadRequestException) and err.message == "plain"


@pytest.mark.parametrize(
    ("headers", "payload", "exc"),
    [
        ({":event-type": "TranscriptEvent"}, b"{}", UnexpectedMessage),
        ({":message-type": "bogus"}, b"", UnexpectedMessage),
        ({":message-type": "event"}, b"{}", UnexpectedMessage),
        ({":message-type": "exception"}, b"{}", UnexpectedMessage),
        ({":message-type": "error"}, b"", UnexpectedMessage),
        ({":message-type": "event", ":event-type": "TranscriptEvent"}, b"{not json", InvalidEventPayload),
        ({":message-type": "event", ":event-type": "TranscriptEvent"}, b'{"Transcript": 5}', InvalidEventPayload),
        ({":message-type": "event", ":event-type": "TranscriptEvent"},
         b'{"Transcript": {"Results": [{"IsPartial": "yes"}]}}', InvalidEventPayload),
    ],
)
def test_malformed_messages(headers: dict, payload: bytes, exc: type) -> None:
    with pytest.raises(exc):
        decode_event(eventstream.Message(headers, payload), operation=Operation.STANDARD)


def test_unknown_event_type_is_kept() -> None:
    ev = decode_event(msg("FancyNewEvent", {"A": 1}), operation=Operation.STANDARD)
    assert ev == UnknownEvent("FancyNewEvent", b'{"A": 1}')
    ev = decode_event(msg("UtteranceEvent", UTTERANCE), operation=Operation.STANDARD)
    assert isinstance(ev, UnknownEvent)


def test_msgspec_struct_options() -> None:
    assert msgspec.json.encode(TranscriptEvent()) == b"{}"
