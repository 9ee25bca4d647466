"""StreamingParams: every rule of assemblyai.md §2.3, the wire form (§2.1) and from_query."""

from __future__ import annotations

import dataclasses
import warnings
from urllib.parse import parse_qsl, urlsplit

import pytest

from scribewire.assemblyai.params import (
    FIELDS,
    UPDATABLE,
    LLMGatewayConfig,
    StreamingParams,
    model_family,
    unknown_parameters,
)
from scribewire.errors import ParameterError

U3 = "u3-rt-pro"
EN = "universal-streaming-english"
MULTI = "universal-streaming-multilingual"


def rejects(param: str, fragment: str, **kwargs: object) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        StreamingParams(**kwargs)  # type: ignore[arg-type]
    err = info.value
    assert err.parameter == param, err  # type: ignore[attr-defined]
    assert fragment in err.rule, err  # type: ignore[attr-defined]
    assert param in str(err) and fragment in str(err)
    return err


# ---------------------------------------------------------------- the table


def test_fields_table_matches_the_dataclass() -> None:
    assert [f.name for f in dataclasses.fields(StreamingParams)] == [f.name for f in FIELDS]
    assert StreamingParams.fields() is FIELDS
    for f in FIELDS:
        assert f.help and "\n" not in f.help
        assert f.type in {"int", "float", "bool", "str", "list[str]", "json"}
        assert f.updatable == (f.name in UPDATABLE)
        name, type_, default, choices, help_ = f[:5]  # the CLI's five columns
        assert name == f.name and help_ == f.help
    by = {f.name: f for f in FIELDS}
    assert by["encoding"].choices == ("pcm_mulaw", "pcm_s16le")
    assert by["mode"].choices == ("balanced", "max_accuracy", "min_latency")
    assert by["speech_model"].default == EN and by["sample_rate"].default == 16000
    assert by["inactivity_timeout"][7:9] == (5, 3600)
    # §2.3 names all present
    for name in ("end_of_turn_confidence_threshold", "min_turn_silence", "max_turn_silence", "keyterms_prompt",
                 "prompt", "language_detection", "speaker_labels", "vad_threshold", "inactivity_timeout",
                 "domain", "continuous_partials", "interruption_delay", "agent_context",
                 "previous_context_n_turns", "voice_focus", "voice_focus_threshold", "max_speakers",
                 "language_codes", "mode", "filter_profanity", "redact_pii", "llm_gateway", "webhook_url"):
        assert name in by
    assert UPDATABLE >= {"end_of_turn_confidence_threshold", "min_turn_silence", "max_turn_silence",
                         "keyterms_prompt", "prompt"}  # the documented sets (§3.3)
    assert "sample_rate" not in UPDATABLE and "speaker_labels" not in UPDATABLE


def test_model_families() -> None:
    assert model_family(EN) == model_family(MULTI) == "universal"
    for m in ("u3-rt-pro", "u3-rt-pro-beta-1", "universal-3-5-pro", "universal-3-6-pro", "universal-3-6", "u3-pro"):
        assert model_family(m) == "u3"
    assert model_family("whisper-rt") == "whisper"
    assert model_family(None) is None and model_family("nope") is None


def test_defaults_and_properties() -> None:
    p = StreamingParams()
    assert (p.sample_rate, p.encoding, p.speech_model) == (16000, "pcm_s16le", EN)
    assert p.bytes_per_frame == 2 and p.channels == 1 and p.bytes_per_second == 32000
    assert StreamingParams(encoding="pcm_mulaw", sample_rate=8000).bytes_per_frame == 1
    assert not p.formats_turns
    assert StreamingParams(format_turns=True).formats_turns
    assert StreamingParams(speech_model=U3).formats_turns  # U3 is always formatted
    assert p.effective("min_turn_silence") == 400 and p.effective("max_turn_silence") == 1280
    u3 = StreamingParams(speech_model=U3, max_turn_silence=700)
    assert u3.effective("min_turn_silence") == 100 and u3.effective("max_turn_silence") == 700
    assert StreamingParams(speech_model=None).effective("min_turn_silence") is None
    assert hash(StreamingParams(keyterms_prompt=["a"])) == hash(StreamingParams(keyterms_prompt=("a",)))


# ---------------------------------------------------------------- one test per rule


