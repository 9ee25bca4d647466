"""The client keeps nothing of a finished stream (issue 13, soak): its memory is the live
streams' replay rings, not a history.

The soak's client RSS rose in steps (427 -> 444 MB at 1,000 streams over 3 min; 905 ->
990 MiB at 2,000 over 10 min). tracemalloc put all of the growth in the replay rings of
the *live* streams (``streaming/replay.py`` ``record``): the ``null`` recognizer closes
a segment of continuous "speech" only at the end of the stream, so nothing is acked and
each ring holds its stream's audio until the stream ends; RSS follows the high-water mark
of that live total (glibc keeps freed heap). What must hold, and is checked here on real
loopback sockets: after streams end, no ledger, stream or stored audio of theirs stays
alive, round after round, so the memory of a long-running client is bounded by its
live streams. Bounded in count (3 rounds x 12 streams) and time (audio paced at 50x).
"""

from __future__ import annotations

import asyncio
import gc

from test_client_faults import aio

from scribewire import TranscribeClient
from scribewire.server import LocalTranscribeService
from scribewire.streaming.replay import AudioLedger
from scribewire.transcribe import StreamParams
from scribewire.transport.stream import Stream

RATE = 16_000
SECOND = b"\x10\x27\xf0\xd8" * (RATE // 2)  # 1 s of a loud square wave: "speech" to null
PARAMS = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=RATE)


def _alive() -> tuple[int, int, int]:
    """(ledgers, streams, stored audio bytes) reachable in this process."""
    gc.collect()
    objs = gc.get_objects()
    ledgers = [o for o in objs if type(o) is AudioLedger]
    streams = sum(1 for o in objs if isinstance(o, Stream))
    return len(ledgers), streams, sum(led.memory_nbytes for led in ledgers)


@aio
async def test_finished_streams_leave_nothing_behind() -> None:
    async with LocalTranscribeService(recognizer="null") as svc:
        client = TranscribeClient(
            endpoint=svc.url, region=svc.region, credentials=svc.credentials, speed=50.0
        )

        async def one(seconds: int) -> int:
            events = 0
            async with client.stream(PARAMS) as stream:

                async def read() -> None:
                    nonlocal events
                    async for _ in stream:
                        events += 1

                reader = asyncio.ensure_future(read())
                for _ in range(seconds):
                    await stream.send(SECOND)
                live = stream.ledger.memory_nbytes
                await stream.end()
                await reader
            assert live >= seconds * len(SECOND) // 2  # the ring did hold the audio
            return events

        before = _alive()
        for round_ in range(3):
            counts = await asyncio.gather(*(one(2 + i % 3) for i in range(12)))
            assert all(counts), counts  # every stream had its results
            await asyncio.sleep(0)  # let the closed connections' callbacks run
            assert _alive() == before, f"round {round_}: {_alive()} alive, {before} before"
        await svc.wait_finished(36, timeout=20)
