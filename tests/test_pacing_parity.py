"""The pacer's two twins are one source: same names, same errors, same behaviour.

``_pacing_py`` (the source run as Python) and ``_pacing_c`` (the same source compiled
by Cython in pure-Python mode): the names each exports and the attributes the stream
class builds on, the error type and message for each bad argument, and traces of
seeded random scripts (pacers, writers, a clock moved by hand) compared step by step.
Skipped when the native twin is not available.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from conftest import FakeLoop, twins

MODS = twins("pacing")
both = pytest.mark.skipif(len(MODS) < 2, reason="native _pacing_c not available")

# what the stream class (a PacedWriter subclass) builds on
WRITER_API = [
    "_attach", "_detach", "_direct", "_transport_dirty", "_write", "_queue_frames",
    "_queued", "_clear_queue", "pace", "_not_writable", "_queue_silence", "_write_end",
    "_writable", "_next_due", "_step", "_max_lag", "_blocked_since", "_idle_since",
    "_keepalive_after", "_ending", "_space", "_low_water", "_counter", "_transport",
]
WHEEL_API = ["schedule", "discard", "close", "resolution", "__len__", "__contains__"]


def test_the_pure_twin_is_the_source_run_as_python() -> None:
    py = MODS[0]
    assert py.__name__ == "scribewire.transport._pacing_py"
    assert py.__file__ is not None and py.__file__.endswith("_pacing_py.py")
    for m in MODS[1:]:
        assert m.__name__ == "scribewire.transport._pacing_c"
        assert not m.__file__.endswith(".py"), "a .py imported in place of the extension"


@pytest.mark.parametrize("mod", MODS, ids=lambda m: m.__name__.rsplit("_", 1)[-1])
def test_the_api_the_stream_class_uses(mod: ModuleType) -> None:
    w = mod.PacedWriter(mod.MessageCounter())
    for name in WRITER_API:
        assert hasattr(w, name), name
    for name in WHEEL_API:
        assert hasattr(mod.PacingWheel, name), name
    assert hasattr(mod.Pacer, "pace")
    # the state a new writer starts from
    assert (w._writable, w._next_due, w._step, w._max_lag) == (False, 0.0, 0.0, 0.0)
    assert (w._blocked_since, w._idle_since, w._keepalive_after) == (None, 0.0, math.inf)
    assert (w._ending, w._space, w._low_water, w._transport) == (False, None, 0, None)
    assert (w._direct, w._queued(), w._counter.value) == (False, 0, 0)


@both
def test_twins_export_the_same_names() -> None:
    py, c = MODS
    assert py.__all__ == c.__all__
    assert py.DEFAULT_RESOLUTION == c.DEFAULT_RESOLUTION
    for name in py.__all__:
        obj = getattr(c, name)
        if isinstance(obj, type):
            # everything the native class shows Python, the pure one has too
            shown = {n for n in dir(obj) if not n.startswith("__")}
            assert shown <= set(dir(getattr(py, name))), name


def bad_calls() -> dict[str, Callable[[ModuleType], object]]:
    def wheel(m: ModuleType) -> Any:
        return m.PacingWheel(FakeLoop())

    def writer(m: ModuleType) -> Any:
        return m.PacedWriter(m.MessageCounter())

    def in_another_wheel(m: ModuleType) -> None:
        w = writer(m)
        wheel(m).schedule(w, 1.0)
        wheel(m).schedule(w, 1.0)

    return {
        "resolution 0": lambda m: m.PacingWheel(FakeLoop(), 0),
        "resolution -1": lambda m: m.PacingWheel(FakeLoop(), -1.0),
        "resolution inf": lambda m: m.PacingWheel(FakeLoop(), math.inf),
        "resolution nan": lambda m: m.PacingWheel(FakeLoop(), math.nan),
        "resolution str": lambda m: m.PacingWheel(FakeLoop(), "fast"),
        "resolution None": lambda m: m.PacingWheel(FakeLoop(), None),
        "schedule object": lambda m: wheel(m).schedule(object(), 1.0),
        "schedule None": lambda m: wheel(m).schedule(None, 1.0),
        "deadline inf": lambda m: wheel(m).schedule(writer(m), math.inf),
        "deadline -inf": lambda m: wheel(m).schedule(writer(m), -math.inf),
        "deadline nan": lambda m: wheel(m).schedule(writer(m), math.nan),
        "deadline out of range": lambda m: wheel(m).schedule(writer(m), 1e300),
        "deadline None": lambda m: wheel(m).schedule(writer(m), None),
        "deadline str": lambda m: wheel(m).schedule(writer(m), "1.0"),
        "schedule no deadline": lambda m: wheel(m).schedule(writer(m)),
        "in another wheel": in_another_wheel,
        "writer without counter": lambda m: m.PacedWriter(),
        "writer counter None": lambda m: m.PacedWriter(None),
        "writer counter int": lambda m: m.PacedWriter(0),
        "pace None": lambda m: writer(m).pace(None),
        "pace str": lambda m: writer(m).pace("1.0"),
        "Pacer.pace": lambda m: m.Pacer().pace(0.0),
        "queue not iterable": lambda m: writer(m)._queue_frames(5),
        "write without transport": lambda m: writer(m)._write(b"x"),
        "discard object": lambda m: wheel(m).discard(object()),
        "contains object": lambda m: object() in wheel(m),
    }


EXPECTED: dict[str, type[BaseException] | None] = {
    "resolution str": TypeError,
    "resolution None": TypeError,
    "schedule object": TypeError,
    "schedule None": TypeError,
    "deadline None": TypeError,
    "deadline str": TypeError,
    "schedule no deadline": TypeError,
    "writer without counter": TypeError,
    "writer counter None": TypeError,
    "writer counter int": TypeError,
    "pace None": TypeError,
    "pace str": TypeError,
    "Pacer.pace": NotImplementedError,
    "queue not iterable": TypeError,
    "write without transport": AttributeError,
    "discard object": None,
    "contains object": None,
}


def outcome(call: Callable[[ModuleType], object], mod: ModuleType) -> tuple[Any, str]:
    try:
        call(mod)
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc), str(exc)
    return None, ""


@pytest.mark.parametrize("case", sorted(bad_calls()))
def test_bad_arguments_raise_the_same_errors(case: str) -> None:
    call = bad_calls()[case]
    results = [outcome(call, m) for m in MODS]
    expected = EXPECTED.get(case, ValueError)
    assert results[0][0] is expected, results[0]
    for got in results[1:]:
        assert got[0] is results[0][0], (case, results)
        if case not in ("schedule no deadline", "writer without counter"):
            # Python's own wording for a missing argument names the function its way
            assert got[1] == results[0][1], (case, results)


# ---------------------------------------------------------------------- behaviour


class ScriptMixin:
    """A pacer whose answers come from its own seeded generator."""

    def __init__(self, ident: int, seed: int, trace: list[Any]) -> None:
        self.ident = ident
        self.rng = random.Random(seed * 1000 + ident)
        self.trace = trace

    def pace(self, now: float) -> Any:
        r = self.rng.random()
        if r < 0.05:
            answer: Any = None
        elif r < 0.25:
            answer = now - self.rng.random() * 0.02  # overdue
        elif r < 0.28:
            answer = math.inf
        elif r < 0.30:
            answer = "later"  # not a number: reported
        elif r < 0.32:
            self.trace.append(("raise", round(now, 9), self.ident))
            raise LookupError(self.ident)
        else:
            answer = now + self.rng.random() * 0.05
        self.trace.append(("pace", round(now, 9), self.ident, answer))
        return answer


def run_wheel_script(mod: ModuleType, seed: int) -> list[Any]:
    trace: list[Any] = []
    loop = FakeLoop(500.0)
    wheel = mod.PacingWheel(loop, 0.002)
    cls = type("Script", (ScriptMixin, mod.Pacer), {})
    pacers = [cls(i, seed, trace) for i in range(40)]
    rng = random.Random(seed)
    for _ in range(400):
        op = rng.random()
        p = rng.choice(pacers)
        if op < 0.4:
            when = loop.now + rng.uniform(-0.01, 0.05)
            wheel.schedule(p, when)
        elif op < 0.5:
            wheel.discard(p)
        elif op < 0.85:
            loop.advance(rng.uniform(0.0, 0.01))
        elif op < 0.99:
            loop.jump(rng.uniform(0.0, 0.05))  # a late loop
        else:
            wheel.close()
        trace.append(
            ("state", round(loop.now, 9), len(wheel), [q.ident for q in pacers if q in wheel])
        )
    trace.append(("errors", [type(c["exception"]).__name__ for c in loop.errors]))
    return trace


@both
@pytest.mark.parametrize("seed", range(8))
def test_wheel_scripts_trace_the_same(seed: int) -> None:
    py, c = (run_wheel_script(m, seed) for m in MODS)
    assert len(py) == len(c)
    for i, (a, b) in enumerate(zip(py, c, strict=True)):
        assert a == b, f"step {i}: py {a} != c {b}"


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0


def run_writer_script(mod: ModuleType, seed: int) -> list[Any]:
    trace: list[Any] = []
    rng = random.Random(seed)

    def queue_silence(self: Any) -> None:
        trace.append("silence")
        if rng.random() < 0.7:
            self._queue_frames([b"silence"])

    def not_writable(self: Any, now: float) -> float | None:
        trace.append("blocked")
        return None if rng.random() < 0.3 else now + 0.01

    def write_end(self: Any) -> None:
        trace.append("end")
        self._write(b"end")

    cls = type(
        "W",
        (mod.PacedWriter,),
        {"_queue_silence": queue_silence, "_not_writable": not_writable, "_write_end": write_end},
    )
    w = cls(mod.MessageCounter())
    out = Recorder()
    w._attach(out)
    now = 100.0
    w._writable = True
    w._step = 0.1
    w._max_lag = 0.25
    w._next_due = now
    w._keepalive_after = 1.0 if seed % 2 else math.inf
    w._idle_since = None
    frame = 0
    for _ in range(600):
        op = rng.random()
        if op < 0.25:
            n = rng.randrange(1, 8)
            w._queue_frames([b"f%d" % (frame + k) for k in range(n)])
            frame += n
        elif op < 0.3:
            w._writable = not w._writable
        elif op < 0.31:
            w._clear_queue()
        elif op < 0.312:
            w._ending = True
        else:
            now += rng.choice([0.0, 0.01, 0.05, 0.1, 0.3, 2.0])
            when = w.pace(now)
            trace.append(("pace", round(now, 9), None if when is None else round(when, 9)))
        trace.append((w._queued(), w._counter.value, round(w._next_due, 9), w._idle_since))
    trace.append(out.writes)
    return trace


@both
@pytest.mark.parametrize("seed", range(8))
def test_writer_scripts_trace_the_same(seed: int) -> None:
    py, c = (run_writer_script(m, seed) for m in MODS)
    assert len(py) == len(c)
    for i, (a, b) in enumerate(zip(py, c, strict=True)):
        assert a == b, f"step {i}: py {a} != c {b}"
