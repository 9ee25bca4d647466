"""The live display of ``scribewire transcribe``, read back from a terminal emulator.

What reaches the terminal is fed to pyte (a VT100 emulator) and the screen is checked as a
person would see it: nothing wider than the terminal, one line per active stream, the
progress line, nothing stale left behind, transcripts and messages above the live block.
The end-to-end test runs the command on a pseudo-terminal of 80 columns.
"""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scribewire.cli import progress
from scribewire.cli.main import transcribe_main

pyte = pytest.importorskip("pyte")


@dataclass
class Job:
    path: str
    name: str
    audio_seconds: float


class FakeTTY(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def screen_of(text: str, columns: int = 80, rows: int = 24) -> list[str]:
    screen = pyte.Screen(columns, rows)
    pyte.Stream(screen).feed(text.replace("\n", "\r\n"))
    return [line.rstrip() for line in screen.display]


@pytest.fixture
def size_80x24(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")


LONG = "and then the agent said that the order would be shipped on monday " * 4


@pytest.mark.parametrize("kind", ["terminal", "rich"])
def test_live_block_fits_the_width_one_line_per_stream(
    kind: str, size_80x24: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "rich":
        pytest.importorskip("rich")
    monkeypatch.setenv("SCRIBEWIRE_DISPLAY", kind)
    err = FakeTTY()
    jobs = [Job(f"/a/call_{i}.wav", f"call_{i}.wav", 30.0) for i in range(3)]
    display = progress.make_display(err, jobs)
    assert type(display).__name__ == {"terminal": "TerminalDisplay", "rich": "RichDisplay"}[kind]
    for job in jobs:
        display.started(job)
    for i, job in enumerate(jobs):
        display.partial(job, f"ch_{i % 2}", LONG + str(i), end=5.0 + i)
        display._draw()  # type: ignore[attr-defined]
    rows = [r for r in screen_of(err.getvalue()) if r]
    assert all(len(r) < 80 for r in rows), rows
    assert [r.split()[0] for r in rows[:3]] == ["call_0.wav", "call_1.wav", "call_2.wav"]
    assert rows[0].endswith("monday 0") and "ch_0:" not in rows[0]  # the tail is kept
    assert "0/3 files" in rows[3] and "18/90 s audio" in rows[3] and "ETA" in rows[3]
    assert len(rows) == 4
    display.final(jobs[0], end=30.0)
    display.finished(jobs[0])
    display.line("scribewire: a message")
    display._draw()  # type: ignore[attr-defined]
    rows = [r for r in screen_of(err.getvalue()) if r]
    assert rows[0].startswith("scribewire: [1/3] call_0.wav: 30.0 s of audio in ")
    assert rows[1] == "scribewire: a message"
    assert [r.split()[0] for r in rows[2:4]] == ["call_1.wav", "call_2.wav"]
    assert "1/3 files" in rows[4] and len(rows) == 5
    display.close()
    rows = [r for r in screen_of(err.getvalue()) if r]
    assert len(rows) == 2, rows  # the live block is gone, the log stays


def test_busiest_streams_when_more_than_fit(size_80x24: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIBEWIRE_DISPLAY", "terminal")
    monkeypatch.setenv("LINES", "8")
    err = FakeTTY()
    jobs = [Job(f"/a/{i}.wav", f"clip_{i:02d}.wav", 5.0) for i in range(20)]
    display = progress.make_display(err, jobs)
    for job in jobs:
        display.started(job)
    for job in jobs[15:]:
        time.sleep(0.001)
        display.partial(job, "", f"words of {job.name}", end=1.0)
    display._draw()  # type: ignore[attr-defined]
    rows = [r for r in screen_of(err.getvalue(), rows=8) if r]
    assert len(rows) == 6  # rows - 3 stream lines at most, one of them the count, + progress
    assert rows[4] == "  + 16 more streams"
    shown = [r.split()[0] for r in rows[:4]]
    assert shown == ["clip_16.wav", "clip_17.wav", "clip_18.wav", "clip_19.wav"]


def test_plain_display_lines_and_audio_counted_once_per_file() -> None:
    err = io.StringIO()
    jobs = [Job("/a/call.wav", "call.wav#ch0", 26.8), Job("/a/call.wav", "call.wav#ch1", 26.8)]
    display = progress.make_display(err, jobs)
    assert type(display) is progress.Display
    display.started(jobs[0])
    display.partial(jobs[0], "", "hidden")
    display.finished(jobs[0])
    assert display.model.audio_total == 26.8 and display.model.files_done == 0
    display.started(jobs[1])
    display.finished(jobs[1], "ConnectionClosed: lost")
    assert display.model.files_done == 1
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("scribewire: [1/2] call.wav#ch0: 26.8 s of audio in ")
    assert lines[1] == "scribewire: error: call.wav#ch1: ConnectionClosed: lost"
    assert "hidden" not in err.getvalue()


def test_eta_extrapolates_the_audio_transcribed() -> None:
    jobs = [Job(f"/a/{i}.wav", f"{i}.wav", 10.0) for i in range(4)]
    model = progress._Model(jobs, speed=1.0, t0=100.0)
    assert model.eta(100.5) is None
    model.finished.add(id(jobs[0]))
    model.active[id(jobs[1])] = progress._Stream(jobs[1], 100.0, heard=5.0)
    assert model.audio_done(110.0) == 15.0
    assert model.eta(110.0) == pytest.approx(25.0 * 10.0 / 15.0)
    assert progress.clock(3725) == "1:02:05" and progress.clock(75.2) == "1:15"


def test_fit_counts_cells() -> None:
    assert progress.fit("abcdef", 4) == "abc…"
    assert progress.fit("abcdef", 4, keep="tail") == "…def"
    assert progress.fit("ps_librivox_sense_and_sensibility_0870.wav", 24, keep="ends") == "ps_librivox…ity_0870.wav"
    assert progress.cells("日本語") == 6 and progress.cells(progress.fit("日本語です", 5)) <= 5


def _set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@pytest.mark.parametrize("kind", ["terminal", "rich"])
def test_command_on_an_80_column_terminal(
    kind: str, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout and stderr on one pseudo-terminal: transcripts and progress lines scroll
    above the live block, which is gone at the end; no line wraps."""
    if kind == "rich":
        pytest.importorskip("rich")
    monkeypatch.setenv("SCRIBEWIRE_DISPLAY", kind)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "40")
    master, slave = os.openpty()
    _set_size(slave, 80, 40)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    clips = [str(shared_dir / "audio" / n) for n in ("ps_goforward.16k.wav", "ps_cards_005.wav", "arctic_aew_a0001.wav")]
    with open(slave, "w", encoding="utf-8", closefd=False) as tty:
        code = transcribe_main(
            [*clips, "--local", "--recognizer", "null", "--speed", "20", "--concurrency", "2"],
            out=tty, err=tty,
        )
        tty.flush()
    time.sleep(0.3)
    os.close(slave)
    reader.join(timeout=5)
    os.close(master)
    assert code == 0
    screen = pyte.Screen(80, 40)
    pyte.ByteStream(screen).feed(b"".join(chunks))
    rows = [r.rstrip() for r in screen.display if r.strip()]
    tail = rows[-2] + rows[-1]  # the summary, wrapped like any long line of the log
    assert tail.startswith("scribewire: 3 file(s), 3 stream(s)") and tail.endswith(" 0 error(s)"), rows
    assert sum(r.startswith("scribewire: [") for r in rows) == 3
    assert sum("-->" in r for r in rows) >= 3  # transcripts of every file
    assert not [r for r in rows if "ETA" in r or "s audio" in r], rows  # block cleared
