"""A pipecat pipeline with scribewire's STT services: an audio file in as
InputAudioRawFrames, transcripts out.

By default it starts the local service in-process (no account needed) and uses its
Transcribe endpoint; ``--assemblyai`` uses its AssemblyAI endpoint instead. ``--aws
REGION`` uses Amazon Transcribe with your AWS credentials, ``--assemblyai --cloud``
AssemblyAI with ``ASSEMBLYAI_API_KEY``. Migrating a pipecat app is one line::

    # from pipecat.services.aws.stt import AWSTranscribeSTTService
    from scribewire.assemblyai import Turn
from scribewire.integrations.pipecat import AssemblyAISTTService
from scribewire.integrations.pipecat import TranscribeSTTService as AWSTranscribeSTTService

    # from pipecat.services.assemblyai.stt import AssemblyAISTTService
    from scribewire.integrations.pipecat import AssemblyAISTTService

Usage: ``python examples/pipecat_agent.py examples/call.wav [--speed 4] [--aws REGION |
--assemblyai [--cloud]]`` (needs ``pip install 'scribewire[pipecat,local]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
from typing import Any

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from scribewire.assemblyai import Turn
from scribewire.audio import open_audio
from scribewire.integrations.pipecat import AssemblyAISTTService
from scribewire.integrations.pipecat import TranscribeSTTService as AWSTranscribeSTTService
from scribewire.server import LocalTranscribeService

RATE = 16000


class FileSource(FrameProcessor):
    """Pushes the file (first channel, 16 kHz) as 20 ms InputAudioRawFrames, ``speed``
    times real time; ``done`` is set after the last."""

    def __init__(self, path: str, speed: float) -> None:
        super().__init__()
        with open_audio(path) as src:
            self.pcm = src.read(sample_rate=RATE, channels=1, channel=0)
        self.speed = speed
        self.done = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.create_task(self._play())

    async def _play(self) -> None:
        step = RATE * 2 // 50
        for i in range(0, len(self.pcm), step):
            audio = self.pcm[i : i + step]
            await self.push_frame(InputAudioRawFrame(audio=audio, sample_rate=RATE, num_channels=1))
            await asyncio.sleep(0.02 / self.speed)
        self.done.set()


class Printer(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterimTranscriptionFrame):
            print(f"  … {frame.text}", flush=True)
        elif isinstance(frame, TranscriptionFrame):
            r = frame.result
            if isinstance(r, Turn):  # AssemblyAI: word times in ms
                words = r.words or ()
                start = words[0].start / 1000 if words else 0.0
                end = words[-1].end / 1000 if words else 0.0
            else:
                start, end = r.start_time, r.end_time
            print(f"{start:7.2f}-{end:7.2f} {frame.text}", flush=True)
        await self.push_frame(frame, direction)


async def run(stt: Any, path: str, speed: float) -> None:
    source = FileSource(path, speed)
    worker = PipelineWorker(
        Pipeline([source, stt, Printer()]),
        params=PipelineParams(audio_in_sample_rate=RATE),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.ensure_future(runner.run())
    await source.done.wait()
    await worker.queue_frame(EndFrame())  # the STT service sends every final before it ends
    await running


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--speed", type=float, default=1.0, help="local service only")
    parser.add_argument("--aws", metavar="REGION", help="use Amazon Transcribe in REGION")
    parser.add_argument("--assemblyai", action="store_true", help="AssemblyAI, not Transcribe")
    parser.add_argument("--cloud", action="store_true", help="with --assemblyai: AssemblyAI's")
    parser.add_argument("--recognizer", default="pocketsphinx", help="the local service's")
    args = parser.parse_args()
    if args.aws:
        await run(AWSTranscribeSTTService(region=args.aws), args.file, 1.0)
        return
    if args.assemblyai and args.cloud:
        await run(AssemblyAISTTService(), args.file, 1.0)  # the key: ASSEMBLYAI_API_KEY
        return
    async with LocalTranscribeService(recognizer=args.recognizer) as svc:
        if args.assemblyai:
            # AssemblyAI closes a session sent audio far ahead of real time (3007): paced
            stt: Any = AssemblyAISTTService(
                api_key=svc.assemblyai_api_key.reveal(),
                endpoint=svc.url,
                client_options={"speed": max(1.0, 2 * args.speed)},
            )
            await run(stt, args.file, args.speed)
            return
        c = svc.credentials
        options: dict[str, Any] = {"speed": math.inf if args.speed > 1 else 1.0}
        stt = AWSTranscribeSTTService(
            aws_access_key_id=c.access_key_id,
            api_key=c.secret_access_key,
            region=svc.region,
            endpoint=svc.url,
            client_options=options,
        )
        await run(stt, args.file, args.speed)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
