"""The pacing wheel: one timer serves every pacer that is due, in deadline order.

Every test runs on both twins (``mod``: ``_pacing_py`` and, when built, ``_pacing_c``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

import pytest
from conftest import twin_params

from scribewire.transport.pacing import wheel_for_loop

pytestmark = pytest.mark.parametrize("mod", twin_params("pacing"))


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop, with a 30 s guard against hangs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))

    return wrapper


class TickerMixin:
    """A pacer that records when it was served and asks again every ``period`` s."""

    def __init__(self, period: float, count: int) -> None:
        self.period = period
        self.left = count
        self.served: list[float] = []
        self.due = 0.0

    def pace(self, now: float) -> float | None:
        assert now >= self.due - 1e-9, "served before its deadline"
        self.served.append(now)
        self.left -= 1
        if self.left == 0:
            return None
        self.due = self.due + self.period
        return self.due


def ticker(mod: ModuleType, period: float, count: int) -> Any:
    cls = type("Ticker", (TickerMixin, mod.Pacer), {})
    return cls(period, count)


async def run_until_empty(wheel: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(wheel):
        assert asyncio.get_running_loop().time() < deadline, "wheel did not drain"
        await asyncio.sleep(0.002)


def test_rejects_bad_resolution(mod: ModuleType) -> None:
    loop = asyncio.new_event_loop()
    try:
        for bad in (0, -1.0, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="resolution"):
                mod.PacingWheel(loop, bad)
    finally:
        loop.close()


@aio
async def test_serves_many_pacers_with_one_timer(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.002)
    tickers = [ticker(mod, 0.01, 5) for _ in range(200)]
    start = loop.time()
    for i, t in enumerate(tickers):
        t.due = start + (i % 7) * 0.001
        wheel.schedule(t, t.due)
    handles_before = len(loop._scheduled)  # type: ignore[attr-defined]
    assert handles_before >= 1
    await run_until_empty(wheel)
    for t in tickers:
        assert len(t.served) == 5
        assert all(b > a for a, b in itertools.pairwise(t.served))
    assert len(wheel) == 0


@aio
async def test_timer_count_does_not_grow_with_pacers(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.005)
    base = len(loop._scheduled)  # type: ignore[attr-defined]
    tickers = [ticker(mod, 1.0, 2) for _ in range(1000)]
    now = loop.time()
    for i, t in enumerate(tickers):
        t.due = now + 10 + i * 0.01
        wheel.schedule(t, t.due)
    assert len(wheel) == 1000
    live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    assert len(live) - base <= 1
    wheel.close()
    assert len(wheel) == 0


@aio
async def test_schedule_keeps_earlier_deadline_and_discard(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.001)
    t = ticker(mod, 0.0, 1)
    now = loop.time()
    wheel.schedule(t, now + 10)
    wheel.schedule(t, now + 0.003)  # moves earlier
    wheel.schedule(t, now + 20)  # ignored: later
    assert len(wheel) == 1
    await run_until_empty(wheel, timeout=2)
    assert len(t.served) == 1 and t.served[0] < now + 1

    u = ticker(mod, 0.0, 1)
    wheel.schedule(u, loop.time() + 0.002)
    wheel.discard(u)
    wheel.discard(u)  # twice is fine
    await asyncio.sleep(0.01)
    assert u.served == []


@aio
async def test_past_deadline_served_next_slot_not_busy_loop(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.005)

    class Stuck(mod.Pacer):  # type: ignore[misc,name-defined]
        calls = 0

        def pace(self, now: float) -> float | None:
            self.calls += 1
            return None if self.calls >= 4 else now - 1.0  # always "overdue"

    s = Stuck()
    wheel.schedule(s, loop.time())
    await run_until_empty(wheel)
    assert s.calls == 4


@aio
async def test_failing_pacer_is_dropped_and_others_continue(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    try:
        wheel = mod.PacingWheel(loop, 0.002)

        class Boom(mod.Pacer):  # type: ignore[misc,name-defined]
            def pace(self, now: float) -> float | None:
                raise KeyError("boom")

        ok = ticker(mod, 0.003, 3)
        ok.due = loop.time()
        wheel.schedule(Boom(), loop.time())
        wheel.schedule(ok, ok.due)
        await run_until_empty(wheel)
        assert len(ok.served) == 3
        assert len(errors) == 1 and isinstance(errors[0]["exception"], KeyError)
    finally:
        loop.set_exception_handler(None)


@aio
async def test_pacer_discarding_a_peer_during_a_tick(mod: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.005)
    victim = ticker(mod, 0.01, 3)

    class Killer(mod.Pacer):  # type: ignore[misc,name-defined]
        def pace(self, now: float) -> float | None:
            wheel.discard(victim)
            return None

    at = loop.time() + 0.001
    wheel.schedule(Killer(), at)
    victim.due = at
    wheel.schedule(victim, at)
    await run_until_empty(wheel)
    assert victim.served == []


@aio
async def test_pacer_moving_a_peer_later_during_a_tick(mod: ModuleType) -> None:
    """A peer discarded and scheduled again from another pacer's pace() keeps only its
    new deadline: it is not served in the tick that moved it, and once afterwards."""
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.005)
    moved = ticker(mod, 0.0, 1)
    start = loop.time()

    class Mover(mod.Pacer):  # type: ignore[misc,name-defined]
        def pace(self, now: float) -> float | None:
            wheel.discard(moved)
            moved.due = now + 0.05
            wheel.schedule(moved, moved.due)
            return None

    at = start + 0.001
    wheel.schedule(Mover(), at)
    wheel.schedule(moved, at)
    await run_until_empty(wheel)
    assert len(moved.served) == 1 and moved.served[0] >= start + 0.05


@aio
async def test_pacers_come_back_at_their_deadlines(mod: ModuleType) -> None:
    """Re-inserted at once in the tick that served them: each pacer is served once per
    period, in order, and no slot is served twice in one tick."""
    loop = asyncio.get_running_loop()
    wheel = mod.PacingWheel(loop, 0.002)
    tickers = [ticker(mod, 0.004 + 0.002 * (i % 3), 6) for i in range(60)]
    now = loop.time()
    for t in tickers:
        t.due = now
        wheel.schedule(t, now)
    await run_until_empty(wheel)
    for t in tickers:
        assert len(t.served) == 6
        gaps = [b - a for a, b in itertools.pairwise(t.served)]
        assert min(gaps) >= t.period - 0.0021  # never early by more than one slot


@aio
async def test_one_wheel_per_loop(mod: ModuleType) -> None:
    assert wheel_for_loop() is wheel_for_loop(asyncio.get_running_loop())
