"""Start parameters: every rule of protocol.md §3.3 / §6.1.6 broken once, plus wire round trips."""

from __future__ import annotations

import pytest

from scribewire.errors import ParameterError
from scribewire.transcribe import (
    CallAnalyticsParams,
    MedicalStreamParams,
    StreamParams,
    params_for_path,
)

STD = {"sample_rate": 16000, "language_code": "en-US"}
LID = {"sample_rate": 16000, "identify_language": True, "language_options": "en-US,de-DE"}
MED = {"sample_rate": 16000, "language_code": "en-US", "specialty": "PRIMARYCARE", "type": "CONVERSATION"}
CA = {"sample_rate": 8000, "language_code": "en-US"}

# (class, base kwargs, changes, parameter named in the error, rule fragment)
BROKEN = [
    (StreamParams, STD, {"media_encoding": "mp3"}, "media-encoding", "must be one of"),
    (StreamParams, STD, {"sample_rate": 7999}, "sample-rate", "8000..48000"),
    (StreamParams, STD, {"sample_rate": 48001}, "sample-rate", "8000..48000"),
    (StreamParams, STD, {"sample_rate": 16000.0}, "sample-rate", "integer"),
    (StreamParams, STD, {"sample_rate": True}, "sample-rate", "integer"),
    (StreamParams, STD, {"language_code": "en-XX"}, "language-code", "not a language code"),
    (StreamParams, STD, {"language_code": None}, "language-code", "exactly one"),
    (StreamParams, STD, {"identify_language": True, "language_options": "en-US,de-DE"}, "language-code", "exactly one"),
    (StreamParams, LID, {"identify_multiple_languages": True}, "language-code", "exactly one"),
    (StreamParams, LID, {"language_options": None}, "language-options", "is required"),
    (StreamParams, STD, {"language_options": "en-US,de-DE"}, "language-options", "only allowed"),
    (StreamParams, LID, {"language_options": "en-US"}, "language-options", "at least two"),
    (StreamParams, LID, {"language_options": "en-US,en-AU"}, "language-options", "one dialect"),
    (StreamParams, LID, {"language_options": "en-US,xx-YY"}, "language-options", "not a language code"),
    (StreamParams, LID, {"language_options": "en-US;de-DE"}, "language-options", "must match"),
    (StreamParams, LID, {"language_options": "en-US," + "de-DE," * 40 + "fr-FR"}, "language-options", "1..200"),
    (StreamParams, LID, {"preferred_language": "fr-FR"}, "preferred-language", "one of language-options"),
    (StreamParams, LID, {"preferred_language": "xx-YY"}, "preferred-language", "not a language code"),
    (StreamParams, {**LID, "identify_language": False, "identify_multiple_languages": True},
     {"preferred_language": "en-US"}, "preferred-language", "only allowed with identify-language"),
    (StreamParams, STD, {"vocabulary_name": "bad name"}, "vocabulary-name", "must match"),
    (StreamParams, STD, {"vocabulary_name": "v" * 201}, "vocabulary-name", "1..200"),
    (StreamParams, STD, {"vocabulary_name": ""}, "vocabulary-name", "1..200"),
    (StreamParams, LID, {"vocabulary_name": "v"}, "vocabulary-name", "use vocabulary-names"),
    (StreamParams, STD, {"vocabulary_names": "a,b"}, "vocabulary-names", "only allowed with identify"),
    (StreamParams, LID, {"vocabulary_names": "a b"}, "vocabulary-names", "must match"),
    (StreamParams, LID, {"vocabulary_names": "v" * 3001}, "vocabulary-names", "1..3000"),
    (StreamParams, STD, {"vocabulary_filter_name": "f/x"}, "vocabulary-filter-name", "must match"),
    (StreamParams, LID, {"vocabulary_filter_name": "f"}, "vocabulary-filter-name", "use vocabulary-filter-names"),
    (StreamParams, STD, {"vocabulary_filter_names": "f"}, "vocabulary-filter-names", "only allowed"),
    (StreamParams, STD, {"vocabulary_filter_method": "drop"}, "vocabulary-filter-method", "must be one of"),
    (StreamParams, STD, {"session_id": "not-a-uuid"}, "session-id", "UUID"),
    (StreamParams, STD, {"enable_channel_identification": True}, "enable-channel-identification", "requires number-of-channels"),
    (StreamParams, STD, {"number_of_channels": 2}, "number-of-channels", "requires enable-channel-identification"),
    (StreamParams, STD, {"enable_channel_identification": True, "number_of_channels": 3}, "number-of-channels", "must be 2"),
    (StreamParams, STD, {"show_speaker_label": "true"}, "show-speaker-label", "boolean"),
    (StreamParams, STD, {"partial_results_stability": "high"}, "partial-results-stability", "requires enable-partial"),
    (StreamParams, STD, {"enable_partial_results_stabilization": True, "partial_results_stability": "max"},
     "partial-results-stability", "must be one of"),
    (StreamParams, STD, {"content_identification_type": "PHI"}, "content-identification-type", "must be one of"),
    (StreamParams, STD, {"content_redaction_type": "ALL"}, "content-redaction-type", "must be one of"),
    (StreamParams, STD, {"content_identification_type": "PII", "content_redaction_type": "PII"},
     "content-redaction-type", "cannot be combined with content-identification"),
    (StreamParams, STD, {"pii_entity_types": "NAME"}, "pii-entity-types", "requires content"),
    (StreamParams, STD, {"content_redaction_type": "PII", "pii_entity_types": "name"}, "pii-entity-types", "must match"),
    (StreamParams, STD, {"content_redaction_type": "PII", "pii_entity_types": "NAME,PASSPORT"},
     "pii-entity-types", "not a PII entity type"),
    (StreamParams, STD, {"content_redaction_type": "PII", "pii_entity_types": "NAME," * 60 + "SSN"},
     "pii-entity-types", "1..300"),
    (StreamParams, LID, {"content_redaction_type": "PII"}, "content-redaction-type", "identify-language"),
    (StreamParams, LID, {"language_model_name": "m"}, "language-model-name", "identify-language"),
    (StreamParams, STD, {"language_model_name": "m m"}, "language-model-name", "must match"),
    (StreamParams, STD, {"language_options": 5}, "language-options", "comma-separated"),
    (MedicalStreamParams, MED, {"language_code": "en-GB"}, "language-code", "not a language code"),
    (MedicalStreamParams, MED, {"specialty": "DERMATOLOGY"}, "specialty", "must be one of"),
    (MedicalStreamParams, MED, {"type": "DICTATE"}, "type", "must be one of"),
    (MedicalStreamParams, MED, {"content_identification_type": "PII"}, "content-identification-type", "must be one of"),
    (MedicalStreamParams, MED, {"number_of_channels": 2}, "number-of-channels", "requires"),
    (MedicalStreamParams, MED, {"sample_rate": 4000}, "sample-rate", "8000..48000"),
    (MedicalStreamParams, MED, {"vocabulary_name": "a b"}, "vocabulary-name", "must match"),
    (CallAnalyticsParams, CA, {"language_code": "ja-JP"}, "language-code", "not a language code"),
    (CallAnalyticsParams, CA, {"content_identification_type": "PII", "content_redaction_type": "PII"},
     "content-redaction-type", "cannot be combined"),
    (CallAnalyticsParams, CA, {"partial_results_stability": "low"}, "partial-results-stability", "requires"),
    (CallAnalyticsParams, CA, {"vocabulary_filter_method": "x"}, "vocabulary-filter-method", "must be one of"),
    (CallAnalyticsParams, CA, {"session_id": "1234"}, "session-id", "UUID"),
    (CallAnalyticsParams, CA, {"media_encoding": "wav"}, "media-encoding", "must be one of"),
]


