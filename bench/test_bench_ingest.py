"""The front door's per-message cost: one Twilio Media Streams ``media`` message (20 ms of
μ-law, 160 bytes, base64 in JSON, as Twilio sends it) from text to bytes ready for Redis.

Group ``ingest-twilio-media``:

- ``scribewire``: ``TwilioSession.receive_text`` (typed msgspec decode with the base64
  payload decoded in the same pass, the track and timestamp checks) then
  ``Coalescer.add`` (an entry of 200 ms every 10 messages): what ``scribewire ingest``
  runs per message before its ``XADD``.
- ``peer-json-base64``: the loop most Twilio servers are written as (``json.loads``,
  dispatch on ``event``, ``base64.b64decode`` of ``media.payload``, append to a
  ``bytearray``), no validation.
- ``peer-pipecat``: pipecat's ``TwilioFrameSerializer.deserialize`` (1.14,
  ``serializers/twilio.py``: ``json.loads``, base64, μ-law to 16-bit PCM and resampling
  to the pipeline's rate in the same call), skipped when pipecat-ai is not installed.
- ``floor-base64``: ``binascii.a2b_base64`` of the payload alone, already cut out of the
  message: the decode every front door must pay.

Run ``pytest bench/test_bench_ingest.py --benchmark-only``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

import pytest
from conftest import peer

from scribewire.ingest.coalesce import Coalescer
from scribewire.ingest.twilio import TwilioSession

GROUP = "ingest-twilio-media"
PAYLOAD = bytes(range(96, 256))  # 160 bytes of μ-law
START = json.dumps(
    {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
        "start": {
            "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
            "accountSid": "AC123",
            "callSid": "CA123",
            "tracks": ["inbound"],
            "customParameters": {},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
)


def media(i: int) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(i + 2),
            "media": {
                "track": "inbound",
                "chunk": str(i + 1),
                "timestamp": str(i * 20),
                "payload": base64.b64encode(PAYLOAD).decode(),
            },
            "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
        }
    )


N = 1000
MESSAGES = [media(i) for i in range(N)]


def test_scribewire(benchmark: Any) -> None:
    benchmark.group = GROUP

    def run() -> int:
        s = TwilioSession()
        s.receive_text(START)
        c = Coalescer(8000, 1, 200, silence=0xFF)
        entries = 0
        for m in MESSAGES:
            for ev in s.receive_text(m):
                entries += len(c.add(ev.data))  # type: ignore[union-attr]
        return entries

    assert benchmark(run) == N // 10
    benchmark.extra_info["messages"] = N


def test_peer_json_base64(benchmark: Any) -> None:
    benchmark.group = GROUP

    def run() -> int:
        buf = bytearray()
        for m in MESSAGES:
            msg = json.loads(m)
            if msg["event"] == "media":
                buf += base64.b64decode(msg["media"]["payload"])
        return len(buf)

    assert benchmark(run) == N * len(PAYLOAD)
    benchmark.extra_info["messages"] = N


def test_peer_pipecat(benchmark: Any) -> None:
    serializer_cls = peer("pipecat.serializers.twilio", "TwilioFrameSerializer")
    start_frame = peer("pipecat.frames.frames", "StartFrame")
    benchmark.group = GROUP
    ser = serializer_cls(
        stream_sid="MZ18ad3ab5a668481ce02b83e7395059f0",
        call_sid="CA123",
        params=serializer_cls.InputParams(auto_hang_up=False),  # no REST credentials here
    )
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ser.setup(start_frame(audio_in_sample_rate=8000)))

    async def all_messages() -> int:
        n = 0
        for m in MESSAGES:
            frame = await ser.deserialize(m)
            n += len(frame.audio)
        return n

    try:
        assert benchmark(lambda: loop.run_until_complete(all_messages())) == N * 2 * len(PAYLOAD)
    finally:
        loop.close()
    benchmark.extra_info["messages"] = N


def test_floor_base64(benchmark: Any) -> None:
    benchmark.group = GROUP
    payloads = [json.loads(m)["media"]["payload"] for m in MESSAGES]

    def run() -> int:
        return sum(len(binascii.a2b_base64(p)) for p in payloads)

    assert benchmark(run) == N * len(PAYLOAD)
    benchmark.extra_info["messages"] = N


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
