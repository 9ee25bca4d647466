"""Render the example two-party call (``examples/call.wav``) with espeak-ng.

The dialogue below is spoken by two synthetic voices, placed turn after turn on a
shared timeline, and written as an 8 kHz, 2-channel G.711 μ-law WAV: the agent on
channel 0, the customer on channel 1 (the layout contact centres record and that
Amazon Transcribe's channel identification and Call Analytics expect). The turn
timings (seconds from the start of the file) go to ``call.json`` beside it.

Needs ``espeak-ng`` on PATH plus the package dependencies numpy, soxr and soundfile.
Usage: ``python examples/make_call.py [OUT.wav]`` (default ``examples/call.wav``).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
import soxr

__all__ = ["DIALOGUE", "main", "render"]

SAMPLE_RATE = 8000  # Hz, telephony
GAP = 0.35  # seconds of silence between turns
LEAD_IN = 0.5  # seconds of silence before the first turn
VOICES = {"agent": ("en-us+m3", 0), "customer": ("en-us+f2", 1)}  # espeak voice, channel

DIALOGUE: list[tuple[str, str]] = [
    ("agent", "Thank you for calling north star energy. This is Sam. How can I help you today?"),
    ("customer", "Hi Sam. I was charged twice on my last bill and I would like a refund."),
    ("agent", "I am sorry about that. Can I have your account number please?"),
    ("customer", "Yes. It is four seven two nine one five."),
    ("agent", "Thank you. I see two payments of sixty dollars. I have refunded the second one."),
    ("customer", "Great, thank you very much."),
]


def _speak(text: str, voice: str) -> np.ndarray:
    """One turn as float32 mono samples at ``SAMPLE_RATE`` Hz (espeak-ng renders 22,050 Hz)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "170", "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    out = soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    peak = float(np.max(np.abs(out))) or 1.0
    return out * (0.7 / peak)  # same level for both voices, headroom for μ-law


def render(out: Path) -> list[dict[str, object]]:
    """Render the dialogue to ``out`` (μ-law WAV) and return the turn timings."""
    turns: list[dict[str, object]] = []
    pieces: list[tuple[int, int, np.ndarray]] = []  # (channel, start frame, samples)
    cursor = int(LEAD_IN * SAMPLE_RATE)
    for speaker, text in DIALOGUE:
        voice, channel = VOICES[speaker]
        samples = _speak(text, voice)
        pieces.append((channel, cursor, samples))
        turns.append(
            {
                "speaker": speaker,
                "channel": channel,
                "start_s": round(cursor / SAMPLE_RATE, 3),
                "end_s": round((cursor + len(samples)) / SAMPLE_RATE, 3),
                "text": text,
            }
        )
        cursor += len(samples) + int(GAP * SAMPLE_RATE)
    audio = np.zeros((cursor, 2), dtype=np.float32)
    for channel, start, samples in pieces:
        audio[start : start + len(samples), channel] = samples
    soundfile.write(out, audio, SAMPLE_RATE, subtype="ULAW", format="WAV")
    return turns


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).with_name("call.wav")
    if shutil.which("espeak-ng") is None:
        print("make_call: espeak-ng is not installed", file=sys.stderr)
        return 1
    turns = render(out)
    meta = {
        "file": out.name,
        "sample_rate": SAMPLE_RATE,
        "channels": 2,
        "encoding": "G.711 mu-law",
        "channel_roles": {"0": "AGENT", "1": "CUSTOMER"},
        "duration_s": round(soundfile.info(str(out)).duration, 3),
        "turns": turns,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({meta['duration_s']} s, {len(turns)} turns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
