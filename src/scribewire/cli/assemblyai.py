"""The AssemblyAI side of ``scribewire transcribe --provider assemblyai``.

Flags come from one place, ``scribewire.assemblyai.params.FIELDS`` (assemblyai.md §2.3):
every connection parameter is a flag with its help, choices and range. A parameter whose
flag the command already has (``--sample-rate``, ``--language-code``) shares it. Values
are checked with ``StreamingParams``' own rules before anything starts (a usage error,
exit 2). Results are written through the same formatters as Transcribe's: each ``Turn``
is a segment (``turn<turn_order>``), partial until the turn's final message (§4.7), its
times from the first and last word (ms on the session's clock), its label the
``speaker_label`` when ``speaker_labels`` is on.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ..assemblyai.events import Turn
from ..assemblyai.params import FIELDS, FieldSpec, StreamingParams
from .flags import flag_name
from .output import Segment

__all__ = ["add_flags", "given", "params_for", "segment_of"]

#: parameters decided per file by the command, not by a flag of this group
_PER_FILE = frozenset({"sample_rate"})


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None


_TYPES: dict[str, Any] = {
    "int": int,
    "float": float,
    "bool": _bool,
    "str": str,
    "list[str]": _list,
    "json": _json,
}


_METAVARS = {
    "int": "N",
    "float": "X",
    "bool": "BOOL",
    "str": "TEXT",
    "list[str]": "A,B",
    "json": "JSON",
}


def _plain(text: str) -> str:
    """A help line without references to the wire document's sections."""
    text = re.sub(r"[,;]?\s*(assemblyai\.md\s*)?§\s*[\d.]*\d", "", text)
    return re.sub(r"\(\s*\)", "", text).strip()


def _help(spec: FieldSpec) -> str:
    parts = [_plain(spec.help).rstrip(".")]
    if spec.minimum is not None or spec.maximum is not None:
        lo = "" if spec.minimum is None else f"{spec.minimum:g}"
        hi = "" if spec.maximum is None else f"{spec.maximum:g}"
        parts.append(f"range {lo}..{hi}")
    if spec.type == "list[str]":
        parts.append(
            "comma-separated" + (f", each of {{{','.join(spec.choices)}}}" if spec.choices else "")
        )
    if spec.type == "bool":
        parts.append("true/false")
    if spec.models:
        parts.append("models: " + ", ".join(sorted(spec.models)))
    if spec.deprecated_for is not None:
        parts.append(
            "deprecated"
            + (f": use {flag_name(spec.deprecated_for)}" if spec.deprecated_for else "")
        )
    return "; ".join(parts)


def add_flags(parser: argparse.ArgumentParser, group: argparse._ArgumentGroup) -> None:
    """Add one flag per §2.3 parameter to ``group`` (those the parser lacks)."""
    have = {opt for action in parser._actions for opt in action.option_strings}
    for spec in FIELDS:
        flag = flag_name(spec.name)
        if spec.name in _PER_FILE or flag in have:
            continue
        kwargs: dict[str, Any] = {
            "dest": spec.name,
            "default": None,
            "help": _help(spec),
            "type": _TYPES[spec.type],
        }
        if spec.choices and spec.type == "str":
            kwargs["choices"] = spec.choices
        kwargs["metavar"] = _METAVARS[spec.type] if "choices" not in kwargs else None
        group.add_argument(flag, **kwargs)


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The §2.3 parameters given on the command line (shared flags included)."""
    out = {}
    for spec in FIELDS:
        if spec.name in _PER_FILE:
            continue
        value = getattr(args, spec.name, None)
        if value is not None:
            out[spec.name] = value
    return out


def params_for(args: argparse.Namespace, sample_rate: int) -> StreamingParams:
    """The session's parameters for one mono stream at ``sample_rate`` Hz.

    Raises:
        ParameterError: a value or combination its rules refuse.
    """
    return StreamingParams(sample_rate=sample_rate, **given(args))


def segment_of(turn: Turn, params: StreamingParams, source: str) -> Segment:
    """One ``Turn`` as a segment: partial until the turn's final message (§4.7)."""
    words = turn.words
    start = words[0].start / 1000 if words else 0.0
    end = words[-1].end / 1000 if words else start
    return Segment(
        segment_id=f"turn{turn.turn_order}",
        start=start,
        end=end,
        text=turn.transcript,
        is_partial=not turn.is_final(params.formats_turns),
        label=turn.speaker_label or "",
        source=source,
    )
