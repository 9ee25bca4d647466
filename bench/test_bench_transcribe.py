"""Decode a realistic partial TranscriptEvent frame to typed events: ours vs the peers.

The frame: the three string headers and ~1.6 KB of PascalCase JSON with 10 items (a
partial result with stabilization, speaker labels and confidences), as the service sends
it. Group ``transcribe-decode``:

- ``scribewire-session``: ``TranscribeSession.receive_data`` (streaming decoder, CRCs,
  headers, msgspec typed structs): what the client actually runs per message.
- ``scribewire-decode_event``: ``eventstream.decode_message`` + ``decode_event``.
- ``pipecat``: ``pipecat.services.aws.utils.decode_event`` (struct + zlib CRC + json.loads).
- ``botocore``: ``EventStreamBuffer`` + ``json.loads`` of the payload.
- ``floor-msgspec``: the typed msgspec decode of the JSON payload alone (no framing,
  no CRC, no headers): what any msgspec-based decoder spends at least.

Goal (DESIGN.md): ours >= 4x pipecat. Run ``pytest bench/test_bench_transcribe.py
--benchmark-only``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scribewire import eventstream
from scribewire.transcribe import (
    Operation,
    StreamParams,
    TranscribeSession,
    TranscriptEvent,
    decode_event,
    encode_event,
)
from scribewire.transcribe.events import Alternative, Item, Result, Transcript

WORDS = ["hello", "and", "thank", "you", "for", "calling", "the", "support", "line", "today"]


def make_frame() -> bytes:
    items = tuple(
        Item(start_time=round(0.32 + i * 0.41, 3), end_time=round(0.69 + i * 0.41, 3), type="pronunciation",
             content=w, vocabulary_filter_match=False, speaker="0", confidence=0.9312 + i / 1000,
             stable=i < 7)
        for i, w in enumerate(WORDS)
    )
    event = TranscriptEvent(Transcript((Result(
        result_id="7b3c1f0e-55d2-4a8b-9c41-2f6e8d9a0b13", start_time=0.32, end_time=4.79, is_partial=True,
        alternatives=(Alternative(" ".join(WORDS), items),), channel_id="ch_0"),)))
    frame = encode_event(event)
    # the service also sends members equal to their defaults (VocabularyFilterMatch false)
    body = json.loads(eventstream.decode_message(frame).payload)
    return eventstream.encode_message(
        {":content-type": "application/json", ":event-type": "TranscriptEvent", ":message-type": "event"},
        json.dumps(body, separators=(",", ":")).encode().replace(b'"Speaker"', b'"VocabularyFilterMatch":false,"Speaker"'),
    )


FRAME = make_frame()
PAYLOAD_LEN = len(eventstream.decode_message(FRAME).payload)


def _extra(benchmark: Any) -> None:
    benchmark.extra_info["frame_bytes"] = len(FRAME)
    benchmark.extra_info["json_bytes"] = PAYLOAD_LEN
    benchmark.extra_info["codec"] = eventstream.IMPLEMENTATION


def test_frame_is_realistic() -> None:
    assert 1400 <= PAYLOAD_LEN <= 1800
    ev = decode_event(eventstream.decode_message(FRAME), operation=Operation.STANDARD)
    assert isinstance(ev, TranscriptEvent) and len(ev.transcript.results[0].alternatives[0].items) == 10


@pytest.mark.benchmark(group="transcribe-decode")
def test_scribewire_session(benchmark: Any) -> None:
    session = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    receive = session.receive_data
    events = benchmark(receive, FRAME)
    assert isinstance(events[0], TranscriptEvent)
    _extra(benchmark)


@pytest.mark.benchmark(group="transcribe-decode")
def test_scribewire_decode_event(benchmark: Any) -> None:
    decode_message = eventstream.decode_message

    def run() -> object:
        return decode_event(decode_message(FRAME), operation=Operation.STANDARD)

    assert isinstance(benchmark(run), TranscriptEvent)
    _extra(benchmark)


@pytest.mark.benchmark(group="transcribe-decode")
def test_pipecat_decode_event(benchmark: Any) -> None:
    utils = pytest.importorskip("pipecat.services.aws.utils")
    headers, body = benchmark(utils.decode_event, FRAME)
    assert headers[":event-type"] == "TranscriptEvent" and len(body["Transcript"]["Results"]) == 1
    _extra(benchmark)


@pytest.mark.benchmark(group="transcribe-decode")
def test_botocore_eventstream_buffer(benchmark: Any) -> None:
    botocore_es = pytest.importorskip("botocore.eventstream")

    def run() -> object:
        buf = botocore_es.EventStreamBuffer()
        buf.add_data(FRAME)
        return [json.loads(m.payload) for m in buf]

    out = benchmark(run)
    assert len(out[0]["Transcript"]["Results"][0]["Alternatives"][0]["Items"]) == 10
    _extra(benchmark)


@pytest.mark.benchmark(group="transcribe-decode")
def test_floor_msgspec(benchmark: Any) -> None:
    from scribewire.transcribe.events import EventDecoder

    decode = EventDecoder(Operation.STANDARD).payload_decoders["TranscriptEvent"]
    payload = eventstream.decode_message(FRAME).payload
    assert isinstance(benchmark(decode, payload), TranscriptEvent)
    _extra(benchmark)