@pytest.mark.parametrize(
    ("cls", "base", "changes", "param", "rule"),
    BROKEN,
    ids=[f"{c.__name__}-{p}-{i}" for i, (c, _, _, p, _) in enumerate(BROKEN)],
)
def test_each_rule_broken(cls: type, base: dict, changes: dict, param: str, rule: str) -> None:
    cls(**base)  # the base is valid
    with pytest.raises(ParameterError) as info:
        cls(**{**base, **changes})
    err = info.value
    assert isinstance(err, ValueError)
    assert err.parameter == param  # type: ignore[attr-defined]
    assert rule in str(err)
    assert repr(err.value) in str(err)  # type: ignore[attr-defined]


def test_valid_full_standard_and_query_round_trip() -> None:
    p = StreamParams(
        sample_rate=8000,
        media_encoding="pcm",
        language_code="en-US",
        vocabulary_name="my.vocab-1",
        vocabulary_filter_name="filter_1",
        vocabulary_filter_method="mask",
        session_id="12345678-90ab-cdef-1234-567890ABCDEF",
        show_speaker_label=True,
        enable_channel_identification=True,
        number_of_channels=2,
        enable_partial_results_stabilization=True,
        partial_results_stability="high",
        content_identification_type="PII",
        pii_entity_types=["NAME", "ADDRESS"],
        language_model_name="lm",
    )
    q = p.to_query()
    assert q["enable-channel-identification"] == "true"
    assert q["number-of-channels"] == "2"
    assert q["pii-entity-types"] == "NAME,ADDRESS"
    assert "identify-language" not in q
    assert StreamParams.from_query(q) == p
    assert p.channels == 2 and p.bytes_per_frame == 4
    assert StreamParams(sample_rate=16000, language_code="en-US").channels == 1


