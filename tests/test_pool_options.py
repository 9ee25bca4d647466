"""The pool worker's options and its test-only fault plan (no Redis needed)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from scribewire.errors import ParameterError
from scribewire.pool import WorkerOptions
from scribewire.pool.faults import FaultPlan


def test_worker_options_defaults_and_name() -> None:
    o = WorkerOptions()
    assert o.name.startswith(socket.gethostname() + "-") and o.capacity == 500
    assert WorkerOptions(name="w7").name == "w7"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease": 0}, "lease must be > 0 seconds"),
        ({"renew": -1}, "renew must be > 0 seconds"),
        ({"reaper_period": float("nan")}, "reaper_period must be > 0 seconds"),
        ({"lease": 2.0, "renew": 2.0}, "must be shorter than lease"),
        ({"block": 0}, "block must be in (0, 10]"),
        ({"block": 11}, "block must be in (0, 10]"),
        ({"capacity": 0}, "capacity must be an int >= 1"),
        ({"capacity": True}, "capacity must be an int >= 1"),
        ({"batch": 2.5}, "batch must be an int >= 1"),
        ({"ttl": 0.5}, "ttl must be >= 1 second"),
    ],
)
def test_worker_options_out_of_range(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError) as info:
        WorkerOptions(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize("spec", ["after_final", "mid_replay:x", "somewhere:3", ":2"])
def test_fault_plan_refuses_other_specs(spec: str) -> None:
    with pytest.raises(ParameterError, match="SCRIBEWIRE_POOL_FAULT"):
        FaultPlan(spec)


@pytest.mark.parametrize("spec", [None, ""])
def test_no_fault_plan_never_fires(spec: str | None) -> None:
    plan = FaultPlan(spec)
    for _ in range(3):
        plan.hit("after_final")
        plan.hit("mid_replay")


def test_fault_plan_kills_at_the_nth_pass_of_its_point() -> None:
    code = (
        "from scribewire.pool.faults import FaultPlan\n"
        "plan = FaultPlan('after_final:2')\n"
        "plan.hit('mid_replay'); plan.hit('after_final'); print('alive', flush=True)\n"
        "plan.hit('after_final'); print('not reached', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == "alive\n"
