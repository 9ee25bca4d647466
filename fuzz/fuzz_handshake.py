"""Long run of the upgrade-request fuzz against the local service (issue 13, item 3).

The same strategies and rule as ``tests/test_server_handshake_hypothesis.py`` (see
``tests/_handshake_fuzz.py``): every request answered 403/400 (or websockets' own 414 / no
answer for a request line it cannot parse) or 101, never a 5xx, never an
``InternalFailureException`` after the upgrade, never an ERROR record or a traceback in the
service's log. Real loopback sockets, one connection per input, closed with RST (no
TIME_WAIT pile-up). Both answer modes of the service (``--auth-failure http`` and
``frame``) get half the inputs.

Run: ``python fuzz/fuzz_handshake.py [--examples 200000]``; prints the inputs sent, the
answers by status and the exception frames by type, and exits 1 on a finding (hypothesis
then prints the shrunk input).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _handshake_fuzz import FuzzService, targets  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def run_mode(mode: str, examples: int) -> FuzzService:
    with FuzzService(mode) as fs:
        started = time.monotonic()

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def one(data: st.DataObject) -> None:
            status, exc_type = fs.probe(data.draw(targets(fs)))
            fs.check(status, exc_type)
            if fs.probes % 10_000 == 0:
                rate = fs.probes / (time.monotonic() - started)
                status = dict(fs.statuses)
                print(f"  {mode}: {fs.probes} inputs ({rate:.0f}/s) {status}", flush=True)

        try:
            one()
        finally:
            print(
                f"{mode}: {fs.probes} inputs in {time.monotonic() - started:.0f} s; "
                f"statuses {dict(sorted(fs.statuses.items()))}; "
                f"exception frames {dict(sorted(fs.frames.items()))}; "
                f"findings {fs.total_findings}",
                flush=True,
            )
    return fs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=200_000, help="inputs in all (200,000)")
    args = ap.parse_args(argv)
    total = 0
    for mode in ("http", "frame"):
        total += run_mode(mode, args.examples // 2).probes
    print(f"total: {total} inputs, no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
