"""Server CPU per received audio message at real time, 100 ms chunks, over loopback, one group per N.

The kinds (see ``bench/server_load.py``): ``scribewire`` (``scribewire serve --recognizer
null --no-digest``, native kernels: websockets' handshake, then our frame reader),
``scribewire-py`` (the same on the pure-Python twins), ``before`` (the service before the
fast path, from the source tree ``SCRIBEWIRE_BENCH_BEFORE`` names; skipped without it),
``websockets`` (the peer: a websockets server that only iterates over its messages) and
``floor`` (a ``BufferedProtocol`` that reads and discards: the least an asyncio server
spends on this traffic). Two protocols, each its own groups with the same kinds on the
same traffic: ``transcribe`` (AudioEvents after the SigV4-presigned upgrade) and
``assemblyai`` (binary audio frames on ``/v3/ws``; the peer and the floor get the same
frames). Every server runs in its own process, driven by another (its CPU not counted),
N = 1,000 and 5,000 streams; ``extra_info`` holds the server's CPU per
message in µs, streams per core (1 / (CPU per message x 10 messages/s)), its load and
whether it kept up. The benchmark's own timing is the wall time of the whole run.
Goal (DESIGN.md; issue 12 for AssemblyAI sessions): >= 8,000 streams per core with the
null recognizer.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_load import BEFORE_ENV, KINDS, PROTOCOLS, measure  # noqa: E402

pytest.importorskip("pytest_benchmark")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc for CPU time")
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("audio", ["silence", "speech"])
@pytest.mark.parametrize("streams", [1000, 5000])
@pytest.mark.parametrize("kind", KINDS)
def test_server_cpu_per_message(benchmark, kind: str, streams: int, audio: str, protocol: str) -> None:  # type: ignore[no-untyped-def]
    if kind == "before" and not os.environ.get(BEFORE_ENV):
        pytest.skip(f"set {BEFORE_ENV} to the src folder of the service to compare with")
    benchmark.group = f"server real-time streams N={streams} {audio}" + (
        "" if protocol == "transcribe" else f" {protocol}"
    )
    result = benchmark.pedantic(
        measure, args=(kind, streams), kwargs={"window": 5.0, "audio": audio, "protocol": protocol},
        rounds=1, iterations=1,
    )
    benchmark.extra_info.update(asdict(result))
    assert result.kind == kind and result.protocol == protocol
    assert result.messages > 0
    assert result.closed == 0, f"the server closed {result.closed} of the streams"
