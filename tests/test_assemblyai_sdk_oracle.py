"""The official ``assemblyai`` SDK as oracle (assemblyai.md §2.1, §4).

* its query builder (``assemblyai.streaming.v3._base._build_uri`` over
  ``RealTimeParameters``) and our ``to_query()`` agree on random parameter sets, and our
  ``from_query`` reads the SDK's URLs back to the same parameters;
* our decoding and the SDK's pydantic models (``_BaseStreamingClient._parse_message``)
  agree on random server messages, and both refuse the same incomplete ones;
* what our server session emits, and our client's ``UpdateConfiguration``, parse in
  the SDK; the SDK's ``UpdateConfiguration`` parses in our server.

Skips as a whole when the SDK is not importable (``pip install assemblyai``).
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

sdk_v3 = pytest.importorskip(
    "assemblyai.streaming.v3", reason="the official SDK (pip install assemblyai) is the oracle here"
)
hypothesis = pytest.importorskip("hypothesis", reason="hypothesis drives the oracle comparisons")

import pydantic  # noqa: E402
from assemblyai.streaming.v3 import _base as sdk_base  # noqa: E402
from assemblyai.streaming.v3 import models as sdk_models  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scribewire.assemblyai import auth  # noqa: E402
from scribewire.assemblyai.errors import InvalidMessageSchema  # noqa: E402
from scribewire.assemblyai.events import (  # noqa: E402
    Begin,
    ErrorMessage,
    SpeechStarted,
    Termination,
    Turn,
    WarningMessage,
    decode_message,
)
from scribewire.assemblyai.messages import decode_client_message  # noqa: E402
from scribewire.assemblyai.params import FIELDS, PII_POLICIES, StreamingParams, model_family  # noqa: E402
from scribewire.assemblyai.server_session import (  # noqa: E402
    AssemblyAIServerSession,
    RecognizedWord,
    ServerConfig,
)
from scribewire.assemblyai.session import AssemblyAISession  # noqa: E402

pytestmark = pytest.mark.hypothesis

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOOLS = {f.name for f in FIELDS if f.type == "bool"}
# fields the SDK 1.8.2 does not model (pipecat-only or deprecated v3 names): not generated
NOT_IN_SDK = {"previous_context_n_turns", "language"}
MODELS = sorted({"universal-streaming-english", "universal-streaming-multilingual", "whisper-rt", "u3-rt-pro",
                 "u3-rt-pro-beta-1", "universal-3-5-pro", "universal-3-6-pro", "universal-3-6"})

text = st.text(min_size=1, max_size=40)
unit = st.floats(0.0, 1.0, allow_nan=False)
ms = st.integers(0, 5000)


def _applies(name: str, model: str) -> bool:
    spec = {f.name: f for f in FIELDS}[name]
    return spec.models is None or model_family(model) in spec.models or model in spec.models


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "format_turns": st.booleans(),
    "end_of_turn_confidence_threshold": unit,
    "min_turn_silence": ms,
    "max_turn_silence": ms,
    "vad_threshold": unit,
    "keyterms_prompt": st.lists(st.text(min_size=1, max_size=50), max_size=8),
    "prompt": text,
    "language_detection": st.booleans(),
    "language_codes": st.lists(st.sampled_from(["en", "es", "fr", "de", "it", "pt"]), min_size=1, max_size=4),
    "speaker_labels": st.booleans(),
    "speaker_labels_revision_interval_ms": ms,
    "inactivity_timeout": st.integers(5, 3600),
    "domain": st.just("medical-v1"),
    "filter_profanity": st.booleans(),
    "mode": st.sampled_from(["min_latency", "balanced", "max_accuracy"]),
    "continuous_partials": st.booleans(),
    "interruption_delay": st.integers(0, 1000),
    "agent_context": text,
    "voice_focus": st.sampled_from(["near-field", "far-field"]),
    "turn_left_pad_ms": ms,
    "session_heartbeat": st.booleans(),
    "acknowledge_silence": st.booleans(),
    "include_partial_turns": st.booleans(),
    "customer_support_audio_capture": st.booleans(),
    "redact_pii": st.booleans(),
    "redact_pii_policies": st.lists(st.sampled_from(sorted(PII_POLICIES)), min_size=1, max_size=5),
    "redact_pii_sub": st.sampled_from(["hash", "entity_name"]),
    "webhook_url": st.sampled_from(["https://example.com/hook", "https://h.example/a?b=c&d=e"]),
    "webhook_auth_header_name": st.sampled_from(["X-Auth", "Authorization"]),
    "webhook_auth_header_value": text,
    "llm_gateway": st.fixed_dictionaries({
        "model": text,
        "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]), "content": text}),
                             max_size=3),
        "max_tokens": st.integers(1, 4000),
    }),
}


@st.composite
def param_sets(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(st.sampled_from(MODELS))
    kw: dict[str, Any] = {
        "speech_model": model,
        "sample_rate": draw(st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000])),
        "encoding": draw(st.sampled_from(["pcm_s16le", "pcm_mulaw"])),
    }
    for name, strategy in VALUES.items():
        if _applies(name, model) and draw(st.integers(0, 3)) == 0:
            kw[name] = draw(strategy)
    if kw.get("speaker_labels") and draw(st.booleans()):
        kw["max_speakers"] = draw(st.integers(1, 10))
    if "voice_focus" in kw and draw(st.booleans()):
        kw["voice_focus_threshold"] = draw(unit)
    if "min_turn_silence" not in kw and _applies("min_turn_silence", model) and draw(st.integers(0, 5)) == 0:
        kw["min_end_of_turn_silence_when_confident"] = draw(ms)  # the deprecated alias
    return kw


def _ours(kw: dict[str, Any]) -> StreamingParams:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return StreamingParams(**kw)


def _sdk_query(kw: dict[str, Any]) -> str:
    logging.getLogger("assemblyai").setLevel(logging.ERROR)  # its deprecation notices
    uri = sdk_base._build_uri("streaming.assemblyai.com", sdk_models.RealTimeParameters(**kw))
    return urlsplit(uri).query


@SETTINGS
@given(param_sets())
def test_query_matches_the_sdk(kw: dict[str, Any]) -> None:
    sdk = dict(parse_qsl(_sdk_query(kw), keep_blank_values=True))
    # the one difference by design: Python's True/False against true/false (§2.1)
    sdk = {k: (v.lower() if k in BOOLS else v) for k, v in sdk.items()}
    ours = _ours(kw)
    assert sdk == ours.to_query()
    ours_url = dict(parse_qsl(urlsplit(auth.url(ours)).query, keep_blank_values=True))
    assert ours_url == sdk


@SETTINGS
@given(param_sets())
def test_sdk_urls_parse_back(kw: dict[str, Any]) -> None:
    assert StreamingParams.from_query(_sdk_query(kw)) == _ours(kw)


# ---------------------------------------------------------------- messages

word = st.fixed_dictionaries(
    {"start": st.integers(0, 10**9), "end": st.integers(0, 10**9), "text": st.text(max_size=20),
     "confidence": unit, "word_is_final": st.booleans()},
    optional={"speaker": st.sampled_from(["A", "B", "UNKNOWN"])},
)
turns = st.fixed_dictionaries(
    {"type": st.just("Turn"), "turn_order": st.integers(0, 10**6), "turn_is_formatted": st.booleans(),
     "end_of_turn": st.booleans(), "transcript": st.text(max_size=60), "end_of_turn_confidence": unit,
     "words": st.lists(word, max_size=6)},
    optional={"utterance": st.text(max_size=30), "language_code": st.sampled_from(["en", "es", "de"]),
              "language_confidence": unit, "speaker_label": st.sampled_from(["A", "B", "UNKNOWN"]),
              "future_field": st.integers()},
)


def _sdk_parse(doc: dict[str, Any]) -> Any:
    return sdk_base._BaseStreamingClient._parse_message(json.loads(json.dumps(doc)))


@SETTINGS
@given(turns)
def test_turns_decode_like_the_sdk(doc: dict[str, Any]) -> None:
    theirs = _sdk_parse(doc)
    ours = decode_message(json.dumps(doc))
    assert isinstance(theirs, sdk_models.TurnEvent) and isinstance(ours, Turn)
    for name in ("turn_order", "turn_is_formatted", "end_of_turn", "transcript", "end_of_turn_confidence",
                 "language_code", "language_confidence", "speaker_label"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [(w.start, w.end, w.text, w.confidence, w.word_is_final, w.speaker) for w in ours.words] == [
        (w.start, w.end, w.text, w.confidence, w.word_is_final, w.speaker) for w in theirs.words]
    assert ours.utterance == doc.get("utterance")  # a field the SDK drops (§9)


@SETTINGS
@given(turns, st.sampled_from(["turn_order", "turn_is_formatted", "end_of_turn", "transcript",
                               "end_of_turn_confidence", "words"]))
def test_incomplete_turns_refused_by_both(doc: dict[str, Any], missing: str) -> None:
    del doc[missing]
    with pytest.raises(pydantic.ValidationError):
        _sdk_parse(doc)
    with pytest.raises(InvalidMessageSchema):
        decode_message(json.dumps(doc))


others = st.one_of(
    st.fixed_dictionaries({"type": st.just("Begin"), "id": st.uuids().map(str),
                           "expires_at": st.integers(1_600_000_000, 2_000_000_000)}),
    st.fixed_dictionaries({"type": st.just("Termination"), "audio_duration_seconds": st.integers(0, 10**5),
                           "session_duration_seconds": st.integers(0, 10**5)}),
    st.fixed_dictionaries({"type": st.just("SpeechStarted"), "timestamp": st.integers(0, 10**9)},
                          optional={"confidence": unit}),
    st.fixed_dictionaries({"type": st.just("Error"), "error": st.text(max_size=40)},
                          optional={"error_code": st.sampled_from([1008, 3005, 3006, 3007, 3008, 3009])}),
    st.fixed_dictionaries({"type": st.just("Warning"), "warning_code": st.integers(0, 9999),
                           "warning": st.text(max_size=40)}),
)


@SETTINGS
@given(others)
def test_other_messages_decode_like_the_sdk(doc: dict[str, Any]) -> None:
    theirs = _sdk_parse(doc)
    ours = decode_message(json.dumps(doc))
    assert type(theirs).__name__.replace("Event", "") == type(ours).__name__.replace("Message", "")
    if isinstance(ours, Begin):
        assert theirs.id == ours.id and theirs.expires_at.timestamp() == ours.expires_at
    elif isinstance(ours, Termination):
        assert (theirs.audio_duration_seconds, theirs.session_duration_seconds) == (
            ours.audio_duration_seconds, ours.session_duration_seconds)
    elif isinstance(ours, SpeechStarted):
        assert theirs.timestamp == ours.timestamp
    elif isinstance(ours, ErrorMessage):
        assert (theirs.error, theirs.error_code) == (ours.error, ours.error_code)
    else:
        assert isinstance(ours, WarningMessage)
        assert (theirs.warning_code, theirs.warning) == (ours.warning_code, ours.warning)


def test_float_termination_is_what_the_sdk_refuses() -> None:
    # why the server sends integers (§4.4): the SDK's Optional[int] refuses 12.5
    with pytest.raises(pydantic.ValidationError):
        _sdk_parse({"type": "Termination", "audio_duration_seconds": 12.5, "session_duration_seconds": 13})


# ---------------------------------------------------------------- our server in the SDK's eyes

recognized = st.lists(
    st.builds(RecognizedWord, st.text(alphabet="abcdefgh", min_size=1, max_size=8), st.integers(0, 10**6),
              st.integers(0, 10**6), unit, st.booleans()),
    max_size=6,
)


@SETTINGS
@given(st.sampled_from(MODELS), st.booleans(), st.booleans(), recognized, st.booleans(),
       st.floats(0, 20_000, allow_nan=False))
def test_server_messages_parse_in_the_sdk(model: str, fmt: bool, labels: bool, words: list[RecognizedWord],
                                          eot: bool, duration: float) -> None:
    q = f"speech_model={model}&format_turns={'true' if fmt else 'false'}"
    if labels and _applies("speaker_labels", model):
        q += "&speaker_labels=true"
    srv = AssemblyAIServerSession(f"/v3/ws?{q}", {"Authorization": "k"}, now=0.0, unix_time=1.7e9,
                                  config=ServerConfig())
    srv.emit_turn(words, end_of_turn=eot)
    srv.receive_message('{"type":"Terminate"}', 1.0)
    srv.finish(duration)
    msgs = [_sdk_parse(json.loads(m)) for m in srv.data_to_send()]
    assert isinstance(msgs[0], sdk_models.BeginEvent) and isinstance(msgs[-1], sdk_models.TerminationEvent)
    assert isinstance(msgs[-1].session_duration_seconds, int)
    assert all(isinstance(m, (sdk_models.TurnEvent, sdk_models.SpeechStartedEvent)) for m in msgs[1:-1])
    assert sum(isinstance(m, sdk_models.TurnEvent) for m in msgs) >= 1


update_fields = st.fixed_dictionaries({}, optional={
    "min_turn_silence": ms, "max_turn_silence": ms, "vad_threshold": unit,
    "keyterms_prompt": st.lists(st.text(min_size=1, max_size=50), max_size=5), "format_turns": st.booleans(),
    "filter_profanity": st.booleans(), "turn_left_pad_ms": ms, "session_heartbeat": st.booleans(),
    "end_of_turn_confidence_threshold": unit,
})


@SETTINGS
@given(update_fields)
def test_update_configuration_both_ways(fields: dict[str, Any]) -> None:
    hypothesis.assume(fields)
    # SDK -> our server
    sdk_json = sdk_base._dump_model_json(sdk_models.UpdateConfiguration(**fields))
    msg = decode_client_message(sdk_json)
    params = StreamingParams().update(lenient=True, **msg.fields)  # type: ignore[union-attr]
    for k, v in fields.items():
        got = getattr(params, k)
        assert (list(got) if isinstance(got, tuple) else got) == v
    # our client -> the SDK's model
    ours = AssemblyAISession(StreamingParams()).update_configuration(**fields)
    back = sdk_models.UpdateConfiguration(**json.loads(ours))
    assert {k: getattr(back, k) for k in fields} == fields
