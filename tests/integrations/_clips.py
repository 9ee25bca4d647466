"""The shared clip the integration tests stream, and its reference words."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import words_of

from scribewire.audio import open_audio

CLIP = "ps_goforward.16k.wav"  # "go forward ten meters", 2.8 s


def load(shared: Path, clip: str = CLIP, rate: int = 16000) -> tuple[bytes, list[str]]:
    with open_audio(shared / "audio" / clip) as src:
        pcm = src.read(sample_rate=rate, channels=1)
    meta = json.loads((shared / "audio" / "MANIFEST.json").read_text())
    base = clip.replace(".16k.wav", ".raw")
    (entry,) = [c for c in meta["clips"] if c["file"] in (clip, base)]
    return pcm, words_of(entry["reference_transcript"])
