"""Start parameters of the three Transcribe WebSocket operations (protocol.md §3.3, §6.1.6).

``StreamParams`` (StartStreamTranscription), ``MedicalStreamParams``
(StartMedicalStreamTranscription) and ``CallAnalyticsParams``
(StartCallAnalyticsStreamTranscription) hold every query parameter of their operation as
a snake_case field and validate every rule at construction: enums, ranges, patterns,
lengths and mutual exclusions. A violation raises ``ParameterError`` naming the wire
parameter, the value and the rule. ``to_query()`` gives the wire form (booleans
``true``/``false``); ``from_query()`` parses it back with the same rules (server side).

Each field carries its one-line help and its choices in the dataclass field metadata;
``fields()`` gives them per class as :class:`FieldSpec` records, from which the command
line builds its flags (``scribewire.cli.flags``).

Sources: the Smithy model of transcribe-streaming (2025-04 snapshot, MODEL) as
summarised in protocol.md §3.3, and the checks of §6.1.6.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from ..errors import ParameterError
from .limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

__all__ = [
    "CALL_ANALYTICS_LANGUAGE_CODES",
    "LANGUAGE_CODES",
    "MEDIA_ENCODINGS",
    "PII_ENTITY_TYPES",
    "CallAnalyticsParams",
    "FieldSpec",
    "MedicalStreamParams",
    "Operation",
    "StreamParams",
    "params_for_path",
]


class Operation(str, enum.Enum):
    """The three WebSocket operations; the value is the operation name (protocol.md §3.1)."""

    STANDARD = "StartStreamTranscription"
    MEDICAL = "StartMedicalStreamTranscription"
    CALL_ANALYTICS = "StartCallAnalyticsStreamTranscription"


#: ``language-code`` enum of StartStreamTranscription (MODEL, protocol.md §3.3).
LANGUAGE_CODES = frozenset(
    "en-US en-GB es-US fr-CA fr-FR en-AU it-IT de-DE pt-BR ja-JP ko-KR zh-CN th-TH es-ES "
    "ar-SA pt-PT ca-ES ar-AE hi-IN zh-HK nl-NL no-NO sv-SE pl-PL fi-FI zh-TW en-IN en-IE "
    "en-NZ en-AB en-ZA en-WL de-CH af-ZA eu-ES hr-HR cs-CZ da-DK fa-IR gl-ES el-GR he-IL "
    "id-ID lv-LV ms-MY ro-RO ru-RU sr-RS sk-SK so-SO tl-PH uk-UA vi-VN zu-ZA".split()
)
#: ``language-code`` enum of StartCallAnalyticsStreamTranscription.
CALL_ANALYTICS_LANGUAGE_CODES = frozenset(
    "en-US en-GB es-US fr-CA fr-FR en-AU it-IT de-DE pt-BR".split()
)
#: ``language-code`` of StartMedicalStreamTranscription: only en-US.
MEDICAL_LANGUAGE_CODES = frozenset({"en-US"})
#: ``media-encoding`` enum (pcm = signed 16-bit little-endian, no header).
MEDIA_ENCODINGS = frozenset({"pcm", "ogg-opus", "flac"})
#: Names allowed in ``pii-entity-types``.
PII_ENTITY_TYPES = frozenset(
    "ADDRESS BANK_ACCOUNT_NUMBER BANK_ROUTING CREDIT_DEBIT_CVV CREDIT_DEBIT_EXPIRY "
    "CREDIT_DEBIT_NUMBER EMAIL NAME PHONE PIN SSN ALL".split()
)
MEDICAL_SPECIALTIES = frozenset(
    {"PRIMARYCARE", "CARDIOLOGY", "NEUROLOGY", "ONCOLOGY", "RADIOLOGY", "UROLOGY"}
)
MEDICAL_TYPES = frozenset({"CONVERSATION", "DICTATION"})
VOCABULARY_FILTER_METHODS = frozenset({"remove", "mask", "tag"})
STABILITY_LEVELS = frozenset({"high", "medium", "low"})


_NAME_RE = re.compile(r"^[0-9a-zA-Z._-]+$")
_NAMES_RE = re.compile(r"^[a-zA-Z0-9,._-]+$")
_PII_RE = re.compile(r"^[A-Z_, ]+$")
_LANG_OPTIONS_RE = re.compile(r"^[a-zA-Z,-]+$")
_UUID_RE = re.compile(
    r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$"
)
_DIGITS_RE = re.compile(r"[0-9]{1,9}\Z")  # at most 9 digits: int() stays cheap

#: Query parameters accepted on any path although no operation models them (JS v3 SDK).
TOLERATED_PARAMETERS = frozenset({"user-agent"})


class FieldSpec(NamedTuple):
    """One parameter of an operation, for building command-line flags (``fields()``).

    Attributes:
        name: the attribute name (the wire name with ``-`` for ``_``).
        type: ``"bool"``, ``"int"``, ``"str"`` or ``"list[str]"`` (comma-separated).
        default: the value when not given (None: not sent).
        choices: the allowed values (for ``list[str]``: of each item), sorted; or None.
        help: one line.
        minimum, maximum: the numeric range (inclusive), or None.
        required: the operation needs it and the class has no default.
        metavar: how ``--help`` names the value (None: from the name).
    """

    name: str
    type: str
    default: object
    choices: tuple[str, ...] | None
    help: str
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    metavar: str | None = None


def _p(
    help_: str,
    default: Any = dataclasses.MISSING,
    *,
    choices: frozenset[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field carrying its help and choices (read by ``_Base.fields()``)."""
    meta = {
        "help": help_,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "metavar": metavar,
    }
    return dataclasses.field(default=default, metadata=meta)


