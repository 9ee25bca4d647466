"""The local service's ``/v3/ws`` and ``/v3/token`` (issue 12), on real loopback sockets.

The official ``assemblyai`` SDK, unmodified, is the oracle client (``ws://``, and
``wss://`` with a self-signed certificate trusted through ``SSL_CERT_FILE``, with a
temporary token); raw ``websockets`` clients check each fault's close code and reason;
scribewire's own ``AssemblyAIClient`` checks every byte arrives (the service's SHA-256 of
what it received). The corpus runs are in ``test_assemblyai_corpus.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from _aai_service import KEY, ThreadedService
from _tls import self_signed_cert, server_context
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from scribewire import AssemblyAIClient
from scribewire.assemblyai import StreamingParams, Termination, Turn
from scribewire.audio import ulaw_encode
from scribewire.media.files import open_audio
from scribewire.server import LocalTranscribeService

# the SDK's sync client calls websockets' connect() without a context manager
# (and reads the deprecated ConnectionClosed.code in its reader thread)
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:ConnectionClosed.* is deprecated:DeprecationWarning"),
]

CLIP = "ps_goforward.16k.wav"  # "go forward ten meters", 2.8 s


def _pcm(shared_dir: Path, name: str, rate: int) -> bytes:
    with open_audio(shared_dir / "audio" / name) as src:
        return src.read(sample_rate=rate, channels=1)


def _sdk_stream(
    url: str,
    pcm: bytes,
    rate: int,
    encoding: str,
    *,
    token: str | None = None,
    key: str | None = KEY,
    format_turns: bool = False,
) -> dict[str, list[Any]]:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    seen: dict[str, list[Any]] = {"begin": [], "turn": [], "termination": [], "error": []}
    options = StreamingClientOptions(api_host=url, api_key=None if token else key, token=token)
    client = StreamingClient(options)
    client.on(StreamingEvents.Begin, lambda _c, e: seen["begin"].append(e))
    client.on(StreamingEvents.Turn, lambda _c, e: seen["turn"].append(e))
    client.on(StreamingEvents.Termination, lambda _c, e: seen["termination"].append(e))
    client.on(StreamingEvents.Error, lambda _c, e: seen["error"].append(e))
    client.connect(
        StreamingParameters(sample_rate=rate, encoding=encoding, format_turns=format_turns)
    )
    width = 1 if encoding == "pcm_mulaw" else 2
    step = rate * width // 10  # 100 ms
    client.stream(pcm[i : i + step] for i in range(0, len(pcm), step))
    client.disconnect(terminate=True)
    return seen


@pytest.mark.parametrize(("rate", "encoding"), [(16_000, "pcm_s16le"), (8_000, "pcm_mulaw")])
def test_official_sdk_streams_a_clip(shared_dir: Path, rate: int, encoding: str) -> None:
    pcm = _pcm(shared_dir, CLIP, rate)
    wire = bytes(ulaw_encode(pcm)) if encoding == "pcm_mulaw" else pcm
    with ThreadedService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
        seen = _sdk_stream(svc.url, wire, rate, encoding, format_turns=True)
        (stats,) = svc.finished(1)
    _check_sdk_session(seen, stats, wire, len(pcm) / (2 * rate))


def _check_sdk_session(seen: dict[str, list[Any]], stats: Any, wire: bytes, seconds: float) -> None:
    """One clean SDK session of ``CLIP``: ``Begin``, turns holding "forward" in order,
    ``Termination`` with the clip's whole seconds, every byte received."""
    assert seen["error"] == []
    assert len(seen["begin"]) == 1
    # the SDK's disconnect(terminate=True) may stop reading before the last formatted
    # end of turn arrives: the words are checked over every Turn it delivered
    words = " ".join(w.text for t in seen["turn"] for w in t.words).lower()
    assert "forward" in words, seen["turn"]
    orders = [t.turn_order for t in seen["turn"]]
    assert orders == sorted(orders)
    (term,) = seen["termination"]
    assert term.audio_duration_seconds == round(seconds)
    assert stats.audio_sha256 == hashlib.sha256(wire).hexdigest()


