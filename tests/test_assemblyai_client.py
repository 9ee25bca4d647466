"""``AssemblyAIClient`` end to end against a minimal AssemblyAI v3 peer on loopback.

The peer below is written from assemblyai.md alone (no scribewire code on the server
side): ``/v3/ws`` with the API key raw in ``Authorization`` (§1.2), ``sample_rate`` and
``encoding`` in the query (§2.3), ``Begin`` first (§4.1), binary audio messages of
50-1000 ms (§3.1), one end-of-turn ``Turn`` per second of audio with integer ms word
times (§4.2), ``Terminate`` answered by ``Termination`` with integer durations and a
close 1000 (§4.4). It records every audio message so the tests can check each byte,
each message's duration and the pacing (with the peer's own clock: the tests compare
audio seconds against loop seconds loosely, never a wall-clock gap).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve

from scribewire import AssemblyAIClient
from scribewire.assemblyai import Begin, StreamingParams, Termination, Turn
from scribewire.audio import ulaw_decode, ulaw_encode
from scribewire.errors import CredentialsError, ParameterError
from scribewire.media.files import open_audio

KEY = "aai-test-key-not-real-0123456789"
CLIP = "ps_goforward.16k.wav"  # 2.8 s, 16 kHz mono
CALL = "call_synth_billing.8k.ulaw.wav"  # 66.6 s stereo μ-law


class Peer:
    """A minimal v3 server: records each connection's audio messages and timings."""

    def __init__(self, *, cut_after_nbytes: int | None = None, cut_code: int = 3005) -> None:
        self.cut_after_nbytes = cut_after_nbytes  # first connection only
        self.cut_code = cut_code
        self.connections: list[dict[str, Any]] = []
        self.port = 0

    async def __aenter__(self) -> Peer:
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _handler(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        if request.headers.get("Authorization") != KEY:
            await ws.close(1008, "Unauthorized Connection: Invalid API key")
            return
        split = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        rate = int(query["sample_rate"])
        width = 1 if query.get("encoding") == "pcm_mulaw" else 2
        loop = asyncio.get_running_loop()
        conn: dict[str, Any] = {
            "path": split.path,
            "query": query,
            "messages": [],
            "arrivals": [],
            "audio": bytearray(),
        }
        self.connections.append(conn)
        first = len(self.connections) == 1
        await ws.send(
            json.dumps({"type": "Begin", "id": str(uuid.uuid4()), "expires_at": 1_900_000_000})
        )
        per_turn = rate * width  # a turn per second of audio
        turn_order = 0
        async for message in ws:
            if isinstance(message, str):
                msg = json.loads(message)
                if msg["type"] == "Terminate":
                    seconds = len(conn["audio"]) // (rate * width)
                    await ws.send(
                        json.dumps(
                            {
                                "type": "Termination",
                                "audio_duration_seconds": seconds,
                                "session_duration_seconds": int(loop.time() - conn["arrivals"][0])
                                if conn["arrivals"]
                                else 0,
                            }
                        )
                    )
                    await ws.close(1000)
                    return
                conn.setdefault("control", []).append(msg)
                continue
            conn["messages"].append(len(message))
            conn["arrivals"].append(loop.time())
            conn["audio"] += message
            total = len(conn["audio"])
            while (turn_order + 1) * per_turn <= total:
                start_ms, end_ms = turn_order * 1000, turn_order * 1000 + 900
                await ws.send(
                    json.dumps(
                        {
                            "type": "Turn",
                            "turn_order": turn_order,
                            "turn_is_formatted": False,
                            "end_of_turn": True,
                            "transcript": f"word{turn_order}",
                            "end_of_turn_confidence": 0.9,
                            "words": [
                                {
                                    "start": start_ms,
                                    "end": end_ms,
                                    "text": f"word{turn_order}",
                                    "confidence": 0.9,
                                    "word_is_final": True,
                                }
                            ],
                        }
                    )
                )
                if query.get("format_turns") == "true":  # a formatted copy follows (§4.2)
                    await ws.send(json.dumps({
                        "type": "Turn", "turn_order": turn_order, "turn_is_formatted": True,
                        "end_of_turn": True, "transcript": f"Word{turn_order}.",
                        "end_of_turn_confidence": 0.9,
                        "words": [{"start": start_ms, "end": end_ms, "text": f"Word{turn_order}.",
                                   "confidence": 0.9, "word_is_final": True}],
                    }))
                turn_order += 1
            if first and self.cut_after_nbytes is not None and total >= self.cut_after_nbytes:
                await ws.close(self.cut_code, "Session Cancelled: An error occurred")
                return


def _pcm(shared_dir: Path, name: str, rate: int) -> bytes:
    with open_audio(shared_dir / "audio" / name) as src:
        return src.read(sample_rate=rate, channels=1)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_every_byte_arrives_in_legal_messages_paced_and_terminated(shared_dir: Path) -> None:
    pcm = _pcm(shared_dir, CLIP, 16_000)
    params = StreamingParams(sample_rate=16_000)

    async def main() -> tuple[Peer, list[Any]]:
        async with Peer() as peer:
            client = AssemblyAIClient(api_key=KEY, endpoint=peer.url, speed=4.0)
            events = []
            async with client.stream(params) as stream:

                async def feed() -> None:
                    for i in range(0, len(pcm), 5_000):  # odd sizes: the stream reframes
                        await stream.send(pcm[i : i + 5_000])
                    await stream.end()

                feeder = asyncio.create_task(feed())
                events = [e async for e in stream]
                await feeder
            return peer, events

    peer, events = run(main())
    (conn,) = peer.connections
    assert conn["path"] == "/v3/ws" and conn["query"]["sample_rate"] == "16000"
    # every byte, in order (the last message padded with silence up to 50 ms, §3.1)
    audio = bytes(conn["audio"])
    assert audio[: len(pcm)] == pcm and set(audio[len(pcm) :]) <= {0}
    assert hashlib.sha256(audio[: len(pcm)]).hexdigest() == hashlib.sha256(pcm).hexdigest()
    ms = [n / 32 for n in conn["messages"]]  # 32 bytes per ms at 16 kHz int16
    assert all(50 <= m <= 1000 for m in ms), ms
    assert ms[:-1] == [100.0] * (len(ms) - 1)  # 100 ms chunks by default
    # paced: the audio took at least most of its duration / speed to arrive (loose bound)
    span = conn["arrivals"][-1] - conn["arrivals"][0]
    assert span >= 0.5 * (len(pcm) / 32_000 - 0.1) / 4.0
    assert isinstance(events[0], Begin) and isinstance(events[-1], Termination)
    assert events[-1].audio_duration_seconds == len(audio) // 32_000
    turns = [e for e in events if isinstance(e, Turn)]
    assert [t.turn_order for t in turns] == list(range(len(pcm) // 32_000))


def test_retryable_close_reconnects_and_replays_what_was_not_acknowledged(shared_dir: Path) -> None:
    pcm = _pcm(shared_dir, CLIP, 16_000)
    params = StreamingParams(sample_rate=16_000)
    cut = 48_000  # 1.5 s: the turn ending at 0.9 s is acknowledged, the rest is not

    async def main() -> tuple[Peer, list[Any], Any]:
        async with Peer(cut_after_nbytes=cut) as peer:
            client = AssemblyAIClient(api_key=KEY, endpoint=peer.url, speed=8.0)
            async with client.stream(params) as stream:

                async def feed() -> None:
                    await stream.send(pcm)
                    await stream.end()

                feeder = asyncio.create_task(feed())
                events = [e async for e in stream]
                await feeder
            return peer, events, stream

    peer, events, stream = run(main())
    assert len(peer.connections) == 2 and stream.connections == 2
    first, second = (bytes(c["audio"]) for c in peer.connections)
    offset = round(stream.connection_offsets[1] * 32_000)
    assert 0 < offset <= len(first)  # the replay starts at or before the cut
    assert offset == 28_800  # the acknowledged turn ended at 900 ms
    # the second connection carries the clip from the ack point on: nothing lost
    assert second[: len(pcm) - offset] == pcm[offset:]
    assert first[:offset] == pcm[:offset]
    assert stream.ledger.dropped_nbytes == 0
    # turns renumbered onto one base across connections, times shifted
    turns = [e for e in events if isinstance(e, Turn)]
    orders = [t.turn_order for t in turns]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    # the second connection starts at the ack point (0.9 s): its first turn, at 0 ms on
    # that connection, is at 900 ms of the stream
    assert [t.words[0].start for t in turns][:2] == [0, 900]


def test_mulaw_stream_sends_g711_bytes(shared_dir: Path) -> None:
    pcm = _pcm(shared_dir, CLIP, 8_000)
    params = StreamingParams(sample_rate=8_000, encoding="pcm_mulaw")

    async def main() -> Peer:
        async with Peer() as peer:
            client = AssemblyAIClient(api_key=KEY, endpoint=peer.url, speed=8.0)
            async with client.stream(params) as stream:
                await stream.send(pcm)
                await stream.end()
                _ = [e async for e in stream]
            return peer

    peer = run(main())
    (conn,) = peer.connections
    assert conn["query"]["encoding"] == "pcm_mulaw"
    expected = bytes(ulaw_encode(pcm))
    assert bytes(conn["audio"])[: len(expected)] == expected
    assert all(400 <= n <= 8_000 for n in conn["messages"])  # 50-1000 ms at 1 byte/sample


def test_stereo_call_is_one_session_per_channel(shared_dir: Path) -> None:
    path = shared_dir / "audio" / CALL
    with open_audio(path) as src:
        channels = [src.read(sample_rate=8_000, channel=ch) for ch in (0, 1)]
    src.close()
    params = StreamingParams(sample_rate=8_000, encoding="pcm_mulaw")

    async def main() -> tuple[Peer, dict[int, list[Any]]]:
        async with Peer() as peer:
            client = AssemblyAIClient(api_key=KEY, endpoint=peer.url, speed=50.0)
            return peer, await client.transcribe_channels(path, params)

    peer, results = run(main())
    assert sorted(results) == [0, 1] and len(peer.connections) == 2
    got = sorted(bytes(c["audio"]) for c in peer.connections)
    want = sorted(bytes(ulaw_encode(ch)) for ch in channels)
    for g, w in zip(got, want, strict=True):
        assert g[: len(w)] == w
    for events in results.values():
        assert isinstance(events[-1], Termination)
    assert len(bytes(ulaw_decode(want[0]))) == 2 * len(want[0])


def test_control_messages_and_the_key_stays_secret(
    shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pcm = _pcm(shared_dir, CLIP, 16_000)
    params = StreamingParams(sample_rate=16_000)
    caplog.set_level("DEBUG")

    async def main() -> tuple[Peer, Any]:
        async with Peer() as peer:
            client = AssemblyAIClient(api_key=KEY, endpoint=peer.url, speed=8.0)
            async with client.stream(params) as stream:
                await stream.send(pcm[:16_000])
                stream.update_configuration(max_turn_silence=800)
                stream.force_endpoint()
                await stream.send(pcm[16_000:])
                await stream.end()
                _ = [e async for e in stream]
            return peer, (client, stream)

    peer, objs = run(main())
    control = peer.connections[0]["control"]
    assert control == [
        {"type": "UpdateConfiguration", "max_turn_silence": 800},
        {"type": "ForceEndpoint"},
    ]
    assert objs[1]._provider.params.max_turn_silence == 800  # kept for a reconnect
    assert KEY not in repr(objs) and KEY not in caplog.text


def test_credentials_and_parameters_fail_with_typed_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)
    client = AssemblyAIClient(endpoint="ws://127.0.0.1:9")
    with pytest.raises(CredentialsError, match="ASSEMBLYAI_API_KEY"):
        client._credential()
    with pytest.raises(ParameterError, match="50-1000 ms"):
        AssemblyAIClient(api_key=KEY, chunk_duration=0.02)
    with pytest.raises(ParameterError, match="3 h"):
        AssemblyAIClient(api_key=KEY, rollover_after=20_000)
    with pytest.raises(ParameterError, match="StreamingParams"):
        client.stream(object())  # type: ignore[arg-type]
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    key, token = client._credential()
    assert token is None and key is not None and KEY not in repr(key)


# --------------------------------------------------------------------------- the command


class ThreadedPeer:
    """``Peer`` on its own event loop in a thread, for the synchronous command."""

    def __init__(self) -> None:
        import threading

        self.peer = Peer()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with self.peer:
                self._ready.set()
                await self._stop.wait()

        asyncio.run(body())

    def __enter__(self) -> Peer:
        self._thread.start()
        assert self._ready.wait(30)
        return self.peer

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def test_command_streams_a_file_to_assemblyai(
    shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scribewire.cli.main import transcribe_main

    clip = str(shared_dir / "audio" / CLIP)
    with ThreadedPeer() as peer:
        code = transcribe_main(
            [
                "--provider",
                "assemblyai",
                "--endpoint",
                peer.url,
                "--api-key",
                KEY,
                "--speed",
                "20",
                "--format",
                "jsonl",
                "--max-turn-silence",
                "700",
                clip,
            ]
        )
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["text"] for line in lines] == ["word0", "word1"]
    assert lines[1]["start"] == 1.0 and lines[1]["end"] == 1.9
    (conn,) = peer.connections
    assert conn["query"]["max_turn_silence"] == "700"
    assert KEY not in out + err
    assert "1 file(s), 1 stream(s)" in err


def test_command_stereo_file_is_a_session_per_channel(
    shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scribewire.cli.main import transcribe_main

    call = str(shared_dir / "audio" / CALL)
    with ThreadedPeer() as peer:
        code = transcribe_main(
            [
                "--provider",
                "assemblyai",
                "--endpoint",
                peer.url,
                "--api-key",
                KEY,
                "--speed",
                "100",
                "--encoding",
                "pcm_mulaw",
                call,
            ]
        )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(peer.connections) == 2
    assert {c["query"]["encoding"] for c in peer.connections} == {"pcm_mulaw"}
    assert "ch_0: word0" in out and "ch_1: word0" in out
    assert "1 file(s), 2 stream(s)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--provider", "assemblyai", "--vad-threshold", "2"], "--vad-threshold"),
        (["--provider", "assemblyai", "--medical"], "not a parameter of AssemblyAI"),
        (["--speech-model", "u3-rt-pro"], "need --provider assemblyai"),
        (["--provider", "assemblyai", "--format-turns", "maybe"], "true or false"),
    ],
)
def test_command_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from scribewire.cli.main import transcribe_main

    with pytest.raises(SystemExit) as exc:
        transcribe_main([*argv, "x.wav"])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
