"""Connection parameters of an AssemblyAI Universal-Streaming (v3) session (assemblyai.md §2).

:class:`StreamingParams` holds every query parameter of §2.3 as a field and checks every
documented rule at construction: types, enums, ranges, and which speech models a
parameter applies to. A violation raises ``ParameterError`` naming the parameter, the
value and the rule (its attributes ``parameter``, ``value``, ``rule``).

* ``to_query()`` gives the wire form (§2.1): booleans ``true``/``false``, lists and
  objects as JSON (the SDK's ``json.dumps``), unset fields left out.
* ``from_query(mapping)`` parses what real clients send (server side, §6 items 6-8):
  ``true``/``True``/``TRUE``, JSON lists or repeated keys, the deprecated aliases;
  unknown names (the v2-era ``formatted_finals``, ``word_finalization_max_wait_time``,
  the ``token`` credential) are ignored.
* :data:`FIELDS` (and ``StreamingParams.fields()``) describes each parameter for a CLI:
  name, type, default, choices, one-line help, models, whether ``UpdateConfiguration``
  may change it (§3.3), range and the documented service default.

**Strict and lenient.** Built by a caller (``lenient=False``, the default), a parameter
on a model the docs say it has no effect on (``prompt`` on a universal model,
``end_of_turn_confidence_threshold`` on U3, ``max_speakers`` without
``speaker_labels``...) is an error, and deprecated names warn (``DeprecationWarning``).
Parsed by the server (``from_query``, ``lenient=True``), those are accepted silently as
the service tolerates them; the value rules (types, enums, ranges, at most 100
keyterms) and ``mode`` on a non-U3 model (refused, §2.3) still fail.

Model families (§2.2): ``universal`` (universal-streaming-english / -multilingual),
``u3`` (u3-rt-pro, u3-rt-pro-beta-1, universal-3-5-pro, universal-3-6-pro, universal-3-6,
and the deprecated alias u3-pro), ``whisper`` (whisper-rt). ``speech_model=None`` leaves
the choice to the service (its default is disputed, §2.2, §9), and no model rule applies.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple
from urllib.parse import parse_qsl

import msgspec

from ..errors import ParameterError
from .limits import (
    BYTES_PER_SAMPLE,
    DEFAULT_SAMPLE_RATE,
    ENCODINGS,
    INACTIVITY_TIMEOUT_MAX_SECONDS,
    INACTIVITY_TIMEOUT_MIN_SECONDS,
    INTERRUPTION_DELAY_MAX_MS,
    KEYTERM_MAX_CHARS,
    KEYTERMS_MAX,
    MAX_SPEAKERS_MAX,
    MAX_SPEAKERS_MIN,
    PREVIOUS_CONTEXT_TURNS_MAX,
    SDK_ONLY_ENCODINGS,
)

__all__ = [
    "DEPRECATED_ALIASES",
    "FIELDS",
    "IGNORED_PARAMETERS",
    "MODEL_FAMILIES",
    "PII_POLICIES",
    "SERVER_DEFAULTS",
    "SPEECH_MODELS",
    "UPDATABLE",
    "FieldSpec",
    "LLMGatewayConfig",
    "LLMGatewayMessage",
    "StreamingParams",
    "model_family",
    "unknown_parameters",
]

Family = Literal["universal", "u3", "whisper"]

#: ``speech_model`` -> family (§2.2).
MODEL_FAMILIES: dict[str, Family] = {
    "universal-streaming-english": "universal",
    "universal-streaming-multilingual": "universal",
    "whisper-rt": "whisper",
    "u3-rt-pro": "u3",
    "u3-rt-pro-beta-1": "u3",
    "universal-3-5-pro": "u3",
    "universal-3-6-pro": "u3",
    "universal-3-6": "u3",
    "u3-pro": "u3",
}
SPEECH_MODELS = frozenset(MODEL_FAMILIES)
#: Deprecated model name -> its replacement (the SDK warns, §2.2).
_DEPRECATED_MODELS = {"u3-pro": "u3-rt-pro"}

#: ``redact_pii_policies`` names (SDK 1.8.2 ``StreamingPiiPolicy``, §2.3).
PII_POLICIES = frozenset(
    "account_number banking_information blood_type credit_card_number credit_card_expiration "
    "credit_card_cvv date date_interval date_of_birth drivers_license drug duration "
    "email_address event filename gender_sexuality gender healthcare_number injury "
    "ip_address language location marital_status medical_condition medical_process "
    "money_amount nationality number_sequence passport_number password person_age "
    "person_name phone_number physical_attribute political_affiliation occupation "
    "organization organization_medical_facility religion sexuality statistics time url "
    "us_social_security_number username vehicle_id zodiac_sign".split()
)

#: Fields ``UpdateConfiguration`` may carry (§3.3: the docs' sets for both families and
#: the Python SDK's superset; which of the SDK's extras the service applies is [open]).
UPDATABLE = frozenset(
    {
        "end_of_turn_confidence_threshold",
        "min_turn_silence",
        "max_turn_silence",
        "vad_threshold",
        "format_turns",
        "keyterms_prompt",
        "filter_profanity",
        "prompt",
        "agent_context",
        "interruption_delay",
        "turn_left_pad_ms",
        "language_codes",
        "session_heartbeat",
        "acknowledge_silence",
    }
)

#: Deprecated parameter -> the one it stands for (§2.1, §2.3; SDK ``_base.py`` L74-118).
DEPRECATED_ALIASES: dict[str, str] = {
    "min_end_of_turn_silence_when_confident": "min_turn_silence",
    "noise_suppression_model": "voice_focus",
    "noise_suppression_threshold": "voice_focus_threshold",
}

#: Query names clients send that are not parameters: v2-era names pipecat sends (§2.1) and
#: the temporary-token credential (§1.2, handled by ``auth``).
IGNORED_PARAMETERS = frozenset({"formatted_finals", "word_finalization_max_wait_time", "token"})

#: Service defaults per family where the docs give one (§2.3); the server session uses them.
SERVER_DEFAULTS: dict[str, dict[str, object]] = {
    "universal": {
        "end_of_turn_confidence_threshold": 0.4,
        "min_turn_silence": 400,
        "max_turn_silence": 1280,
        "vad_threshold": 0.4,
        "format_turns": False,
    },
    "u3": {
        "min_turn_silence": 100,
        "max_turn_silence": 1000,
        "vad_threshold": 0.3,
        "format_turns": True,  # U3 output is always formatted (§2.3, D-U3)
        "mode": "balanced",
        "previous_context_n_turns": 3,
    },
    "whisper": {"format_turns": False},
}

_SECRET_FIELDS = frozenset({"webhook_auth_header_value"})


def model_family(speech_model: str | None) -> Family | None:
    """The family of a ``speech_model`` (§2.2); None when the model is None (the
    service's default) or unknown."""
    if speech_model is None:
        return None
    return MODEL_FAMILIES.get(speech_model)


# --------------------------------------------------------------------------- field table


class FieldSpec(NamedTuple):
    """One parameter of §2.3, for building command-line flags and for the checks.

    Attributes:
        name: the wire name (also the attribute name).
        type: ``"int"``, ``"float"``, ``"bool"``, ``"str"``, ``"list[str]"`` or ``"json"``
            (an object, ``llm_gateway``).
        default: the value when not given (None: not sent; the service decides).
        choices: the allowed values of an enum (for ``list[str]``: of each item), or None.
        help: one line.
        models: the families (or single models) the docs say it applies to; None: all,
            or not documented.
        updatable: ``UpdateConfiguration`` may carry it (§3.3).
        minimum, maximum: the numeric range (inclusive), or None.
        deprecated_for: the parameter a deprecated one stands for (or "" if it simply
            is deprecated), None if current.
        service_default: the documented service default, as text ("" if none documented).
    """

    name: str
    type: str
    default: object
    choices: tuple[str, ...] | None
    help: str
    models: frozenset[str] | None = None
    updatable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    deprecated_for: str | None = None
    service_default: str = ""


_U = frozenset({"universal"})
_U3 = frozenset({"u3"})
_U_U3 = frozenset({"universal", "u3"})


def _f(
    name: str,
    type_: str,
    help_: str,
    *,
    default: object = None,
    choices: Iterable[str] | None = None,
    models: frozenset[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    deprecated_for: str | None = None,
    service_default: str = "",
) -> FieldSpec:
    return FieldSpec(
        name,
        type_,
        default,
        None if choices is None else tuple(sorted(choices)),
        help_,
        models,
        name in UPDATABLE,
        minimum,
        maximum,
        deprecated_for,
        service_default,
    )


#: Every parameter of §2.3, in ``StreamingParams`` field order.
FIELDS: tuple[FieldSpec, ...] = (
    _f("sample_rate", "int", "audio sample rate, Hz", default=DEFAULT_SAMPLE_RATE,
       minimum=1, service_default="16000"),
    _f("encoding", "str", "audio encoding of every binary message (mono)",
       default="pcm_s16le", choices=ENCODINGS, service_default="pcm_s16le"),
    _f("speech_model", "str", "speech model (None: the service's default, disputed, §2.2)",
       default="universal-streaming-english", choices=SPEECH_MODELS),
    _f("format_turns", "bool", "send a formatted copy of each end of turn (U3 always formats)",
       service_default="false"),
    _f("end_of_turn_confidence_threshold", "float",
       "end-of-turn confidence needed for a semantic end of turn (universal models)",
       models=_U, minimum=0.0, maximum=1.0, service_default="0.4"),
    _f("min_turn_silence", "int", "silence before a confident end of turn, ms",
       models=_U_U3, minimum=0, service_default="U 400 / U3 100"),
    _f("min_end_of_turn_silence_when_confident", "int", "deprecated: use min_turn_silence",
       models=_U, minimum=0, deprecated_for="min_turn_silence"),
    _f("max_turn_silence", "int", "silence that ends a turn whatever the confidence, ms",
       models=_U_U3, minimum=0, service_default="U 1280 / U3 1000"),
    _f("vad_threshold", "float", "voice activity threshold: frames below it are silence",
       models=_U_U3, minimum=0.0, maximum=1.0, service_default="U 0.4 / U3 0.3"),
    _f("keyterms_prompt", "list[str]",
       f"terms to boost (at most {KEYTERMS_MAX}, each at most {KEYTERM_MAX_CHARS} chars)",
       models=_U_U3),
    _f("prompt", "str", "instructions for the model (beta)", models=_U3,
       service_default="built-in prompt"),
    _f("language_detection", "bool", "report language_code / language_confidence on turns",
       models=frozenset({"universal-streaming-multilingual", "u3", "whisper"}),
       service_default="false"),
    _f("language_code", "str", "deprecated: use language_codes (U3 ignores it)",
       deprecated_for="language_codes"),
    _f("language_codes", "list[str]", "languages to steer the model toward", models=_U3),
    _f("speaker_labels", "bool", "label each turn with its speaker", models=_U_U3,
       service_default="false"),
    _f("max_speakers", "int", "most speakers to tell apart (with speaker_labels)",
       models=_U_U3, minimum=MAX_SPEAKERS_MIN, maximum=MAX_SPEAKERS_MAX),
    _f("speaker_labels_revision_interval_ms", "int",
       "how often speaker labels may be revised (SpeakerRevision messages), ms", minimum=0),
    _f("inactivity_timeout", "int", "end the session after this long without audio, s",
       minimum=INACTIVITY_TIMEOUT_MIN_SECONDS, maximum=INACTIVITY_TIMEOUT_MAX_SECONDS,
       service_default="no timeout"),
    _f("domain", "str", "domain mode (Medical Mode)", choices=("medical-v1",)),
    _f("filter_profanity", "bool", "mask profanity in transcripts"),
    _f("mode", "str", "latency / accuracy trade-off (U3 family only)", models=_U3,
       choices=("min_latency", "balanced", "max_accuracy"), service_default="balanced"),
    _f("continuous_partials", "bool", "partials at a steady cadence in long turns",
       models=_U3, service_default="service default"),
    _f("interruption_delay", "int", "delay before an interruption counts, ms", models=_U3,
       minimum=0, maximum=INTERRUPTION_DELAY_MAX_MS),
    _f("agent_context", "str", "the voice agent's last reply, as context", models=_U3),
    _f("previous_context_n_turns", "int", "earlier turns carried as context (0: none)",
       models=_U3, minimum=0, maximum=PREVIOUS_CONTEXT_TURNS_MAX, service_default="3"),
    _f("voice_focus", "str", "focus on the near-field or far-field voice", models=_U3,
       choices=("near-field", "far-field")),
    _f("voice_focus_threshold", "float", "voice focus threshold (with voice_focus)",
       models=_U3, minimum=0.0, maximum=1.0),
    _f("noise_suppression_model", "str", "deprecated: use voice_focus",
       choices=("near-field", "far-field"), deprecated_for="voice_focus"),
    _f("noise_suppression_threshold", "float", "deprecated: use voice_focus_threshold",
       minimum=0.0, maximum=1.0, deprecated_for="voice_focus_threshold"),
    _f("turn_left_pad_ms", "int", "audio kept before each turn's start, ms", minimum=0),
    _f("session_heartbeat", "bool", "send Heartbeat messages"),
    _f("acknowledge_silence", "bool", "send Silence messages during silence", models=_U3),
    _f("include_partial_turns", "bool", "include partial turns"),
    _f("customer_support_audio_capture", "bool",
       "record the session's audio for AssemblyAI support (only when coordinating with them)"),
    _f("redact_pii", "bool", "redact personal information"),
    _f("redact_pii_policies", "list[str]", "kinds of personal information to redact",
       choices=PII_POLICIES),
    _f("redact_pii_sub", "str", "what replaces redacted text", choices=("hash", "entity_name")),
    _f("webhook_url", "str", "URL to notify when the session ends"),
    _f("webhook_auth_header_name", "str", "header name sent to the webhook"),
    _f("webhook_auth_header_value", "str", "header value sent to the webhook (secret)"),
    _f("llm_gateway", "json",
       'LLM Gateway request {"model", "messages": [{"role", "content"}], "max_tokens"}'),
    _f("language", "str", "deprecated: en or multi (choose the speech model instead)",
       choices=("en", "multi"), deprecated_for=""),
)

_SPECS: dict[str, FieldSpec] = {f.name: f for f in FIELDS}


def _fail(param: str, value: object, rule: str) -> ParameterError:
    shown: object = "***" if param in _SECRET_FIELDS else value
    text = repr(shown)
    if len(text) > 80:
        text = text[:77] + "..."
    err = ParameterError(f"parameter {param!r} = {text}: {rule} (assemblyai.md §2.3)")
    err.parameter = param  # type: ignore[attr-defined]
    err.value = shown  # type: ignore[attr-defined]
    err.rule = rule  # type: ignore[attr-defined]
    return err


# --------------------------------------------------------------------------- llm_gateway


class LLMGatewayMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One message of an ``llm_gateway`` request (§2.3)."""

    role: str
    content: str


class LLMGatewayConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``llm_gateway`` parameter: JSON ``{model, messages[{role, content}], max_tokens}``
    (§2.3); the session then receives ``LLMGatewayResponse`` messages."""

    model: str
    messages: tuple[LLMGatewayMessage, ...]
    max_tokens: int


def _llm_gateway(value: object) -> LLMGatewayConfig:
    if isinstance(value, LLMGatewayConfig):
        return value
    if not isinstance(value, Mapping):
        raise _fail("llm_gateway", value, "must be an object {model, messages, max_tokens}")
    try:
        return msgspec.convert(dict(value), LLMGatewayConfig)
    except msgspec.ValidationError as exc:
        rule = f"must be {{model, messages, max_tokens}}: {exc}"
        raise _fail("llm_gateway", value, rule) from None


# --------------------------------------------------------------------------- the parameters


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class StreamingParams:
    """Every connection parameter of one v3 session (§2.3); see the module docstring.

    ``sample_rate`` (Hz), ``encoding`` and ``speech_model`` are always sent; every other
    field is sent only when set (None: the service's default applies). Lists accept any
    sequence of strings and are stored as tuples.

    Args:
        lenient: parse as the service does (``from_query`` sets it): accept parameters
            that have no effect on the model, over-long keyterms and deprecated names
            without a warning. Not stored.

    Raises:
        ParameterError: a rule of §2.3 broken (names parameter, value and rule).

    Warns:
        DeprecationWarning: a deprecated name or model (not with ``lenient``); aliases
            are mapped onto the current name (which wins when both are set, as in the SDK).
    """

    sample_rate: int = DEFAULT_SAMPLE_RATE
    encoding: str = "pcm_s16le"
    speech_model: str | None = "universal-streaming-english"
    format_turns: bool | None = None
    end_of_turn_confidence_threshold: float | None = None
    min_turn_silence: int | None = None
    min_end_of_turn_silence_when_confident: int | None = None
    max_turn_silence: int | None = None
    vad_threshold: float | None = None
    keyterms_prompt: Sequence[str] | None = None
    prompt: str | None = None
    language_detection: bool | None = None
    language_code: str | None = None
    language_codes: Sequence[str] | None = None
    speaker_labels: bool | None = None
    max_speakers: int | None = None
    speaker_labels_revision_interval_ms: int | None = None
    inactivity_timeout: int | None = None
    domain: str | None = None
    filter_profanity: bool | None = None
    mode: str | None = None
    continuous_partials: bool | None = None
    interruption_delay: int | None = None
    agent_context: str | None = None
    previous_context_n_turns: int | None = None
    voice_focus: str | None = None
    voice_focus_threshold: float | None = None
    noise_suppression_model: str | None = None
    noise_suppression_threshold: float | None = None
    turn_left_pad_ms: int | None = None
    session_heartbeat: bool | None = None
    acknowledge_silence: bool | None = None
    include_partial_turns: bool | None = None
    customer_support_audio_capture: bool | None = None
    redact_pii: bool | None = None
    redact_pii_policies: Sequence[str] | None = None
    redact_pii_sub: str | None = None
    webhook_url: str | None = None
    webhook_auth_header_name: str | None = None
    webhook_auth_header_value: str | None = None
    llm_gateway: LLMGatewayConfig | Mapping[str, Any] | None = None
    language: str | None = None
    lenient: dataclasses.InitVar[bool] = False

    #: Channels of the audio: always mono (§3.1).
    channels: ClassVar[int] = 1

    def __post_init__(self, lenient: bool) -> None:
        self._map_aliases(lenient)
        for spec in FIELDS:
            self._check_value(spec)
        self._check_rules(lenient)

    # ---------------------------------------------------------------- checks

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _map_aliases(self, lenient: bool) -> None:
        for old, new in DEPRECATED_ALIASES.items():
            value = getattr(self, old)
            if value is None:
                continue
            if not lenient:
                warnings.warn(
                    f"StreamingParams: {old!r} is deprecated, use {new!r}"
                    + (f" (both set: {new!r} wins)" if getattr(self, new) is not None else ""),
                    DeprecationWarning,
                    stacklevel=4,
                )
            if getattr(self, new) is None:
                self._set(new, value)
            self._set(old, None)
        if lenient:
            return
        for name in ("language_code", "language"):
            if getattr(self, name) is not None:
                replacement = _SPECS[name].deprecated_for
                hint = f", use {replacement!r}" if replacement else ""
                warnings.warn(
                    f"StreamingParams: {name!r} is deprecated{hint}",
                    DeprecationWarning,
                    stacklevel=4,
                )
        model = self.speech_model
        if model in _DEPRECATED_MODELS:
            warnings.warn(
                f"StreamingParams: speech_model {model!r} is deprecated, "
                f"use {_DEPRECATED_MODELS[model]!r}",
                DeprecationWarning,
                stacklevel=4,
            )

    def _check_value(self, spec: FieldSpec) -> None:
        """Type, enum and range of one field; lists become tuples, floats floats."""
        name = spec.name
        value = getattr(self, name)
        if value is None:
            if name in ("sample_rate", "encoding"):
                raise _fail(name, value, "is required")
            return
        kind = spec.type
        if kind == "bool":
            if not isinstance(value, bool):
                raise _fail(name, value, "must be a boolean")
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail(name, value, "must be an integer")
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(name, value, "must be a number")
            if not math.isfinite(value):
                raise _fail(name, value, "must be finite")
            value = float(value)
            self._set(name, value)
        elif kind == "str":
            if not isinstance(value, str):
                raise _fail(name, value, "must be a string")
        elif kind == "list[str]":
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise _fail(name, value, "must be a list of strings")
            value = tuple(value)
            if not all(isinstance(v, str) for v in value):
                raise _fail(name, value, "must be a list of strings")
            self._set(name, value)
        elif kind == "json":
            self._set(name, _llm_gateway(value))
            return
        if spec.choices is not None:
            items = value if kind == "list[str]" else (value,)
            for item in items:
                if item not in spec.choices:
                    if name == "encoding" and item in SDK_ONLY_ENCODINGS:
                        raise _fail(
                            name,
                            value,
                            "compressed encodings (SDK 1.8.2 only) are not supported: "
                            "use pcm_s16le or pcm_mulaw",
                        )
                    raise _fail(name, value, f"must be one of {sorted(spec.choices)}")
        lo, hi = spec.minimum, spec.maximum
        if lo is not None and value < lo or hi is not None and value > hi:
            if hi is None:
                rule = f"must be >= {lo:g}"
            elif lo is None:
                rule = f"must be <= {hi:g}"
            else:
                rule = f"must be {lo:g}..{hi:g}"
            raise _fail(name, value, rule)

    def _check_rules(self, lenient: bool) -> None:
        """The rules between fields and the model applicability of §2.3."""
        model = self.speech_model
        family = model_family(model)
        if self.mode is not None and family is not None and family != "u3":
            # refused by the service for non-U3 models (SDK L247-253, pipecat L251-255)
            raise _fail("mode", self.mode, f"only for U3-family models, not {model}")
        terms = self.keyterms_prompt
        if terms is not None:
            if len(terms) > KEYTERMS_MAX:
                raise _fail("keyterms_prompt", terms, f"at most {KEYTERMS_MAX} terms")
            long = [t for t in terms if len(t) > KEYTERM_MAX_CHARS]
            if long and not lenient:
                raise _fail(
                    "keyterms_prompt",
                    long[0],
                    f"terms longer than {KEYTERM_MAX_CHARS} characters are ignored by the "
                    "service (shorten or drop them)",
                )
        if lenient:
            return
        if self.max_speakers is not None and self.speaker_labels is not True:
            raise _fail("max_speakers", self.max_speakers, "requires speaker_labels = true")
        if self.voice_focus_threshold is not None and self.voice_focus is None:
            raise _fail(
                "voice_focus_threshold", self.voice_focus_threshold, "requires voice_focus"
            )
        if model is None or family is None:
            return
        for spec in FIELDS:
            value = getattr(self, spec.name)
            # a boolean switched off is the default everywhere: never "no effect"
            if spec.models is None or value is None or value is False:
                continue
            if family not in spec.models and model not in spec.models:
                raise _fail(
                    spec.name,
                    value,
                    f"has no effect on {model} (applies to {', '.join(sorted(spec.models))})",
                )

    # ---------------------------------------------------------------- derived

    @property
    def family(self) -> Family | None:
        """The speech model's family (§2.2), None when the model is left to the service."""
        return model_family(self.speech_model)

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one sample frame (mono): 2 for ``pcm_s16le``, 1 for ``pcm_mulaw`` (§3.1)."""
        return BYTES_PER_SAMPLE[self.encoding]

    @property
    def bytes_per_second(self) -> int:
        """Audio bytes per second of audio."""
        return self.bytes_per_frame * self.sample_rate

    @property
    def formats_turns(self) -> bool:
        """Whether a turn's final message is the formatted one: ``format_turns`` on a
        universal model (a second, formatted end-of-turn message follows, §4.2), or any
        U3-family model (always formatted). False when the model is unknown and
        ``format_turns`` is unset."""
        return self.format_turns is True or self.family == "u3"

    def effective(self, name: str) -> object:
        """The value in force for ``name``: the field if set, else the documented service
        default for the model's family (:data:`SERVER_DEFAULTS`), else None."""
        value = getattr(self, name)
        if value is not None:
            return value
        family = self.family
        return None if family is None else SERVER_DEFAULTS[family].get(name)

    @classmethod
    def fields(cls) -> tuple[FieldSpec, ...]:
        """:data:`FIELDS`: (name, type, default, choices, help, ...) per parameter."""
        return FIELDS

    def __repr__(self) -> str:
        parts = []
        for spec in FIELDS:
            value = getattr(self, spec.name)
            if value is None:
                continue
            shown = "'***'" if spec.name in _SECRET_FIELDS else repr(value)
            parts.append(f"{spec.name}={shown}")
        return f"StreamingParams({', '.join(parts)})"

    __str__ = __repr__

    # ---------------------------------------------------------------- wire form

    def to_query(self) -> dict[str, str]:
        """The query parameters as the service expects them (§2.1), in field order.

        Unset fields are left out; booleans are ``true``/``false``; numbers decimal
        (floats in Python's shortest form, ``0.4``, ``1.0``); lists and ``llm_gateway``
        JSON with the SDK's separators (``["a", "b"]``). URL-encode the result
        (``urllib.parse.urlencode``, as ``auth.url`` does).
        """
        out: dict[str, str] = {}
        for spec in FIELDS:
            value = getattr(self, spec.name)
            if value is None:
                continue
            out[spec.name] = _wire_value(value)
        return out

    def update(self, *, lenient: bool = False, **fields: object) -> StreamingParams:
        """A copy with some fields changed, every rule checked again.

        Raises:
            ParameterError: a rule broken, or a name that is not a parameter.
        """
        unknown = sorted(set(fields) - set(_SPECS))
        if unknown:
            raise _fail(unknown[0], fields[unknown[0]], "is not a parameter")
        return dataclasses.replace(self, lenient=lenient, **fields)  # type: ignore[arg-type]

    @classmethod
    def from_query(
        cls,
        query: str | Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]],
        *,
        default_speech_model: str | None = None,
        strict: bool = False,
    ) -> StreamingParams:
        """Parse query parameters as real clients send them (server side, §2.1, §6).

        Args:
            query: a query string (``a=1&b=2``, without ``?``), a mapping of name to
                value or to a list of values (``parse_qs``), or (name, value) pairs
                (``parse_qsl``, repeated keys kept).
            default_speech_model: the model when ``speech_model`` is absent (the
                service's default is a server setting, §2.2); None keeps it None.
            strict: check as the constructor does (model applicability, deprecations)
                instead of leniently.

        Booleans: ``true``/``false`` in any case (the SDK sends ``True``, §2.1). Lists:
        a JSON array, or repeated keys (each a JSON array or one plain item), joined in
        order. Integers: decimal digits (an integral ``300.0`` too). Scalars given more
        than once: the last wins. Unknown names are ignored, and so are the v2-era
        names and ``token`` (:data:`IGNORED_PARAMETERS`). ``min_end_of_turn_silence_when_confident``
        and ``noise_suppression_*`` map onto their current names (which win).

        Raises:
            ParameterError: a value that does not parse or breaks a rule.
        """
        values = _multi(query)
        kwargs: dict[str, object] = {}
        for name, raws in values.items():
            spec = _SPECS.get(name)
            if spec is None or not raws:
                continue
            kwargs[name] = _parse(spec, raws)
        if "speech_model" not in kwargs:
            kwargs["speech_model"] = default_speech_model
        return cls(lenient=not strict, **kwargs)  # type: ignore[arg-type]