def test_sample_rate_positive_integer() -> None:
    rejects("sample_rate", ">= 1", sample_rate=0)
    rejects("sample_rate", ">= 1", sample_rate=-8000)
    rejects("sample_rate", "integer", sample_rate=16000.0)
    rejects("sample_rate", "integer", sample_rate=True)
    rejects("sample_rate", "required", sample_rate=None)


def test_encoding_enum() -> None:
    rejects("encoding", "one of", encoding="pcm_f32le")
    rejects("encoding", "required", encoding=None)
    for enc in ("opus", "ogg_opus", "aac"):
        rejects("encoding", "not supported", encoding=enc)


def test_speech_model_enum() -> None:
    rejects("speech_model", "one of", speech_model="universal-streaming-klingon")
    assert StreamingParams(speech_model=None).speech_model is None


def test_deprecated_model_warns() -> None:
    with pytest.warns(DeprecationWarning, match="u3-rt-pro"):
        StreamingParams(speech_model="u3-pro")


@pytest.mark.parametrize("name", ["end_of_turn_confidence_threshold", "vad_threshold"])
def test_thresholds_zero_to_one(name: str) -> None:
    rejects(name, "0..1", **{name: 1.5})
    rejects(name, "0..1", **{name: -0.1})
    rejects(name, "number", **{name: "0.5"})
    rejects(name, "finite", **{name: float("nan")})
    assert getattr(StreamingParams(**{name: 1}), name) == 1.0  # type: ignore[arg-type]
    assert isinstance(getattr(StreamingParams(**{name: 1}), name), float)  # type: ignore[arg-type]


def test_voice_focus_threshold_range_and_coupling() -> None:
    rejects("voice_focus_threshold", "0..1", speech_model=U3, voice_focus="near-field", voice_focus_threshold=2.0)
    rejects("voice_focus_threshold", "requires voice_focus", speech_model=U3, voice_focus_threshold=0.5)
    rejects("voice_focus", "one of", speech_model=U3, voice_focus="mid-field")
    StreamingParams(speech_model=U3, voice_focus="far-field", voice_focus_threshold=0.5)


@pytest.mark.parametrize("name", ["min_turn_silence", "max_turn_silence", "turn_left_pad_ms",
                                  "speaker_labels_revision_interval_ms"])
def test_non_negative_integers(name: str) -> None:
    rejects(name, ">= 0", **{name: -1})
    rejects(name, "integer", **{name: 1.5})
    StreamingParams(**{name: 0})  # type: ignore[arg-type]


def test_keyterms_count() -> None:
    rejects("keyterms_prompt", "at most 100", keyterms_prompt=[f"t{i}" for i in range(101)])
    StreamingParams(keyterms_prompt=[f"t{i}" for i in range(100)])
    StreamingParams(keyterms_prompt=[])  # clears (§2.3)
    with pytest.raises(ParameterError):  # also when parsed leniently
        StreamingParams.from_query({"keyterms_prompt": str([f"t{i}" for i in range(101)]).replace("'", '"')})


def test_keyterm_length() -> None:
    rejects("keyterms_prompt", "longer than 50", keyterms_prompt=["x" * 51])
    StreamingParams(keyterms_prompt=["x" * 50])
    # the service ignores long terms without an error (§2.3): the server parse keeps them
    assert StreamingParams.from_query({"keyterms_prompt": '["' + "x" * 51 + '"]'}).keyterms_prompt == ("x" * 51,)


def test_lists_of_strings() -> None:
    rejects("keyterms_prompt", "list of strings", keyterms_prompt="foo")
    rejects("keyterms_prompt", "list of strings", keyterms_prompt=["a", 1])
    rejects("language_codes", "list of strings", speech_model=U3, language_codes=[None])


def test_prompt_only_on_u3() -> None:
    rejects("prompt", "no effect on universal-streaming-english", prompt="Transcribe verbatim.")
    rejects("prompt", "no effect", speech_model="whisper-rt", prompt="x")
    StreamingParams(speech_model=U3, prompt="Transcribe verbatim.")


def test_prompt_with_keyterms_allowed_on_u3() -> None:
    # D-PROMPT: the pair is allowed on U3 (pipecat's exclusion is for non-U3 models,
    # where prompt itself has no effect: covered by test_prompt_only_on_u3)
    StreamingParams(speech_model=U3, prompt="p", keyterms_prompt=["a"])


