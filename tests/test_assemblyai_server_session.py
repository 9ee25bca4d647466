"""AssemblyAIServerSession (assemblyai.md §6) and a client <-> server round trip in memory."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from scribewire.assemblyai.ack import TurnAck
from scribewire.assemblyai.auth import ApiKey
from scribewire.assemblyai.events import Begin, SpeechStarted, Termination, Turn
from scribewire.assemblyai.messages import TextMessage
from scribewire.assemblyai.params import StreamingParams
from scribewire.assemblyai.server_session import (
    AssemblyAIServerSession,
    AudioReceived,
    CloseDecision,
    ConfigurationUpdated,
    ForceEndpointRequested,
    RecognizedWord,
    ServerConfig,
    ServerState,
    TerminateRequested,
    TokenIssuer,
    default_formatter,
)
from scribewire.assemblyai.session import AssemblyAISession, SessionState
from scribewire.errors import ParameterError, SessionStateError

KEY = "server-test-key"
CFG = ServerConfig(api_keys=ServerConfig.keys(KEY))
T0 = 1000.0  # monotonic clock at the start
UNIX = 1_759_796_682.0
U3 = "u3-rt-pro"


def server(query: str = "sample_rate=16000&encoding=pcm_s16le", *, headers: dict[str, str] | None = None,
           config: ServerConfig = CFG, path: str = "/v3/ws") -> AssemblyAIServerSession:
    return AssemblyAIServerSession(f"{path}?{query}", {"Authorization": KEY} if headers is None else headers,
                                   now=T0, unix_time=UNIX, config=config)


def sent(srv: AssemblyAIServerSession) -> list[dict[str, object]]:
    return [json.loads(m) for m in srv.data_to_send()]


def begun(query: str = "sample_rate=16000&encoding=pcm_s16le", **kw: object) -> AssemblyAIServerSession:
    srv = server(query, **kw)  # type: ignore[arg-type]
    [b] = sent(srv)
    assert b["type"] == "Begin"
    return srv


def assert_error_close(srv: AssemblyAIServerSession, code: int, text: str | re.Pattern[str]) -> None:
    msgs = sent(srv)
    assert [m["type"] for m in msgs][-1] == "Error"
    err = msgs[-1]
    assert err["error_code"] == code
    if isinstance(text, str):
        assert err["error"] == text
    else:
        assert text.fullmatch(str(err["error"])), err
    assert srv.close_decision == CloseDecision(code, str(err["error"])[:123]) and srv.state is ServerState.CLOSING


def audio_ms(ms: float, rate: int = 16000, bps: int = 2) -> bytes:
    return b"\x07" * (round(rate * ms / 1000) * bps)


# ---------------------------------------------------------------- handshake


def test_wrong_path_is_404() -> None:
    srv = server(path="/v2/realtime/ws")
    assert srv.http_response is not None and srv.http_response.status == 404
    assert srv.data_to_send() == [] and srv.state is ServerState.CLOSED
    assert srv.api_version is None and srv.params is None and srv.next_deadline() is None


def test_begin_first() -> None:
    srv = server()
    [b] = sent(srv)
    assert b["type"] == "Begin" and str(uuid.UUID(str(b["id"]), version=4)) == b["id"]
    assert b["expires_at"] == int(UNIX + 10800) and isinstance(b["expires_at"], int)
    assert b["configuration"] == {"model": "universal-streaming-english", "api_version": "2025-05-12"}
    assert srv.http_response is None and srv.close_decision is None and srv.state is ServerState.OPEN
    assert srv.credential is not None and srv.credential.kind == "api_key" and KEY not in repr(srv.credential)


def test_begin_configuration_u3_and_version_header() -> None:
    srv = server(f"speech_model={U3}&mode=max_accuracy", headers={"authorization": KEY, "AssemblyAI-Version": "2024-01-01"})
    [b] = sent(srv)
    assert b["configuration"] == {"model": U3, "mode": "max_accuracy", "api_version": "2024-01-01"}
    srv2 = server(f"speech_model={U3}")
    assert sent(srv2)[0]["configuration"]["mode"] == "balanced"  # type: ignore[index]
    srv3 = server("", config=ServerConfig(api_keys=ServerConfig.keys(KEY), begin_configuration=False,
                                          default_speech_model=U3))
    [b3] = sent(srv3)
    assert "configuration" not in b3 and srv3.params is not None and srv3.params.speech_model == U3


def test_missing_credentials() -> None:
    srv = server(headers={})
    assert_error_close(srv, 1008, "Unauthorized Connection: Missing Authorization header")


def test_wrong_key() -> None:
    srv = server(headers={"Authorization": KEY + "x"})
    assert_error_close(srv, 1008, "Unauthorized Connection: Invalid API key or temporary token")
    assert srv.params is None


def test_bearer_prefix_is_not_the_key() -> None:
    assert_error_close(server(headers={"Authorization": f"Bearer {KEY}"}), 1008, re.compile("Unauthorized.*"))


def test_reject_over_http() -> None:
    cfg = ServerConfig(api_keys=ServerConfig.keys(KEY), reject_over_http=True)
    srv = server(headers={}, config=cfg)
    assert srv.http_response is not None and srv.http_response.status == 401
    assert json.loads(srv.http_response.body) == {"error": "Unauthorized Connection: Missing Authorization header"}
    assert srv.data_to_send() == []


def test_open_mode_accepts_any_credential() -> None:
    begun(config=ServerConfig())
    assert_error_close(server(headers={}, config=ServerConfig()), 1008, re.compile(".*Missing.*"))


def test_tokens() -> None:
    issuer = TokenIssuer(ServerConfig.keys(KEY), token_factory=iter(["tok-1", "tok-2", "tok-3"]).__next__)
    cfg = ServerConfig(api_keys=ServerConfig.keys(KEY), token_check=issuer.redeem)
    r = issuer.handle("/v3/token?expires_in_seconds=60&max_session_duration_seconds=600", {"Authorization": KEY}, UNIX)
    assert r.status == 200 and json.loads(r.body) == {"token": "tok-1", "expires_in_seconds": 60}
    # browser style: ?token=
    srv = server("sample_rate=16000&token=tok-1", headers={}, config=cfg)
    [b] = sent(srv)
    assert b["expires_at"] == int(UNIX + 600)  # the token's cap (§4.1)
    assert srv.credential is not None and (srv.credential.kind, srv.credential.source) == ("token", "query")
    # single use
    assert_error_close(server("token=tok-1", headers={}, config=cfg), 1008, re.compile(".*Invalid.*"))
    # SDK style: the token in Authorization
    issuer.handle("/v3/token?expires_in_seconds=60", {"Authorization": KEY}, UNIX)
    srv = server("", headers={"Authorization": "tok-2"}, config=cfg)
    assert sent(srv)[0]["expires_at"] == int(UNIX + 10800)
    assert srv.credential is not None and srv.credential.source == "header"
    # the redemption window
    issuer.handle("/v3/token?expires_in_seconds=5", {"Authorization": KEY}, UNIX)
    late = AssemblyAIServerSession("/v3/ws?token=tok-3", {}, now=T0, unix_time=UNIX + 6, config=cfg)
    assert late.error is not None and late.error.code == 1008


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/v3/token?expires_in_seconds=60", {"Authorization": KEY}, 200),
    ("/v3/token?expires_in_seconds=0", {"Authorization": KEY}, 400),
    ("/v3/token?expires_in_seconds=601", {"Authorization": KEY}, 400),
    ("/v3/token?expires_in_seconds=60&max_session_duration_seconds=59", {"Authorization": KEY}, 400),
    ("/v3/token?expires_in_seconds=60&max_session_duration_seconds=10801", {"Authorization": KEY}, 400),
    ("/v3/token", {"Authorization": KEY}, 400),
    ("/v3/token?expires_in_seconds=60", {"Authorization": "nope"}, 401),
    ("/v3/token?expires_in_seconds=60", {}, 401),
    ("/v3/tokens?expires_in_seconds=60", {"Authorization": KEY}, 404),
])
def test_token_endpoint(path: str, headers: dict[str, str], status: int) -> None:
    issuer = TokenIssuer(ServerConfig.keys(KEY))
    r = issuer.handle(path, headers, UNIX)
    assert r.status == status
    body = json.loads(r.body)
    assert ("token" in body) == (status == 200) and ("error" in body) == (status != 200)
    assert len(issuer) == (status == 200)


def test_token_issuer_forgets_expired_tokens() -> None:
    issuer = TokenIssuer()
    issuer.handle("/v3/token?expires_in_seconds=1", {"Authorization": "any"}, UNIX)
    issuer.handle("/v3/token?expires_in_seconds=1", {"Authorization": "any"}, UNIX + 10)
    assert len(issuer) == 1


# ---------------------------------------------------------------- parameters


def test_bad_parameter_is_3006_before_begin() -> None:
    srv = server("sample_rate=0")
    assert_error_close(srv, 3006, "User Input Validation Error: sample_rate=0: must be >= 1")
    srv = server("encoding=opus")
    assert_error_close(srv, 3006, re.compile("User Input Validation Error: encoding='opus': compressed.*"))


def test_lenient_parameters() -> None:
    q = ("sample_rate=16000&encoding=pcm_s16le&speech_model=universal-3-6-pro&formatted_finals=true"
         "&min_turn_silence=100&max_turn_silence=100&format_turns=true&continuous_partials=true&Foo=bar")
    srv = begun(q)
    assert srv.params is not None and srv.params.format_turns and srv.params.continuous_partials


# ---------------------------------------------------------------- audio


def test_audio_frames_50_to_1000_ms() -> None:
    srv = begun()
    srv.receive_message(audio_ms(50), T0 + 0.05)
    srv.receive_message(audio_ms(1000), T0 + 1.05)
    evs = srv.events_received()
    assert [type(e) for e in evs] == [AudioReceived, AudioReceived]
    assert evs[1] == AudioReceived(audio_ms(1000), 1600, 0.05, 1.0)  # type: ignore[comparison-overlap]
    assert srv.audio_nbytes == 1600 + 32000 and srv.audio_seconds == pytest.approx(1.05)
    assert srv.state is ServerState.OPEN and srv.data_to_send() == []


def test_frame_too_long() -> None:
    srv = begun()
    srv.receive_message(audio_ms(1001), T0 + 2)
    assert_error_close(srv, 3007, "Input duration violation: 1001.0 ms. Expected between 50 and 1000 ms")
    assert srv.events_received() == []


def test_short_frame_then_more_audio() -> None:
    srv = begun()
    srv.receive_message(audio_ms(25), T0)
    assert srv.data_to_send() == [] and srv.close_decision is None  # held: Terminate may follow
    srv.receive_message(audio_ms(100), T0 + 0.2)
    assert_error_close(srv, 3007, "Input duration violation: 25.0 ms. Expected between 50 and 1000 ms")


def test_short_frame_then_control_message() -> None:
    srv = begun()
    srv.receive_message(audio_ms(20), T0)
    srv.receive_message('{"type":"KeepAlive"}', T0)
    assert_error_close(srv, 3007, re.compile("Input duration violation: 20.0 ms.*"))


def test_short_last_frame_before_terminate_is_allowed() -> None:
    srv = begun()
    srv.receive_message(audio_ms(100), T0 + 0.1)
    srv.receive_message(audio_ms(30), T0 + 0.13)
    srv.receive_message('{"type":"Terminate"}', T0 + 0.2)
    evs = srv.events_received()
    assert [type(e) for e in evs] == [AudioReceived, AudioReceived, TerminateRequested]
    assert srv.state is ServerState.TERMINATING and srv.audio_seconds == pytest.approx(0.13)


def test_strict_tail() -> None:
    srv = begun(config=ServerConfig(api_keys=ServerConfig.keys(KEY), strict_tail=True))
    srv.receive_message(audio_ms(30), T0)
    assert_error_close(srv, 3007, re.compile("Input duration violation: 30.0 ms.*"))


def test_partial_sample() -> None:
    srv = begun()
    srv.receive_message(b"\x00" * 3201, T0)
    assert_error_close(srv, 3006, re.compile("User Input Validation Error: audio message of 3201 bytes.*"))


def test_mulaw_durations() -> None:
    srv = begun("sample_rate=8000&encoding=pcm_mulaw")
    srv.receive_message(b"\xff" * 400, T0)  # 50 ms at 1 byte per sample
    assert [type(e) for e in srv.events_received()] == [AudioReceived]
    srv.receive_message(b"\xff" * 8001, T0)
    assert_error_close(srv, 3007, "Input duration violation: 1000.1 ms. Expected between 50 and 1000 ms")


def test_faster_than_real_time() -> None:
    srv = begun(config=ServerConfig(api_keys=ServerConfig.keys(KEY), rate_allowance=2.0))
    for _ in range(3):
        srv.receive_message(audio_ms(1000), T0 + 0.5)  # 3 s of audio in 0.5 s
    assert_error_close(srv, 3007, "Audio Transmission Rate Exceeded: Received 3.0 sec. audio in 0.500000 sec")
    assert len(srv.events_received()) == 2


def test_real_time_is_fine() -> None:
    srv = begun(config=ServerConfig(api_keys=ServerConfig.keys(KEY), rate_allowance=0.0))
    for i in range(1, 11):
        srv.receive_message(audio_ms(100), T0 + 0.1 * i + 1e-9)
    assert srv.close_decision is None and len(srv.events_received()) == 10


# ---------------------------------------------------------------- text messages


@pytest.mark.parametrize(("text", "reason"), [
    ("{oops", "Invalid JSON: {oops"),
    ("[]", "Invalid Message: []"),
    ('{"type":"Shout"}', "Invalid Message Type: Shout"),
    ('{"message_type":"Terminate"}', 'Invalid Message: {"message_type":"Terminate"}'),
])
def test_bad_text_messages(text: str, reason: str) -> None:
    srv = begun()
    srv.receive_message(text, T0)
    assert_error_close(srv, 3006, reason)


def test_update_configuration() -> None:
    srv = begun("keyterms_prompt=%5B%22a%22%5D")
    srv.receive_message('{"max_turn_silence":500,"keyterms_prompt":["x"],"type":"UpdateConfiguration"}', T0)
    [ev] = srv.events_received()
    assert isinstance(ev, ConfigurationUpdated) and ev.fields == {"max_turn_silence": 500, "keyterms_prompt": ["x"]}
    assert srv.params is not None and srv.params.max_turn_silence == 500 and srv.params.keyterms_prompt == ("x",)
    srv.receive_message('{"type":"UpdateConfiguration","keyterms_prompt":[]}', T0)
    assert srv.params.keyterms_prompt == ()
    # extra and non-updatable fields are tolerated and ignored
    srv.receive_message('{"type":"UpdateConfiguration","sample_rate":8000,"sdk_extra":1}', T0)
    assert srv.params.sample_rate == 16000 and srv.data_to_send() == [] and srv.close_decision is None
    # the deprecated alias
    srv.receive_message('{"type":"UpdateConfiguration","min_end_of_turn_silence_when_confident":250}', T0)
    assert srv.params.min_turn_silence == 250


def test_update_configuration_bad_value() -> None:
    srv = begun()
    srv.receive_message('{"type":"UpdateConfiguration","vad_threshold":7}', T0)
    assert_error_close(srv, 3006, "User Input Validation Error: vad_threshold=7.0: must be 0..1")


def test_force_endpoint_and_keep_alive() -> None:
    srv = begun("inactivity_timeout=5")
    srv.receive_message('{"type": "ForceEndpoint"}', T0 + 1)
    assert srv.events_received() == [ForceEndpointRequested()]
    srv.receive_message('{"type":"KeepAlive"}', T0 + 4)
    srv.check_timers(T0 + 8.5)
    assert srv.close_decision is None and srv.next_deadline() == T0 + 9


def test_terminate_then_audio_ignored() -> None:
    srv = begun()
    srv.receive_message(audio_ms(100), T0)
    srv.receive_message('{"type":"Terminate"}', T0)
    srv.receive_message(audio_ms(100), T0)
    srv.receive_message("{garbage", T0)
    assert [type(e) for e in srv.events_received()] == [AudioReceived, TerminateRequested]
    assert srv.close_decision is None and srv.data_to_send() == []


# ---------------------------------------------------------------- timers


def test_session_cap_3008() -> None:
    issuer = TokenIssuer(token_factory=lambda: "t")
    issuer.handle("/v3/token?expires_in_seconds=60&max_session_duration_seconds=60", {"Authorization": "k"}, UNIX)
    srv = AssemblyAIServerSession("/v3/ws?token=t", {}, now=T0, unix_time=UNIX,
                                  config=ServerConfig(api_keys=frozenset(), token_check=issuer.redeem))
    sent(srv)
    assert srv.next_deadline() == T0 + 60
    srv.check_timers(T0 + 59.9)
    assert srv.close_decision is None
    srv.check_timers(T0 + 60)
    assert_error_close(srv, 3008, "Session Expired: Maximum session duration exceeded")
    assert srv.next_deadline() is None


def test_inactivity_timeout_terminates() -> None:
    srv = begun("inactivity_timeout=10")
    srv.receive_message(audio_ms(100), T0 + 1)
    assert srv.next_deadline() == T0 + 11
    srv.check_timers(T0 + 11)
    msgs = sent(srv)
    assert msgs == [{"type": "Termination", "audio_duration_seconds": 0, "session_duration_seconds": 11}]
    assert srv.close_decision == CloseDecision(1000, "")


def test_no_timeout_without_inactivity_timeout() -> None:
    srv = begun()
    assert srv.next_deadline() == T0 + 10800
    srv.check_timers(T0 + 10_000)
    assert srv.close_decision is None


# ---------------------------------------------------------------- termination


def test_termination_integers() -> None:
    srv = begun()
    for _ in range(15):
        srv.receive_message(audio_ms(100), T0 + 1.5)
    srv.receive_message('{"type":"Terminate"}', T0 + 1.6)
    srv.finish(T0 + 12.4)
    [m] = srv.data_to_send()
    doc = json.loads(m)
    assert doc == {"type": "Termination", "audio_duration_seconds": 2, "session_duration_seconds": 12}
    assert '"audio_duration_seconds":2,' in m  # an int on the wire, not 2.0
    assert srv.close_decision == CloseDecision(1000, "") and srv.state is ServerState.CLOSING
    with pytest.raises(SessionStateError):
        srv.finish(T0 + 13)
    srv.fail(3005, "late")  # ignored
    assert srv.data_to_send() == []


def test_fail_once_and_reason_cut() -> None:
    srv = begun()
    srv.fail(3005, "Session Cancelled: " + "é" * 200)
    srv.fail(3009, "second")
    msgs = sent(srv)
    assert len(msgs) == 1 and msgs[0]["error_code"] == 3005
    assert srv.close_decision is not None and len(srv.close_decision.reason.encode()) <= 123
    srv.receive_close(3005, "")
    assert srv.state is ServerState.CLOSED
    with pytest.raises(SessionStateError):
        srv.emit_turn([], end_of_turn=True)


# ---------------------------------------------------------------- results


def W(text: str, start: int, end: int, final: bool = True) -> RecognizedWord:
    return RecognizedWord(text, start, end, 0.9, final)


def test_universal_turns_unformatted() -> None:
    srv = begun()
    srv.emit_turn([W("hi", 100, 300), W("my", 400, 500, False)], end_of_turn=False, end_of_turn_confidence=0.2)
    srv.emit_turn([W("hi", 100, 300), W("my", 400, 500), W("name", 600, 900)], end_of_turn=True)
    p, e = sent(srv)
    assert p == {"type": "Turn", "turn_order": 0, "turn_is_formatted": False, "end_of_turn": False, "transcript": "hi",
                 "end_of_turn_confidence": 0.2, "utterance": "",
                 "words": [{"start": 100, "end": 300, "text": "hi", "confidence": 0.9, "word_is_final": True},
                           {"start": 400, "end": 500, "text": "my", "confidence": 0.9, "word_is_final": False}]}
    assert e["end_of_turn"] is True and e["transcript"] == e["utterance"] == "hi my name"
    assert all(w["word_is_final"] for w in e["words"]) and e["end_of_turn_confidence"] == 1.0  # type: ignore[attr-defined]
    assert "language_code" not in e and "speaker_label" not in e
    srv.emit_turn([W("next", 1000, 1200)], end_of_turn=True)
    assert sent(srv)[0]["turn_order"] == 1


def test_universal_turns_formatted() -> None:
    srv = begun("format_turns=true")
    srv.emit_turn([W("hello", 0, 400), W("there", 450, 800)], end_of_turn=True)
    u, f = sent(srv)
    assert (u["turn_is_formatted"], f["turn_is_formatted"]) == (False, True)
    assert u["turn_order"] == f["turn_order"] == 0 and u["end_of_turn"] and f["end_of_turn"]
    assert f["transcript"] == f["utterance"] == "Hello there." and [w["text"] for w in f["words"]] == ["Hello", "there."]  # type: ignore[attr-defined]
    srv.emit_turn([W("a", 0, 1)], end_of_turn=True, formatted=["A!"])
    assert sent(srv)[1]["transcript"] == "A!"
    with pytest.raises(ParameterError):
        srv.emit_turn([W("a", 0, 1)], end_of_turn=True, formatted=[])


def test_u3_turns() -> None:
    srv = begun(f"speech_model={U3}")
    srv.emit_turn([W("my", 1216, 1400), W("name", 1400, 1600)], end_of_turn=False)
    srv.emit_turn([W("my", 1216, 1400), W("name", 1400, 1600), W("is", 1600, 1700)], end_of_turn=False)
    srv.emit_turn([W("my", 1216, 1400), W("name", 1400, 1600), W("is", 1600, 1700), W("ann", 1700, 1900)],
                  end_of_turn=True)
    ss, p1, p2, f = sent(srv)
    assert ss == {"type": "SpeechStarted", "timestamp": 1216, "confidence": 1.0}
    for p in (p1, p2):
        assert not p["end_of_turn"] and not p["turn_is_formatted"] and p["end_of_turn_confidence"] == 0.0
        assert not any(w["word_is_final"] for w in p["words"])  # type: ignore[attr-defined]
    assert p2["transcript"] == "my name is"  # U3: the whole current text
    assert f["end_of_turn"] and f["turn_is_formatted"] and f["end_of_turn_confidence"] == 1.0
    assert f["transcript"] == f["utterance"] == "My name is ann." and all(w["word_is_final"] for w in f["words"])  # type: ignore[attr-defined]
    srv.emit_speech_started(2500, 0.7)
    srv.emit_turn([W("ok", 2500, 2700)], end_of_turn=True)
    ss2, f2 = sent(srv)
    assert ss2 == {"type": "SpeechStarted", "timestamp": 2500, "confidence": 0.7} and f2["turn_order"] == 1


def test_speech_started_only_on_u3() -> None:
    with pytest.raises(SessionStateError):
        begun().emit_speech_started(5)


def test_speaker_labels_and_language_detection() -> None:
    srv = begun("speech_model=universal-streaming-multilingual&speaker_labels=true&language_detection=true")
    srv.emit_turn([W("hola", 0, 300, False)], end_of_turn=False, language_code="es", language_confidence=0.9)
    srv.emit_turn([W("hola", 0, 300)], end_of_turn=True, speaker_label="A", language_code="es",
                  language_confidence=0.9)
    p, e = sent(srv)
    assert p["speaker_label"] == "UNKNOWN" and "language_code" not in p  # only with an utterance or EOT (§4.2)
    assert e["speaker_label"] == "A" and (e["language_code"], e["language_confidence"]) == ("es", 0.9)
    plain = begun()
    plain.emit_turn([W("x", 0, 1)], end_of_turn=True, speaker_label="A", language_code="en")
    [t] = sent(plain)
    assert "speaker_label" not in t and "language_code" not in t


def test_results_after_terminate() -> None:
    srv = begun()
    srv.receive_message('{"type":"Terminate"}', T0)
    srv.emit_turn([W("last", 0, 200)], end_of_turn=True)
    srv.finish(T0 + 1)
    assert [m["type"] for m in sent(srv)] == ["Turn", "Termination"]


def test_default_formatter() -> None:
    assert default_formatter(["hello", "world"]) == ["Hello", "world."]
    assert default_formatter(["why?"]) == ["Why?"]
    assert default_formatter([]) == []


# ---------------------------------------------------------------- round trip


class Recognizer:
    """Turns every 0.5 s of audio into one word; a turn ends every 3 words or on request."""

    def __init__(self, srv: AssemblyAIServerSession) -> None:
        self.srv, self.words, self.pos, self.n = srv, [], 0.0, 0

    def feed(self, events: list[object]) -> None:
        for ev in events:
            if isinstance(ev, AudioReceived):
                end = ev.start + ev.duration
                while self.pos + 0.5 <= end + 1e-9:
                    self.n += 1
                    self.words.append(RecognizedWord(f"w{self.n}", round(self.pos * 1000), round((self.pos + 0.5) * 1000)))
                    self.pos += 0.5
                    self.srv.emit_turn(self.words, end_of_turn=len(self.words) == 3)
                    if len(self.words) == 3:
                        self.words = []
            elif isinstance(ev, (ForceEndpointRequested, TerminateRequested)) and self.words:
                self.srv.emit_turn(self.words, end_of_turn=True)
                self.words = []


@pytest.mark.parametrize("model", ["universal-streaming-english", U3])
@pytest.mark.parametrize("format_turns", [False, True])
def test_round_trip_in_memory(model: str, format_turns: bool) -> None:
    kw: dict[str, object] = {"speech_model": model}
    if format_turns:
        kw["format_turns"] = True
    client = AssemblyAISession(StreamingParams(**kw), chunk_duration=0.1)  # type: ignore[arg-type]
    ack = TurnAck(formats_turns=client.params.formats_turns)
    url = client.request_url(host="ws://127.0.0.1:1")
    path = url[url.index("/v3/ws"):]
    srv = AssemblyAIServerSession(path, client.request_headers(ApiKey(KEY)), now=T0, unix_time=UNIX, config=CFG)
    rec = Recognizer(srv)
    got: list[object] = []

    def pump(now: float) -> None:
        rec.feed(srv.events_received())  # type: ignore[arg-type]
        for text in srv.data_to_send():
            for ev in client.receive_message(text):
                ack.observe(ev)
                got.append(ev)

    pump(T0)
    assert client.begun and client.session_id == srv.session_id and client.expires_at == srv.expires_at
    audio = bytes(range(256)) * 250  # 64000 bytes = 2.0 s; then a 30 ms tail
    audio += b"\x01\x00" * 480
    t = T0
    for i in range(0, len(audio), 1000):  # odd-sized pieces
        for msg in client.send_audio(audio[i:i + 1000]):
            t += 0.1
            srv.receive_message(msg, t)
        pump(t)
    for msg in client.end_of_stream():
        srv.receive_message(msg.decode() if isinstance(msg, TextMessage) else msg, t)
    pump(t)
    assert srv.state is ServerState.TERMINATING
    srv.finish(t + 0.5)
    pump(t + 0.5)
    code, reason = srv.close_decision  # type: ignore[misc]
    assert client.receive_close(code, reason) is None and client.state is SessionState.CLOSED
    # the audio arrived unchanged, the 30 ms tail padded to 50 ms with silence
    assert srv.audio_nbytes == len(audio) + (1600 - 960)
    turns = [e for e in got if isinstance(e, Turn)]
    finals = [e for e in turns if client.is_final(e)]
    assert [f.turn_order for f in finals] == [0, 1]
    assert [w.text.strip(".").lower() for f in finals for w in f.words] == [f"w{i}" for i in range(1, 5)]
    assert (finals[0].turn_is_formatted, finals[0].transcript[0].isupper()) == ((format_turns or model == U3),) * 2
    if model == U3:
        assert sum(isinstance(e, SpeechStarted) for e in got) == 2
    term = got[-1]
    assert isinstance(term, Termination) and term.audio_duration_seconds == 2 and term.session_duration_seconds == 3
    assert isinstance(got[0], Begin)
    assert ack.ack_ms == 2000  # end of the last word of the last final turn
