"""examples/pipecat_agent.py and examples/livekit_agent.py run against the local service,
on its Transcribe and its AssemblyAI endpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("provider", [[], ["--assemblyai"]], ids=["transcribe", "assemblyai"])
@pytest.mark.parametrize(
    ("example", "needs"), [("pipecat_agent.py", "pipecat"), ("livekit_agent.py", "livekit.agents")]
)
def test_example_runs_against_the_local_service(
    shared_dir: Path, example: str, needs: str, provider: list[str]
) -> None:
    pytest.importorskip(needs, reason=f"{needs} is not installed")
    clip = shared_dir / "audio" / "ps_goforward.16k.wav"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / example), str(clip), "--speed", "8", *provider],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    finals = [line for line in proc.stdout.splitlines() if not line.lstrip().startswith(("…", "["))]
    assert any("go forward ten meters" in line.lower() for line in finals), proc.stdout
