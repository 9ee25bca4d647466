"""scribewire's livekit STT plugin: a RecognizeStream driven with rtc.AudioFrames of a
shared clip against the local Transcribe service."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "livekit.agents", reason="livekit-agents is not installed (pip install 'scribewire[livekit]')"
)

from _clips import load  # noqa: E402
from conftest import words_of  # noqa: E402
from livekit import rtc  # noqa: E402
from livekit.agents import APIConnectionError, APIConnectOptions, APIStatusError, stt  # noqa: E402
from test_client_reconnect import Relay  # noqa: E402

from scribewire.integrations.livekit import TranscribeSTT  # noqa: E402
from scribewire.server import LocalTranscribeService  # noqa: E402

T = stt.SpeechEventType


def plugin(svc: LocalTranscribeService, port: int | None = None, **kw: Any) -> TranscribeSTT:
    c = svc.credentials
    return TranscribeSTT(
        api_key=c.access_key_id,
        api_secret=c.secret_access_key,
        region=svc.region,
        endpoint=f"ws://127.0.0.1:{port or svc.port}",
        client_options={"speed": math.inf},
        **kw,
    )


async def drive(
    s: stt.RecognizeStream, pcm: bytes, rate: int, *, pace: float = 0.0
) -> list[stt.SpeechEvent]:
    events: list[stt.SpeechEvent] = []

    async def read() -> None:
        async for ev in s:
            events.append(ev)

    reader = asyncio.create_task(read())
    step = rate // 50  # 20 ms frames
    for i in range(0, len(pcm) // 2, step):
        chunk = pcm[2 * i : 2 * (i + step)]
        s.push_frame(rtc.AudioFrame(chunk, rate, 1, len(chunk) // 2))
        if pace:
            await asyncio.sleep(pace)
    s.flush()  # the sentinel mid-stream is harmless
    s.end_input()
    await asyncio.wait_for(reader, 60)
    return events


async def through_a_cut(
    svc: LocalTranscribeService, make: Any, pcm: bytes, *, pace: float
) -> tuple[list[stt.SpeechEvent], int, list[Any]]:
    """Drive a stream of ``make(svc, port)`` through a relay that cuts the link once
    60 % of the clip has gone upstream: (events, connections, livekit "error"s)."""
    relay = Relay(svc.port, cut_after=int(len(pcm) * 0.6))
    async with relay as port:
        plug = make(svc, port)
        errors: list[Any] = []
        plug.on("error", errors.append)
        async with plug.stream() as s:
            events = await drive(s, pcm, 16000, pace=pace)
        return events, relay.connections, errors


def finals_text(events: list[stt.SpeechEvent]) -> list[str]:
    return words_of(
        " ".join(e.alternatives[0].text for e in events if e.type == T.FINAL_TRANSCRIPT)
    )


@pytest.mark.parametrize("rate", [16000, 48000])
def test_recognize_stream_with_audio_frames(shared_dir: Path, rate: int) -> None:
    pcm, reference = load(shared_dir, rate=rate)  # 48 kHz frames are resampled to 16 kHz

    async def main() -> list[stt.SpeechEvent]:
        async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
            plug = plugin(svc)
            assert plug.capabilities.streaming and plug.capabilities.interim_results
            async with plug.stream() as s:
                return await drive(s, pcm, rate)

    events = asyncio.run(main())
    kinds = [e.type for e in events]
    assert finals_text(events) == reference
    assert kinds[0] == T.START_OF_SPEECH and T.INTERIM_TRANSCRIPT in kinds
    assert kinds[-1] == T.END_OF_SPEECH
    assert (
        kinds.index(T.START_OF_SPEECH)
        < kinds.index(T.INTERIM_TRANSCRIPT)
        < kinds.index(T.FINAL_TRANSCRIPT)
    )
    usage = [
        e.recognition_usage.audio_duration
        for e in events
        if e.type == T.RECOGNITION_USAGE and e.recognition_usage
    ]
    assert usage and 0 < sum(usage) <= len(pcm) / 2 / rate + 0.2
    final = next(e for e in events if e.type == T.FINAL_TRANSCRIPT).alternatives[0]
    assert final.language == "en-US" and 0 <= final.start_time < final.end_time <= 3.0
    assert final.words and [str(w) for w in final.words] == final.text.split()
    assert 0 < final.confidence <= 1


def test_a_cut_is_scribewires_reconnect_not_livekits_retry(shared_dir: Path) -> None:
    pcm, reference = load(shared_dir)

    async def main() -> tuple[list[stt.SpeechEvent], int, list[Any]]:
        async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
            return await through_a_cut(svc, plugin, pcm, pace=0.002)

    events, connections, errors = asyncio.run(main())
    assert connections == 2 and not errors  # one reconnect, by scribewire, nothing surfaced
    assert finals_text(events) == reference


def test_refused_open_is_a_status_error_and_a_lost_service_is_final() -> None:
    async def main() -> tuple[BaseException, BaseException]:
        async with LocalTranscribeService(recognizer="null") as svc:
            bad = TranscribeSTT(
                api_key="AKIDWRONG",
                api_secret="nope",
                region=svc.region,
                endpoint=svc.url,
                client_options={"speed": math.inf},
            )
            with pytest.raises(APIStatusError) as refused:
                async with bad.stream(conn_options=APIConnectOptions(max_retry=0)) as s:
                    await drive(s, bytes(3200), 16000)
        # nobody listens any more: an open that cannot connect is a connection error
        with pytest.raises(APIConnectionError) as gone:
            async with plugin(svc).stream(conn_options=APIConnectOptions(max_retry=0)) as s:
                await drive(s, bytes(3200), 16000)
        return refused.value, gone.value

    refused, gone = asyncio.run(main())
    assert refused.status_code == 403 and not refused.retryable  # type: ignore[attr-defined]
    assert "nope" not in str(refused)
    assert isinstance(gone, APIConnectionError)
