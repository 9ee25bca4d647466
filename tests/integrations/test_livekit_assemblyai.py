"""scribewire's livekit AssemblyAI plugin: a RecognizeStream driven with rtc.AudioFrames
of a shared clip against the local AssemblyAI service (/v3/ws)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "livekit.agents", reason="livekit-agents is not installed (pip install 'scribewire[livekit]')"
)

from _clips import load  # noqa: E402
from conftest import words_of  # noqa: E402
from livekit import rtc  # noqa: E402
from livekit.agents import APIConnectOptions, APIError, stt  # noqa: E402
from test_livekit_transcribe import drive, finals_text, through_a_cut  # noqa: E402

from scribewire.errors import ParameterError  # noqa: E402
from scribewire.integrations.livekit import AssemblyAISTT  # noqa: E402
from scribewire.server import LocalTranscribeService  # noqa: E402

T = stt.SpeechEventType
KEY = "local-aai-key-canary"
PACE = 0.005  # 20 ms frames at 4x real time: slower than the client's 8x pace


def plugin(svc: LocalTranscribeService, port: int | None = None, **kw: Any) -> AssemblyAISTT:
    kw.setdefault("api_key", KEY)
    return AssemblyAISTT(
        endpoint=f"ws://127.0.0.1:{port or svc.port}", client_options={"speed": 8.0}, **kw
    )


@pytest.mark.parametrize(
    ("model", "rate"), [("universal-streaming-english", 48000), ("u3-rt-pro", 16000)]
)
def test_recognize_stream_with_audio_frames(shared_dir: Path, model: str, rate: int) -> None:
    pcm, reference = load(shared_dir, rate=rate)  # 48 kHz frames are resampled to 16 kHz

    async def main() -> list[stt.SpeechEvent]:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            plug = plugin(svc, model=model)
            assert plug.capabilities.streaming and plug.capabilities.interim_results
            async with plug.stream() as s:
                return await drive(s, pcm, rate, pace=PACE)

    events = asyncio.run(main())
    kinds = [e.type for e in events]
    assert finals_text(events) == reference, [
        e.alternatives[0].text for e in events if e.alternatives
    ]
    assert kinds[0] == T.START_OF_SPEECH and kinds[-1] == T.END_OF_SPEECH
    assert (
        kinds.index(T.START_OF_SPEECH)
        < kinds.index(T.INTERIM_TRANSCRIPT)
        < kinds.index(T.FINAL_TRANSCRIPT)
    )
    usage = [e.recognition_usage.audio_duration for e in events if e.recognition_usage]
    assert usage and 0 < sum(usage) <= len(pcm) / 2 / rate + 0.2
    final = next(e for e in events if e.type == T.FINAL_TRANSCRIPT).alternatives[0]
    assert final.language == "en" and 0 <= final.start_time < final.end_time <= 3.0
    assert final.words and words_of(" ".join(str(w) for w in final.words)) == words_of(final.text)
    assert 0 < final.confidence <= 1 and final.speaker_id is None


def test_a_cut_is_scribewires_reconnect_not_livekits_retry(shared_dir: Path) -> None:
    pcm, reference = load(shared_dir)

    async def main() -> tuple[list[stt.SpeechEvent], int, list[Any]]:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            return await through_a_cut(svc, plugin, pcm, pace=PACE)

    events, connections, errors = asyncio.run(main())
    assert connections == 2 and not errors  # one reconnect, by scribewire, nothing surfaced
    assert finals_text(events) == reference  # the words after the cut included


def test_flush_ends_the_open_turn(shared_dir: Path) -> None:
    """The flush sentinel mid-utterance is ``ForceEndpoint``: the first final holds the
    words heard before it."""
    pcm, _ = load(shared_dir)
    split = int(len(pcm) * 0.75) // 640 * 640

    async def main() -> list[stt.SpeechEvent]:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            async with plugin(svc).stream() as s:
                events: list[stt.SpeechEvent] = []

                async def read() -> None:
                    async for ev in s:
                        events.append(ev)

                reader = asyncio.create_task(read())
                for i in range(0, len(pcm), 640):
                    if i == split:
                        s.flush()
                    chunk = pcm[i : i + 640]
                    s.push_frame(rtc.AudioFrame(chunk, 16000, 1, len(chunk) // 2))
                    await asyncio.sleep(PACE)
                s.end_input()
                await asyncio.wait_for(reader, 60)
                return events

    events = asyncio.run(main())
    first = next(e for e in events if e.type == T.FINAL_TRANSCRIPT).alternatives[0]
    assert first.text and first.end_time <= split / 32000, first


def test_refused_key_is_a_final_api_error_and_bad_parameters_fail_early() -> None:
    async def main() -> BaseException:
        async with LocalTranscribeService(recognizer="null", assemblyai_api_key=KEY) as svc:
            bad = plugin(svc, api_key="wrong-key-canary")
            with pytest.raises(APIError) as refused:
                async with bad.stream(conn_options=APIConnectOptions(max_retry=0)) as s:
                    await drive(s, bytes(3200), 16000)
            return refused.value

    refused = asyncio.run(main())
    assert not refused.retryable and "wrong-key-canary" not in str(refused)
    with pytest.raises(ParameterError, match="vad_threshold"):
        AssemblyAISTT(api_key=KEY, vad_threshold=2.0)
    assert KEY not in repr(AssemblyAISTT(api_key=KEY).client)
