"""pocketsphinx on a batch of the shared clips: one process (threads) against the recognizer pool.

Each clip of the batch (``MANIFEST.json``'s mono clips, or ``--clips``) is one stream:
its own recognizer, fed 100 ms ``accept`` calls as fast as they return, then ``finish``,
from its own thread -- what the service's worker threads do for a blocking recognizer,
without the sockets. Every stream starts at once.

Modes:

- ``single``: the recognizers in this process (``recognizer_factory("pocketsphinx")``):
  today's in-process path, the threads sharing the GIL.
- ``pool``: :class:`scribewire.server.recpool.RecognizerPool` with ``processes`` workers
  (default: the cores), the same threads calling its proxies.

Figures (``Result``): audio seconds per wall second; CPU seconds per audio second (this
process plus the workers, ``/proc/<pid>/stat`` from ready to done: the workers' start-up
and model load not counted); ``cores_busy`` = CPU s / wall s. ``rtf`` of the single mode
is the recognizer's real-time factor (CPU s per audio s); the goal (DESIGN.md) for the
pool is audio s per wall s >= 0.8 x cores / rtf. On a machine shared with other work the
wall figures depend on what it leaves free: ``cores_busy`` says how much we got, and
audio s per CPU s is the figure that load does not move much.

Run: ``python bench/recpool_load.py [--processes N] [--clips a.wav b.wav ...]``;
the pytest-benchmark group is in ``bench/test_bench_recpool.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile

from scribewire.server.recognizers import Recognizer, recognizer_factory
from scribewire.server.recpool import RecognizerPool, default_processes

CHUNK_SECONDS = 0.1
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Clip:
    name: str
    rate: int
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


@dataclass
class Result:
    mode: str
    processes: int
    streams: int
    audio_s: float
    wall_s: float
    cpu_s: float
    audio_per_wall: float
    cpu_per_audio: float
    cores_busy: float
    words: int


def load_clips(shared: Path, names: list[str] | None = None) -> list[Clip]:
    """The batch: mono clips of the manifest (first channel of a stereo one), int16."""
    manifest = json.loads((shared / "audio" / "MANIFEST.json").read_text())
    clips = []
    for c in manifest["clips"]:
        if names is not None and c["file"] not in names:
            continue
        path = shared / "audio" / c["file"]
        if c["file"].endswith(".raw"):
            pcm = path.read_bytes()
            rate = int(c["sample_rate"])
        else:
            x, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
            pcm = np.ascontiguousarray(x[:, 0]).tobytes()
        clips.append(Clip(c["file"], int(rate), pcm))
    return clips


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _feed(rec: Recognizer, clip: Clip, out: list[int]) -> None:
    step = int(clip.rate * CHUNK_SECONDS) * 2
    words = 0
    for i in range(0, len(clip.pcm), step):
        rec.accept(clip.pcm[i : i + step], i / 2 / clip.rate)
    for seg in rec.finish():
        words += len(seg.words)
    rec.close()
    out.append(words)


def measure(mode: str, clips: list[Clip], processes: int | None = None) -> Result:
    """Run the batch once in ``mode`` (``"single"`` or ``"pool"``)."""
    pool = None
    if mode == "pool":
        pool = RecognizerPool("pocketsphinx", processes=processes)
        pool.wait_ready(120)
        factory = pool
        pids = [os.getpid(), *pool.pids]
    else:
        factory = recognizer_factory("pocketsphinx")
        factory(16_000, 0).close()  # the model loaded, as in the pool's warm-up
        pids = [os.getpid()]
    try:
        recs = [factory(c.rate, 0) for c in clips]
        words: list[int] = []
        threads = [
            threading.Thread(target=_feed, args=(r, c, words)) for r, c in zip(recs, clips, strict=True)
        ]
        cpu0 = sum(_cpu(p) for p in pids)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu = sum(_cpu(p) for p in pids) - cpu0
    finally:
        if pool is not None:
            pool.close()
    audio = sum(c.seconds for c in clips)
    return Result(
        mode=mode,
        processes=0 if pool is None else pool.processes,
        streams=len(clips),
        audio_s=round(audio, 2),
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 2),
        audio_per_wall=round(audio / wall, 3),
        cpu_per_audio=round(cpu / audio, 4),
        cores_busy=round(cpu / wall, 3),
        words=sum(words),
    )


def report(single: Result, pooled: Result, cores: int) -> str:
    rtf = single.cpu_per_audio
    goal = 0.8 * cores / rtf
    lines = [
        f"{r.mode:>6} processes={r.processes} streams={r.streams} audio={r.audio_s} s "
        f"wall={r.wall_s} s  audio s/wall s={r.audio_per_wall}  CPU s/audio s={r.cpu_per_audio}"
        f"  cores busy={r.cores_busy}  words={r.words}"
        for r in (single, pooled)
    ]
    lines.append(
        f"goal: audio s/wall s >= 0.8 x {cores} cores / RTF {rtf} = {goal:.2f}; pool "
        f"{pooled.audio_per_wall} ({pooled.audio_per_wall / goal:.2f} of it); pool / single "
        f"{pooled.audio_per_wall / single.audio_per_wall:.2f}x; CPU per audio s pool / single "
        f"{pooled.cpu_per_audio / single.cpu_per_audio:.2f}x; if every core were ours: "
        f"{pooled.audio_per_wall * cores / max(pooled.cores_busy, 1e-9):.2f} audio s/wall s"
    )
    return "\n".join(lines)


def main() -> None:
    here = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shared", default=os.environ.get("SCRIBEWIRE_SHARED", str(here.parent / "shared")))
    p.add_argument("--processes", type=int, default=None)
    p.add_argument("--clips", nargs="*", default=None)
    args = p.parse_args()
    clips = load_clips(Path(args.shared), args.clips)
    cores = args.processes or default_processes()
    single = measure("single", clips)
    pooled = measure("pool", clips, args.processes)
    print(json.dumps([asdict(single), asdict(pooled)]))
    print(report(single, pooled, cores))


if __name__ == "__main__":
    main()
