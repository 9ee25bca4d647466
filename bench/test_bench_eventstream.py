"""Event-stream codec benchmarks: ours (native and pure) next to the peers and the floor.

Groups:
  (a) encode an AudioEvent of 320 B / 3,200 B / 32,000 B (10 ms / 100 ms / 1 s of
      16 kHz int16 mono): ours, pipecat's ``build_event_message``, amazon_transcribe's
      ``EventStreamMessageSerializer``, and the floor (copy the audio + CRC32 it, with our
      CRC and with zlib's). Goal: <= 1.3x (copy + our CRC), >= 15x pipecat.
  (b) decode one partial TranscriptEvent (3 string headers + ~1.6 KB JSON, 10 items),
      framing only: ours, botocore's and amazon_transcribe's ``EventStreamBuffer``;
      pipecat's ``decode_event`` cannot stop before ``json.loads``, so it includes JSON.
  (c) frame a 10,000-message stream fed in random chunks (1..4,096 bytes): ours,
      botocore, amazon_transcribe. Goal: >= 10x botocore.
"""

from __future__ import annotations

import json
import random
import zlib

import pytest
from conftest import peer, twin

AUDIO_SIZES = [320, 3200, 32000]
ENCODERS = ["ours-c", "ours-py", "pipecat", "amazon_transcribe", "floor-copy+our-crc",
            "floor-copy+zlib-crc"]
AUDIO_HEADERS = {
    ":content-type": "application/octet-stream",
    ":event-type": "AudioEvent",
    ":message-type": "event",
}


@pytest.mark.parametrize("size", AUDIO_SIZES)
@pytest.mark.parametrize("impl", ENCODERS)
def test_encode_audio_event(benchmark, impl: str, size: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"encode AudioEvent {size} B"
    audio = random.Random(size).randbytes(size)
    expected = twin("eventstream", "py").encode_audio_event(audio)
    if impl.startswith("ours-"):
        fn = twin("eventstream", impl[5:]).encode_audio_event
        args: tuple[object, ...] = (audio,)
    elif impl == "pipecat":
        fn, args = peer("pipecat.services.aws.utils", "build_event_message"), (audio,)
    elif impl == "amazon_transcribe":
        serializer = peer("amazon_transcribe.eventstream", "EventStreamMessageSerializer")()
        fn, args = serializer.serialize, (AUDIO_HEADERS, audio)
    else:
        crc = twin("crc32", "c").crc32 if "our-crc" in impl else zlib.crc32
        view = memoryview(audio)

        def floor(view: memoryview = view, crc=crc) -> bytes:  # type: ignore[no-untyped-def]
            crc(view)
            return bytes(view)

        fn, args = floor, ()
        expected = audio
    assert fn(*args) == expected
    benchmark.extra_info["bytes"] = size
    benchmark(fn, *args)


def transcript_event_frame() -> bytes:
    """A realistic partial TranscriptEvent: 10 items, ~1.6 KB of JSON."""
    words = "so I was calling about the invoice from last month again".split()
    t = 12.34
    items = []
    for w in words[:10]:
        items.append({"Content": w, "EndTime": round(t + 0.3, 3), "StartTime": round(t, 3),
                      "Type": "pronunciation", "VocabularyFilterMatch": False,
                      "Confidence": 0.87, "Stable": True})
        t += 0.35
    body = {"Transcript": {"Results": [{
        "Alternatives": [{"Items": items, "Transcript": " ".join(words[:10])}],
        "ChannelId": "ch_0", "EndTime": round(t, 3), "IsPartial": True,
        "ResultId": "12345a67-8bc9-0de1-2f34-a5b678c90d12", "StartTime": 12.34,
    }]}}
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = {":content-type": "application/json", ":event-type": "TranscriptEvent",
               ":message-type": "event"}
    return twin("eventstream", "py").encode_message(headers, payload)


DECODERS = ["ours-c", "ours-py", "botocore", "amazon_transcribe", "pipecat(+json)"]


@pytest.mark.parametrize("impl", DECODERS)
def test_decode_transcript_event(benchmark, impl: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "decode TranscriptEvent (framing)"
    frame = transcript_event_frame()
    payload = twin("eventstream", "py").decode_message(frame).payload
    expected: object = payload
    if impl.startswith("ours-"):
        dec = twin("eventstream", impl[5:]).EventStreamDecoder()

        def run() -> bytes:
            return dec.feed(frame)[0].payload
    elif impl in ("botocore", "amazon_transcribe"):
        module = "botocore.eventstream" if impl == "botocore" else "amazon_transcribe.eventstream"
        buf = peer(module, "EventStreamBuffer")()

        def run() -> bytes:
            buf.add_data(frame)
            return next(buf).payload  # type: ignore[no-any-return]
    else:
        decode_event = peer("pipecat.services.aws.utils", "decode_event")

        def run() -> object:
            return decode_event(frame)[1]

        expected = json.loads(payload)

    assert len(frame) > 1600 and run() == expected
    benchmark.extra_info["bytes"] = len(frame)
    benchmark(run)


def stream_and_chunks(n: int = 10_000) -> tuple[int, list[bytes]]:
    es = twin("eventstream", "py")
    rnd = random.Random(7)
    frames = []
    for i in range(n):
        if i % 4 == 0:
            frames.append(es.encode_message(
                {":content-type": "application/json", ":event-type": "TranscriptEvent",
                 ":message-type": "event"}, rnd.randbytes(rnd.randint(200, 1800))))
        else:
            frames.append(es.encode_audio_event(rnd.randbytes(rnd.randint(0, 640))))
    stream = b"".join(frames)
    chunks, pos = [], 0
    while pos < len(stream):
        size = rnd.randint(1, 4096)
        chunks.append(stream[pos : pos + size])
        pos += size
    return n, chunks


STREAMERS = ["ours-c", "ours-py", "botocore", "amazon_transcribe"]


@pytest.mark.parametrize("impl", STREAMERS)
def test_frame_stream(benchmark, impl: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "frame 10,000-message stream, random chunks"
    n, chunks = stream_and_chunks()
    if impl.startswith("ours-"):
        mod = twin("eventstream", impl[5:])

        def run() -> int:
            dec = mod.EventStreamDecoder()
            count = 0
            for chunk in chunks:
                count += len(dec.feed(chunk))
            return count
    else:
        module = "botocore.eventstream" if impl == "botocore" else "amazon_transcribe.eventstream"
        cls = peer(module, "EventStreamBuffer")

        def run() -> int:
            buf = cls()
            count = 0
            for chunk in chunks:
                buf.add_data(chunk)
                for _ in buf:
                    count += 1
            return count

    assert run() == n
    benchmark.extra_info["messages"] = n
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
