"""Transcript formatters: plain text, JSON Lines, SubRip (SRT) and WebVTT.

Typed events from a stream (``TranscriptEvent``, medical ``TranscriptEvent``, Call
Analytics ``UtteranceEvent``) are flattened into :class:`Segment` records by
:func:`segments`; a :class:`Formatter` writes the final segments of one or more
sources to a text stream:

- ``text``: ``[00:00:01.230 --> 00:00:03.400] ch_0: words`` lines as they arrive
  (prefixed with the source name when several sources share one output);
- ``jsonl``: one JSON object per final segment, as they arrive;
- ``srt`` (SubRip): numbered cues sorted by start time, written when a source ends;
- ``vtt`` (WebVTT): ``WEBVTT`` header, cues with ``<v label>`` voice spans.

Times are seconds from the start of the stream: ``StartTime``/``EndTime`` of a
standard or medical result are float seconds, Call Analytics offsets are integer
milliseconds (protocol.md §4.3, §4.4, §7 item 4).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = [
    "FORMATS",
    "Formatter",
    "JsonLinesFormatter",
    "Segment",
    "SrtFormatter",
    "TextFormatter",
    "VttFormatter",
    "format_timestamp",
    "make_formatter",
    "segments",
]

FORMATS = ("text", "jsonl", "srt", "vtt")
"""Names accepted by :func:`make_formatter` (and ``scribewire transcribe --format``)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One result segment (a partial update or the final text of a ``ResultId``).

    Attributes:
        segment_id: the service's ``ResultId`` (``UtteranceId`` for Call Analytics).
        start: start time in seconds from the start of the stream.
        end: end time in seconds from the start of the stream.
        text: the transcript of the best alternative.
        is_partial: the service's ``IsPartial``: True while the segment may change.
        label: ``ChannelId`` (``ch_0``), ``ParticipantRole`` (``AGENT``), the first
            item's ``Speaker`` (``spk_0``) or ``""`` when the stream has no labels.
        source: the name of the file or stream the segment belongs to (may be ``""``).
    """

    segment_id: str
    start: float
    end: float
    text: str
    is_partial: bool
    label: str = ""
    source: str = ""


def _speaker(alternative: Any) -> str:
    for item in getattr(alternative, "items", None) or ():
        speaker = getattr(item, "speaker", None)
        if speaker:
            return f"spk_{speaker}"
    return ""


def segments(event: Any, source: str = "") -> list[Segment]:
    """The result segments carried by one typed event (empty for other events).

    Args:
        event: a ``TranscriptEvent`` (standard or medical: ``transcript.results``,
            times in seconds) or an ``UtteranceEvent`` (Call Analytics: millisecond
            offsets, ``participant_role``). Any other event gives ``[]``.
        source: copied into each :attr:`Segment.source`.

    Returns:
        One :class:`Segment` per result that has at least one alternative; results
        without alternatives (the service sends them) are skipped.
    """
    transcript = getattr(event, "transcript", None)
    results = getattr(transcript, "results", None)
    if results is not None:
        out = []
        for result in results:
            alternatives = result.alternatives
            if not alternatives:
                continue
            best = alternatives[0]
            label = getattr(result, "channel_id", None) or _speaker(best)
            out.append(
                Segment(
                    segment_id=result.result_id,
                    start=float(result.start_time),
                    end=float(result.end_time),
                    text=best.transcript or "",
                    is_partial=bool(result.is_partial),
                    label=label or "",
                    source=source,
                )
            )
        return out
    if hasattr(event, "utterance_id"):
        return [
            Segment(
                segment_id=event.utterance_id,
                start=event.begin_offset_millis / 1000.0,
                end=event.end_offset_millis / 1000.0,
                text=event.transcript or "",
                is_partial=bool(event.is_partial),
                label=str(event.participant_role or ""),
                source=source,
            )
        ]
    return []


def format_timestamp(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS<sep>mmm`` for a non-negative time in seconds (``sep`` "," for SRT)."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


class Formatter:
    """Writes final segments to ``out``; partial segments are ignored.

    Args:
        out: a text stream (the formatter writes, never closes it).
        show_source: prefix/annotate each segment with its source name (several
            files into one output).

    Use: ``begin(source)`` once per source, ``write(segment)`` for each segment
    (partials are skipped), ``end(source)`` when the source is complete, and
    ``close()`` at the end of everything.
    """

    name = ""

    def __init__(self, out: TextIO, *, show_source: bool = False) -> None:
        self.out = out
        self.show_source = show_source

    def begin(self, source: str) -> None:
        """A new source starts (its segments follow)."""

    def write(self, segment: Segment) -> None:
        """Record one segment; partial ones (``is_partial``) are ignored."""
        if not segment.is_partial:
            self._final(segment)

    def write_all(self, items: Iterable[Segment]) -> None:
        """``write`` each segment of ``items``."""
        for segment in items:
            self.write(segment)

    def end(self, source: str) -> None:
        """The source is complete: flush whatever the format buffers."""
        self.out.flush()

    def close(self) -> None:
        """Everything is written."""
        self.out.flush()

    def _final(self, segment: Segment) -> None:
        raise NotImplementedError


class TextFormatter(Formatter):
    """``[start --> end] label: text``, one line per final segment, as they arrive."""

    name = "text"

    def _final(self, segment: Segment) -> None:
        head = f"[{format_timestamp(segment.start)} --> {format_timestamp(segment.end)}]"
        if self.show_source and segment.source:
            head = f"{segment.source} {head}"
        label = f" {segment.label}:" if segment.label else ""
        self.out.write(f"{head}{label} {segment.text}\n")


class JsonLinesFormatter(Formatter):
    """One JSON object per final segment: source, id, start, end (seconds), label, text."""

    name = "jsonl"

    def _final(self, segment: Segment) -> None:
        record = {
            "source": segment.source,
            "id": segment.segment_id,
            "start": round(segment.start, 3),
            "end": round(segment.end, 3),
            "label": segment.label,
            "text": segment.text,
        }
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")


class _CueFormatter(Formatter):
    """Collects the finals of each source and writes them as sorted cues at ``end``."""

    def __init__(self, out: TextIO, *, show_source: bool = False) -> None:
        super().__init__(out, show_source=show_source)
        self._pending: dict[str, list[Segment]] = {}
        self._cues = 0

    def begin(self, source: str) -> None:
        self._pending.setdefault(source, [])

    def _final(self, segment: Segment) -> None:
        if segment.text.strip():
            self._pending.setdefault(segment.source, []).append(segment)

    def end(self, source: str) -> None:
        items = sorted(self._pending.pop(source, []), key=lambda s: (s.start, s.end, s.label))
        if self.show_source and items:
            self._note(source)
        for segment in items:
            self._cues += 1
            self._cue(self._cues, segment)
        self.out.flush()

    def close(self) -> None:
        for source in list(self._pending):
            self.end(source)
        super().close()

    def _note(self, source: str) -> None:
        pass

    def _cue(self, number: int, segment: Segment) -> None:
        raise NotImplementedError


class SrtFormatter(_CueFormatter):
    """SubRip: ``n``, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, ``[label] text``, blank line."""

    name = "srt"

    def _cue(self, number: int, segment: Segment) -> None:
        label = f"[{segment.label}] " if segment.label else ""
        self.out.write(
            f"{number}\n{format_timestamp(segment.start, ',')} --> "
            f"{format_timestamp(segment.end, ',')}\n{label}{segment.text}\n\n"
        )


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class VttFormatter(_CueFormatter):
    """WebVTT: ``WEBVTT`` header, cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm``, ``<v label>text``."""

    name = "vtt"

    def __init__(self, out: TextIO, *, show_source: bool = False) -> None:
        super().__init__(out, show_source=show_source)
        self.out.write("WEBVTT\n\n")

    def _note(self, source: str) -> None:
        self.out.write(f"NOTE {_vtt_escape(source).replace('-->', '- ->')}\n\n")

    def _cue(self, number: int, segment: Segment) -> None:
        text = _vtt_escape(segment.text)
        if segment.label:
            text = f"<v {_vtt_escape(segment.label)}>{text}"
        self.out.write(
            f"{number}\n{format_timestamp(segment.start)} --> {format_timestamp(segment.end)}\n"
            f"{text}\n\n"
        )


_FORMATTERS: dict[str, type[Formatter]] = {
    cls.name: cls for cls in (TextFormatter, JsonLinesFormatter, SrtFormatter, VttFormatter)
}


def make_formatter(name: str, out: TextIO, *, show_source: bool = False) -> Formatter:
    """The formatter called ``name`` (one of :data:`FORMATS`) writing to ``out``.

    Raises:
        ValueError: ``name`` is not one of :data:`FORMATS`.
    """
    cls = _FORMATTERS.get(name)
    if cls is None:
        raise ValueError(f"unknown output format {name!r}; choose one of {', '.join(FORMATS)}")
    return cls(out, show_source=show_source)
