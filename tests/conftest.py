"""Shared fixtures.

- ``shared_dir``: the project's shared data (``$SCRIBEWIRE_SHARED`` or ``../shared`` beside
  the checkout); tests that need it skip with a clear reason when it is absent.
- ``impl``: parametrises a test over the kernel twins that are available ("py" always,
  "c" when the native module loads and ``SCRIBEWIRE_NO_EXTENSIONS`` is unset).
- ``FakeLoop``: an injected clock for the pacing wheel (time, timers and the exception
  handler of an event loop, advanced by hand).
- the ``timing`` marker goes on every test of the modules in ``TIMING_MODULES``: they
  assert wall-clock spacing or deadlines of the pacer, which a loaded or emulated runner
  may miss. The wheel test command of cibuildwheel leaves them out (``-m 'not timing'``).
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scribewire._kernels import _impl

ROOT = Path(__file__).resolve().parent.parent


#: Modules whose tests assert wall-clock deadlines or spacing (see the docstring).
TIMING_MODULES = frozenset({"test_client_pacing.py", "test_pacing_writer.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in TIMING_MODULES:
            item.add_marker(pytest.mark.timing)


def shared_path() -> Path | None:
    env = os.environ.get("SCRIBEWIRE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared")
    for c in candidates:
        if (c / "vectors").is_dir() or (c / "audio").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    p = shared_path()
    if p is None:
        pytest.skip("shared data not found: set SCRIBEWIRE_SHARED or place ../shared beside the checkout")
    return p


def twin_module(name: str, which: str) -> str:
    """The dotted name of kernel ``name``'s twin ``which`` (``"c"`` or ``"py"``)."""
    package = "scribewire.transport" if name == "pacing" else "scribewire._kernels"
    return f"{package}._{name}_{which}"


def twins(name: str) -> list[ModuleType]:
    """The importable twins of kernel ``name``: the pure one, plus the native one if allowed."""
    mods = [importlib.import_module(twin_module(name, "py"))]
    if not _impl.NO_EXTENSIONS:
        try:
            mods.append(importlib.import_module(twin_module(name, "c")))
        except ImportError:
            if os.environ.get("SCRIBEWIRE_REQUIRE_EXTENSIONS"):
                raise
    return mods


def twin_params(name: str) -> list[object]:
    return [pytest.param(m, id=m.__name__.rsplit("_", 1)[-1]) for m in twins(name)]


def words_of(text: str) -> list[str]:
    """The corpus' WER normalisation (MANIFEST.json ``wer_normalisation``)."""
    digits = "zero one two three four five six seven eight nine".split()
    text = re.sub(r"[^a-z0-9 ]", " ", text.lower().replace("'", ""))
    return [digits[int(w)] if w.isdigit() and len(w) == 1 else w for w in text.split()]


def in_order(ref: list[str], hyp: list[str]) -> int:
    """How many of ``ref``'s words ``hyp`` holds in order (their longest common
    subsequence)."""
    prev = [0] * (len(hyp) + 1)
    for r in ref:
        cur = [0]
        for j, h in enumerate(hyp):
            cur.append(prev[j] + 1 if r == h else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


class FakeTimer:
    """The handle ``FakeLoop.call_at`` returns."""

    __slots__ = ("args", "callback", "is_cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.is_cancelled = False

    def cancel(self) -> None:
        self.is_cancelled = True

    def cancelled(self) -> bool:
        return self.is_cancelled


class FakeLoop:
    """The part of an event loop the pacing wheel uses, on a clock moved by hand.

    ``time()`` is ``now`` (s); ``call_at(when, callback, *args)`` queues a timer;
    ``call_exception_handler(context)`` appends ``context`` to ``errors``. Nothing runs
    until the test moves the clock: ``advance(seconds)`` runs every timer that falls due
    on the way, in order, each at exactly its own time (a loop that is never late);
    ``jump(seconds)`` moves the clock first, then runs what is due, all of it late (a
    loop that was busy for that long).
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = float(start)
        self.errors: list[dict[str, Any]] = []
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        timer = FakeTimer(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        self.errors.append(context)

    def timers(self) -> int:
        """Timers queued and not cancelled."""
        return sum(not t.is_cancelled for _, _, t in self._timers)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, timer = heapq.heappop(self._timers)
            if timer.is_cancelled:
                continue
            self.now = max(self.now, when)
            timer.callback(*timer.args)
        self.now = end

    def jump(self, seconds: float) -> None:
        self.now += seconds
        self.advance(0.0)
