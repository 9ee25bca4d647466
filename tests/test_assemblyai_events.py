"""Typed server messages (assemblyai.md §4) and client control messages (§3.2)."""

from __future__ import annotations

import json
import os

import msgspec
import pytest

from scribewire.assemblyai import events as ev
from scribewire.assemblyai import messages as msg
from scribewire.assemblyai.errors import (
    InvalidClientMessage,
    InvalidMessageSchema,
    MalformedMessage,
)
from scribewire.wsframe import ClientFramer

# the wire shapes of §4 (examples from the reference, plus each optional field)
BEGIN = '{"type":"Begin","id":"de5d9927-73a6-4be8-b52d-b4c07be37e6b","expires_at":1759796682}'
BEGIN_CONF = ('{"type":"Begin","id":"x","expires_at":1759796682,'
              '"configuration":{"model":"u3-rt-pro","mode":"balanced","api_version":"2025-05-12"}}')
TURN_PARTIAL = ('{"type":"Turn","turn_order":0,"turn_is_formatted":false,"end_of_turn":false,"transcript":"hi",'
                '"end_of_turn_confidence":1.4e-5,"utterance":"","words":['
                '{"start":1920,"end":2000,"text":"hi","confidence":0.874618,"word_is_final":true},'
                '{"start":2800,"end":2880,"text":"my","confidence":0.812831,"word_is_final":false}]}')
TURN_EOT = ('{"type":"Turn","turn_order":0,"turn_is_formatted":false,"end_of_turn":true,"transcript":"hi my name",'
            '"end_of_turn_confidence":0.91,"utterance":"hi my name","words":['
            '{"start":1920,"end":2000,"text":"hi","confidence":0.87,"word_is_final":true},'
            '{"start":2800,"end":2880,"text":"my","confidence":0.81,"word_is_final":true},'
            '{"start":2900,"end":3100,"text":"name","confidence":0.9,"word_is_final":true}]}')
TURN_FORMATTED = TURN_EOT.replace('"turn_is_formatted":false', '"turn_is_formatted":true').replace(
    '"hi my name"', '"Hi, my name."')
TURN_MULTI = ('{"type":"Turn","turn_order":3,"turn_is_formatted":true,"end_of_turn":true,"transcript":"Hola.",'
              '"end_of_turn_confidence":1,"utterance":"Hola.","language_code":"es","language_confidence":0.97,'
              '"words":[{"start":10,"end":400,"text":"Hola.","confidence":0.99,"word_is_final":true}]}')
TURN_SPEAKER = ('{"type":"Turn","turn_order":1,"turn_is_formatted":true,"end_of_turn":true,"transcript":"Yes.",'
                '"end_of_turn_confidence":1,"speaker_label":"B","words":['
                '{"start":10,"end":400,"text":"Yes.","confidence":0.99,"word_is_final":true,"speaker":"B"}]}')
TURN_EMPTY = ('{"type":"Turn","turn_order":0,"turn_is_formatted":false,"end_of_turn":false,"transcript":"",'
              '"end_of_turn_confidence":0,"words":[]}')
SPEECH_STARTED = '{"type":"SpeechStarted","timestamp":1216,"confidence":0.987654}'
TERMINATION = '{"type":"Termination","audio_duration_seconds":13,"session_duration_seconds":13}'
ERROR = '{"type":"Error","error_code":3008,"error":"Session Expired: Maximum session duration exceeded"}'
WARNING = '{"type":"Warning","warning_code":17,"warning":"heads up"}'
HEARTBEAT = ('{"type":"Heartbeat","total_audio_received_ms":5000,"total_duration_ms":5100,'
             '"realtime_factor":1.3,"max_speech_probability":0.8}')
SILENCE = '{"type":"Silence","start_ms":4000,"end_ms":5000}'
LLM = '{"type":"LLMGatewayResponse","turn_order":2,"transcript":"Hi.","data":{"choices":[1,2]}}'
REVISION = ('{"type":"SpeakerRevision","revisions":[{"turn_order":0,"speaker_label":"A","words":['
            '{"start":1,"end":2,"text":"hi","confidence":0.5,"word_is_final":true,"speaker":"A"}]}]}')


def test_begin() -> None:
    b = ev.decode_message(BEGIN)
    assert b == ev.Begin(id="de5d9927-73a6-4be8-b52d-b4c07be37e6b", expires_at=1759796682)
    c = ev.decode_message(BEGIN_CONF)
    assert isinstance(c, ev.Begin) and c.configuration == ev.SessionConfiguration("u3-rt-pro", "balanced", "2025-05-12")


def test_begin_expires_at_must_be_an_integer() -> None:
    for bad in ('"2025-10-07T00:00:00Z"', "1759796682.5"):
        with pytest.raises(InvalidMessageSchema, match="expires_at"):
            ev.decode_message(BEGIN.replace("1759796682", bad))


