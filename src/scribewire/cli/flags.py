"""Command-line flags built from the metadata of parameter classes.

Every service parameter becomes one flag, and its help, choices and range come from one
place: the class that validates it. A *params class* is any class whose ``fields()``
returns records with these attributes (``scribewire.transcribe.params.FieldSpec`` and
the AssemblyAI ``FieldSpec`` both do):

``name``
    the attribute name; the flag is ``--`` + name with ``-`` for ``_``, its dest is name.
``type``
    ``"bool"``, ``"int"``, ``"float"``, ``"str"``, ``"list[str]"`` (comma-separated on
    the command line, a tuple in the namespace) or ``"json"``.
``default``
    the class default; a ``bool`` defaulting to False is a plain switch, any other
    ``bool`` gets ``--name`` / ``--no-name``.
``choices``
    allowed values (of each item for ``list[str]``), or None.
``help``
    one line.
``minimum``, ``maximum``, ``deprecated_for``, ``metavar`` (optional)
    numeric range; a deprecated field is accepted but left out of ``--help``; the
    name of the value in ``--help`` (default: the last word of the name).

:func:`add_param_flags` adds the union of the fields of several classes (one operation
each: a field some of them lack says which ones take it), every value is checked as it
is parsed (an invalid one is a usage error, exit status 2, before anything starts) and
nothing is set unless given: the namespace holds None for every flag left out.
:func:`param_values` picks the values one class takes; :func:`foreign_flags` names the
given flags it does not take; :func:`describe_error` words a ``ParameterError`` in terms
of its flag.
"""

from __future__ import annotations

import argparse
import difflib
import json
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "HelpFormatter",
    "ParamSpec",
    "add_param_flags",
    "describe_error",
    "flag_name",
    "foreign_flags",
    "param_values",
    "subparser",
]

#: Choice lists up to this long are spelled out in the help; longer ones once per set.
SHORT_CHOICES = 12


