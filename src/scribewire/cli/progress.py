"""The live display of ``scribewire transcribe`` on stderr.

:func:`make_display` picks one of three, all with the same methods:

- **plain** (stderr is not a terminal, or ``TERM=dumb``): no partials; one line per
  finished stream of a batch (``[3/20] name: 26.8 s of audio in 27.1 s (0.99x)``: its
  audio over its wall time), errors, the summary.
- **terminal** (stderr is a terminal, rich not installed): a live block at the bottom,
  one line per active stream with its latest partial (the busiest streams when there are
  more than fit), and a progress line: files done / total, audio seconds, elapsed and
  ETA. Lines are cut to the terminal's width as it is now (``os.get_terminal_size`` on
  stderr, else ``shutil.get_terminal_size``) so nothing wraps; the block is redrawn in
  place at most ten times a second and cleared at the end.
- **rich** (the same, drawn by ``rich.live`` when the ``rich`` extra is installed).

Anything printed while the block is live (finished streams, errors, and the final
transcripts when stdout is the same terminal, through :meth:`Display.stdout`) goes above
it. ``SCRIBEWIRE_DISPLAY=plain|terminal|rich`` forces one (for tests and comparisons).

The audio figures count each file once, whatever its streams (``--split-channels``). A
stream's line shows the audio sent so far (paced at ``--speed``); the progress line counts
the audio transcribed (up to the end of the latest result), which is what the ETA
extrapolates: a service that falls behind shows as a longer ETA, not a full bar.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

__all__ = ["Display", "JobLike", "make_display"]

_REDRAW_INTERVAL = 0.1  # seconds between redraws at most (partials arrive faster)
_TICK = 0.5  # seconds between redraws when nothing else happens (elapsed, ETA)
_MAX_STREAM_LINES = 8


class JobLike(Protocol):
    """What the display reads of a job (``cli.main._Job``)."""

    path: str
    name: str
    audio_seconds: float


def cells(text: str) -> int:
    """Terminal cells ``text`` takes (wide East Asian characters two, combining none)."""
    n = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def fit(text: str, width: int, *, keep: str = "head", ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` cells, with an ellipsis: its head, its tail, or
    (``keep="ends"``) both ends, which keeps file names that share a prefix apart."""
    if cells(text) <= width:
        return text
    if width <= len(ellipsis):
        return ellipsis[:width]
    room = width - cells(ellipsis)
    if keep == "ends":
        tail = fit(text, (room + 1) // 2 + cells(ellipsis), keep="tail", ellipsis=ellipsis)
        return fit(text, room // 2 + cells(ellipsis), ellipsis=ellipsis) + tail[len(ellipsis) :]
    out: list[str] = []
    used = 0
    for ch in text if keep == "head" else reversed(text):
        w = cells(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    if keep == "head":
        return "".join(out) + ellipsis
    return ellipsis + "".join(reversed(out))


def clock(seconds: float) -> str:
    """``75.2`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    s = max(0, int(seconds + 0.5))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class _Stream:
    job: Any
    started: float
    label: str = ""
    text: str = ""
    updated: float = 0.0
    heard: float = 0.0  # end time of the latest result: audio the service has had


@dataclass
class _Model:
    """Counts and estimates shared by the displays (no I/O)."""

    jobs: Sequence[Any]
    speed: float
    t0: float = field(default_factory=time.monotonic)
    active: dict[int, _Stream] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    errors: int = 0

    def __post_init__(self) -> None:
        self.duration: dict[str, float] = {}
        self.streams_of: dict[str, list[Any]] = {}
        for job in self.jobs:
            self.duration[job.path] = job.audio_seconds
            self.streams_of.setdefault(job.path, []).append(job)

    def fraction(self, job: Any, now: float) -> float:
        if id(job) in self.finished:
            return 1.0
        stream = self.active.get(id(job))
        if stream is None or job.audio_seconds <= 0:
            return 0.0
        return min(1.0, stream.heard / float(job.audio_seconds))

    def audio_done(self, now: float) -> float:
        total = 0.0
        for path, jobs in self.streams_of.items():
            share = sum(self.fraction(j, now) for j in jobs) / len(jobs)
            total += share * self.duration[path]
        return total

    @property
    def audio_total(self) -> float:
        return sum(self.duration.values())

    @property
    def files_done(self) -> int:
        return sum(all(id(j) in self.finished for j in jobs) for jobs in self.streams_of.values())

    def eta(self, now: float) -> float | None:
        elapsed = now - self.t0
        done = self.audio_done(now)
        if elapsed < 1.0 or done <= 0.0:
            return None
        return max(0.0, (self.audio_total - done) * elapsed / done)

    def stream_rows(self, width: int, limit: int, unicode: bool) -> list[tuple[str, str]]:
        """One ``(head, partial)`` per stream shown, together at most ``width`` cells:
        the ``limit`` busiest (latest partial) in start order, or ``limit - 1`` and a
        count of the others."""
        now = time.monotonic()
        ell = "…" if unicode else "..."
        streams = sorted(self.active.values(), key=lambda s: s.updated, reverse=True)
        shown = streams if len(streams) <= limit else streams[: max(0, limit - 1)]
        name_w = min(24, max([cells(s.job.name) for s in shown] or [0]), max(1, width // 3))
        rows = []
        for s in sorted(shown, key=lambda s: s.started):
            name = fit(s.job.name, name_w, keep="ends", ellipsis=ell)
            name += " " * (name_w - cells(name))
            pos = min(s.job.audio_seconds, max((now - s.started) * self.speed, s.heard))
            head = fit(f"{name} {pos:6.1f}/{s.job.audio_seconds:.1f}s ", width, ellipsis=ell)
            said = f"{s.label}: {s.text}" if s.label and s.text else s.text
            room = width - cells(head)
            rows.append((head, fit(said, room, keep="tail", ellipsis=ell) if room > 0 else ""))
        if len(shown) < len(streams):
            more = f"  + {len(streams) - len(shown)} more streams"
            rows.append((fit(more, width, ellipsis=ell), ""))
        return rows

    def status_text(self, now: float) -> str:
        eta = self.eta(now)
        parts = [
            f"{self.files_done}/{len(self.streams_of)} files",
            f"{self.audio_done(now):.0f}/{self.audio_total:.0f} s audio",
            f"{clock(now - self.t0)} elapsed",
            f"ETA {clock(eta) if eta is not None else '-:--'}",
        ]
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        return " · ".join(parts)


def _bar(fraction: float, width: int, unicode: bool) -> str:
    full, empty = ("█", "░") if unicode else ("#", "-")
    n = int(round(max(0.0, min(1.0, fraction)) * width))
    return full * n + empty * (width - n)


def _unicode_ok(stream: Any) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf16", "utf32")


class Display:
    """Plain display; the base of the live ones (see the module docstring).

    Args:
        err: where everything but transcripts goes.
        jobs: every stream planned (``path``, ``name``, ``audio_seconds``).
        partials: show live partials (the live displays only).
        speed: the pacing factor (estimates the audio sent by a stream in flight).
    """

    live = False

    def __init__(
        self, err: TextIO, jobs: Sequence[Any], *, partials: bool = True, speed: float = 1.0
    ) -> None:
        self.err = err
        self.partials = partials
        self.total = len(jobs)
        self.model = _Model(jobs, speed)
        self.closed = False

    # -- what cli.main calls

    def stdout(self, out: TextIO) -> TextIO:
        """The stream the final transcripts should be written to (``out`` itself unless
        it is the terminal the live display is drawn on)."""
        return out

    def started(self, job: Any) -> None:
        now = time.monotonic()
        self.model.active[id(job)] = _Stream(job, now, updated=now)
        self._changed()

    def partial(self, job: Any, label: str, text: str, end: float = 0.0) -> None:
        stream = self.model.active.get(id(job))
        if stream is None:
            return
        stream.label, stream.text, stream.updated = label, text, time.monotonic()
        stream.heard = max(stream.heard, end)
        if self.partials:
            self._changed()

    def final(self, job: Any, end: float = 0.0) -> None:
        """A final result of ``job`` is about to be written: its partial is done."""
        stream = self.model.active.get(id(job))
        if stream is not None:
            stream.text, stream.label = "", ""
            stream.heard = max(stream.heard, end)

    def finished(self, job: Any, error: str | None = None) -> None:
        """``job``'s stream ended (``error``: why it failed)."""
        stream = self.model.active.pop(id(job), None)
        self.model.finished.add(id(job))
        if error is not None:
            self.model.errors += 1
            self.line(f"scribewire: error: {job.name}: {error}")
        elif self.total > 1:
            wall = time.monotonic() - stream.started if stream is not None else 0.0
            rtf = f" ({job.audio_seconds / wall:.2f}x)" if wall > 0 else ""
            done = len(self.model.finished)
            self.line(
                f"scribewire: [{done}/{self.total}] {job.name}: "
                f"{job.audio_seconds:.1f} s of audio in {wall:.1f} s{rtf}"
            )
        self._changed()

    def line(self, text: str) -> None:
        """One line of text above the live block (or just one line)."""
        self.err.write(text + "\n")
        self.err.flush()

    def close(self) -> None:
        """Clear the live block; later lines print plainly."""
        self.closed = True

    # -- for the live displays

    def _changed(self) -> None:
        pass


class _Above(io.TextIOBase):
    """A text stream whose complete lines the display prints above its live block."""

    def __init__(self, display: _LiveDisplay, target: TextIO) -> None:
        self._display = display
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._display.closed:
            self._target.write(text)
            return len(text)
        self._pending += text
        if "\n" in self._pending:
            done, self._pending = self._pending.rsplit("\n", 1)
            self._display._print_above(done)
        return len(text)

    def flush(self) -> None:
        if self._display.closed:
            if self._pending:
                self._target.write(self._pending)
                self._pending = ""
            self._target.flush()


class _LiveDisplay(Display):
    """What the terminal and rich displays share: throttled redraws, the layout."""

    live = True

    def __init__(self, err: TextIO, jobs: Sequence[Any], **kw: Any) -> None:
        super().__init__(err, jobs, **kw)
        self.unicode = _unicode_ok(err)
        self._last_draw = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._ticker: asyncio.TimerHandle | None = None

    def size(self) -> tuple[int, int]:
        """Columns and rows of the terminal now."""
        try:
            size = os.get_terminal_size(self.err.fileno())
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            size = shutil.get_terminal_size()
        return max(size.columns, 10), max(size.lines, 3)

    def stdout(self, out: TextIO) -> TextIO:
        try:
            same = os.path.samestat(os.fstat(out.fileno()), os.fstat(self.err.fileno()))
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            same = False
        return _Above(self, out) if same else out  # type: ignore[return-value]

    def frame(self) -> tuple[list[tuple[str, str]], float, str]:
        """Stream rows, the fraction of audio done, the status text (fitted to the width
        by the caller). One column is left free so that no line ends in the last one."""
        columns, rows = self.size()
        limit = max(1, min(_MAX_STREAM_LINES, rows - 3))
        lines = self.model.stream_rows(columns - 1, limit, self.unicode) if self.partials else []
        now = time.monotonic()
        total = self.model.audio_total
        fraction = self.model.audio_done(now) / total if total > 0 else 0.0
        return lines, fraction, self.model.status_text(now)

    def _changed(self) -> None:
        if self.closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._draw()
            return
        if self._ticker is None:
            self._ticker = loop.call_later(_TICK, self._tick)
        wait = self._last_draw + _REDRAW_INTERVAL - time.monotonic()
        if wait <= 0:
            self._draw()
        elif self._pending is None:
            self._pending = loop.call_later(wait, self._draw)

    def _tick(self) -> None:
        self._ticker = None
        if not self.closed:
            self._draw()
            self._ticker = asyncio.get_running_loop().call_later(_TICK, self._tick)

    def _draw(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.closed:
            return
        self._last_draw = time.monotonic()
        self._render()

    def _cancel_timers(self) -> None:
        for handle in (self._pending, self._ticker):
            if handle is not None:
                handle.cancel()
        self._pending = self._ticker = None

    # -- per backend

    def _render(self) -> None:
        raise NotImplementedError

    def _print_above(self, text: str) -> None:
        raise NotImplementedError


class TerminalDisplay(_LiveDisplay):
    """The live block drawn with plain ANSI sequences (cursor up, erase down)."""

    def __init__(self, err: TextIO, jobs: Sequence[Any], **kw: Any) -> None:
        super().__init__(err, jobs, **kw)
        self._height = 0  # lines of the block on screen now; the cursor is on its last

    def status_line(self, width: int, fraction: float, text: str) -> str:
        text = fit(text, width, ellipsis="…" if self.unicode else "...")
        room = width - cells(text) - 1
        if room >= 12:
            return _bar(fraction, min(30, room - 1), self.unicode) + "  " + text
        return text

    def _erase(self) -> str:
        if self._height == 0:
            return ""
        up = f"\x1b[{self._height - 1}A" if self._height > 1 else ""
        self._height = 0
        return "\r" + up + "\x1b[J"

    def _block(self) -> list[str]:
        columns, _ = self.size()
        rows, fraction, text = self.frame()
        return [head + said for head, said in rows] + [
            self.status_line(columns - 1, fraction, text)
        ]

    def _render(self) -> None:
        block = self._block()
        self.err.write(self._erase() + "\n".join(block))
        self._height = len(block)
        self.err.flush()

    def _print_above(self, text: str) -> None:
        erase = self._erase()
        self.err.write(erase + text + "\n")
        if not self.closed and erase:
            block = self._block()
            self.err.write("\n".join(block))
            self._height = len(block)
        self.err.flush()

    def line(self, text: str) -> None:
        if self.closed:
            super().line(text)
        else:
            self._print_above(text)

    def close(self) -> None:
        if not self.closed:
            self._cancel_timers()
            self.err.write(self._erase())
            self.err.flush()
        self.closed = True


class RichDisplay(_LiveDisplay):
    """The live block drawn by ``rich.live.Live`` (refreshed from the event loop only)."""

    def __init__(self, err: TextIO, jobs: Sequence[Any], **kw: Any) -> None:
        super().__init__(err, jobs, **kw)
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=err, highlight=False, soft_wrap=False)
        self._live = Live(
            console=self.console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            get_renderable=self._renderable,
        )
        self._started = False

    def size(self) -> tuple[int, int]:
        return max(self.console.size.width, 10), max(self.console.size.height, 3)

    def _renderable(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        columns, _ = self.size()
        streams, fraction, status = self.frame()
        rows: list[Any] = []
        for head, said in streams:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(head, style="bold cyan" if said or head[:1] != " " else "dim")
            text.append(said)
            rows.append(text)
        grid = Table.grid(padding=(0, 1))
        width = columns - 1
        status_text = Text(fit(status, width), no_wrap=True, overflow="ellipsis")
        room = width - status_text.cell_len - 1
        if room >= 12:
            grid.add_column(width=min(30, room))
            grid.add_column()
            bar = ProgressBar(total=1.0, completed=fraction, width=min(30, room))
            grid.add_row(bar, status_text)
        else:
            grid.add_column()
            grid.add_row(status_text)
        return Group(*rows, grid)

    def _render(self) -> None:
        if not self._started:
            self._live.start(refresh=False)
            self._started = True
        self._live.refresh()

    def _print_above(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(text), soft_wrap=True)

    def line(self, text: str) -> None:
        if self.closed or not self._started:
            super().line(text)
        else:
            self._print_above(text)

    def close(self) -> None:
        if not self.closed:
            self._cancel_timers()
            if self._started:
                self._live.stop()
        self.closed = True


def make_display(
    err: TextIO, jobs: Sequence[Any], *, partials: bool = True, speed: float = 1.0
) -> Display:
    """The display for ``err``: plain unless it is a terminal (see the module docstring)."""
    kind = os.environ.get("SCRIBEWIRE_DISPLAY", "").strip().lower()
    if not kind:
        tty = bool(getattr(err, "isatty", lambda: False)())
        if not tty or os.environ.get("TERM") == "dumb":
            kind = "plain"
        else:
            try:
                import rich.live  # noqa: F401
            except ImportError:
                kind = "terminal"
            else:
                kind = "rich"
    cls: type[Display] = {"rich": RichDisplay, "terminal": TerminalDisplay}.get(kind, Display)
    return cls(err, jobs, partials=partials, speed=speed)
