"""A real pipecat Pipeline + PipelineTask: a source of InputAudioRawFrames, the STT service
under test, and a collector of what reaches the end of the pipeline."""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # PipelineTask since 1.3
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner  # PipelineRunner before 1.3


class AudioSource(FrameProcessor):
    """After the StartFrame, pushes ``pcm`` (int16 mono) as 20 ms InputAudioRawFrames,
    ``speed`` times real time; ``done`` is set after the last. ``inject`` maps a byte
    offset of ``pcm`` to a frame pushed in-band just before the audio at that offset (a
    deterministic point in the audio, not a moment of the wall clock)."""

    def __init__(
        self,
        pcm: bytes,
        sample_rate: int,
        *,
        speed: float = 4.0,
        inject: dict[int, Frame] | None = None,
    ) -> None:
        super().__init__()
        self.pcm, self.rate, self.speed = pcm, sample_rate, speed
        self.inject = dict(inject or {})
        step = self.rate * 2 // 50
        if any(offset % step for offset in self.inject):
            raise ValueError(f"inject offsets must fall on 20 ms boundaries ({step} bytes)")
        self.done = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.create_task(self._emit())

    async def _emit(self) -> None:
        step = self.rate * 2 // 50  # 20 ms
        for i in range(0, len(self.pcm), step):
            if i in self.inject:
                await self.push_frame(self.inject.pop(i))
            chunk = self.pcm[i : i + step]
            await self.push_frame(
                InputAudioRawFrame(audio=chunk, sample_rate=self.rate, num_channels=1)
            )
            await asyncio.sleep(0.02 / self.speed)
        self.done.set()


class Collector(FrameProcessor):
    """Keeps the transcription frames that reach it (``frames``) and the names of every
    other frame type it saw going downstream (``kinds``, in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.errors: list[ErrorFrame] = []
        self.kinds: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (TranscriptionFrame, InterimTranscriptionFrame)):
            self.frames.append(frame)
        elif not isinstance(frame, InputAudioRawFrame):
            self.kinds.append(type(frame).__name__)
        await self.push_frame(frame, direction)

    @property
    def finals(self) -> list[TranscriptionFrame]:
        return [
            f
            for f in self.frames
            if isinstance(f, TranscriptionFrame) and not isinstance(f, InterimTranscriptionFrame)
        ]

    @property
    def interims(self) -> list[InterimTranscriptionFrame]:
        return [f for f in self.frames if isinstance(f, InterimTranscriptionFrame)]


def track_connections(stt: Any, seen: list[Any]) -> None:
    """Append ``"connected"`` / ``"disconnected"`` to ``seen`` at each of ``stt``'s
    ``on_connected`` / ``on_disconnected`` events."""

    @stt.event_handler("on_connected")
    async def _connected(_stt: Any) -> None:
        seen.append("connected")

    @stt.event_handler("on_disconnected")
    async def _disconnected(_stt: Any) -> None:
        seen.append("disconnected")


async def run_pipeline(
    stt: Any,
    pcm: bytes,
    sample_rate: int,
    *,
    tail: float = 1.0,
    speed: float = 4.0,
    inject: dict[int, Frame] | None = None,
) -> tuple[Collector, list[ErrorFrame]]:
    """Run source -> stt -> collector until the clip is sent, ``tail`` s more, then EndFrame."""
    source = AudioSource(pcm, sample_rate, speed=speed, inject=inject)
    collector = Collector()
    task = PipelineWorker(
        Pipeline([source, stt, collector]),
        params=PipelineParams(audio_in_sample_rate=sample_rate, enable_metrics=True),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    errors: list[ErrorFrame] = []

    @task.event_handler("on_pipeline_error")
    async def _on_error(_task: Any, frame: ErrorFrame) -> None:
        errors.append(frame)

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(task)
    run = asyncio.ensure_future(runner.run())
    await asyncio.wait_for(source.done.wait(), 60)
    await asyncio.sleep(tail)
    await task.queue_frame(EndFrame())
    await asyncio.wait_for(run, 60)
    return collector, errors