def test_official_sdk_over_wss_with_a_self_signed_certificate(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wss://`` and ``https://`` (the SDK's defaults for a bare host) to the service with
    a self-signed certificate the client trusts through ``SSL_CERT_FILE`` only: a
    temporary token from the SDK's own ``create_temporary_token``, a session with it;
    then scribewire's ``AssemblyAIClient`` on the same ``wss://`` URL; and, with the
    certificate not trusted, the SDK refused (so the check really happened)."""
    from assemblyai.streaming.v3 import StreamingClient, StreamingClientOptions

    cert, key = self_signed_cert(tmp_path)
    pcm = _pcm(shared_dir, CLIP, 16_000)
    ctx = server_context(cert, key)
    with ThreadedService(recognizer="pocketsphinx", assemblyai_api_key=KEY, ssl=ctx) as svc:
        assert svc.url.startswith("wss://")
        host = svc.url.removeprefix("wss://")  # "127.0.0.1:PORT", as for api.assemblyai.com
        untrusted = _sdk_stream(host, pcm, 16_000, "pcm_s16le")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        sdk = StreamingClient(StreamingClientOptions(api_host=host, api_key=KEY))
        token = sdk.create_temporary_token(expires_in_seconds=60)
        seen = _sdk_stream(host, pcm, 16_000, "pcm_s16le", token=token, format_turns=True)
        (stats,) = svc.finished(1)

        async def ours() -> list[Any]:
            client = AssemblyAIClient(api_key=KEY, endpoint=svc.url, speed=20.0)
            return await client.transcribe_file(
                shared_dir / "audio" / CLIP, StreamingParams(sample_rate=16_000)
            )

        events = asyncio.run(asyncio.wait_for(ours(), 60))
        (_, ours_stats) = svc.finished(2)
    assert untrusted["begin"] == [] and "CERTIFICATE_VERIFY_FAILED" in str(untrusted["error"])
    _check_sdk_session(seen, stats, pcm, len(pcm) / 32_000)
    assert isinstance(events[-1], Termination)
    assert ours_stats.audio_nbytes >= len(pcm) and ours_stats.close_code == 1000


def test_temporary_token_from_v3_token(shared_dir: Path) -> None:
    pcm = _pcm(shared_dir, CLIP, 16_000)
    with ThreadedService(recognizer="null", assemblyai_api_key=KEY) as svc:
        base = svc.url.replace("ws://", "http://")
        req = urllib.request.Request(
            f"{base}/v3/token?expires_in_seconds=60", headers={"Authorization": KEY}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            token = json.loads(resp.read())["token"]
        bad = urllib.request.Request(
            f"{base}/v3/token?expires_in_seconds=60", headers={"Authorization": "wrong"}
        )
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(bad, timeout=10)
        assert exc.value.code == 401
        seen = _sdk_stream(svc.url, pcm, 16_000, "pcm_s16le", token=token)
        assert seen["error"] == [] and len(seen["termination"]) == 1
        again = _sdk_stream(svc.url, pcm, 16_000, "pcm_s16le", token=token)  # single use
    assert again["begin"] == [] and again["error"]


async def _raw(
    svc: LocalTranscribeService, query: str, actions: list[Any], key: str | None = KEY
) -> tuple[list[Any], int | None, str | None]:
    headers = {"Authorization": key} if key else {}
    async with connect(f"{svc.url}/v3/ws?{query}", additional_headers=headers) as ws:
        for action in actions:
            await ws.send(action)
        got = []
        try:
            async for message in ws:
                got.append(json.loads(message))
        except ConnectionClosed:
            pass  # an error close ends the iteration with this
        return got, ws.close_code, ws.close_reason


@pytest.mark.parametrize(
    ("query", "actions", "key", "code", "reason"),
    [
        ("sample_rate=16000", [], "bad-key", 1008, "Invalid API key"),
        ("sample_rate=16000", [], None, 1008, "Missing Authorization"),
        # 10 ms, then more audio (a short message is allowed only right before Terminate)
        ("sample_rate=16000", [b"\0" * 320, b"\0" * 3200], KEY, 3007, "Input duration violation"),
        ("sample_rate=16000", ["{not json"], KEY, 3006, "Invalid JSON"),
        ("sample_rate=16000", ['{"type": "Dance"}'], KEY, 3006, "Invalid Message Type"),
        ("sample_rate=16000&speech_model=nope", [], KEY, 3006, "speech_model"),
    ],
)
def test_faults_close_with_their_codes_and_others_carry_on(
    shared_dir: Path, query: str, actions: list[Any], key: str | None, code: int, reason: str
) -> None:
    pcm = _pcm(shared_dir, CLIP, 16_000)

    async def main() -> tuple[Any, list[Any]]:
        async with LocalTranscribeService(recognizer="null", assemblyai_api_key=KEY) as svc:
            client = AssemblyAIClient(api_key=KEY, endpoint=svc.url, speed=20.0)
            good = asyncio.create_task(
                client.transcribe_file(
                    shared_dir / "audio" / CLIP, StreamingParams(sample_rate=16_000)
                )
            )
            bad = await _raw(svc, query, actions, key)
            return bad, await good

    (got, close_code, close_reason), events = asyncio.run(asyncio.wait_for(main(), 60))
    assert close_code == code
    assert reason.lower() in (close_reason or "").lower()
    errors = [m for m in got if m.get("type") == "Error"]
    assert errors and errors[0]["error_code"] == code
    assert isinstance(events[-1], Termination) and len(pcm) > 0


def test_scribewire_client_every_byte_and_turns(shared_dir: Path) -> None:
    pcm = _pcm(shared_dir, CLIP, 16_000)

    async def main() -> tuple[list[Any], Any]:
        async with LocalTranscribeService(recognizer="pocketsphinx", assemblyai_api_key=KEY) as svc:
            client = AssemblyAIClient(
                api_key=svc.assemblyai_api_key.reveal(), endpoint=svc.url, speed=4.0
            )
            events = await client.transcribe_file(
                shared_dir / "audio" / CLIP, StreamingParams(sample_rate=16_000)
            )
            (stats,) = await svc.wait_finished(1, 30)
            return events, stats

    events, stats = asyncio.run(asyncio.wait_for(main(), 120))
    rem = len(pcm) % 3200  # the last message is padded with silence up to 50 ms (1,600 B)
    sent = pcm + bytes(max(0, 1600 - rem) if rem else 0)
    assert stats.audio_sha256 == hashlib.sha256(sent).hexdigest()
    finals = [e for e in events if isinstance(e, Turn) and e.end_of_turn]
    assert "forward" in " ".join(t.transcript for t in finals)
    assert all(isinstance(w.start, int) for t in finals for w in t.words)
    assert isinstance(events[-1], Termination)


def test_command_uses_the_in_process_assemblyai_service(
    shared_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scribewire.cli.main import transcribe_main

    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)
    clip = str(shared_dir / "audio" / CLIP)
    code = transcribe_main(
        [
            "--provider",
            "assemblyai",
            "--recognizer",
            "null",
            "--speed",
            "20",
            "--format",
            "jsonl",
            clip,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "using the local AssemblyAI service" in err
    assert [json.loads(line)["text"] for line in out.splitlines()]  # the null words
    assert "aai-" not in out + err  # the generated key is never shown


# ------------------------------------------------------------------ faults with their clocks


class _Failing:
    """A recognizer that breaks at its second audio message (a bug in a recognizer)."""

    def __init__(self, blocking: bool) -> None:
        self.blocking = blocking
        self.calls = 0

    def accept(self, pcm: bytes, start: float) -> list[Any]:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("recognizer bug")
        return []

    def finish(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass


def _factory(blocking: bool) -> Any:
    """8 kHz sessions get a failing recognizer, the rest the null one."""
    from scribewire.server.recognizers import NullRecognizer

    def factory(sample_rate: int, channel: int) -> Any:
        return _Failing(blocking) if sample_rate == 8_000 else NullRecognizer(sample_rate)

    factory.__name__ = "failing-at-8k"
    return factory


_SILENCE_100MS = bytes(3_200)  # 16 kHz int16


@pytest.mark.parametrize(
    ("case", "service", "query", "actions", "code", "reason"),
    [
        # the quota (one session) is held by the good stream: the second is refused
        ("quota", {"quota": 1}, "sample_rate=16000", [], 3009, "Too many concurrent sessions"),
        # a session over the service's cap (here 2 s; 3 h by default, §5.1)
        ("expiry", {"assemblyai_options": {"max_session_seconds": 2.0}}, "sample_rate=16000",
         [_SILENCE_100MS], 3008, "Maximum session duration exceeded"),
        # 3 s of audio at once against an allowance of 1 s ahead of the wall clock (§3.1)
        ("rate", {"assemblyai_options": {"rate_allowance": 1.0}}, "sample_rate=16000",
         [_SILENCE_100MS] * 30, 3007, "Audio Transmission Rate Exceeded"),
        # no audio for inactivity_timeout seconds (5 s, its least): Termination, then 1000
        ("inactivity", {}, "sample_rate=16000&inactivity_timeout=5", [_SILENCE_100MS],
         1000, ""),
        # JSON that is no message where audio or a control message is expected
        ("text", {}, "sample_rate=16000", ['["audio"]'], 3006, ""),
        # a recognizer that raises (in the loop, and in a worker thread): 3005
        ("recognizer", {"recognizer": _factory(False)}, "sample_rate=8000",
         [bytes(1600)] * 3, 3005, "Session Cancelled: RuntimeError"),
        ("recognizer-thread", {"recognizer": _factory(True)}, "sample_rate=8000",
         [bytes(1600)] * 3, 3005, "Session Cancelled: RuntimeError"),
    ],
)  # fmt: skip
def test_service_faults_close_with_their_codes_and_the_other_session_carries_on(
    shared_dir: Path,
    case: str,
    service: dict[str, Any],
    query: str,
    actions: list[Any],
    code: int,
    reason: str,
) -> None:
    """Each fault of assemblyai.md §5.1 that comes from the service's clocks, limits or
    recognizer, on a raw client; beside it a scribewire stream of a clip runs to its
    ``Termination`` with every byte received."""
    pcm = _pcm(shared_dir, CLIP, 16_000)
    kwargs: dict[str, Any] = {"recognizer": "null", **service}

    async def main() -> tuple[Any, list[Any], Any]:
        async with LocalTranscribeService(assemblyai_api_key=KEY, **kwargs) as svc:
            # real time where it must hold its slot (quota) or keep the pace (rate)
            client = AssemblyAIClient(
                api_key=KEY, endpoint=svc.url, speed=1.0 if case in ("quota", "rate") else 20.0
            )
            good = asyncio.create_task(
                client.transcribe_file(
                    shared_dir / "audio" / CLIP, StreamingParams(sample_rate=16_000)
                )
            )
            if case == "quota":
                for _ in range(500):
                    if svc._live:
                        break
                    await asyncio.sleep(0.01)
            bad = await _raw(svc, query, actions)
            events = await good
            await svc.wait_finished(2, 30)
            return bad, events, svc

    (got, close_code, close_reason), events, svc = asyncio.run(asyncio.wait_for(main(), 90))
    assert close_code == code, (got, close_reason)
    assert reason.lower() in (close_reason or "").lower()
    types = [m["type"] for m in got]
    if code == 1000:
        assert types[0] == "Begin" and types[-1] == "Termination", types
    else:
        errors = [m for m in got if m["type"] == "Error"]
        assert errors and errors[0]["error_code"] == code, got
    assert isinstance(events[-1], Termination)
    rem = len(pcm) % 3200  # the last message is padded with silence up to 50 ms (1,600 B)
    sent = pcm + bytes(max(0, 1600 - rem) if rem else 0)
    digests = [st.audio_sha256 for st in svc.finished_streams if st.close_code == 1000]
    assert hashlib.sha256(sent).hexdigest() in digests