class ParamSpec(Protocol):
    """What :func:`add_param_flags` reads of each record ``fields()`` returns."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def default(self) -> object: ...
    @property
    def choices(self) -> tuple[str, ...] | None: ...
    @property
    def help(self) -> str: ...


def flag_name(name: str) -> str:
    """``language_code`` -> ``--language-code``."""
    return "--" + name.replace("_", "-")


def _specs(cls: Any) -> list[Any]:
    return list(cls.fields())


@dataclass
class _Merged:
    spec: Any
    owners: list[Any] = field(default_factory=list)
    choices: set[str] | None = None


def _checker(
    kind: str, choices: Sequence[str] | None, lo: float | None, hi: float | None
) -> Callable[[str], Any]:
    """The argparse ``type=`` that converts and checks one value (ArgumentTypeError text
    becomes the usage error)."""

    def one(text: str) -> str:
        if choices is not None and text not in choices:
            same = [c for c in choices if c.lower() == text.lower()]
            close = same or difflib.get_close_matches(text, choices, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            if len(choices) <= SHORT_CHOICES:
                shown = f"one of: {', '.join(choices)}"
            else:
                shown = f"one of the {len(choices)} listed by --help"
            raise argparse.ArgumentTypeError(f"{text!r} is not {shown}{hint}")
        return text

    def number(text: str) -> float | int:
        try:
            value: float | int = int(text) if kind == "int" else float(text)
        except ValueError:
            what = "an integer" if kind == "int" else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            low = "" if lo is None else f"{lo:g}"
            high = "" if hi is None else f"{hi:g}"
            raise argparse.ArgumentTypeError(f"{text} is outside {low}..{high}")
        return value

    def items(text: str) -> tuple[str, ...]:
        parts = tuple(p.strip() for p in text.split(",") if p.strip())
        if not parts:
            raise argparse.ArgumentTypeError("expected one or more comma-separated values")
        for p in parts:
            one(p)
        return parts

    def parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None

    converters: dict[str, Callable[[str], Any]] = {
        "int": number,
        "float": number,
        "list[str]": items,
        "json": parse_json,
    }
    return converters.get(kind, one)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter without line breaks inside hyphenated words (``en-US``,
    ``--language-options``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )


def _where(owners: list[Any], classes: Sequence[Any], labels: Mapping[Any, str]) -> str:
    """Which classes take a field that not all of them have, as a help suffix."""
    if len(owners) == len(classes):
        return ""
    if len(owners) == 1 and labels.get(owners[0], "").startswith("-"):
        return f" [{labels[owners[0]]} only]"
    missing = [labels.get(c, c.__name__) for c in classes if c not in owners]
    return f" [not with {' or '.join(missing)}]"


def add_param_flags(
    group: argparse._ActionsContainer,
    classes: Sequence[Any],
    *,
    exclude: Iterable[str] = (),
    labels: Mapping[Any, str] | None = None,
    defaults: Mapping[str, object] | None = None,
) -> list[str]:
    """Add one flag per field of ``classes`` (their union, in first-seen order).

    Args:
        group: a parser or argument group.
        classes: params classes (see the module docstring for the shape).
        exclude: field names that get no flag (the caller sets them itself).
        labels: class -> the flag that picks it (e.g. ``"--medical"``); a field that not
            every class has says in its help which ones take it.
        defaults: values the caller uses when a flag is left out (shown in the help;
            the namespace still holds None).

    Returns:
        The field names that got a flag.
    """
    skip = set(exclude)
    merged: dict[str, _Merged] = {}
    for cls in classes:
        for spec in _specs(cls):
            if spec.name in skip:
                continue
            m = merged.setdefault(spec.name, _Merged(spec))
            m.owners.append(cls)
            if spec.choices is not None:
                m.choices = (m.choices or set()) | set(spec.choices)
    seen_choice_sets: dict[frozenset[str], str] = {}
    for name, m in merged.items():
        spec, flag = m.spec, flag_name(name)
        choices = sorted(m.choices) if m.choices is not None else None
        metavar = getattr(spec, "metavar", None) or name.split("_")[-1].upper()
        if spec.type == "list[str]":
            metavar = f"{metavar[:-1] if metavar.endswith('S') else metavar},..."
        text = spec.help.rstrip(".")
        if choices is not None and len(choices) <= 4 and spec.type != "list[str]":
            metavar = "{" + ",".join(choices) + "}"
        elif choices is not None:
            key = frozenset(choices)
            if len(choices) <= SHORT_CHOICES:
                text += f" ({', '.join(choices)})"
            elif key in seen_choice_sets:
                text += f" (codes as for {seen_choice_sets[key]})"
            else:
                seen_choice_sets[key] = flag
                text += f" ({len(choices)}: {' '.join(choices)})"
        lo, hi = getattr(spec, "minimum", None), getattr(spec, "maximum", None)
        if spec.type in ("int", "float") and lo is not None and hi is not None and lo != hi:
            text += f" ({lo:g}..{hi:g})"
        if defaults and name in defaults:
            text += f" (default {defaults[name]})"
        text += _where(m.owners, classes, labels or {})
        if getattr(spec, "deprecated_for", None) is not None:
            text = argparse.SUPPRESS
        if spec.type == "bool":
            action: Any = "store_true" if spec.default is False else argparse.BooleanOptionalAction
            group.add_argument(flag, dest=name, action=action, default=None, help=text)
            continue
        group.add_argument(
            flag,
            dest=name,
            default=None,
            metavar=metavar,
            type=_checker(spec.type, choices, lo, hi),
            help=text,
        )
    return list(merged)


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The sub-command parser ``name`` of ``parser`` (for its own usage errors)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    raise KeyError(name)


def param_values(args: argparse.Namespace, cls: Any) -> dict[str, Any]:
    """The values given on the command line for the fields ``cls`` has."""
    out: dict[str, Any] = {}
    for spec in _specs(cls):
        value = getattr(args, spec.name, None)
        if value is not None:
            out[spec.name] = value
    return out


def foreign_flags(args: argparse.Namespace, names: Iterable[str], cls: Any) -> list[str]:
    """The flags among ``names`` (see :func:`add_param_flags`) given but not taken by
    ``cls``."""
    own = {spec.name for spec in _specs(cls)}
    return [flag_name(n) for n in names if n not in own and getattr(args, n, None) is not None]


def describe_error(exc: Exception) -> str:
    """A ``ParameterError`` as ``--flag VALUE: rule`` (its ``parameter``, ``value`` and
    ``rule`` attributes), else its text."""
    param = getattr(exc, "parameter", None)
    rule = getattr(exc, "rule", None)
    if not param or not rule:
        return str(exc)
    value = getattr(exc, "value", None)
    shown = "" if value is None else f" {value!r}"
    return f"{flag_name(param)}{shown}: {rule}"