def _fail(param: str, value: object, rule: str) -> ParameterError:
    err = ParameterError(f"parameter {param!r} = {value!r}: {rule} (protocol.md §3.3)")
    err.parameter = param  # type: ignore[attr-defined]
    err.value = value  # type: ignore[attr-defined]
    err.rule = rule  # type: ignore[attr-defined]
    return err


def _wire(attr: str) -> str:
    return attr.replace("_", "-")


class _Base:
    """Shared machinery; the concrete classes are frozen keyword-only dataclasses."""

    path: ClassVar[str]
    operation: ClassVar[Operation]
    _BOOLS: ClassVar[frozenset[str]]
    _INTS: ClassVar[frozenset[str]] = frozenset({"sample_rate", "number_of_channels"})
    _LISTS: ClassVar[frozenset[str]] = frozenset()
    #: Wire parameters the operation requires even where the class has a default.
    _WIRE_REQUIRED: ClassVar[frozenset[str]] = frozenset({"media-encoding", "sample-rate"})

    # -- field checks shared by the operations

    def _set(self, attr: str, value: object) -> None:
        object.__setattr__(self, attr, value)

    def _check_types(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            wire = _wire(f.name)
            if f.name in self._BOOLS:
                if not isinstance(value, bool):
                    raise _fail(wire, value, "must be a boolean")
            elif f.name in self._INTS:
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise _fail(wire, value, "must be an integer")
            elif f.name in self._LISTS and value is not None and not isinstance(value, str):
                if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
                    raise _fail(
                        wire, value, "must be a comma-separated string or a list of strings"
                    )
                self._set(f.name, ",".join(value))
            elif value is not None and not isinstance(value, str):
                raise _fail(wire, value, "must be a string")

    def _check_common(self, languages: frozenset[str]) -> None:
        enc = self.media_encoding  # type: ignore[attr-defined]
        if enc not in MEDIA_ENCODINGS:
            raise _fail("media-encoding", enc, f"must be one of {sorted(MEDIA_ENCODINGS)}")
        rate = self.sample_rate  # type: ignore[attr-defined]
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise _fail("sample-rate", rate, f"must be {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
        code = self.language_code  # type: ignore[attr-defined]
        if code is not None and code not in languages:
            raise _fail("language-code", code, f"is not a language code of {self.operation.value}")
        sid = getattr(self, "session_id", None)
        if sid is not None and not _UUID_RE.match(sid):
            raise _fail("session-id", sid, "must be a UUID (8-4-4-4-12 hex digits)")

    def _check_name(
        self, attr: str, max_len: int = 200, pattern: re.Pattern[str] = _NAME_RE
    ) -> None:
        value = getattr(self, attr, None)
        if value is None:
            return
        if not 1 <= len(value) <= max_len:
            raise _fail(_wire(attr), value, f"length must be 1..{max_len} characters")
        if not pattern.match(value):
            raise _fail(_wire(attr), value, f"must match {pattern.pattern}")

    def _check_enum(self, attr: str, allowed: frozenset[str]) -> None:
        value = getattr(self, attr, None)
        if value is not None and value not in allowed:
            raise _fail(_wire(attr), value, f"must be one of {sorted(allowed)}")

    def _check_channels(self) -> None:
        enabled = self.enable_channel_identification  # type: ignore[attr-defined]
        n = self.number_of_channels  # type: ignore[attr-defined]
        if enabled and n is None:
            raise _fail("enable-channel-identification", enabled, "requires number-of-channels = 2")
        if n is not None:
            if not enabled:
                raise _fail(
                    "number-of-channels", n, "requires enable-channel-identification = true"
                )
            if n != 2:
                raise _fail("number-of-channels", n, "must be 2 (only two channels are supported)")

    def _check_stability(self) -> None:
        self._check_enum("partial_results_stability", STABILITY_LEVELS)
        level = self.partial_results_stability  # type: ignore[attr-defined]
        if level is not None and not self.enable_partial_results_stabilization:  # type: ignore[attr-defined]
            raise _fail(
                "partial-results-stability",
                level,
                "requires enable-partial-results-stabilization = true",
            )

    def _check_content(self, identification: frozenset[str], redaction: bool = True) -> None:
        self._check_enum("content_identification_type", identification)
        ident = self.content_identification_type  # type: ignore[attr-defined]
        redact = getattr(self, "content_redaction_type", None)
        if redaction:
            self._check_enum("content_redaction_type", frozenset({"PII"}))
            if ident is not None and redact is not None:
                raise _fail(
                    "content-redaction-type",
                    redact,
                    "cannot be combined with content-identification-type",
                )
        pii = getattr(self, "pii_entity_types", None)
        if pii is None:
            return
        if ident is None and redact is None:
            raise _fail(
                "pii-entity-types",
                pii,
                "requires content-identification-type or content-redaction-type",
            )
        if not 1 <= len(pii) <= 300:
            raise _fail("pii-entity-types", pii, "length must be 1..300 characters")
        if not _PII_RE.match(pii):
            raise _fail("pii-entity-types", pii, f"must match {_PII_RE.pattern}")
        for name in (p.strip() for p in pii.split(",")):
            if name not in PII_ENTITY_TYPES:
                raise _fail("pii-entity-types", pii, f"{name!r} is not a PII entity type")

    # -- public API

    @classmethod
    def fields(cls) -> tuple[FieldSpec, ...]:
        """Every parameter of the operation with its type, default, choices and help."""
        out = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = "str"
            if f.name in cls._BOOLS:
                kind = "bool"
            elif f.name in cls._INTS:
                kind = "int"
            elif f.name in cls._LISTS:
                kind = "list[str]"
            choices = f.metadata.get("choices")
            required = f.default is dataclasses.MISSING
            out.append(
                FieldSpec(
                    name=f.name,
                    type=kind,
                    default=None if required else f.default,
                    choices=None if choices is None else tuple(sorted(choices)),
                    help=f.metadata.get("help", ""),
                    minimum=f.metadata.get("minimum"),
                    maximum=f.metadata.get("maximum"),
                    required=required,
                    metavar=f.metadata.get("metavar"),
                )
            )
        return tuple(out)

    @property
    def channels(self) -> int:
        """Audio channels: 2 with channel identification, else 1."""
        return 2 if getattr(self, "enable_channel_identification", False) else 1

    @property
    def bytes_per_frame(self) -> int | None:
        """Bytes of one frame of all channels for ``pcm`` (2 x channels); None for the
        compressed encodings (no fixed frame size)."""
        if self.media_encoding != "pcm":  # type: ignore[attr-defined]
            return None
        return 2 * self.channels

    def to_query(self) -> dict[str, str]:
        """The query parameters by wire name; unset optionals and false booleans omitted,
        true booleans as ``true`` (protocol.md §3.3)."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            out[_wire(f.name)] = "true" if value is True else str(value)
        return out

    @classmethod
    def from_query(cls, query: Mapping[str, str], *, strict: bool = False) -> Any:
        """Parse wire parameters (server side) with the same rules as construction.

        Booleans are ``true``/``false`` (case-insensitive, protocol.md §6.1.6 choice);
        integers are decimal digits. ``user-agent`` is always accepted; other unknown
        names are ignored unless ``strict``; a parameter of another operation is an error.

        Raises:
            ParameterError: naming the parameter, the value and the rule.
        """
        names = {_wire(f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, object] = {}
        for key, raw in query.items():
            if key.startswith("X-Amz-") or key in TOLERATED_PARAMETERS:
                continue
            f = names.get(key)
            if f is None:
                if strict or key in _ALL_WIRE_NAMES:
                    raise _fail(key, raw, f"is not a parameter of {cls.operation.value}")
                continue
            if f.name in cls._BOOLS:
                low = raw.lower()
                if low not in ("true", "false"):
                    raise _fail(key, raw, "must be true or false")
                kwargs[f.name] = low == "true"
            elif f.name in cls._INTS:
                if not _DIGITS_RE.match(raw):
                    raise _fail(key, raw, "must be a decimal integer")
                kwargs[f.name] = int(raw)
            else:
                kwargs[f.name] = raw
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            wire = _wire(f.name)
            if f.name not in kwargs and (
                f.default is dataclasses.MISSING or wire in cls._WIRE_REQUIRED
            ):
                raise _fail(wire, None, "is required")
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StreamParams(_Base):
    """Parameters of StartStreamTranscription (``/stream-transcription-websocket``).

    Exactly one of ``language_code``, ``identify_language``,
    ``identify_multiple_languages``. ``language_options`` (required with either
    identification flag) and ``pii_entity_types`` accept a comma-separated string or a
    list of strings. ``sample_rate`` in Hz (8000..48000).

    Raises:
        ParameterError: any rule of protocol.md §3.3 / §6.1.6 broken (names the wire
            parameter, the value and the rule).
    """

    path: ClassVar[str] = "/stream-transcription-websocket"
    operation: ClassVar[Operation] = Operation.STANDARD
    _BOOLS: ClassVar[frozenset[str]] = frozenset(
        {
            "show_speaker_label",
            "enable_channel_identification",
            "enable_partial_results_stabilization",
            "identify_language",
            "identify_multiple_languages",
        }
    )
    _LISTS: ClassVar[frozenset[str]] = frozenset(
        {"language_options", "pii_entity_types", "vocabulary_names", "vocabulary_filter_names"}
    )

    sample_rate: int = _p(
        "sample rate of the audio, Hz", minimum=MIN_SAMPLE_RATE, maximum=MAX_SAMPLE_RATE
    )
    media_encoding: str = _p("encoding of the audio", "pcm", choices=MEDIA_ENCODINGS)
    language_code: str | None = _p("language of the audio", None, choices=LANGUAGE_CODES)
    identify_language: bool = _p(
        "identify the language of the stream among --language-options", False
    )
    identify_multiple_languages: bool = _p(
        "identify every language spoken, among --language-options", False
    )
    language_options: str | None = _p(
        "candidate languages for identification, comma-separated (two or more)",
        None,
        choices=LANGUAGE_CODES,
        metavar="CODE",
    )
    preferred_language: str | None = _p(
        "the likeliest of --language-options", None, choices=LANGUAGE_CODES, metavar="CODE"
    )
    vocabulary_name: str | None = _p("custom vocabulary to apply", None)
    vocabulary_names: str | None = _p(
        "custom vocabularies, comma-separated (with identification)", None
    )
    vocabulary_filter_name: str | None = _p("vocabulary filter to apply", None)
    vocabulary_filter_names: str | None = _p(
        "vocabulary filters, comma-separated (with identification)", None
    )
    vocabulary_filter_method: str | None = _p(
        "what the filter does to a match", None, choices=VOCABULARY_FILTER_METHODS
    )
    session_id: str | None = _p("session id, a UUID (default: the service picks one)", None)
    show_speaker_label: bool = _p("label the speakers (diarization)", False)
    enable_channel_identification: bool = _p("transcribe each of two channels on its own", False)
    number_of_channels: int | None = _p(
        "channels with channel identification", None, minimum=2, maximum=2
    )
    enable_partial_results_stabilization: bool = _p(
        "stabilize partial results: fewer rewrites", False
    )
    partial_results_stability: str | None = _p(
        "stabilization level (with --enable-partial-results-stabilization)",
        None,
        choices=STABILITY_LEVELS,
    )
    content_identification_type: str | None = _p(
        "identify sensitive entities: PII (PHI on the medical path)",
        None,
        choices=frozenset({"PII"}),
    )
    content_redaction_type: str | None = _p(
        "redact personal information", None, choices=frozenset({"PII"})
    )
    pii_entity_types: str | None = _p(
        "PII types to identify or redact, comma-separated", None, choices=PII_ENTITY_TYPES
    )
    language_model_name: str | None = _p("custom language model to apply", None)

    def __post_init__(self) -> None:
        self._check_types()
        self._check_common(LANGUAGE_CODES)
        chosen = [
            name
            for name, on in (
                ("language-code", self.language_code is not None),
                ("identify-language", self.identify_language),
                ("identify-multiple-languages", self.identify_multiple_languages),
            )
            if on
        ]
        if len(chosen) != 1:
            raise _fail(
                "language-code",
                self.language_code,
                "exactly one of language-code, identify-language, identify-multiple-languages "
                f"is required (got {', '.join(chosen) or 'none'})",
            )
        identify = self.identify_language or self.identify_multiple_languages
        self._check_languages(identify)
        for attr in ("vocabulary_name", "vocabulary_filter_name", "language_model_name"):
            self._check_name(attr)
        for attr in ("vocabulary_names", "vocabulary_filter_names"):
            self._check_name(attr, 3000, _NAMES_RE)
        for single, multi in (
            ("vocabulary_name", "vocabulary_names"),
            ("vocabulary_filter_name", "vocabulary_filter_names"),
        ):
            if identify and getattr(self, single) is not None:
                raise _fail(
                    _wire(single),
                    getattr(self, single),
                    f"not allowed with language identification (use {_wire(multi)})",
                )
            if not identify and getattr(self, multi) is not None:
                raise _fail(
                    _wire(multi),
                    getattr(self, multi),
                    "only allowed with identify-language or identify-multiple-languages",
                )
        self._check_enum("vocabulary_filter_method", VOCABULARY_FILTER_METHODS)
        self._check_channels()
        self._check_stability()
        self._check_content(frozenset({"PII"}))
        if self.identify_language and self.content_redaction_type is not None:
            raise _fail(
                "content-redaction-type",
                self.content_redaction_type,
                "cannot be combined with identify-language",
            )
        if self.identify_language and self.language_model_name is not None:
            raise _fail(
                "language-model-name",
                self.language_model_name,
                "cannot be combined with identify-language",
            )

    def _check_languages(self, identify: bool) -> None:
        opts = self.language_options
        if opts is None:
            if identify:
                raise _fail(
                    "language-options",
                    None,
                    "is required with identify-language / identify-multiple-languages",
                )
        else:
            if not identify:
                raise _fail(
                    "language-options",
                    opts,
                    "only allowed with identify-language or identify-multiple-languages",
                )
            if not 1 <= len(opts) <= 200:
                raise _fail("language-options", opts, "length must be 1..200 characters")
            if not _LANG_OPTIONS_RE.match(opts):
                raise _fail("language-options", opts, f"must match {_LANG_OPTIONS_RE.pattern}")
            codes = opts.split(",")
            if len(codes) < 2:
                raise _fail("language-options", opts, "needs at least two language codes")
            seen: dict[str, str] = {}
            for code in codes:
                if code not in LANGUAGE_CODES:
                    raise _fail("language-options", opts, f"{code!r} is not a language code")
                base = code.split("-")[0].lower()
                if base in seen:
                    raise _fail(
                        "language-options",
                        opts,
                        f"one dialect per language ({seen[base]} and {code})",
                    )
                seen[base] = code
        pref = self.preferred_language
        if pref is not None:
            if not self.identify_language:
                raise _fail("preferred-language", pref, "only allowed with identify-language")
            if pref not in LANGUAGE_CODES:
                raise _fail("preferred-language", pref, "is not a language code")
            if opts is not None and pref not in opts.split(","):
                raise _fail("preferred-language", pref, "must be one of language-options")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MedicalStreamParams(_Base):
    """Parameters of StartMedicalStreamTranscription
    (``/medical-stream-transcription-websocket``).

    ``language_code`` only ``en-US``; ``specialty`` and ``type`` required;
    ``content_identification_type`` only ``PHI``. Encodings and rates follow the model
    (pcm / ogg-opus / flac, 8000..48000 Hz; the 2021 doc's narrower pcm >= 16 kHz rule
    is not enforced, protocol.md §3.3).

    Raises:
        ParameterError: any rule broken.
    """

    path: ClassVar[str] = "/medical-stream-transcription-websocket"
    operation: ClassVar[Operation] = Operation.MEDICAL
    _BOOLS: ClassVar[frozenset[str]] = frozenset(
        {"show_speaker_label", "enable_channel_identification"}
    )

    sample_rate: int = _p(
        "sample rate of the audio, Hz", minimum=MIN_SAMPLE_RATE, maximum=MAX_SAMPLE_RATE
    )
    specialty: str = _p("medical specialty", choices=MEDICAL_SPECIALTIES)
    type: str = _p("medical audio type", choices=MEDICAL_TYPES)
    language_code: str = _p("language of the audio", choices=MEDICAL_LANGUAGE_CODES)
    media_encoding: str = _p("encoding of the audio", "pcm", choices=MEDIA_ENCODINGS)
    vocabulary_name: str | None = _p("custom vocabulary to apply", None)
    session_id: str | None = _p("session id, a UUID (default: the service picks one)", None)
    show_speaker_label: bool = _p("label the speakers (diarization)", False)
    enable_channel_identification: bool = _p("transcribe each of two channels on its own", False)
    number_of_channels: int | None = _p(
        "channels with channel identification", None, minimum=2, maximum=2
    )
    content_identification_type: str | None = _p(
        "identify sensitive entities: PII (PHI on the medical path)",
        None,
        choices=frozenset({"PHI"}),
    )

    def __post_init__(self) -> None:
        self._check_types()
        self._check_common(MEDICAL_LANGUAGE_CODES)
        self._check_enum("specialty", MEDICAL_SPECIALTIES)
        self._check_enum("type", MEDICAL_TYPES)
        self._check_name("vocabulary_name")
        self._check_channels()
        self._check_content(frozenset({"PHI"}), redaction=False)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallAnalyticsParams(_Base):
    """Parameters of StartCallAnalyticsStreamTranscription
    (``/call-analytics-stream-transcription-websocket``).

    ``language_code`` required (en-US, en-GB, es-US, fr-CA, fr-FR, en-AU, it-IT, de-DE,
    pt-BR). Channel roles come from the ``ConfigurationEvent`` (protocol.md §4.4), so
    ``channels`` is 1 here; the session switches to 2 when a configuration with two
    channel definitions is sent.

    Raises:
        ParameterError: any rule broken.
    """

    path: ClassVar[str] = "/call-analytics-stream-transcription-websocket"
    operation: ClassVar[Operation] = Operation.CALL_ANALYTICS
    _BOOLS: ClassVar[frozenset[str]] = frozenset({"enable_partial_results_stabilization"})
    _LISTS: ClassVar[frozenset[str]] = frozenset({"pii_entity_types"})

    sample_rate: int = _p(
        "sample rate of the audio, Hz", minimum=MIN_SAMPLE_RATE, maximum=MAX_SAMPLE_RATE
    )
    language_code: str = _p("language of the audio", choices=CALL_ANALYTICS_LANGUAGE_CODES)
    media_encoding: str = _p("encoding of the audio", "pcm", choices=MEDIA_ENCODINGS)
    vocabulary_name: str | None = _p("custom vocabulary to apply", None)
    session_id: str | None = _p("session id, a UUID (default: the service picks one)", None)
    vocabulary_filter_name: str | None = _p("vocabulary filter to apply", None)
    vocabulary_filter_method: str | None = _p(
        "what the filter does to a match", None, choices=VOCABULARY_FILTER_METHODS
    )
    language_model_name: str | None = _p("custom language model to apply", None)
    enable_partial_results_stabilization: bool = _p(
        "stabilize partial results: fewer rewrites", False
    )
    partial_results_stability: str | None = _p(
        "stabilization level (with --enable-partial-results-stabilization)",
        None,
        choices=STABILITY_LEVELS,
    )
    content_identification_type: str | None = _p(
        "identify sensitive entities: PII (PHI on the medical path)",
        None,
        choices=frozenset({"PII"}),
    )
    content_redaction_type: str | None = _p(
        "redact personal information", None, choices=frozenset({"PII"})
    )
    pii_entity_types: str | None = _p(
        "PII types to identify or redact, comma-separated", None, choices=PII_ENTITY_TYPES
    )

    def __post_init__(self) -> None:
        self._check_types()
        self._check_common(CALL_ANALYTICS_LANGUAGE_CODES)
        for attr in ("vocabulary_name", "vocabulary_filter_name", "language_model_name"):
            self._check_name(attr)
        self._check_enum("vocabulary_filter_method", VOCABULARY_FILTER_METHODS)
        self._check_stability()
        self._check_content(frozenset({"PII"}))


_ALL_WIRE_NAMES = frozenset(
    _wire(f.name)
    for cls in (StreamParams, MedicalStreamParams, CallAnalyticsParams)
    for f in dataclasses.fields(cls)
)

_BY_PATH: dict[str, type[_Base]] = {
    cls.path: cls for cls in (StreamParams, MedicalStreamParams, CallAnalyticsParams)
}


def params_for_path(
    path: str,
) -> type[StreamParams] | type[MedicalStreamParams] | type[CallAnalyticsParams] | None:
    """The parameter class for a WebSocket path (protocol.md §3.1), or None if the path
    is not one of the three operations."""
    return _BY_PATH.get(path)  # type: ignore[return-value]