def test_end_of_turn_confidence_only_on_universal() -> None:
    rejects("end_of_turn_confidence_threshold", "no effect on u3-rt-pro", speech_model=U3,
            end_of_turn_confidence_threshold=0.5)
    StreamingParams(speech_model=MULTI, end_of_turn_confidence_threshold=0.5)


def test_language_detection_models() -> None:
    rejects("language_detection", "no effect on universal-streaming-english", language_detection=True)
    for m in (MULTI, U3, "whisper-rt"):
        StreamingParams(speech_model=m, language_detection=True)
    StreamingParams(language_detection=False)  # off is the default everywhere


def test_language_codes_only_on_u3() -> None:
    rejects("language_codes", "no effect", speech_model=MULTI, language_codes=["es"])
    StreamingParams(speech_model="universal-3-5-pro", language_codes=["es", "en"])


def test_language_code_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="language_codes"):
        p = StreamingParams(language_code="es")
    assert p.to_query()["language_code"] == "es"  # still sent, as the SDK does


def test_language_deprecated_enum() -> None:
    with pytest.warns(DeprecationWarning):
        StreamingParams(language="multi")
    with pytest.warns(DeprecationWarning), pytest.raises(ParameterError):
        StreamingParams(language="fr")


def test_max_speakers() -> None:
    rejects("max_speakers", "1..10", speaker_labels=True, max_speakers=11)
    rejects("max_speakers", "1..10", speaker_labels=True, max_speakers=0)
    rejects("max_speakers", "requires speaker_labels", max_speakers=2)
    rejects("max_speakers", "requires speaker_labels", speaker_labels=False, max_speakers=2)
    StreamingParams(speaker_labels=True, max_speakers=10)


def test_speaker_labels_models() -> None:
    rejects("speaker_labels", "no effect", speech_model="whisper-rt", speaker_labels=True)


def test_inactivity_timeout_range() -> None:
    rejects("inactivity_timeout", "5..3600", inactivity_timeout=4)
    rejects("inactivity_timeout", "5..3600", inactivity_timeout=3601)
    StreamingParams(inactivity_timeout=5)
    StreamingParams(inactivity_timeout=3600)


def test_domain_enum() -> None:
    rejects("domain", "one of", domain="legal-v1")
    StreamingParams(domain="medical-v1")


def test_mode_enum_and_u3_only_even_when_lenient() -> None:
    rejects("mode", "one of", speech_model=U3, mode="fast")
    rejects("mode", "only for U3", mode="balanced")
    with pytest.raises(ParameterError, match="only for U3"):
        StreamingParams.from_query({"speech_model": EN, "mode": "balanced"})
    StreamingParams(speech_model="universal-3-6-pro", mode="max_accuracy")


def test_u3_only_parameters() -> None:
    for name, value in (("continuous_partials", True), ("interruption_delay", 100), ("agent_context", "Hi!"),
                        ("previous_context_n_turns", 2), ("voice_focus", "near-field"),
                        ("acknowledge_silence", True)):
        rejects(name, "no effect on universal-streaming-english", **{name: value})
        StreamingParams(speech_model=U3, **{name: value})  # type: ignore[arg-type]


def test_interruption_delay_range() -> None:
    rejects("interruption_delay", "0..1000", speech_model=U3, interruption_delay=1001)
    rejects("interruption_delay", "0..1000", speech_model=U3, interruption_delay=-1)


def test_previous_context_range() -> None:
    rejects("previous_context_n_turns", "0..100", speech_model=U3, previous_context_n_turns=101)
    StreamingParams(speech_model=U3, previous_context_n_turns=0)


def test_booleans_are_booleans() -> None:
    rejects("format_turns", "boolean", format_turns=1)
    rejects("speaker_labels", "boolean", speaker_labels="true")


def test_strings_are_strings() -> None:
    rejects("webhook_url", "string", webhook_url=b"https://x")


def test_pii_enums() -> None:
    rejects("redact_pii_policies", "one of", redact_pii=True, redact_pii_policies=["person_name", "shoe_size"])
    rejects("redact_pii_sub", "one of", redact_pii=True, redact_pii_sub="stars")
    StreamingParams(redact_pii=True, redact_pii_policies=["person_name", "email_address"], redact_pii_sub="hash")


