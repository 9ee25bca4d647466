"""The shared corpus through the local service, with scribewire's own client session.

- every clip at 8 and 16 kHz (null recognizer, no pacing): the service's digest of the
  received PCM equals the digest of the PCM sent, and finals are present;
- the synthetic two-channel call at 8 kHz with channel identification: ``ch_0``/``ch_1``
  results inside the manifest's turns (replay for the whole call, pocketsphinx on its start).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from scribewire.audio import open_audio
from scribewire.server import LocalTranscribeService, ReplayScript
from scribewire.transcribe.events import TranscriptEvent
from scribewire.transcribe.params import StreamParams
from scribewire.transcribe.session import TranscribeSession


def manifest(shared_dir: Path) -> dict[str, Any]:
    return json.loads((shared_dir / "audio" / "MANIFEST.json").read_text())


def clip_path(shared_dir: Path, clip: dict[str, Any]) -> Path:
    name = clip["pcm16k_wav"]["file"] if "pcm16k_wav" in clip else clip["file"]
    return shared_dir / "audio" / name


async def stream(svc: LocalTranscribeService, params: StreamParams, pcm: bytes) -> list[Any]:
    """Send ``pcm`` unpaced with TranscribeSession; return the results received."""
    session = TranscribeSession(params, chunk_duration=0.1)
    url = session.request_url(svc.credentials, svc.now_utc(), region=svc.region, endpoint=svc.url)
    results: list[Any] = []
    async with connect(url, compression=None, max_size=None) as ws:

        async def reader() -> None:
            async for data in ws:
                for event in session.receive_data(data):
                    assert isinstance(event, TranscriptEvent)
                    results.extend(event.transcript.results)

        task = asyncio.create_task(reader())
        for frame in session.send_audio(pcm):
            await ws.send(frame)
        for frame in session.end_of_stream():
            await ws.send(frame)
        await asyncio.wait_for(task, 60)
        assert ws.close_code == 1000
    return results


@pytest.mark.parametrize("rate", [8000, 16000])
def test_every_clip_arrives_intact(shared_dir: Path, rate: int) -> None:
    clips = manifest(shared_dir)["clips"]
    audio = []
    for clip in clips:
        with open_audio(clip_path(shared_dir, clip)) as src:
            audio.append(src.read(sample_rate=rate, channels=1))

    async def main() -> list[Any]:
        async with LocalTranscribeService(recognizer="null") as svc:
            sem = asyncio.Semaphore(8)

            async def one(pcm: bytes) -> list[Any]:
                async with sem:
                    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=rate)
                    return await stream(svc, params, pcm)

            results = await asyncio.gather(*(one(p) for p in audio))
            stats = await svc.wait_finished(len(audio))
            by_digest = {s.audio_sha256: s for s in stats}
            for pcm, res in zip(audio, results, strict=True):
                s = by_digest[hashlib.sha256(pcm).hexdigest()]
                assert s.audio_nbytes == len(pcm) and s.sample_rate == rate
                assert s.exceptions == [] and s.input_ended
                assert any(not r.is_partial for r in res)
            return results

    results = asyncio.run(main())
    assert len(results) == len(clips)


def _call(shared_dir: Path, seconds: float | None = None) -> tuple[bytes, list[dict[str, Any]]]:
    call = manifest(shared_dir)["synthetic_calls"][0]
    with open_audio(shared_dir / "audio" / "call_synth_billing.8k.ulaw.wav") as src:
        assert src.channels == 2 and src.sample_rate == 8000
        pcm = src.read()  # mu-law decoded to int16, channels interleaved
    if seconds is not None:
        pcm = pcm[: int(seconds * 8000) * 4]
    return pcm, call["turns"]


def _check_inside_turns(results: list[Any], turns: list[dict[str, Any]], slack: float) -> set[str]:
    finals = [r for r in results if not r.is_partial]
    channels = set()
    for r in finals:
        ch = int(r.channel_id.removeprefix("ch_"))
        channels.add(r.channel_id)
        spans = [(t["start_s"], t["end_s"]) for t in turns if t["channel"] == ch]
        for item in r.alternatives[0].items:
            assert any(s - slack <= item.start_time and item.end_time <= e + slack for s, e in spans), (
                r.channel_id, item)
    return channels


def test_call_channel_identification_replay(shared_dir: Path) -> None:
    pcm, turns = _call(shared_dir)
    replay = {ch: ReplayScript.from_turns(turns, channel=ch) for ch in (0, 1)}
    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=8000,
                          enable_channel_identification=True, number_of_channels=2)

    async def main() -> list[Any]:
        async with LocalTranscribeService(recognizer="replay", replay=replay) as svc:
            return await stream(svc, params, pcm)

    results = asyncio.run(main())
    assert _check_inside_turns(results, turns, slack=0.0) == {"ch_0", "ch_1"}
    finals = [r for r in results if not r.is_partial]
    assert len(finals) == len(turns)
    text0 = " ".join(r.alternatives[0].transcript for r in finals if r.channel_id == "ch_0")
    assert text0.startswith("Thank you for calling Northwind Energy")


def test_call_channel_identification_pocketsphinx(shared_dir: Path) -> None:
    pcm, turns = _call(shared_dir, seconds=12.4)  # the first two turns: agent, then customer
    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=8000,
                          enable_channel_identification=True, number_of_channels=2)

    async def main() -> list[Any]:
        async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
            return await stream(svc, params, pcm)

    results = asyncio.run(main())
    assert _check_inside_turns(results, turns, slack=0.35) == {"ch_0", "ch_1"}
    heard = {w for r in results if not r.is_partial for w in r.alternatives[0].transcript.split()}
    said = {w.strip(".,?").lower() for t in turns[:2] for w in t["text"].split()}
    assert len(heard & said) >= 5, (heard, said)
