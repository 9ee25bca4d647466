"""pocketsphinx on a batch of shared clips: one process (threads, the GIL) against the recognizer pool.

One group, both modes in one run (see ``bench/recpool_load.py``): ``single`` (today's
in-process recognizers) and ``pool`` (``RecognizerPool``, one worker process per core).
``extra_info`` holds audio seconds per wall second, CPU seconds per audio second (this
process plus the workers), the cores busy, and for the pool the goal of DESIGN.md
(audio s per wall s >= 0.8 x cores / RTF, RTF = the single mode's CPU s per audio s,
measured in the same run). The benchmark's own timing is the wall time of the batch.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recpool_load import load_clips, measure  # noqa: E402

pytest.importorskip("pytest_benchmark")
pytest.importorskip("pocketsphinx")

#: The batch: eight mono clips, 16, 22.05 and 8 kHz, 52 s of speech in all.
BATCH = [
    "ps_librivox_sense_and_sensibility_0870.wav",
    "ps_librivox_sense_and_sensibility_0890.wav",
    "ps_librivox_sense_and_sensibility_0920.wav",
    "vosk_digits_10001_90210_01803.wav",
    "ljspeech_LJ050-0131.wav",
    "arctic_aew_a0001.wav",
    "asterisk_vm-options.wav",
    "asterisk_queue-youarenext.wav",
]
_single: dict[str, Any] = {}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc for CPU time")
@pytest.mark.parametrize("mode", ["single", "pool"])
def test_recognizer_batch(benchmark, shared_dir: Path, mode: str) -> None:  # type: ignore[no-untyped-def]
    clips = load_clips(shared_dir, BATCH)
    assert len(clips) == len(BATCH)
    benchmark.group = "pocketsphinx, batch of shared clips (audio s per wall s)"
    result = benchmark.pedantic(measure, args=(mode, clips), rounds=1, iterations=1)
    info = asdict(result)
    if mode == "single":
        _single.update(info)
    elif _single:
        rtf = _single["cpu_per_audio"]
        goal = 0.8 * result.processes / rtf
        info.update(
            rtf=rtf,
            goal_audio_per_wall=round(goal, 3),
            of_goal=round(result.audio_per_wall / goal, 3),
            vs_single=round(result.audio_per_wall / _single["audio_per_wall"], 3),
            cpu_vs_single=round(result.cpu_per_audio / rtf, 3),
        )
        assert result.words == _single["words"]  # the same transcripts' word count
    benchmark.extra_info.update(info)
    print(info)
    assert result.words > 0