def unknown_parameters(
    query: str | Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]],
) -> list[str]:
    """The names in ``query`` that ``from_query`` ignores, minus :data:`IGNORED_PARAMETERS`
    (for a server's log)."""
    return [n for n in _multi(query) if n not in _SPECS and n not in IGNORED_PARAMETERS]


def _wire_value(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, LLMGatewayConfig):
        return json.dumps(msgspec.to_builtins(value))
    return str(value)


def _multi(
    query: str | Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]],
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    pairs: Iterable[tuple[str, str]]
    if isinstance(query, str):
        pairs = parse_qsl(query, keep_blank_values=True)
    elif isinstance(query, Mapping):
        flat: list[tuple[str, str]] = []
        for k, v in query.items():
            if isinstance(v, str):
                flat.append((k, v))
            else:
                flat.extend((k, x) for x in v)
        pairs = flat
    else:
        pairs = query
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def _parse(spec: FieldSpec, raws: list[str]) -> object:
    name, kind = spec.name, spec.type
    if kind == "list[str]":
        items: list[object] = []
        for raw in raws:
            if raw.lstrip().startswith("["):
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    raise _fail(name, raw, "must be a JSON array of strings") from None
                if not isinstance(parsed, list):
                    raise _fail(name, raw, "must be a JSON array of strings")
                items.extend(parsed)
            else:
                items.append(raw)
        return items
    raw = raws[-1]
    if kind == "bool":
        low = raw.lower()
        if low not in ("true", "false"):
            raise _fail(name, raw, "must be true or false")
        return low == "true"
    if kind == "int":
        if _INT_RE.match(raw):
            return int(raw)
        try:
            number = float(raw)
        except ValueError:
            raise _fail(name, raw, "must be an integer") from None
        if not number.is_integer():
            raise _fail(name, raw, "must be an integer")
        return int(number)
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise _fail(name, raw, "must be a number") from None
    if kind == "json":
        try:
            return json.loads(raw)
        except ValueError:
            raise _fail(name, raw, "must be a JSON object") from None
    return raw
