"""Client CPU per AudioEvent at real time, 100 ms chunks, over loopback, four kinds per group.

The kinds (see ``bench/client_load.py``): ``scribewire`` (TranscribeClient, native twins),
``scribewire-py`` (the same on the pure-Python twins), ``floor`` (not a client: one timer
calling the raw socket's ``send`` with a pre-built frame of the same size, the least any
asyncio program can spend on this traffic) and ``baseline`` (pipecat-style); for AssemblyAI (group ``assemblyai client ...``):
``assemblyai`` (AssemblyAIClient), ``assemblyai-floor`` (the floor with a binary frame of
the same 3,200 audio bytes) and ``assemblyai-baseline`` (the official SDK async client's
structure: a queue, a write task sending each chunk with ``websockets``, a read task).

Each case runs ``bench/client_load.py`` in a fresh interpreter against a sink server in
another process (its CPU is not counted), N = 1,000 and 5,000 streams (one group per N),
and records in ``extra_info``: client CPU (user + system) per message in µs, streams per
core (1 / (CPU per message x 10 messages/s)), the fraction of real-time rate achieved, RSS.
The benchmark's own timing is the wall time of the whole run (connect + warm-up +
window); the figures that matter are in ``extra_info`` (``--benchmark-columns`` or
``--benchmark-json``). Goal (DESIGN.md): <= 10 µs CPU per message, >= 10,000 streams/core.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client_load import ASSEMBLYAI_KINDS, KINDS, measure_in_subprocess  # noqa: E402

pytest.importorskip("pytest_benchmark")


@pytest.mark.parametrize("streams", [1000, 5000])
@pytest.mark.parametrize("kind", KINDS)
def test_client_cpu_per_message(benchmark, kind: str, streams: int) -> None:  # type: ignore[no-untyped-def]
    if kind == "baseline":
        pytest.importorskip("pipecat.services.aws.utils")
    provider = "assemblyai" if kind in ASSEMBLYAI_KINDS else "transcribe"
    benchmark.group = f"{provider} client real-time streams N={streams}"
    result = benchmark.pedantic(
        measure_in_subprocess, args=(kind, streams), kwargs={"window": 5.0},
        rounds=1, iterations=1,
    )
    benchmark.extra_info.update(asdict(result))
    assert result.kind == kind
    assert result.messages > 0
