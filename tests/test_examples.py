"""The shipped example call and the minimal client example."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import soundfile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_call_wav_matches_its_description() -> None:
    meta = json.loads((EXAMPLES / "call.json").read_text())
    info = soundfile.info(str(EXAMPLES / "call.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (8000, 2, "ULAW")
    assert 20 <= info.duration <= 30
    assert abs(info.duration - meta["duration_s"]) < 0.01
    turns = meta["turns"]
    assert {t["channel"] for t in turns} == {0, 1}
    assert all(a["end_s"] <= b["start_s"] for a, b in itertools.pairwise(turns))
    data, _ = soundfile.read(str(EXAMPLES / "call.wav"), dtype="float32")
    for t in turns:  # the speaking channel carries the energy during its turn
        seg = data[int(t["start_s"] * 8000) : int(t["end_s"] * 8000)]
        ch = t["channel"]
        assert (seg[:, ch] ** 2).mean() > 100 * ((seg[:, 1 - ch] ** 2).mean() + 1e-12)


def test_transcribe_file_example_runs(shared_dir: Path) -> None:
    clip = shared_dir / "audio" / "ps_goforward.16k.wav"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "transcribe_file.py"), str(clip), "--speed", "50"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "forward" in proc.stdout


def test_assemblyai_example_runs_against_a_v3_peer(shared_dir: Path) -> None:
    from test_assemblyai_client import KEY, ThreadedPeer

    clip = shared_dir / "audio" / "ps_goforward.16k.wav"
    with ThreadedPeer() as peer:
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / "assemblyai_client.py"), str(clip),
             "--endpoint", peer.url, "--api-key", KEY, "--speed", "20"],
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["   0.00 turn 0: Word0.", "   1.00 turn 1: Word1."]
