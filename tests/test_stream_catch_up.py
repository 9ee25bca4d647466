"""Stream.catch_up: late audio announced by the caller leaves at the catch-up pace, then
the stream returns to its normal pace; on real loopback against the local service."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from scribewire import TranscribeClient
from scribewire.errors import NotOpenError, ParameterError
from scribewire.server import LocalTranscribeService
from scribewire.streaming.supervisor import CATCH_UP
from scribewire.transcribe import StreamParams

PARAMS = StreamParams(language_code="en-US", sample_rate=16_000)


def test_late_audio_is_paced_faster_until_the_queue_has_caught_up() -> None:
    pcm = bytes(range(256)) * 2500  # 20 s at 16 kHz mono

    async def main() -> None:
        async with LocalTranscribeService(recognizer="null") as svc:
            client = TranscribeClient(
                endpoint=svc.url, region=svc.region, credentials=svc.credentials, speed=8.0
            )
            stream = client.stream(PARAMS)
            with pytest.raises(NotOpenError):
                stream.catch_up(1)
            async with stream:
                normal = stream._step
                with pytest.raises(ParameterError):
                    stream.catch_up(-1)
                stream.catch_up(64_000)  # the first 2 s are late
                assert stream._step == pytest.approx(normal / CATCH_UP)
                await stream.send(pcm[:64_000])  # queued at once, beyond the usual bound
                assert stream._step == pytest.approx(normal / CATCH_UP)
                sent = 64_000
                while stream._step != normal:  # then live audio, slower than the pace,
                    assert sent < len(pcm), "never caught up"  # until the queue drains
                    await stream.send(pcm[sent : sent + 3_200])
                    sent += 3_200
                    await asyncio.sleep(0.03)
                await stream.end()
            (stats,) = await svc.wait_finished(1)
            assert stats.audio_sha256 == hashlib.sha256(pcm[:sent]).hexdigest()

    asyncio.run(asyncio.wait_for(main(), 60))
