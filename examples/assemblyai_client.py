"""Minimal AssemblyAI streaming with scribewire: stream one audio file, print each turn.

Usage: ``python examples/assemblyai_client.py FILE [--endpoint ws://127.0.0.1:PORT]
[--speed 4] [--speech-model universal-streaming-english]``

The key comes from ``ASSEMBLYAI_API_KEY`` (or ``--api-key``). ``--endpoint`` points at
another service speaking the v3 protocol, such as ``scribewire serve``'s ``/v3/ws``
(``--speed`` above 1 is for such a local service only: AssemblyAI closes a session sent
audio faster than real time).
"""

from __future__ import annotations

import argparse
import asyncio

from scribewire import AssemblyAIClient
from scribewire.assemblyai import StreamingParams, Turn
from scribewire.audio import open_audio


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--endpoint", help="base URL of another v3 service")
    parser.add_argument("--api-key", help="default: ASSEMBLYAI_API_KEY")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--speech-model", default="universal-streaming-english")
    args = parser.parse_args()
    with open_audio(args.file) as src:
        rate = min(max(src.sample_rate, 8000), 48000)
    client = AssemblyAIClient(api_key=args.api_key, endpoint=args.endpoint, speed=args.speed)
    params = StreamingParams(sample_rate=rate, speech_model=args.speech_model, format_turns=True)
    for event in await client.transcribe_file(args.file, params):
        if isinstance(event, Turn) and event.is_final(params.formats_turns):
            start = event.words[0].start / 1000 if event.words else 0.0
            print(f"{start:7.2f} turn {event.turn_order}: {event.transcript}")


if __name__ == "__main__":
    asyncio.run(main())
