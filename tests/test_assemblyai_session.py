"""AssemblyAISession: audio framing (§3.1), control messages (§3.2-3.3), every server
message shape (§4), every close (§5), secrets never shown."""

from __future__ import annotations

import json
import logging
import random
import warnings

import numpy as np
import pytest

from scribewire.assemblyai import errors as E
from scribewire.assemblyai.auth import ApiKey, TemporaryToken
from scribewire.assemblyai.events import (
    Begin,
    Heartbeat,
    LLMGatewayResponse,
    Silence,
    SpeakerRevision,
    SpeechStarted,
    Termination,
    Turn,
    UnknownMessage,
    WarningMessage,
)
from scribewire.assemblyai.limits import CloseCode
from scribewire.assemblyai.messages import TextMessage
from scribewire.assemblyai.params import StreamingParams
from scribewire.assemblyai.session import AssemblyAISession, SessionState
from scribewire.errors import (
    AudioFormatError,
    AudioTypeError,
    ConnectionClosed,
    ParameterError,
    ProtocolError,
    SessionStateError,
)
from scribewire.wsframe import ClientFramer

U3 = "u3-rt-pro"
BEGIN = '{"type":"Begin","id":"sess-1","expires_at":1759796682}'


def turn(order: int = 0, *, eot: bool = False, fmt: bool = False, words: list[tuple[str, int, int, bool]] | None = None,
         **extra: object) -> str:
    ws = words if words is not None else [("hi", 100, 300, True)]
    doc: dict[str, object] = {
        "type": "Turn", "turn_order": order, "turn_is_formatted": fmt, "end_of_turn": eot,
        "transcript": " ".join(w[0] for w in ws if w[3]), "end_of_turn_confidence": 0.9 if eot else 0.1,
        "words": [{"start": s, "end": e, "text": t, "confidence": 0.9, "word_is_final": f} for t, s, e, f in ws],
    }
    doc.update(extra)
    return json.dumps(doc)


