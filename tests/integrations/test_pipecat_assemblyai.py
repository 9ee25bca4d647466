"""scribewire's AssemblyAISTTService in a real pipecat pipeline against the local
AssemblyAI service (/v3/ws), beside pipecat's own AssemblyAISTTService pointed at the same
service. Frames that steer the service (settings updates, VAD stops, assistant turns) are
injected at positions in the audio, never at moments of the wall clock."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "pipecat", reason="pipecat-ai is not installed (pip install 'scribewire[pipecat]')"
)

from _clips import load  # noqa: E402
from _pipecat_harness import run_pipeline, track_connections  # noqa: E402
from conftest import words_of  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    LLMContextAssistantTurnFrame,
    STTUpdateSettingsFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.services.assemblyai.models import AssemblyAIConnectionParams  # noqa: E402
from pipecat.services.assemblyai.stt import AssemblyAISTTService as PipecatAssemblyAI  # noqa: E402
from test_client_reconnect import Relay  # noqa: E402

from scribewire.assemblyai import Turn  # noqa: E402
from scribewire.integrations.pipecat import AssemblyAISTTService  # noqa: E402
from scribewire.server import LocalTranscribeService  # noqa: E402

KEY = "local-aai-key-canary"
FRAME = 640  # one 20 ms frame of 16 kHz int16: the harness injects on frame boundaries


def ours(svc: LocalTranscribeService, port: int | None = None, **kw: Any) -> AssemblyAISTTService:
    """Ours on the local service; the client paces at 8x real time (the service closes a
    session sent audio too far ahead of real time, 3007, assemblyai.md §5)."""
    kw.setdefault("api_key", KEY)
    return AssemblyAISTTService(
        endpoint=f"ws://127.0.0.1:{port or svc.port}", client_options={"speed": 8.0}, **kw
    )


def pipecats(svc: LocalTranscribeService, port: int | None = None) -> PipecatAssemblyAI:
    return PipecatAssemblyAI(
        api_key=KEY, api_endpoint_base_url=f"ws://127.0.0.1:{port or svc.port}/v3/ws"
    )


def text_of(frames: list[Any]) -> list[str]:
    return words_of(" ".join(f.text for f in frames))


def clip(shared_dir: Path) -> tuple[bytes, list[str]]:
    pcm, reference = load(shared_dir)
    return pcm[: len(pcm) // FRAME * FRAME], reference  # whole frames (the tail is silence)


def at(pcm: bytes, fraction: float) -> int:
    """The byte offset of the 20 ms frame at ``fraction`` of ``pcm``."""
    return int(len(pcm) * fraction) // FRAME * FRAME


def test_pipeline_side_by_side_with_pipecats_own(shared_dir: Path) -> None:
    pcm, reference = clip(shared_dir)

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            stt = ours(svc)  # pipecat's defaults: universal-3-6-pro, pipecat's turn mode
            seen: list[Any] = []
            track_connections(stt, seen)

            @stt.event_handler("on_end_of_turn")
            async def _e(_s: Any, text: str) -> None:
                seen.append(("end_of_turn", text))

            mine, my_errors = await run_pipeline(stt, pcm, 16000, tail=1.0)
            (stats,) = await svc.wait_finished(1)
            theirs, their_errors = await run_pipeline(pipecats(svc), pcm, 16000, tail=1.0)
            return mine, my_errors, seen, stats, theirs, their_errors

    mine, my_errors, seen, stats, theirs, their_errors = asyncio.run(main())
    assert not my_errors, [e.error for e in my_errors]
    assert text_of(mine.finals) == reference, [f.text for f in mine.finals]
    assert mine.interims, "partial turns become InterimTranscriptionFrames"
    for f in mine.finals:
        assert isinstance(f.result, Turn) and f.result.end_of_turn and f.result.turn_is_formatted
        assert f.language == "en" and f.timestamp and f.user_id == ""
    assert seen[0] == "connected" and seen[-1] == "disconnected"
    assert [s[1] for s in seen[1:-1]] == [f.text for f in mine.finals]
    # the session was pipecat's: its model and turn-mode settings, ended with Terminate
    assert stats.close_code == 1000 and stats.audio_nbytes >= len(pcm)
    assert "EndFrame" not in mine.kinds[:-1], "Termination pushes no EndFrame of ours"
    # the baseline: pipecat's own service on the same local service
    print("scribewire:", text_of(mine.finals))
    print("pipecat AssemblyAISTTService:", text_of(theirs.finals), "errors:", their_errors)
    assert not their_errors, their_errors
    assert set(text_of(theirs.frames)) <= set(reference) | set(text_of(mine.frames))


def test_link_cut_mid_utterance_keeps_the_words_after_the_cut(shared_dir: Path) -> None:
    pcm, reference = clip(shared_dir)

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            # cut once ~60 % of the clip has gone upstream (inside "ten meters")
            cut = Relay(svc.port, cut_after=int(len(pcm) * 0.6))
            async with cut as relay:
                mine, my_errors = await run_pipeline(ours(svc, relay), pcm, 16000, tail=1.5)
                connections = cut.connections
            async with Relay(svc.port, cut_after=int(len(pcm) * 0.6)) as relay:
                theirs, their_errors = await run_pipeline(
                    pipecats(svc, relay), pcm, 16000, tail=1.5
                )
            return mine, my_errors, connections, theirs, their_errors

    mine, my_errors, connections, theirs, their_errors = asyncio.run(main())
    assert connections == 2 and not my_errors, my_errors  # one reconnect, nothing surfaced
    # ours: the whole utterance, the words after the cut included (replayed, not lost)
    assert text_of(mine.finals) == reference, [f.text for f in mine.finals]
    # the contrast, shown and not asserted: what pipecat's own service ended with
    print("scribewire:", text_of(mine.finals))
    print(
        "pipecat AssemblyAISTTService:",
        text_of(theirs.finals),
        "errors:",
        [e.error for e in their_errors],
    )


@pytest.mark.parametrize("how", ["settings", "assistant_turn"])
def test_agent_context_goes_to_the_live_session(shared_dir: Path, how: str) -> None:
    """``agent_context`` (a settings update, or the assistant's completed reply) is an
    ``UpdateConfiguration`` on the open session: no reconnect, every byte on one
    connection, and the session (and any later connection) carries it."""
    pcm, reference = clip(shared_dir)
    reply = "Where should I go? " * 100  # 1,900 characters: the last 1,500 are sent
    frame: Any = (
        STTUpdateSettingsFrame(delta=AssemblyAISTTService.Settings(agent_context=reply))
        if how == "settings"
        else LLMContextAssistantTurnFrame(text=reply, timestamp="")
    )

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            stt = ours(svc)
            streams: list[Any] = []

            @stt.event_handler("on_connected")
            async def _c(s: Any) -> None:
                streams.append(s.stream)

            collected, errors = await run_pipeline(
                stt, pcm, 16000, tail=1.0, inject={at(pcm, 0.2): frame}
            )
            return collected, errors, streams, await svc.wait_finished(1), stt

    collected, errors, streams, stats, stt = asyncio.run(main())
    assert not errors, [e.error for e in errors]
    assert len(stats) == 1 and stats[0].close_code == 1000  # accepted; no new connection
    assert text_of(collected.finals) == reference
    (stream,) = streams or [stt.stream]
    # sent, and kept for any later connection of the stream: the last 1,500 characters
    assert stream.session.params.agent_context == reply[-1500:]
    assert stt._params().agent_context == reply[-1500:]


def test_a_connection_setting_moves_to_a_new_stream_without_losing_audio(
    shared_dir: Path,
) -> None:
    """``speaker_labels`` is bound to the connection: the update, in-band between two
    utterances (the clip twice), ends the first stream with the first utterance and
    opens a second with the new setting; both utterances are transcribed."""
    pcm, reference = clip(shared_dir)
    update = STTUpdateSettingsFrame(delta=AssemblyAISTTService.Settings(speaker_labels=True))

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            collected, errors = await run_pipeline(
                ours(svc), pcm + pcm, 16000, speed=2.0, tail=1.0, inject={len(pcm): update}
            )
            return collected, errors, [s.audio_nbytes for s in await svc.wait_finished(2)]

    collected, errors, received = asyncio.run(main())
    assert not errors, [e.error for e in errors]
    # every byte once (each stream's last message padded to 50 ms, assemblyai.md §3.1)
    assert len(received) == 2 and 2 * len(pcm) <= sum(received) <= 2 * len(pcm) + 2 * 1600
    assert text_of(collected.finals) == reference + reference, [f.text for f in collected.finals]
    # the second stream labels speakers (the local service: one honest "UNKNOWN")
    assert collected.finals[0].user_id == "" and collected.finals[-1].user_id == "UNKNOWN"


def test_vad_stop_sends_force_endpoint(shared_dir: Path) -> None:
    """In pipecat's turn mode a VAD stop mid-utterance ends the open turn at once: its
    final (the words heard so far) is marked ``finalized``."""
    pcm, reference = clip(shared_dir)
    stop = VADUserStoppedSpeakingFrame(stop_secs=0.2)

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            return await run_pipeline(ours(svc), pcm, 16000, tail=1.0, inject={at(pcm, 0.75): stop})

    collected, errors = asyncio.run(main())
    assert not errors, [e.error for e in errors]
    # the first final is the forced one: the words heard before the stop (times in ms)
    first = collected.finals[0]
    assert first.finalized and first.text and first.result.words, first
    assert first.result.words[-1].end <= at(pcm, 0.75) / 32, first.result.words


def test_assemblyai_turn_detection_proposes_the_turns(shared_dir: Path) -> None:
    """``vad_force_turn_endpoint=False``: the service's SpeechStarted and end of turn are
    proposed to the user aggregator, and each final is already ``finalized``."""
    pcm, reference = clip(shared_dir)

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            stt = ours(svc, vad_force_turn_endpoint=False)
            assert stt.service_metadata_frame().user_turn_strategies is not None
            return await run_pipeline(stt, pcm, 16000, tail=1.0)

    collected, errors = asyncio.run(main())
    assert not errors, [e.error for e in errors]
    assert text_of(collected.finals) == reference
    assert all(f.finalized for f in collected.finals)
    kinds = collected.kinds
    assert (
        "ProposedUserStartedSpeakingFrame" in kinds and "ProposedUserStoppedSpeakingFrame" in kinds
    )
    assert kinds.index("ProposedUserStartedSpeakingFrame") < kinds.index(
        "ProposedUserStoppedSpeakingFrame"
    )


def test_constructor_matches_pipecats_own() -> None:
    theirs = set(inspect.signature(PipecatAssemblyAI.__init__).parameters)
    mine = set(inspect.signature(AssemblyAISTTService.__init__).parameters)
    assert theirs <= mine
    assert AssemblyAISTTService.Settings is PipecatAssemblyAI.Settings

    def params(**kw: Any) -> Any:
        stt = AssemblyAISTTService(api_key=KEY, sample_rate=16000, **kw)
        stt._sample_rate = 16000  # what setup() takes from the pipeline
        return stt, stt._params()

    # pipecat's defaults and its turn mode: U3 Pro, max_turn_silence = min_turn_silence
    stt, p = params()
    assert (p.speech_model, p.min_turn_silence, p.max_turn_silence) == (
        "universal-3-6-pro",
        100,
        100,
    )
    assert p.continuous_partials is True and p.format_turns is True
    assert KEY not in repr(stt.client) and KEY not in repr(p)
    # a universal model: pipecat's turn settings for it, and no U3 Pro-only parameter
    settings = AssemblyAISTTService.Settings(
        model="universal-streaming-english", agent_context="x", keyterms_prompt=["scribewire"]
    )
    _, p = params(settings=settings)
    assert (p.end_of_turn_confidence_threshold, p.min_turn_silence) == (1.0, 160)
    assert p.agent_context is None and p.continuous_partials is None
    assert p.keyterms_prompt == ("scribewire",)
    # the deprecated connection_params, as pipecat maps them
    with pytest.warns(DeprecationWarning):
        legacy = AssemblyAIConnectionParams(
            sample_rate=8000, encoding="pcm_mulaw", speech_model="universal-streaming-english"
        )
        stt, p = params(connection_params=legacy)
    assert (p.encoding, p.speech_model) == ("pcm_mulaw", "universal-streaming-english")
    # what pipecat's own service refuses, ours refuses
    with pytest.raises(ValueError, match="U3 Pro"):
        AssemblyAISTTService(api_key=KEY, vad_force_turn_endpoint=False, settings=settings)
    # pipecat's EU URL picks the EU host
    eu = AssemblyAISTTService(api_endpoint_base_url="wss://streaming.eu.assemblyai.com/v3/ws")
    assert "streaming.eu.assemblyai.com" in repr(eu.client)


def test_a_refused_key_is_an_error_frame_and_the_pipeline_still_ends(shared_dir: Path) -> None:
    pcm, _ = clip(shared_dir)

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null", assemblyai_api_key=KEY) as svc:
            stt = ours(svc, api_key="wrong-key-canary")
            return await run_pipeline(stt, pcm[: len(pcm) // 4], 16000, tail=0.2)

    collected, errors = asyncio.run(main())
    assert errors and not collected.frames
    assert all("wrong-key-canary" not in e.error for e in errors)
    assert any("AssemblyAI" in e.error for e in errors), [e.error for e in errors]
