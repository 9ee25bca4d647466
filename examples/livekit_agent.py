"""scribewire's STT plugins for livekit-agents: an audio file in as ``rtc.AudioFrame``\\s,
speech events out.

By default it starts the local service in-process (no account needed) and uses its
Transcribe endpoint; ``--assemblyai`` uses its AssemblyAI endpoint instead. ``--aws
REGION`` uses Amazon Transcribe with your AWS credentials, ``--assemblyai --cloud``
AssemblyAI with ``ASSEMBLYAI_API_KEY``. In an agent, the plugin goes where livekit's
went::

    # from livekit.plugins import aws;  stt=aws.STT(language="en-US")
    from scribewire.integrations.livekit import TranscribeSTT;  stt=TranscribeSTT(language="en-US")

    # from livekit.plugins import assemblyai;  stt=assemblyai.STT()
    from scribewire.integrations.livekit import AssemblyAISTT;  stt=AssemblyAISTT()

Usage: ``python examples/livekit_agent.py examples/call.wav [--speed 4] [--aws REGION |
--assemblyai [--cloud]]`` (needs ``pip install 'scribewire[livekit,local]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math

from livekit import rtc
from livekit.agents import stt

from scribewire.audio import open_audio
from scribewire.integrations.livekit import AssemblyAISTT, TranscribeSTT
from scribewire.server import LocalTranscribeService

RATE = 48000  # a WebRTC track's rate: the plugin resamples to the stream's 16 kHz


async def run(plugin: stt.STT, path: str, speed: float) -> None:
    with open_audio(path) as src:
        pcm = src.read(sample_rate=RATE, channels=1, channel=0)
    async with plugin.stream() as recognizer:

        async def play() -> None:
            step = RATE // 50  # 20 ms
            for i in range(0, len(pcm) // 2, step):
                chunk = pcm[2 * i : 2 * (i + step)]
                recognizer.push_frame(rtc.AudioFrame(chunk, RATE, 1, len(chunk) // 2))
                await asyncio.sleep(0.02 / speed)
            recognizer.end_input()

        player = asyncio.create_task(play())
        async for ev in recognizer:
            if ev.type == stt.SpeechEventType.INTERIM_TRANSCRIPT:
                print(f"  … {ev.alternatives[0].text}", flush=True)
            elif ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                d = ev.alternatives[0]
                print(f"{d.start_time:7.2f}-{d.end_time:7.2f} {d.text}", flush=True)
            elif ev.type == stt.SpeechEventType.RECOGNITION_USAGE and ev.recognition_usage:
                print(f"  [usage {ev.recognition_usage.audio_duration:.2f} s]", flush=True)
        await player


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
        await run(TranscribeSTT(region=args.aws), args.file, 1.0)
        return
    if args.assemblyai and args.cloud:
        await run(AssemblyAISTT(), args.file, 1.0)  # the key: ASSEMBLYAI_API_KEY
        return
    async with LocalTranscribeService(recognizer=args.recognizer) as svc:
        if args.assemblyai:
            # AssemblyAI closes a session sent audio far ahead of real time (3007): paced
            aai = AssemblyAISTT(
                api_key=svc.assemblyai_api_key.reveal(),
                endpoint=svc.url,
                client_options={"speed": max(1.0, 2 * args.speed)},
            )
            await run(aai, args.file, args.speed)
            return
        c = svc.credentials
        plugin = TranscribeSTT(
            api_key=c.access_key_id,
            api_secret=c.secret_access_key,
            region=svc.region,
            endpoint=svc.url,
            client_options={"speed": math.inf if args.speed > 1 else 1.0},
        )
        await run(plugin, args.file, args.speed)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