def unmask(frame: bytes) -> tuple[int, bytes]:
    n = frame[1] & 0x7F
    off = 2
    if n == 126:
        n, off = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, off = int.from_bytes(frame[2:10], "big"), 10
    key = np.frombuffer(frame[off:off + 4] * ((n + 3) // 4), np.uint8)[:n]
    body = np.frombuffer(frame[off + 4:], np.uint8)
    assert len(body) == n and frame[1] & 0x80
    return frame[0], (body ^ key).tobytes()


def opened(**kw: object) -> AssemblyAISession:
    s = AssemblyAISession(StreamingParams(**kw))  # type: ignore[arg-type]
    s.receive_message(BEGIN)
    return s


def test_provider_neutral_interface() -> None:
    # the members of the session Protocol shared with TranscribeSession (streaming/session.py)
    import inspect

    s = AssemblyAISession(StreamingParams(encoding="pcm_mulaw", sample_rate=8000))
    for name in ("bytes_per_frame", "chunk_bytes", "buffered_bytes", "audio_bytes_sent"):
        assert isinstance(getattr(s, name), int), name
    assert (s.bytes_per_frame, s.chunk_bytes, s.buffered_bytes, s.audio_bytes_sent) == (1, 800, 0, 0)
    assert s.state is SessionState.OPEN and s.error is None
    for name, params in (("send_audio", ["audio"]), ("end_of_stream", []), ("force_endpoint", []),
                         ("receive_message", ["data"]), ("receive_close", ["code", "reason"]), ("close", []),
                         ("request_url", ["host", "token"]), ("request_headers", ["credential", "user_agent", "version"])):
        assert list(inspect.signature(getattr(s, name)).parameters) == params, name
    assert inspect.signature(s.update_configuration).parameters["fields"].kind is inspect.Parameter.VAR_KEYWORD
    assert [m.value for m in SessionState] == ["open", "ending", "closed"]


# ---------------------------------------------------------------- framing the audio


@pytest.mark.parametrize(("rate", "enc", "dur", "chunk", "bpf"), [
    (16000, "pcm_s16le", 0.1, 3200, 2),
    (16000, "pcm_s16le", 0.05, 1600, 2),
    (8000, "pcm_mulaw", 0.05, 400, 1),
    (8000, "pcm_mulaw", 1.0, 8000, 1),
    (48000, "pcm_s16le", 1.0, 96000, 2),
    (11025, "pcm_s16le", 0.05, 552 * 2, 2),  # 551.25 samples: rounded up to stay >= 50 ms
])
def test_chunk_sizes(rate: int, enc: str, dur: float, chunk: int, bpf: int) -> None:
    s = AssemblyAISession(StreamingParams(sample_rate=rate, encoding=enc), chunk_duration=dur)
    assert s.chunk_bytes == chunk and s.bytes_per_frame == bpf
    ms = s.chunk_bytes / bpf / rate * 1000
    assert 50 <= ms <= 1000
    assert 50 <= s.min_chunk_bytes / bpf / rate * 1000 < 50 + 1000 / rate


@pytest.mark.parametrize("dur", [0.0, 0.049, 1.01, -1, float("nan"), True])
def test_chunk_duration_range(dur: float) -> None:
    with pytest.raises(ParameterError, match="chunk_duration"):
        AssemblyAISession(StreamingParams(), chunk_duration=dur)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(TypeError):
        AssemblyAISession({"sample_rate": 16000})  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        AssemblyAISession(StreamingParams(), short_tail="pause")  # type: ignore[arg-type]


def _split(data: bytes, mode: str, rng: random.Random) -> list[bytes]:
    if mode == "whole":
        return [data]
    if mode == "bytes":
        return [data[i:i + 1] for i in range(len(data))]
    if mode == "empty":
        return [b"", data, b""]
    out, i = [], 0
    while i < len(data):
        n = rng.randint(0, 5000)
        out.append(data[i:i + n])
        i += n
    return out


@pytest.mark.parametrize("mode", ["whole", "bytes", "random", "empty"])
def test_chunked_equals_whole(mode: str) -> None:
    rng = random.Random(7)
    audio = bytes(rng.getrandbits(8) for _ in range(16000 * 2 + 1234))  # 1 s and a bit
    s = AssemblyAISession(StreamingParams())
    out: list[bytes] = []
    for piece in _split(audio, mode, rng):
        out += s.send_audio(piece)
        assert s.buffered_bytes < s.chunk_bytes
    assert all(len(m) == s.chunk_bytes for m in out)
    assert all(not isinstance(m, TextMessage) for m in out)
    assert b"".join(out) == audio[:len(out) * s.chunk_bytes]
    assert s.audio_bytes_sent == len(out) * s.chunk_bytes and s.buffered_bytes == len(audio) - s.audio_bytes_sent
    tail = s.end_of_stream()
    rest = len(audio) - len(out) * s.chunk_bytes  # 38.6 ms: padded to 50 ms
    assert tail[0] == audio[-rest:] + b"\x00" * (s.min_chunk_bytes - rest)
    assert tail[-1] == b'{"type":"Terminate"}'


def test_buffer_types() -> None:
    s = AssemblyAISession(StreamingParams(), chunk_duration=0.05)
    pcm = (np.arange(1600, dtype=np.int16) * 7).astype("<i2")
    out = s.send_audio(pcm) + s.send_audio(memoryview(pcm.tobytes())) + s.send_audio(bytearray(pcm.tobytes()))
    assert len(out) == 6 and all(len(m) == 1600 for m in out)
    assert b"".join(out) == pcm.tobytes() * 3
    with pytest.raises(AudioTypeError):
        s.send_audio("not audio")
    with pytest.raises(AudioTypeError):
        s.send_audio(np.zeros((100, 2), np.int16)[:, 0])  # not contiguous


def test_end_of_stream_remainder_of_50_ms_or_more_goes_whole() -> None:
    s = AssemblyAISession(StreamingParams(), chunk_duration=0.1)
    audio = b"\x01\x02" * (1600 + 800)  # 150 ms: one chunk, then 50 ms
    out = s.send_audio(audio)
    tail = s.end_of_stream()
    assert [len(m) for m in out] == [3200] and [len(m) for m in tail[:-1]] == [1600]
    assert isinstance(tail[-1], TextMessage) and tail[-1] == b'{"type":"Terminate"}'
    assert s.audio_bytes_sent == len(audio) and s.padding_bytes_sent == 0
    assert s.state is SessionState.ENDING


@pytest.mark.parametrize(("enc", "silence"), [("pcm_s16le", b"\x00"), ("pcm_mulaw", b"\xff")])
def test_end_of_stream_pads_a_short_tail(enc: str, silence: bytes) -> None:
    s = AssemblyAISession(StreamingParams(sample_rate=8000, encoding=enc))
    bpf = s.bytes_per_frame
    s.send_audio(b"\x11" * (80 * bpf))  # 10 ms
    tail = s.end_of_stream()
    assert len(tail) == 2 and len(tail[0]) == s.min_chunk_bytes == 400 * bpf  # 50 ms
    assert tail[0] == b"\x11" * (80 * bpf) + silence * (320 * bpf)
    assert s.padding_bytes_sent == 320 * bpf and s.audio_bytes_sent == 80 * bpf


def test_end_of_stream_short_tail_send_and_drop() -> None:
    s = AssemblyAISession(StreamingParams(), short_tail="send")
    s.send_audio(b"\x00\x01" * 10)
    assert [len(m) for m in s.end_of_stream()] == [20, len(b'{"type":"Terminate"}')]
    d = AssemblyAISession(StreamingParams(), short_tail="drop")
    d.send_audio(b"\x00\x01" * 10)
    assert d.end_of_stream() == [b'{"type":"Terminate"}'] and d.dropped_tail_bytes == 20


def test_end_of_stream_nothing_buffered() -> None:
    s = AssemblyAISession(StreamingParams())
    assert s.end_of_stream() == [b'{"type":"Terminate"}']


def test_end_of_stream_inside_a_sample() -> None:
    s = AssemblyAISession(StreamingParams())
    s.send_audio(b"\x00\x01\x02")
    with pytest.raises(AudioFormatError, match="inside a sample"):
        s.end_of_stream()
    assert s.state is SessionState.OPEN and s.buffered_bytes == 3
    s.send_audio(b"\x03")
    assert len(s.end_of_stream()) == 2


def test_no_audio_after_end() -> None:
    s = AssemblyAISession(StreamingParams())
    s.end_of_stream()
    for call in (lambda: s.send_audio(b"\x00\x00"), s.end_of_stream, s.force_endpoint, s.keep_alive,
                 lambda: s.update_configuration(max_turn_silence=5)):
        with pytest.raises(SessionStateError):
            call()


def test_framer_gives_complete_frames() -> None:
    s = AssemblyAISession(StreamingParams(), chunk_duration=0.05, framer=ClientFramer())
    audio = bytes(range(256)) * 13  # 3328 bytes: 2 chunks and 128 bytes
    frames = s.send_audio(audio) + s.end_of_stream()
    decoded = [unmask(f) for f in frames]
    assert [op for op, _ in decoded] == [0x82, 0x82, 0x82, 0x81]  # binary audio, text Terminate
    assert b"".join(p for _, p in decoded[:2]) == audio[:3200]
    assert decoded[2][1] == audio[3200:] + b"\x00" * (1600 - 128)
    assert decoded[3][1] == b'{"type":"Terminate"}'
    s2 = AssemblyAISession(StreamingParams(speech_model=U3), framer=ClientFramer())
    op, payload = unmask(s2.update_configuration(prompt="Be brief."))
    assert op == 0x81 and json.loads(payload) == {"type": "UpdateConfiguration", "prompt": "Be brief."}
    assert unmask(s2.force_endpoint()) == (0x81, b'{"type":"ForceEndpoint"}')
    assert unmask(s2.keep_alive()) == (0x81, b'{"type":"KeepAlive"}')


# ---------------------------------------------------------------- control messages


def test_update_configuration() -> None:
    s = AssemblyAISession(StreamingParams(keyterms_prompt=["a"]))
    m = s.update_configuration(max_turn_silence=500, keyterms_prompt=["x", "y"], end_of_turn_confidence_threshold=1)
    assert isinstance(m, TextMessage)
    assert json.loads(m) == {"type": "UpdateConfiguration", "max_turn_silence": 500, "keyterms_prompt": ["x", "y"],
                             "end_of_turn_confidence_threshold": 1.0}
    assert s.params.max_turn_silence == 500 and s.params.keyterms_prompt == ("x", "y")
    assert json.loads(s.update_configuration(keyterms_prompt=[]))["keyterms_prompt"] == []  # clears (§3.3)


def test_update_configuration_rules() -> None:
    s = AssemblyAISession(StreamingParams(speech_model=U3))
    with pytest.raises(ParameterError, match="mid-session"):
        s.update_configuration(sample_rate=8000)
    with pytest.raises(ParameterError, match="mid-session"):
        s.update_configuration(speaker_labels=True)
    with pytest.raises(ParameterError, match="no effect"):
        s.update_configuration(end_of_turn_confidence_threshold=0.5)  # U only (§2.3)
    with pytest.raises(ParameterError, match="0..1"):
        s.update_configuration(vad_threshold=3)
    with pytest.raises(ParameterError, match="None"):
        s.update_configuration(prompt=None)
    with pytest.raises(ParameterError, match="at least one"):
        s.update_configuration()
    with pytest.raises(ParameterError, match="100"):
        s.update_configuration(keyterms_prompt=[str(i) for i in range(101)])
    assert s.params == StreamingParams(speech_model=U3)  # unchanged by the failures


def test_update_configuration_deprecated_alias() -> None:
    s = AssemblyAISession(StreamingParams())
    with pytest.warns(DeprecationWarning, match="min_turn_silence"):
        m = s.update_configuration(min_end_of_turn_silence_when_confident=320)
    assert json.loads(m) == {"type": "UpdateConfiguration", "min_turn_silence": 320}
    with pytest.warns(DeprecationWarning):
        m = s.update_configuration(min_end_of_turn_silence_when_confident=320, min_turn_silence=100)
    assert json.loads(m) == {"type": "UpdateConfiguration", "min_turn_silence": 100}


def test_force_endpoint_and_keep_alive() -> None:
    s = AssemblyAISession(StreamingParams())
    assert s.force_endpoint() == b'{"type":"ForceEndpoint"}' and isinstance(s.force_endpoint(), TextMessage)
    assert s.keep_alive() == b'{"type":"KeepAlive"}'


def test_request_url_and_headers() -> None:
    s = AssemblyAISession(StreamingParams(format_turns=True))
    assert s.request_url() == ("wss://streaming.assemblyai.com/v3/ws?sample_rate=16000&encoding=pcm_s16le"
                               "&speech_model=universal-streaming-english&format_turns=true")
    assert s.request_url(host="eu", token="tok").endswith("&token=tok")
    assert s.request_headers("k")["Authorization"] == "k"


# ---------------------------------------------------------------- receiving (§4)


def test_begin_then_turns_universal_unformatted() -> None:
    s = AssemblyAISession(StreamingParams())
    [b] = s.receive_message(BEGIN)
    assert isinstance(b, Begin) and s.begun and s.session_id == "sess-1" and s.expires_at == 1759796682
    [p] = s.receive_message(turn(0, words=[("hi", 100, 300, True), ("my", 400, 500, False)]))
    assert isinstance(p, Turn) and not s.is_final(p) and p.words[1].word_is_final is False
    [f] = s.receive_message(turn(0, eot=True))
    assert isinstance(f, Turn) and s.is_final(f)
    assert s.events_received == 3 and s.state is SessionState.OPEN


def test_turns_with_format_turns() -> None:
    s = opened(format_turns=True)
    [u] = s.receive_message(turn(0, eot=True))
    [f] = s.receive_message(turn(0, eot=True, fmt=True, words=[("Hi.", 100, 300, True)]))
    assert isinstance(u, Turn) and isinstance(f, Turn)
    assert not s.is_final(u) and s.is_final(f)  # the formatted one is the final (§4.7)


def test_u3_turns_and_speech_started() -> None:
    s = opened(speech_model=U3)
    [ss] = s.receive_message('{"type":"SpeechStarted","timestamp":1216,"confidence":0.98}')
    assert ss == SpeechStarted(1216, 0.98)
    [p] = s.receive_message(turn(0, words=[("My", 1216, 1400, False), ("name", 1400, 1600, False)]))
    [f] = s.receive_message(turn(0, eot=True, fmt=True, utterance="My name."))
    assert isinstance(p, Turn) and isinstance(f, Turn) and not s.is_final(p) and s.is_final(f)


def test_multilingual_and_speaker_fields() -> None:
    s = opened(speech_model="universal-streaming-multilingual", language_detection=True, speaker_labels=True)
    [t] = s.receive_message(turn(2, eot=True, language_code="de", language_confidence=0.88, speaker_label="A",
                                 utterance="hallo"))
    assert isinstance(t, Turn) and (t.language_code, t.language_confidence, t.speaker_label) == ("de", 0.88, "A")


def test_optional_messages_pass_through() -> None:
    s = opened()
    shapes = [
        ('{"type":"Warning","warning_code":1,"warning":"w"}', WarningMessage),
        ('{"type":"Heartbeat","total_audio_received_ms":1,"total_duration_ms":2,"realtime_factor":1.0}', Heartbeat),
        ('{"type":"Silence","start_ms":1,"end_ms":2}', Silence),
        ('{"type":"SpeakerRevision","revisions":[]}', SpeakerRevision),
        ('{"type":"LLMGatewayResponse","turn_order":0,"transcript":"t","data":null}', LLMGatewayResponse),
        ('{"type":"Brand","new":true}', UnknownMessage),
    ]
    for text, cls in shapes:
        [m] = s.receive_message(text)
        assert type(m) is cls
    assert s.state is SessionState.OPEN and s.error is None


def test_terminate_flow_and_normal_close() -> None:
    s = opened()
    s.send_audio(b"\x00" * 3200)
    s.end_of_stream()
    assert s.state is SessionState.ENDING and not s.terminated
    [t] = s.receive_message(turn(0, eot=True))  # in-flight turns still arrive
    [term] = s.receive_message('{"type":"Termination","audio_duration_seconds":1,"session_duration_seconds":2}')
    assert term == Termination(1, 2) and s.terminated and s.termination == term
    assert s.receive_close(1000, "") is None
    assert s.state is SessionState.CLOSED and s.error is None
    with pytest.raises(SessionStateError):
        s.receive_message(BEGIN)


def test_termination_without_terminate_moves_to_ending() -> None:
    s = opened()
    s.receive_message('{"type":"Termination","audio_duration_seconds":0,"session_duration_seconds":3}')
    assert s.state is SessionState.ENDING
    with pytest.raises(SessionStateError):
        s.send_audio(b"\x00\x00")


# ---------------------------------------------------------------- faults


def _assert_fault(s: AssemblyAISession, data: bytes | str, cls: type[Exception]) -> Exception:
    with pytest.raises(cls) as info:
        s.receive_message(data)
    err = info.value
    assert s.state is SessionState.CLOSED and s.error is err
    assert err.events == []  # type: ignore[attr-defined]
    if isinstance(err, ProtocolError):
        assert err.remote is True
    return err


def test_binary_message_is_a_fault() -> None:
    _assert_fault(opened(), b'{"type":"Turn"}', E.UnexpectedBinaryMessage)


@pytest.mark.parametrize(("text", "cls"), [
    ("{", E.MalformedMessage), ("[]", E.MalformedMessage), ('{"type":"Turn"}', E.InvalidMessageSchema),
    ('{"type":"Begin","id":"x","expires_at":"soon"}', E.InvalidMessageSchema),
])
def test_bad_messages(text: str, cls: type[Exception]) -> None:
    _assert_fault(opened(), text, cls)


def test_order_faults() -> None:
    _assert_fault(AssemblyAISession(StreamingParams()), turn(0), E.OutOfOrderMessage)
    _assert_fault(AssemblyAISession(StreamingParams()), '{"type":"SpeechStarted","timestamp":1}', E.OutOfOrderMessage)
    _assert_fault(opened(), BEGIN, E.OutOfOrderMessage)
    s = opened()
    s.receive_message('{"type":"Termination"}')
    _assert_fault(s, turn(0), E.OutOfOrderMessage)


def test_fault_then_close_reports_the_fault() -> None:
    s = opened()
    err = _assert_fault(s, "{", E.MalformedMessage)
    assert s.receive_close(1006, "") is err


@pytest.mark.parametrize(("code", "text", "cls"), [
    (3008, "Session Expired: Maximum session duration exceeded", E.SessionExpired),
    (3005, "Session Cancelled: An error occurred", E.ServerError),
    (1008, "Unauthorized Connection: Missing Authorization header", E.UnauthorizedConnection),
    (1008, "Unauthorized connection: Too many concurrent sessions", E.TooManySessions),
    (3007, "Audio Transmission Rate Exceeded: Received 314.9 sec. audio in 1.312326 sec", E.AudioRateExceeded),
    (3007, "Input Duration Error: Input Duration Violation: 25.0 ms. Expected between 50 and 1000 ms",
     E.AudioDurationViolation),
])
def test_error_message_then_close(code: int, text: str, cls: type[E.AssemblyAIServiceError]) -> None:
    # an Error can come first: auth failures arrive after the upgrade, before Begin (§1.4)
    s = AssemblyAISession(StreamingParams())
    err = _assert_fault(s, json.dumps({"type": "Error", "error_code": code, "error": text}), cls)
    assert err.close_code == code and err.message == text  # type: ignore[attr-defined]
    assert s.error_message is not None and s.error_message.error_code == code
    # the close with the same code that follows reports the same error, once (§4.8)
    assert s.receive_close(code, "See Error message for details") is err


def test_error_message_without_code() -> None:
    s = opened()
    err = _assert_fault(s, '{"error":"something broke"}', E.AssemblyAIServiceError)
    assert err.close_code is None and err.message == "something broke"  # type: ignore[attr-defined]
    err2 = _assert_fault(opened(), '{"type":"Error","error_code":1000,"error":"odd"}', E.AssemblyAIServiceError)
    assert err2.close_code == 1000  # type: ignore[attr-defined]


# ---------------------------------------------------------------- closes (§5)


@pytest.mark.parametrize("code", sorted(int(c) for c in CloseCode if c != 1000))
def test_every_close_code(code: int) -> None:
    s = opened()
    err = s.receive_close(code, "")
    assert isinstance(err, E.AssemblyAIServiceError) and err.close_code == code
    assert err is E.error_for_close(code, "") or type(err) is type(E.error_for_close(code, ""))
    assert s.state is SessionState.CLOSED and s.error is err


@pytest.mark.parametrize("code", [None, 1000, 1001, 1005, 1006, 1011, 1012])
def test_close_before_termination_is_connection_closed(code: int | None) -> None:
    s = opened()
    s.end_of_stream()
    err = s.receive_close(code, "gone")
    assert isinstance(err, ConnectionClosed) and err.code == code and err.reason == "gone"


def test_close_after_termination_with_an_error_code() -> None:
    s = opened()
    s.receive_message('{"type":"Termination"}')
    assert isinstance(s.receive_close(3005, ""), E.ServerError)


def test_close_reason_variants() -> None:
    assert isinstance(opened().receive_close(1008, "Unauthorized connection: Too many concurrent sessions"),
                      E.TooManySessions)
    assert isinstance(opened().receive_close(4321, "custom"), E.AssemblyAIServiceError)


def test_close_is_idempotent() -> None:
    s = opened()
    s.close()
    s.close()
    assert s.state is SessionState.CLOSED


# ---------------------------------------------------------------- secrets


CANARY_KEY = "CANARY-key-5e7d21c0"
CANARY_TOKEN = "CANARY-tok-9b44aa17"
CANARY_HOOK = "CANARY-hook-00ff11"


def test_canary_secrets_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    params = StreamingParams(webhook_url="https://hook.example", webhook_auth_header_value=CANARY_HOOK)
    s = AssemblyAISession(params)
    key, tok = ApiKey(CANARY_KEY), TemporaryToken(CANARY_TOKEN)
    url = s.request_url(token=tok)
    hdrs = s.request_headers(key)
    assert CANARY_TOKEN in str(url) and hdrs["Authorization"] == CANARY_KEY  # the wire has them
    texts += [repr(s), str(s), repr(params), repr(url), repr(hdrs), str(hdrs), f"{hdrs}", repr(key), str(tok),
              f"{key}", repr([key, tok]), repr(s.request_headers(tok))]
    # every error path a session or its helpers can take
    failures = [
        lambda: ApiKey(CANARY_KEY + " x"),
        lambda: s.update_configuration(webhook_auth_header_value=CANARY_HOOK),
        lambda: StreamingParams(webhook_auth_header_value=CANARY_HOOK, max_speakers=2),
        lambda: StreamingParams(webhook_auth_header_value=[CANARY_HOOK]),  # type: ignore[arg-type]
        lambda: opened().receive_message('{"type":"Error","error_code":1008,"error":"Unauthorized Connection: x"}'),
    ]
    for call in failures:
        with pytest.raises(Exception) as info:
            call()
        texts += [str(info.value), repr(info.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("hook.example" in t for t in texts)  # the searched texts are real ones
    for t in texts:
        for needle in (CANARY_KEY, CANARY_TOKEN, CANARY_HOOK):
            assert needle not in t, t


def test_no_warnings_on_the_plain_path() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = opened(format_turns=True)
        s.send_audio(b"\x00" * 6400)
        s.receive_message(turn(0, eot=True))
        s.end_of_stream()
