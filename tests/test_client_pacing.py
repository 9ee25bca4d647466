"""The pacing wheel: one timer serves every pacer that is due, in deadline order.

The pacing logic runs on an injected clock (``conftest.FakeLoop``: the loop's
``time()``, ``call_at()`` and ``call_exception_handler()``, moved by hand), so the
times a pacer is served at are exact and nothing depends on how busy the machine is.
A late loop is simulated, not waited for (``FakeLoop.jump``). One loose end-to-end
check runs on a real asyncio loop and asserts counts and order only.

Every test runs on both twins (``mod``: ``_pacing_py`` and, when built, ``_pacing_c``).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from types import ModuleType
from typing import Any

import pytest
from conftest import FakeLoop, twin_params

from scribewire.transport.pacing import wheel_for_loop

pytestmark = pytest.mark.parametrize("mod", twin_params("pacing"))

RES = 0.005  # the wheel's slot width in these tests (s)
START = 1000.0  # the fake loop's clock at the start (s)


class TickerMixin:
    """A pacer that records when it was served and asks again every ``period`` s.

    ``asked``: the deadlines it was scheduled for (``due``) and returned, in order.
    """

    def __init__(self, period: float, count: int, due: float, log: list[Any] | None = None):
        self.period = period
        self.left = count
        self.due = due
        self.asked = [due]
        self.served: list[float] = []
        self.log = log

    def pace(self, now: float) -> float | None:
        assert now >= self.due - 1e-9, "served before its deadline"
        self.served.append(now)
        if self.log is not None:
            self.log.append((now, self))
        self.left -= 1
        if self.left == 0:
            return None
        self.due += self.period
        self.asked.append(self.due)
        return self.due


def ticker(
    mod: ModuleType, period: float = 0.0, count: int = 1, due: float = START, log: Any = None
) -> Any:
    cls = type("Ticker", (TickerMixin, mod.Pacer), {})
    return cls(period, count, due, log)


def on_fake_loop(mod: ModuleType, resolution: float = RES) -> tuple[FakeLoop, Any]:
    loop = FakeLoop(START)
    return loop, mod.PacingWheel(loop, resolution)


def slot_time(when: float, resolution: float = RES) -> float:
    """The loop time of the tick that serves a deadline ``when`` on a loop that is never
    late: its slot's start."""
    return math.ceil(when / resolution) * resolution


def on_time(t: Any, resolution: float = RES) -> list[float]:
    """When ``t`` is served if the loop is never late: at the slot of each deadline."""
    return [slot_time(d, resolution) for d in t.asked]


# ---------------------------------------------------------------------- the wheel


def test_rejects_bad_resolution(mod: ModuleType) -> None:
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="resolution"):
            mod.PacingWheel(FakeLoop(), bad)
    assert mod.PacingWheel(FakeLoop()).resolution == mod.DEFAULT_RESOLUTION


