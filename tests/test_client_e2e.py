"""End to end over loopback: TranscribeClient against the local service (real sockets).

Every clip of the shared corpus streams concurrently; the service's digest of the audio
it received must equal the digest of the PCM the client was given, and every clip must
get final results. The μ-law call runs with channel identification and on the Call
Analytics path with a ConfigurationEvent; one short clip runs through pocketsphinx.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from scribewire import TranscribeClient
from scribewire.audio import open_audio
from scribewire.cli.output import segments
from scribewire.server import LocalTranscribeService, ReplayScript
from scribewire.transcribe import (
    CallAnalyticsParams,
    ChannelDefinition,
    ConfigurationEvent,
    StreamParams,
    TranscriptEvent,
    UtteranceEvent,
)
from scribewire.transcribe.errors import BadRequestException

ROOT = Path(__file__).resolve().parent.parent
CALL = ROOT / "examples" / "call.wav"
TURNS = json.loads((ROOT / "examples" / "call.json").read_text())["turns"]


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop, with a 120 s guard against hangs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 120))

    return wrapper


def client_for(svc: LocalTranscribeService, **kw: Any) -> TranscribeClient:
    return TranscribeClient(endpoint=svc.url, region=svc.region, credentials=svc.credentials, **kw)


def clips(shared: Path) -> list[Path]:
    manifest = json.loads((shared / "audio" / "MANIFEST.json").read_text())
    out = []
    for clip in manifest["clips"]:
        name = clip["file"]
        if name.endswith(".raw"):
            name = clip["pcm16k_wav"]["file"]
        out.append(shared / "audio" / name)
    return out


@aio
async def test_every_clip_concurrently_digests_match(shared_dir: Path) -> None:
    files = clips(shared_dir)
    assert len(files) >= 20
    async with LocalTranscribeService(recognizer="null", quota=64) as svc:
        client = client_for(svc, speed=200.0)
        limit = asyncio.Semaphore(8)
        sent: dict[str, str] = {}
        finals: dict[str, int] = {}

        async def one(path: Path) -> None:
            async with limit:
                params = StreamParams(language_code="en-US", sample_rate=16_000)
                with open_audio(path) as src:
                    pcm = src.read(sample_rate=16_000, channels=1)
                sid = hashlib.sha256(path.name.encode()).hexdigest()
                params = StreamParams(
                    language_code="en-US",
                    sample_rate=16_000,
                    session_id=f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:32]}",
                )
                events = await client.transcribe_file(path, params)
                sent[params.session_id or ""] = hashlib.sha256(pcm).hexdigest()
                finals[path.name] = sum(
                    1 for e in events for s in segments(e) if not s.is_partial and s.text
                )

        await asyncio.gather(*(one(p) for p in files))
        stats = await svc.wait_finished(len(files), timeout=30)
    assert len(stats) == len(files)
    by_session = {s.session_id: s for s in stats}
    for session_id, digest in sent.items():
        st = by_session[session_id]
        assert st.audio_sha256 == digest, st.summary()
        assert st.input_ended and st.close_code == 1000 and not st.exceptions
    assert all(n > 0 for n in finals.values()), finals


@aio
async def test_mulaw_call_with_channel_identification() -> None:
    scripts = {ch: ReplayScript.from_turns(TURNS, channel=ch) for ch in (0, 1)}
    async with LocalTranscribeService(recognizer="replay", replay=scripts) as svc:
        client = client_for(svc, speed=100.0)
        params = StreamParams(
            language_code="en-US",
            sample_rate=8000,
            enable_channel_identification=True,
            number_of_channels=2,
        )
        events = await client.transcribe_file(CALL, params)
        stats = await svc.wait_finished(1)
    with open_audio(CALL) as src:
        assert (src.channels, src.sample_rate, src.subtype) == (2, 8000, "ULAW")
        digest = hashlib.sha256(src.read()).hexdigest()
    assert stats[0].audio_sha256 == digest
    finals = [s for e in events for s in segments(e) if not s.is_partial]
    assert {s.label for s in finals} == {"ch_0", "ch_1"}
    for seg in finals:
        channel = int(seg.label[-1])
        turns = [t for t in TURNS if t["channel"] == channel]
        assert any(t["start_s"] - 0.05 <= seg.start and seg.end <= t["end_s"] + 0.05 for t in turns), seg
    texts = " ".join(s.text for s in finals if s.label == "ch_1").lower()
    assert "refund" in texts


@aio
async def test_call_analytics_with_configuration_event() -> None:
    scripts = {ch: ReplayScript.from_turns(TURNS, channel=ch) for ch in (0, 1)}
    async with LocalTranscribeService(recognizer="replay", replay=scripts) as svc:
        client = client_for(svc, speed=100.0)
        params = CallAnalyticsParams(language_code="en-US", sample_rate=8000)
        config = ConfigurationEvent(
            channel_definitions=(
                ChannelDefinition(channel_id=0, participant_role="AGENT"),
                ChannelDefinition(channel_id=1, participant_role="CUSTOMER"),
            )
        )
        events = await client.transcribe_file(CALL, params, configuration=config)
    utterances = [e for e in events if isinstance(e, UtteranceEvent)]
    assert utterances
    finals = [u for u in utterances if not u.is_partial]
    assert {u.participant_role for u in finals} == {"AGENT", "CUSTOMER"}
    agent = " ".join(u.transcript for u in finals if u.participant_role == "AGENT").lower()
    assert "north star" in agent


@aio
async def test_pocketsphinx_short_clip(shared_dir: Path) -> None:
    path = shared_dir / "audio" / "ps_goforward.16k.wav"
    async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
        client = client_for(svc, speed=50.0)
        events = await client.transcribe_file(
            path, StreamParams(language_code="en-US", sample_rate=16_000)
        )
    assert all(isinstance(e, TranscriptEvent) for e in events)
    finals = [s for e in events for s in segments(e) if not s.is_partial]
    assert finals and "forward" in " ".join(s.text for s in finals)
    partial_ids = {s.segment_id for e in events for s in segments(e) if s.is_partial}
    assert partial_ids <= {s.segment_id for s in finals}


@aio
async def test_send_api_with_arrays_and_resampling() -> None:
    np = pytest.importorskip("numpy")
    async with LocalTranscribeService(recognizer="null") as svc:
        client = client_for(svc, speed=100.0)
        params = StreamParams(language_code="en-US", sample_rate=16_000)
        t = np.arange(48_000) / 48_000
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        async with client.stream(params) as stream:
            await stream.send(tone, sample_rate=48_000)  # float32 at 48 kHz -> int16 16 kHz
            await stream.send(np.zeros(1600, dtype=np.int16))
            await stream.end()
            events = [e async for e in stream]
        assert events is not None
        st = (await svc.wait_finished(1))[0]
    # 1 s resampled to 16 kHz (soxr may hold back its tail: no flush on send) + 0.1 s
    assert 0.9 <= st.audio_seconds <= 1.1 + 1e-9
    assert stream.audio_seconds_sent == pytest.approx(st.audio_seconds)


@aio
async def test_keepalive_silence_survives_idle_timeout() -> None:
    async with LocalTranscribeService(recognizer="null", idle_timeout=1.0) as svc:
        client = client_for(svc, keepalive_after=0.3, speed=1.0)
        params = StreamParams(language_code="en-US", sample_rate=8000)
        async with client.stream(params) as stream:
            await stream.send(bytes(1600))
            await asyncio.sleep(2.0)  # the caller pauses longer than the idle timeout
            await stream.send(bytes(1600))
            await stream.end()
        st = (await svc.wait_finished(1))[0]
    assert not st.exceptions
    assert st.audio_seconds >= 1.5  # silence filled the pause


@aio
async def test_idle_timeout_without_keepalive_is_a_service_error() -> None:
    async with LocalTranscribeService(recognizer="null", idle_timeout=0.5) as svc:
        client = client_for(svc, keepalive_after=None)
        params = StreamParams(language_code="en-US", sample_rate=8000)
        with pytest.raises(BadRequestException, match="15 seconds|no new audio"):
            async with client.stream(params) as stream:
                await stream.send(bytes(1600))
                async for _ in stream:
                    pass