def test_llm_gateway_shape() -> None:
    cfg = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    p = StreamingParams(llm_gateway=cfg)
    assert isinstance(p.llm_gateway, LLMGatewayConfig) and p.llm_gateway.messages[0].role == "user"
    assert p.to_query()["llm_gateway"] == '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}'
    rejects("llm_gateway", "object", llm_gateway="m")
    rejects("llm_gateway", "max_tokens", llm_gateway={"model": "m", "messages": []})
    rejects("llm_gateway", "max_tokens", llm_gateway={**cfg, "extra": 1})


def test_model_rules_skip_without_a_model() -> None:
    StreamingParams(speech_model=None, prompt="p", end_of_turn_confidence_threshold=0.3, mode="balanced")


def test_deprecated_min_silence_alias() -> None:
    with pytest.warns(DeprecationWarning, match="min_turn_silence"):
        p = StreamingParams(min_end_of_turn_silence_when_confident=300)
    assert p.min_turn_silence == 300 and p.min_end_of_turn_silence_when_confident is None
    assert "min_end_of_turn_silence_when_confident" not in p.to_query()
    with pytest.warns(DeprecationWarning, match="both set"):
        p = StreamingParams(min_end_of_turn_silence_when_confident=300, min_turn_silence=500)
    assert p.min_turn_silence == 500  # the current name wins (as in the SDK)


def test_deprecated_noise_suppression_aliases() -> None:
    with pytest.warns(DeprecationWarning, match="voice_focus"):
        p = StreamingParams(speech_model=U3, noise_suppression_model="far-field", noise_suppression_threshold=0.4)
    assert (p.voice_focus, p.voice_focus_threshold) == ("far-field", 0.4)
    assert p.noise_suppression_model is None and p.noise_suppression_threshold is None


def test_unknown_names_in_update() -> None:
    with pytest.raises(ParameterError, match="not a parameter"):
        StreamingParams().update(formatted_finals=True)
    assert StreamingParams().update(min_turn_silence=5).min_turn_silence == 5
    with pytest.raises(ParameterError):
        StreamingParams().update(min_turn_silence=-5)


def test_secret_parameter_never_shown() -> None:
    canary = "CANARY-webhook-secret-7f3a"
    p = StreamingParams(webhook_url="https://hook", webhook_auth_header_name="X-Auth", webhook_auth_header_value=canary)
    assert canary not in repr(p) and canary not in str(p) and canary not in f"{p}"
    assert p.to_query()["webhook_auth_header_value"] == canary  # the wire needs it
    with pytest.raises(ParameterError) as info:
        StreamingParams(webhook_auth_header_value=123)  # type: ignore[arg-type]
    assert "123" not in str(info.value)


# ---------------------------------------------------------------- wire form


def test_to_query_encoding() -> None:
    p = StreamingParams(sample_rate=8000, encoding="pcm_mulaw", format_turns=True, speaker_labels=False,
                        end_of_turn_confidence_threshold=0.4, keyterms_prompt=["foo bar", "baz"],
                        min_turn_silence=300)
    assert p.to_query() == {
        "sample_rate": "8000", "encoding": "pcm_mulaw", "speech_model": EN, "format_turns": "true",
        "end_of_turn_confidence_threshold": "0.4", "min_turn_silence": "300",
        "keyterms_prompt": '["foo bar", "baz"]', "speaker_labels": "false",
    }
    assert "speech_model" not in StreamingParams(speech_model=None).to_query()


def test_from_query_round_trip() -> None:
    p = StreamingParams(speech_model=U3, keyterms_prompt=["a", "b c"], prompt="P", min_turn_silence=100,
                        continuous_partials=True, mode="balanced")
    assert StreamingParams.from_query(p.to_query()) == p
    assert StreamingParams.from_query(p.to_query(), strict=True) == p