def test_one_timer_serves_every_pacer(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    tickers = [ticker(mod, 0.1, 5, START + (i % 20) * 0.001) for i in range(1000)]
    for t in tickers:
        wheel.schedule(t, t.due)
    assert len(wheel) == 1000 and loop.timers() == 1
    while len(wheel):
        loop.advance(RES)
        assert loop.timers() <= 1
        assert loop.now < START + 1.0, "wheel did not drain"
    assert loop.timers() == 0
    for t in tickers:
        assert len(t.served) == 5 and t.served == on_time(t)
    assert loop.errors == []


def test_each_pacer_is_served_at_the_slot_of_its_deadline_in_order(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    log: list[Any] = []
    offsets = [0.5, 0.0123, 0.0051, 0.005, 0.0049, 0.0001, 0.0]  # latest first
    tickers = [ticker(mod, due=START + d, log=log) for d in offsets]
    for t in tickers:
        wheel.schedule(t, t.due)
    loop.advance(1.0)
    for t in tickers:
        assert t.served == on_time(t)
    # in deadline-slot order; within one slot, in the order they were scheduled
    assert [p for _, p in log] == sorted(tickers, key=lambda t: math.ceil(t.due / RES))
    assert [now for now, _ in log] == sorted(now for now, _ in log)


def test_schedule_keeps_the_earlier_deadline(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    t = ticker(mod)
    wheel.schedule(t, START + 10)
    wheel.schedule(t, START + 0.003)  # moves earlier
    wheel.schedule(t, START + 20)  # ignored: later
    assert len(wheel) == 1 and t in wheel and loop.timers() == 1
    loop.advance(30.0)
    assert t.served == [slot_time(START + 0.003)]
    assert len(wheel) == 0 and t not in wheel


def test_discard(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    u = ticker(mod)
    wheel.schedule(u, START + 0.002)
    wheel.discard(u)
    wheel.discard(u)  # twice is fine
    wheel.discard(object())  # and so is something that is not a pacer
    assert len(wheel) == 0 and u not in wheel and object() not in wheel
    loop.advance(1.0)
    assert u.served == []


def test_overdue_deadline_is_served_at_the_next_slot_never_twice_a_tick(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)

    class Stuck(mod.Pacer):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.calls: list[float] = []

        def pace(self, now: float) -> float | None:
            self.calls.append(now)
            return None if len(self.calls) >= 4 else now - 1.0  # always "overdue"

    s = Stuck()
    wheel.schedule(s, START)
    loop.advance(1.0)
    assert len(s.calls) == 4
    first = math.ceil(START / RES)
    assert s.calls == pytest.approx([(first + k) * RES for k in range(4)], abs=1e-9)


def test_a_late_tick_serves_each_pacer_once_then_the_next_slot(mod: ModuleType) -> None:
    """The loop was busy for a second: the tick that finally runs serves every due pacer
    once (not once per missed period), and the next slot serves them again."""
    loop, wheel = on_fake_loop(mod)
    tickers = [ticker(mod, 0.01, 1000, START) for _ in range(50)]
    for t in tickers:
        wheel.schedule(t, START)
    loop.jump(1.0)
    late = loop.now
    assert all(t.served == [late] for t in tickers)
    next_slot = (math.floor(late / RES + 1e-9) + 1) * RES
    loop.advance(1.5 * RES)
    for t in tickers:
        assert t.served == [late, pytest.approx(next_slot, abs=1e-9)]
    # catching up one slot at a time: the deadlines stay in the past for a while
    loop.advance(0.05)
    assert all(len(t.served) == 2 + 10 for t in tickers)


def test_pacers_come_back_once_per_period(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod, 0.002)
    tickers = [ticker(mod, 0.004 + 0.002 * (i % 3), 6, START) for i in range(60)]
    for t in tickers:
        wheel.schedule(t, START)
    loop.advance(1.0)
    for t in tickers:
        assert len(t.served) == 6 and t.served == on_time(t, 0.002)


def test_failing_pacer_is_reported_and_dropped_others_continue(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod, 0.002)

    class Boom(mod.Pacer):  # type: ignore[misc,name-defined]
        def pace(self, now: float) -> float | None:
            raise KeyError("boom")

    boom = Boom()
    ok = ticker(mod, 0.003, 3, START)
    wheel.schedule(boom, START)
    wheel.schedule(ok, START)
    loop.advance(1.0)
    assert len(ok.served) == 3
    assert boom not in wheel and len(wheel) == 0
    assert len(loop.errors) == 1
    ctx = loop.errors[0]
    assert ctx["message"] == "pacer failed" and ctx["pacer"] is boom
    assert isinstance(ctx["exception"], KeyError)


@pytest.mark.parametrize(
    ("deadline", "error"),
    [(None, None), (math.inf, None), (math.nan, None), (1e300, None), ("soon", TypeError)],
)
def test_deadlines_that_leave_the_wheel(mod: ModuleType, deadline: Any, error: Any) -> None:
    """None, no deadline ever (infinite, NaN, beyond any slot) leave quietly; something
    that is not a number is the pacer's failure, reported like an exception."""
    loop, wheel = on_fake_loop(mod)

    class Once(mod.Pacer):  # type: ignore[misc,name-defined]
        calls = 0

        def pace(self, now: float) -> Any:
            self.calls += 1
            return deadline

    p = Once()
    wheel.schedule(p, START)
    loop.advance(1.0)
    assert p.calls == 1 and p not in wheel and loop.timers() == 0
    if error is None:
        assert loop.errors == []
    else:
        assert [type(c["exception"]) for c in loop.errors] == [error]


def test_pacer_discarding_a_peer_during_a_tick(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    victim = ticker(mod, 0.01, 3, START)

    class Killer(mod.Pacer):  # type: ignore[misc,name-defined]
        def pace(self, now: float) -> float | None:
            wheel.discard(victim)
            return None

    wheel.schedule(Killer(), START)
    wheel.schedule(victim, START)
    loop.advance(1.0)
    assert victim.served == [] and len(wheel) == 0


def test_pacer_moving_a_peer_later_during_a_tick(mod: ModuleType) -> None:
    """A peer discarded and scheduled again from another pacer's pace() keeps only its
    new deadline: it is not served in the tick that moved it, and once afterwards."""
    loop, wheel = on_fake_loop(mod)
    moved = ticker(mod, 0.0, 1, START)

    class Mover(mod.Pacer):  # type: ignore[misc,name-defined]
        def pace(self, now: float) -> float | None:
            wheel.discard(moved)
            moved.due = now + 0.05
            wheel.schedule(moved, moved.due)
            return None

    wheel.schedule(Mover(), START)
    wheel.schedule(moved, START)
    loop.advance(1.0)
    assert moved.served == [slot_time(START + 0.05)]


def test_schedule_inside_pace_wins_over_the_returned_deadline(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)

    class Self(mod.Pacer):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.calls: list[float] = []

        def pace(self, now: float) -> float | None:
            self.calls.append(now)
            if len(self.calls) == 1:
                wheel.schedule(self, now + 0.1)
                return now + 0.01
            return None

    p = Self()
    wheel.schedule(p, START)
    loop.advance(1.0)
    assert p.calls == [slot_time(START), slot_time(slot_time(START) + 0.1)]


def test_close_forgets_every_pacer_and_cancels_the_timer(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    tickers = [ticker(mod, due=START + i * 0.01) for i in range(10)]
    for t in tickers:
        wheel.schedule(t, t.due)
    wheel.close()
    assert len(wheel) == 0 and loop.timers() == 0
    assert not any(t in wheel for t in tickers)
    other = mod.PacingWheel(loop, RES)
    other.schedule(tickers[0], START)  # free to join another wheel now
    loop.advance(1.0)
    assert tickers[0].served == [slot_time(START)] and all(t.served == [] for t in tickers[1:])


def test_a_pacer_in_another_wheel_is_refused(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    other = mod.PacingWheel(loop, RES)
    t = ticker(mod)
    wheel.schedule(t, START + 1)
    with pytest.raises(ValueError, match="another wheel"):
        other.schedule(t, START)
    other.discard(t)  # not in it: nothing happens
    assert t in wheel and t not in other


# ---------------------------------------------------------------------- PacedWriter on the wheel


class FakeTransport:
    """Records what is written, and when; no socket (so no direct path in either twin)."""

    def __init__(self, loop: FakeLoop) -> None:
        self.loop = loop
        self.writes: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:
        self.writes.append((self.loop.now, bytes(data)))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0


class FakeFuture:
    def __init__(self) -> None:
        self.result: Any = "unset"

    def done(self) -> bool:
        return self.result != "unset"

    def set_result(self, value: Any) -> None:
        self.result = value


def writer_on(mod: ModuleType, loop: FakeLoop, **hooks: Any) -> tuple[Any, FakeTransport]:
    cls = type("Writer", (mod.PacedWriter,), dict(hooks))
    w = cls(mod.MessageCounter())
    transport = FakeTransport(loop)
    w._attach(transport)
    assert w._direct is False
    w._writable = True
    w._step = 0.1
    w._max_lag = 0.2
    w._next_due = loop.now
    return w, transport


def test_writer_one_frame_per_step_and_no_burst_after_a_stall(mod: ModuleType) -> None:
    loop, wheel = on_fake_loop(mod)
    w, transport = writer_on(mod, loop)
    frames = [bytes([i]) * 8 for i in range(20)]
    w._queue_frames(frames)
    wheel.schedule(w, w._next_due)
    loop.advance(0.35)
    due = list(itertools.accumulate([START, 0.1, 0.1, 0.1]))  # as the writer adds them up
    assert [t for t, _ in transport.writes] == [slot_time(d) for d in due]
    loop.jump(5.0)  # stalled for 5 s: at most max_lag behind, not 50 frames at once
    assert len(transport.writes) == 4 + 3
    assert w._counter.value == 7 and w._queued() == 13
    assert w._next_due == pytest.approx(loop.now + 0.1)
    loop.advance(10.0)
    assert [f for _, f in transport.writes] == frames
    assert w._counter.value == 20 and w not in wheel  # no keepalive: it left the wheel


def test_unpaced_writer_keepalive_is_one_chunk_per_period_not_a_flood(mod: ModuleType) -> None:
    """Speed inf (step 0): an idle stream gets one chunk of silence per keepalive period;
    it used to queue silence and recurse at no pace until the stack ran out."""
    loop, wheel = on_fake_loop(mod)

    def queue_silence(self: Any) -> None:
        self._queue_frames([b"S"])

    w, transport = writer_on(mod, loop, _queue_silence=queue_silence)
    w._step = 0.0
    w._max_lag = 0.0
    w._keepalive_after = 2.0
    w._idle_since = None
    w._queue_frames([b"A", b"B"])
    wheel.schedule(w, w._next_due)
    loop.advance(0.05)
    assert [f for _, f in transport.writes] == [b"A", b"B"]
    loop.advance(7.0)  # idle from ~0: silence at ~2, ~4, ~6
    assert [f for _, f in transport.writes] == [b"A", b"B", b"S", b"S", b"S"]
    assert w in wheel


def test_writer_hooks_keepalive_end_space_and_not_writable(mod: ModuleType) -> None:
    calls: list[tuple[str, float]] = []
    loop, wheel = on_fake_loop(mod)

    def queue_silence(self: Any) -> None:
        calls.append(("silence", loop.now))
        self._queue_frames([b"S"])

    def not_writable(self: Any, now: float) -> float | None:
        calls.append(("blocked", now))
        return now + 0.5

    def write_end(self: Any) -> None:
        calls.append(("end", loop.now))
        self._write(b"E")

    w, transport = writer_on(
        mod, loop, _queue_silence=queue_silence, _not_writable=not_writable, _write_end=write_end
    )
    w._keepalive_after = 2.0
    w._idle_since = None
    w._low_water = 1
    w._space = space = FakeFuture()
    w._queue_frames([b"A", b"B", b"C"])
    wheel.schedule(w, w._next_due)
    loop.advance(0.05)
    assert not space.done()  # two left, low water is one
    loop.advance(0.1)
    assert space.done() and w._space is None
    loop.advance(0.2)  # C at +0.2; the queue ran dry at +0.3: keepalive at +2.3
    assert [f for _, f in transport.writes] == [b"A", b"B", b"C"] and calls == []
    loop.advance(2.0)
    assert calls == [("silence", pytest.approx(slot_time(START + 2.3)))]
    assert transport.writes[-1] == (pytest.approx(slot_time(START + 2.3)), b"S")
    w._writable = False  # flow control: the hook decides when to look again
    loop.advance(0.1)
    assert calls[-1] == ("blocked", pytest.approx(slot_time(START + 2.4)))
    w._writable = True
    w._ending = True
    loop.advance(1.0)
    assert calls[-1][0] == "end" and transport.writes[-1][1] == b"E"
    assert w not in wheel and loop.errors == []


# ---------------------------------------------------------------------- a real loop, loosely


def test_end_to_end_on_a_real_event_loop(mod: ModuleType) -> None:
    """The wheel on asyncio's own timers. Counts and order only: how late a loaded
    machine serves them is no business of this test (the fake clock tests the timing)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert wheel_for_loop() is wheel_for_loop(loop)
        wheel = mod.PacingWheel(loop, 0.002)
        base = sum(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]
        start = loop.time()
        tickers = [ticker(mod, 0.01, 5, start + (i % 7) * 0.001) for i in range(200)]
        for t in tickers:
            wheel.schedule(t, t.due)
        live = sum(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]
        assert live - base == 1  # one timer for all 200
        while len(wheel):
            await asyncio.sleep(0.01)
        for t in tickers:
            assert len(t.served) == 5
            assert t.served == sorted(t.served)

    asyncio.run(asyncio.wait_for(main(), 120))
