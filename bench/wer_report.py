"""Per-clip WER of the local service's finals (pocketsphinx, streamed) beside pocketsphinx
batch decoding of the same clip. Not a test.

Streamed: the clip at its nearest service rate (8 kHz clips at 8 kHz, the rest at 16 kHz)
sent through ``LocalTranscribeService`` with ``TranscribeSession`` in 100 ms events, unpaced;
the hypothesis is the finals' transcripts joined. Batch: one ``pocketsphinx.Decoder``
utterance over the whole clip at 16 kHz (``full_utt=True``). WER normalisation is the
manifest's (lower case, digits spelled out, apostrophes removed, other non [a-z0-9] to
spaces).

Run: ``python bench/wer_report.py [SHARED_DIR]`` (default ``../shared``).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

from scribewire.audio import open_audio
from scribewire.server import LocalTranscribeService
from scribewire.transcribe.params import StreamParams
from scribewire.transcribe.session import TranscribeSession

DIGITS = "zero one two three four five six seven eight nine".split()


def normalise(text: str) -> list[str]:
    text = text.lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"[^a-z0-9]", " ", text)
    return [DIGITS[int(w)] if w.isdigit() and len(w) == 1 else w for w in text.split()]


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edit distance, reference length)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def batch(pcm16k: bytes) -> str:
    import pocketsphinx

    d = pocketsphinx.Decoder(loglevel="FATAL")
    d.start_utt()
    d.process_raw(pcm16k, full_utt=True)
    d.end_utt()
    hyp = d.hyp()
    return hyp.hypstr if hyp is not None else ""


async def streamed(svc: LocalTranscribeService, pcm: bytes, rate: int) -> str:
    session = TranscribeSession(StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=rate))
    url = session.request_url(svc.credentials, svc.now_utc(), region=svc.region, endpoint=svc.url)
    finals: list[tuple[float, str]] = []
    async with connect(url, compression=None, max_size=None) as ws:

        async def reader() -> None:
            async for data in ws:
                for ev in session.receive_data(data):
                    for r in ev.transcript.results:
                        if not r.is_partial and r.alternatives:
                            finals.append((r.start_time, r.alternatives[0].transcript))

        task = asyncio.create_task(reader())
        for f in session.send_audio(pcm):
            await ws.send(f)
        for f in session.end_of_stream():
            await ws.send(f)
        await task
    return " ".join(t for _, t in sorted(finals))


async def main(shared: Path) -> None:
    manifest = json.loads((shared / "audio" / "MANIFEST.json").read_text())
    rows = []
    tot = {"s": [0, 0], "b": [0, 0]}
    async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
        for clip in manifest["clips"]:
            name = clip["pcm16k_wav"]["file"] if "pcm16k_wav" in clip else clip["file"]
            rate = 8000 if clip["sample_rate"] == 8000 else 16000
            with open_audio(shared / "audio" / name) as src:
                pcm = src.read(sample_rate=rate, channels=1)
                pcm16 = src.read(sample_rate=16000, channels=1)
            ref = normalise(clip["reference_transcript"])
            t0 = time.perf_counter()
            s_hyp = await streamed(svc, pcm, rate)
            b_hyp = await asyncio.to_thread(batch, pcm16)
            se, n = wer(ref, normalise(s_hyp))
            be, _ = wer(ref, normalise(b_hyp))
            tot["s"][0] += se
            tot["b"][0] += be
            tot["s"][1] += n
            tot["b"][1] += n
            rows.append((clip["file"], rate, n, se / n, be / n, time.perf_counter() - t0))
            print(f"{clip['file']:<45} {rate:>5} {n:>4} {100 * se / n:6.1f} {100 * be / n:6.1f}", flush=True)
    print()
    print("| clip | stream Hz | ref words | WER streamed (service finals) | WER batch |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for f, rate, n, sw, bw, _ in rows:
        print(f"| {f} | {rate} | {n} | {100 * sw:.1f}% | {100 * bw:.1f}% |")
    print(f"| **all** | | {tot['s'][1]} | {100 * tot['s'][0] / tot['s'][1]:.1f}% | "
          f"{100 * tot['b'][0] / tot['b'][1]:.1f}% |")


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared"
    asyncio.run(main(shared))
