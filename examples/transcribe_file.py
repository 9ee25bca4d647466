"""Minimal use of the scribewire client: transcribe one audio file, print the finals.

With ``--endpoint``/AWS credentials it talks to that service; by default it starts the
local Transcribe-compatible service in-process (no account needed).

Usage: ``python examples/transcribe_file.py examples/call.wav [--speed 4] [--aws REGION]``
"""

from __future__ import annotations

import argparse
import asyncio

from scribewire import TranscribeClient
from scribewire.audio import open_audio
from scribewire.cli.output import segments
from scribewire.server import LocalTranscribeService
from scribewire.transcribe import StreamParams


async def transcribe(client: TranscribeClient, path: str) -> None:
    with open_audio(path) as src:
        stereo = src.channels == 2
        rate = min(max(src.sample_rate, 8000), 48000)
    params = StreamParams(
        language_code="en-US",
        sample_rate=rate,
        enable_channel_identification=stereo,
        number_of_channels=2 if stereo else None,
    )
    for event in await client.transcribe_file(path, params):
        for seg in segments(event):
            if not seg.is_partial:
                print(f"{seg.start:7.2f}-{seg.end:7.2f} {seg.label or '-':>5} {seg.text}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--speed", type=float, default=1.0, help="local service only")
    parser.add_argument("--aws", metavar="REGION", help="use Amazon Transcribe in REGION")
    args = parser.parse_args()
    if args.aws:
        await transcribe(TranscribeClient(region=args.aws), args.file)
        return
    async with LocalTranscribeService() as svc:
        client = TranscribeClient(
            endpoint=svc.url, region=svc.region, credentials=svc.credentials, speed=args.speed
        )
        await transcribe(client, args.file)


if __name__ == "__main__":
    asyncio.run(main())