def test_from_query_real_client_urls() -> None:
    # the URLs of assemblyai.md §2.1, from the SDK (True/False) and pipecat
    urls = [
        "/v3/ws?end_of_turn_confidence_threshold=0.4&format_turns=True&keyterms_prompt=%5B%22foo+bar%22%2C+%22baz%22%5D&sample_rate=16000&speech_model=u3-rt-pro&min_turn_silence=300",
        "/v3/ws?sample_rate=8000&encoding=pcm_mulaw&speech_model=universal-streaming-english&language_detection=False&inactivity_timeout=30&speaker_labels=True",
        "/v3/ws?sample_rate=16000&encoding=pcm_s16le&speech_model=universal-3-6-pro&formatted_finals=true&min_turn_silence=100&max_turn_silence=100&format_turns=true&continuous_partials=true",
        "/v3/ws?sample_rate=16000&encoding=pcm_s16le&speech_model=universal-streaming-english&formatted_finals=true&end_of_turn_confidence_threshold=1.0&min_turn_silence=160&format_turns=true",
    ]
    parsed = [StreamingParams.from_query(urlsplit(u).query) for u in urls]
    assert parsed[0].format_turns is True and parsed[0].keyterms_prompt == ("foo bar", "baz")
    assert parsed[0].end_of_turn_confidence_threshold == 0.4  # no effect on U3: tolerated
    assert parsed[1].language_detection is False and parsed[1].speaker_labels is True
    assert parsed[1].encoding == "pcm_mulaw" and parsed[1].inactivity_timeout == 30
    assert parsed[2].continuous_partials is True and parsed[2].max_turn_silence == 100
    assert parsed[3].end_of_turn_confidence_threshold == 1.0
    assert unknown_parameters(urlsplit(urls[2]).query) == []  # formatted_finals is a known v2 name
    assert unknown_parameters("foo=1&sample_rate=1") == ["foo"]


def test_from_query_spellings() -> None:
    for raw in ("true", "True", "TRUE"):
        assert StreamingParams.from_query({"format_turns": raw}).format_turns is True
    assert StreamingParams.from_query({"format_turns": "False"}).format_turns is False
    # repeated keys, plain items and JSON arrays
    pairs = [("keyterms_prompt", "alpha"), ("keyterms_prompt", '["beta", "gamma"]'), ("sample_rate", "8000")]
    p = StreamingParams.from_query(pairs)
    assert p.keyterms_prompt == ("alpha", "beta", "gamma") and p.sample_rate == 8000
    assert StreamingParams.from_query({"keyterms_prompt": ["a", "b"]}).keyterms_prompt == ("a", "b")
    assert StreamingParams.from_query("keyterms_prompt=a&keyterms_prompt=b").keyterms_prompt == ("a", "b")
    assert StreamingParams.from_query({"min_turn_silence": "300.0"}).min_turn_silence == 300
    assert StreamingParams.from_query([("sample_rate", "8000"), ("sample_rate", "16000")]).sample_rate == 16000


def test_from_query_model_default() -> None:
    assert StreamingParams.from_query({}).speech_model is None
    assert StreamingParams.from_query({}, default_speech_model=U3).speech_model == U3
    assert StreamingParams.from_query({"speech_model": EN}, default_speech_model=U3).speech_model == EN


def test_from_query_ignores_unknown_and_maps_aliases_silently() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = StreamingParams.from_query({"formatted_finals": "true", "word_finalization_max_wait_time": "5",
                                        "token": "t", "whatever": "x",
                                        "min_end_of_turn_silence_when_confident": "250", "language_code": "es"})
    assert p.min_turn_silence == 250 and p.language_code == "es"
    both = StreamingParams.from_query({"min_end_of_turn_silence_when_confident": "250", "min_turn_silence": "400"})
    assert both.min_turn_silence == 400


def test_from_query_strict_applies_model_rules() -> None:
    q = {"speech_model": EN, "prompt": "p"}
    assert StreamingParams.from_query(q).prompt == "p"
    with pytest.raises(ParameterError, match="no effect"):
        StreamingParams.from_query(q, strict=True)


@pytest.mark.parametrize(("name", "raw", "fragment"), [
    ("format_turns", "yes", "true or false"),
    ("sample_rate", "16k", "integer"),
    ("sample_rate", "16000.5", "integer"),
    ("vad_threshold", "high", "number"),
    ("keyterms_prompt", "[bad json", "JSON array"),
    ("keyterms_prompt", '["a", 1]', "list of strings"),
    ("llm_gateway", "{", "JSON object"),
    ("encoding", "opus", "not supported"),
    ("inactivity_timeout", "1", "5..3600"),
])
def test_from_query_bad_values(name: str, raw: str, fragment: str) -> None:
    with pytest.raises(ParameterError) as info:
        StreamingParams.from_query({name: raw})
    assert info.value.parameter == name and fragment in str(info.value)  # type: ignore[attr-defined]


def test_from_query_of_url_parses_back_exactly() -> None:
    p = StreamingParams(keyterms_prompt=["it's", 'say "hi"', "naïve"], speaker_labels=True, max_speakers=3)
    from urllib.parse import urlencode
    assert StreamingParams.from_query(parse_qsl(urlencode(p.to_query()))) == p
