"""Decode a realistic AssemblyAI ``Turn`` message to a typed event: ours vs the peers.

The message: the formatted end-of-turn ``Turn`` of a 12-word utterance as the service
sends it with ``format_turns``, ``speaker_labels`` and ``language_detection`` on
(assemblyai.md §4.2): words with ms times, confidences, ``word_is_final`` and speaker,
``utterance``, language fields; about 1.6 KB of JSON text. Group ``assemblyai-decode``:

- ``scribewire-session``: ``AssemblyAISession.receive_message`` (the text message to a
  frozen msgspec ``Turn``, state checks): what the client runs per message.
- ``scribewire-decode_message``: ``scribewire.assemblyai.events.decode_message`` alone.
- ``sdk``: the official SDK's read loop (assemblyai 1.8, ``streaming/v3``): ``json.loads``
  then ``_BaseStreamingClient._parse_message`` (pydantic ``TurnEvent.model_validate``).
- ``pipecat``: pipecat's ``AssemblyAISTTService`` (1.14, ``services/assemblyai/stt.py``):
  ``json.loads`` then ``TurnMessage.model_validate``; skipped when pipecat-ai is not
  installed.
- ``floor-msgspec``: a plain (untagged, no defaults, no validation beyond types)
  msgspec struct decode of the same JSON: what any msgspec-based decoder spends at least.

Run ``pytest bench/test_bench_assemblyai.py --benchmark-only``.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from scribewire.assemblyai import StreamingParams
from scribewire.assemblyai.events import Turn, decode_message
from scribewire.assemblyai.session import AssemblyAISession

WORDS = ["Hi,", "I'm", "calling", "about", "the", "invoice", "I", "received", "on", "Monday",
         "morning.", "Thanks."]


def make_message() -> str:
    words = [
        {"start": 320 + i * 410, "end": 690 + i * 410, "confidence": round(0.9312 + i / 1000, 4),
         "text": w, "word_is_final": True, "speaker": "A"}
        for i, w in enumerate(WORDS)
    ]
    text = " ".join(WORDS)
    return json.dumps({
        "turn_order": 7, "turn_is_formatted": True, "end_of_turn": True, "transcript": text,
        "end_of_turn_confidence": 0.8731, "words": words, "utterance": text,
        "language_code": "en", "language_confidence": 0.9981, "speaker_label": "A",
        "type": "Turn",
    }, separators=(",", ":"))


MESSAGE = make_message()
BEGIN = json.dumps({"type": "Begin", "id": "9f1c2a7e-4b3d-4e8a-b0c6-1d2e3f405162",
                    "expires_at": 1764769200})
GROUP = "assemblyai-decode"


def _check(event: Any) -> None:
    assert event.turn_order == 7 and len(event.words) == len(WORDS)
    assert event.words[-1].text == "Thanks."


def test_message_is_realistic() -> None:
    assert 1200 < len(MESSAGE) < 2000
    turn = decode_message(MESSAGE)
    assert isinstance(turn, Turn) and turn.end_of_turn and turn.speaker_label == "A"


@pytest.mark.benchmark(group=GROUP)
def test_scribewire_session(benchmark: Any) -> None:
    session = AssemblyAISession(StreamingParams(sample_rate=16_000, format_turns=True))
    session.receive_message(BEGIN)

    def run() -> Any:
        return session.receive_message(MESSAGE)[0]

    _check(benchmark(run))


@pytest.mark.benchmark(group=GROUP)
def test_scribewire_decode_message(benchmark: Any) -> None:
    _check(benchmark(decode_message, MESSAGE))


@pytest.mark.benchmark(group=GROUP)
def test_sdk_pydantic(benchmark: Any) -> None:
    base = pytest.importorskip("assemblyai.streaming.v3._base")
    parse = base._BaseStreamingClient._parse_message

    def run() -> Any:
        return parse(json.loads(MESSAGE))

    _check(benchmark(run))


@pytest.mark.benchmark(group=GROUP)
def test_pipecat(benchmark: Any) -> None:
    models = pytest.importorskip(
        "pipecat.services.assemblyai.models", reason="pipecat-ai is not installed"
    )
    model = models.TurnMessage

    def run() -> Any:
        return model.model_validate(json.loads(MESSAGE))

    _check(benchmark(run))


class _FloorWord(msgspec.Struct, gc=False):
    start: int
    end: int
    confidence: float
    text: str
    word_is_final: bool
    speaker: str


class _FloorTurn(msgspec.Struct, gc=False):
    type: str
    turn_order: int
    turn_is_formatted: bool
    end_of_turn: bool
    transcript: str
    end_of_turn_confidence: float
    words: list[_FloorWord]
    utterance: str
    language_code: str
    language_confidence: float
    speaker_label: str


@pytest.mark.benchmark(group=GROUP)
def test_floor_msgspec(benchmark: Any) -> None:
    decoder = msgspec.json.Decoder(_FloorTurn)
    _check(benchmark(decoder.decode, MESSAGE))