def test_turn_partial_universal() -> None:
    t = ev.decode_message(TURN_PARTIAL)
    assert isinstance(t, ev.Turn)
    assert (t.turn_order, t.turn_is_formatted, t.end_of_turn, t.transcript) == (0, False, False, "hi")
    assert t.end_of_turn_confidence == pytest.approx(1.4e-5) and t.utterance == ""
    assert t.words[0] == ev.Word(1920, 2000, "hi", 0.874618, True)
    assert t.words[1].word_is_final is False and t.words[1].speaker is None
    assert t.language_code is None and t.speaker_label is None
    assert not t.is_final(False) and not t.is_final(True)


def test_turn_final_in_both_formatting_modes() -> None:
    eot = ev.decode_message(TURN_EOT)
    fmt = ev.decode_message(TURN_FORMATTED)
    assert isinstance(eot, ev.Turn) and isinstance(fmt, ev.Turn)
    assert eot.turn_order == fmt.turn_order == 0
    assert fmt.transcript == "Hi, my name." and fmt.turn_is_formatted
    # without format_turns the unformatted end of turn is final; with it, the formatted one (§4.7)
    assert eot.is_final(formats_turns=False) and not eot.is_final(formats_turns=True)
    assert fmt.is_final(formats_turns=True) and fmt.is_final(formats_turns=False)


def test_turn_multilingual_and_speaker_fields() -> None:
    m = ev.decode_message(TURN_MULTI)
    assert isinstance(m, ev.Turn) and (m.language_code, m.language_confidence) == ("es", 0.97)
    assert m.end_of_turn_confidence == 1.0
    s = ev.decode_message(TURN_SPEAKER)
    assert isinstance(s, ev.Turn) and s.speaker_label == "B" and s.words[0].speaker == "B"
    assert s.utterance is None  # absent (the SDK does not model it)


def test_turn_empty_words() -> None:
    t = ev.decode_message(TURN_EMPTY)
    assert isinstance(t, ev.Turn) and t.words == () and t.transcript == ""


@pytest.mark.parametrize("field", ["turn_order", "turn_is_formatted", "end_of_turn", "transcript",
                                   "end_of_turn_confidence", "words"])
def test_turn_required_fields(field: str) -> None:
    doc = json.loads(TURN_PARTIAL)
    del doc[field]
    with pytest.raises(InvalidMessageSchema) as info:
        ev.decode_message(json.dumps(doc))
    assert info.value.remote is True and field in str(info.value)


def test_other_messages() -> None:
    assert ev.decode_message(SPEECH_STARTED) == ev.SpeechStarted(1216, 0.987654)
    assert ev.decode_message('{"type":"SpeechStarted","timestamp":5}') == ev.SpeechStarted(5)
    t = ev.decode_message(TERMINATION)
    assert t == ev.Termination(13, 13) and isinstance(t.audio_duration_seconds, int)  # type: ignore[union-attr]
    assert ev.decode_message('{"type":"Termination","audio_duration_seconds":12.5}') == ev.Termination(12.5)
    assert ev.decode_message(ERROR) == ev.ErrorMessage("Session Expired: Maximum session duration exceeded", 3008)
    assert ev.decode_message(WARNING) == ev.WarningMessage(17, "heads up")
    assert ev.decode_message(HEARTBEAT) == ev.Heartbeat(5000, 5100, 1.3, 0.8)
    assert ev.decode_message(SILENCE) == ev.Silence(4000, 5000)
    llm = ev.decode_message(LLM)
    assert isinstance(llm, ev.LLMGatewayResponse) and llm.data == {"choices": [1, 2]}
    rev = ev.decode_message(REVISION)
    assert isinstance(rev, ev.SpeakerRevision) and rev.revisions[0].words[0].speaker == "A"


def test_error_without_type() -> None:
    # both SDKs read a bare {"error": ...} as an Error (§4.8)
    assert ev.decode_message('{"error":"boom"}') == ev.ErrorMessage("boom")
    with pytest.raises(InvalidMessageSchema):
        ev.decode_message('{"error":5}')


def test_unknown_type_kept() -> None:
    u = ev.decode_message('{"type":"Novelty","x":[1]}')
    assert u == ev.UnknownMessage("Novelty", {"type": "Novelty", "x": [1]})
    assert json.loads(ev.encode_message(u)) == {"type": "Novelty", "x": [1]}


def test_unknown_fields_tolerated() -> None:
    t = ev.decode_message(TURN_PARTIAL.replace('"type":"Turn",', '"type":"Turn","brand_new":{"a":1},'))
    assert isinstance(t, ev.Turn)


