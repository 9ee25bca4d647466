"""Hypothesis over the upgrade request's query string, on real loopback sockets.

The rule (issue 13, item 3): 403/400 or 101, never a 500, never an
``InternalFailureException`` after the upgrade, never a traceback in the service's log.
Query names, values, repetition, encodings (percent-escaped, raw, non-UTF-8 escapes,
latin-1 bytes) and lengths (past websockets' 8 KiB line limit) all vary; see
``_handshake_fuzz``. ``SCRIBEWIRE_FUZZ_EXAMPLES`` raises the example count (default 100
per answer mode); ``fuzz/fuzz_handshake.py`` runs it long.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

hypothesis = pytest.importorskip("hypothesis")
from _handshake_fuzz import FuzzService, targets  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.hypothesis

EXAMPLES = int(os.environ.get("SCRIBEWIRE_FUZZ_EXAMPLES", "100"))


@pytest.fixture(scope="module", params=["http", "frame"])
def fuzz_service(request: pytest.FixtureRequest) -> Iterator[FuzzService]:
    with FuzzService(request.param) as fs:
        yield fs


def test_upgrade_query_never_500(fuzz_service: FuzzService) -> None:
    fs = fuzz_service

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def one(data: st.DataObject) -> None:
        status, exc_type = fs.probe(data.draw(targets(fs)))
        fs.check(status, exc_type)

    one()
    assert fs.probes >= EXAMPLES
    # the families reach each answer: refusals, upgrades with an exception frame
    assert fs.statuses[403 if fs.auth_failure == "http" else 101] > 0