def test_language_identification_forms() -> None:
    p = StreamParams(sample_rate=16000, identify_language=True, language_options=["en-US", "de-DE", "fr-FR"],
                     preferred_language="de-DE", vocabulary_names="a,b", vocabulary_filter_names="f")
    assert p.to_query()["language-options"] == "en-US,de-DE,fr-FR"
    assert StreamParams.from_query(p.to_query()) == p
    m = StreamParams(sample_rate=16000, identify_multiple_languages=True, language_options="en-US,es-US",
                     content_redaction_type="PII", language_model_name="lm")
    assert StreamParams.from_query(m.to_query()) == m
    assert StreamParams(sample_rate=16000, media_encoding="flac", language_code="en-US").bytes_per_frame is None


def test_medical_and_call_analytics_round_trip() -> None:
    m = MedicalStreamParams(**MED, show_speaker_label=True, content_identification_type="PHI",
                            enable_channel_identification=True, number_of_channels=2)
    assert MedicalStreamParams.from_query(m.to_query()) == m
    assert m.path == "/medical-stream-transcription-websocket"
    c = CallAnalyticsParams(**CA, content_redaction_type="PII", pii_entity_types="SSN, PIN",
                            enable_partial_results_stabilization=True, partial_results_stability="low")
    assert CallAnalyticsParams.from_query(c.to_query()) == c
    assert c.channels == 1


@pytest.mark.parametrize(
    ("query", "param", "rule"),
    [
        ({"language-code": "en-US", "media-encoding": "pcm"}, "sample-rate", "is required"),
        ({"language-code": "en-US", "sample-rate": "16000"}, "media-encoding", "is required"),
        ({"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16k"}, "sample-rate", "decimal"),
        ({"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "+16000"}, "sample-rate", "decimal"),
        ({"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000",
          "show-speaker-label": "yes"}, "show-speaker-label", "true or false"),
        ({"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000",
          "specialty": "CARDIOLOGY"}, "specialty", "not a parameter of StartStreamTranscription"),
    ],
)
def test_from_query_rules(query: dict, param: str, rule: str) -> None:
    with pytest.raises(ParameterError, match=rule) as info:
        StreamParams.from_query(query)
    assert info.value.parameter == param  # type: ignore[attr-defined]


def test_from_query_tolerance() -> None:
    q = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000",
         "show-speaker-label": "TRUE", "user-agent": "aws-sdk-js/3", "X-Amz-Date": "x", "future-thing": "1"}
    p = StreamParams.from_query(q)
    assert p.show_speaker_label is True
    with pytest.raises(ParameterError, match="future-thing"):
        StreamParams.from_query(q, strict=True)
    StreamParams.from_query({k: v for k, v in q.items() if k != "future-thing"}, strict=True)
    with pytest.raises(ParameterError, match="language-code"):
        MedicalStreamParams.from_query({"media-encoding": "pcm", "sample-rate": "16000",
                                        "specialty": "ONCOLOGY", "type": "DICTATION"})


def test_params_for_path() -> None:
    assert params_for_path("/stream-transcription-websocket") is StreamParams
    assert params_for_path("/medical-stream-transcription-websocket") is MedicalStreamParams
    assert params_for_path("/call-analytics-stream-transcription-websocket") is CallAnalyticsParams
    assert params_for_path("/stream-transcription") is None


def test_frozen() -> None:
    p = StreamParams(**STD)
    with pytest.raises(AttributeError):
        p.sample_rate = 8000  # type: ignore[misc]