@pytest.mark.parametrize("bad", ["", "{", "not json", "\ufeff{}", '{"type":"Turn"'])
def test_malformed(bad: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        ev.decode_message(bad)
    assert info.value.remote is True


@pytest.mark.parametrize("bad", ["[]", "5", '"Turn"', "null"])
def test_not_an_object(bad: str) -> None:
    with pytest.raises(MalformedMessage, match="not a JSON object"):
        ev.decode_message(bad)


@pytest.mark.parametrize("bad", ['{"type":5}', '{"type":null}', "{}", '{"type":"Turn","turn_order":"0"}'])
def test_bad_schema(bad: str) -> None:
    with pytest.raises(InvalidMessageSchema) as info:
        ev.decode_message(bad)
    assert info.value.remote is True


def test_bytes_input() -> None:
    assert ev.decode_message(BEGIN.encode()) == ev.decode_message(BEGIN)
    assert ev.decode_message(bytearray(BEGIN.encode())) == ev.decode_message(BEGIN)
    assert ev.decode_message(memoryview(BEGIN.encode())) == ev.decode_message(BEGIN)


@pytest.mark.parametrize("text", [BEGIN, BEGIN_CONF, TURN_PARTIAL, TURN_EOT, TURN_MULTI, TURN_SPEAKER, TURN_EMPTY,
                                  SPEECH_STARTED, TERMINATION, ERROR, WARNING, HEARTBEAT, SILENCE, LLM, REVISION])
def test_encode_round_trip(text: str) -> None:
    m = ev.decode_message(text)
    out = ev.encode_message(m)
    assert ev.decode_message(out) == m
    assert out.startswith(b'{"type":')  # type first
    assert json.loads(out) == {k: v for k, v in json.loads(text).items()}


def test_encode_leaves_out_absent_fields() -> None:
    t = ev.Turn(0, False, False, "", 0.0, ())
    assert json.loads(ev.encode_message(t)) == {"type": "Turn", "turn_order": 0, "turn_is_formatted": False,
                                                "end_of_turn": False, "transcript": "",
                                                "end_of_turn_confidence": 0.0, "words": []}
    assert ev.encode_message(ev.Termination(3, 4)) == b'{"type":"Termination","audio_duration_seconds":3,"session_duration_seconds":4}'


def test_events_are_frozen() -> None:
    t = ev.decode_message(TURN_PARTIAL)
    with pytest.raises(AttributeError):
        t.turn_order = 5  # type: ignore[misc,union-attr]


# ---------------------------------------------------------------- control messages (§3.2)


def test_encode_control_messages() -> None:
    assert msg.encode_terminate() == b'{"type":"Terminate"}'
    assert msg.encode_force_endpoint() == b'{"type":"ForceEndpoint"}'
    assert msg.encode_keep_alive() == b'{"type":"KeepAlive"}'
    up = msg.encode_update_configuration({"max_turn_silence": 500, "keyterms_prompt": ("x",)})
    assert json.loads(up) == {"type": "UpdateConfiguration", "max_turn_silence": 500, "keyterms_prompt": ["x"]}
    for m in (msg.encode_terminate(), up):
        assert isinstance(m, msg.TextMessage) and isinstance(m, bytes)


def _unmask(frame: bytes) -> tuple[int, bytes]:
    assert frame[1] & 0x80  # masked (RFC 6455 §5.3)
    n = frame[1] & 0x7F
    off = 2
    if n == 126:
        n, off = int.from_bytes(frame[2:4], "big"), 4
    key = frame[off:off + 4]
    body = frame[off + 4:]
    assert len(body) == n
    return frame[0], bytes(b ^ key[i % 4] for i, b in enumerate(body))


def test_text_frame() -> None:
    framer = ClientFramer(urandom=lambda n: bytes(range(256)) * (n // 256))
    frame = msg.text_frame(framer, msg.encode_terminate())
    first, payload = _unmask(frame)
    assert first == 0x81 and payload == b'{"type":"Terminate"}'
    long = msg.encode_update_configuration({"prompt": "p" * 300})
    first, payload = _unmask(msg.text_frame(ClientFramer(), long))
    assert first == 0x81 and payload == long
    keys = {msg.text_frame(framer, b"{}")[2:6] for _ in range(50)}
    assert len(keys) == 50  # a fresh key per frame


def test_text_frame_refuses_a_non_binary_frame() -> None:
    class Odd:
        def binary_frame(self, payload: bytes) -> bytes:
            return b"\x02\x80" + os.urandom(4)

    with pytest.raises(ValueError):
        msg.text_frame(Odd(), b"{}")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [
    ('{"type":"Terminate"}', msg.Terminate()),
    ('{"type": "Terminate"}', msg.Terminate()),
    ('{"type":"ForceEndpoint"}', msg.ForceEndpoint()),
    ('{"type":"KeepAlive"}', msg.KeepAlive()),
    ('{"max_turn_silence":500,"keyterms_prompt":["x"],"type":"UpdateConfiguration"}',
     msg.UpdateConfiguration({"max_turn_silence": 500, "keyterms_prompt": ["x"]})),
])
def test_decode_client_message(text: str, expected: msgspec.Struct) -> None:
    assert msg.decode_client_message(text) == expected
    assert msg.decode_client_message(text.encode()) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "Invalid JSON: {not json"),
    ("[]", "Invalid Message: []"),
    ('{"audio_data":"AAAA"}', 'Invalid Message: {"audio_data":"AAAA"}'),
    ('{"type":5}', 'Invalid Message: {"type":5}'),
    ('{"type":"Bogus"}', "Invalid Message Type: Bogus"),
    ('{"type":"terminate"}', "Invalid Message Type: terminate"),
])
def test_decode_client_message_errors(text: str, reason: str) -> None:
    with pytest.raises(InvalidClientMessage) as info:
        msg.decode_client_message(text)
    assert info.value.reason == reason and info.value.remote is True
