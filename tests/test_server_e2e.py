"""The local service end to end over loopback, driven by an independent client.

The client (``_server_client``) is botocore's ``SigV4QueryAuth`` + ``websockets`` + a
zlib event-stream encoder + botocore's ``EventStreamBuffer``: no scribewire code on the
client side. One test per fault of protocol.md §6.4.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import uuid
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _server_client import (
    amazon_envelopes,
    audio_frame,
    channel_definitions,
    configuration_frame,
    frame,
    presign,
    run_stream,
)
from _tls import self_signed_cert, server_context
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from scribewire.audio import open_audio
from scribewire.server import LocalTranscribeService, ReplayScript, Word
from scribewire.transcribe.server_session import IDLE_TIMEOUT_MESSAGE, STREAM_TOO_BIG_MESSAGE

STD = "/stream-transcription-websocket"
CA = "/call-analytics-stream-transcription-websocket"
MED = "/medical-stream-transcription-websocket"
Q16 = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"}


def url_for(
    svc: LocalTranscribeService, path: str = STD, params: dict[str, str] | None = None, **kw: Any
) -> str:
    c = svc.credentials
    return presign(
        svc.url,
        path,
        dict(Q16 if params is None else params),
        access_key=c.access_key_id,
        secret=c.secret_access_key,
        region=svc.region,
        **kw,
    )


def silence(seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    return b"\0" * (int(seconds * rate) * 2 * channels)


def chunks(pcm: bytes, nbytes: int = 3200) -> list[bytes]:
    return [audio_frame(pcm[i : i + nbytes]) for i in range(0, len(pcm), nbytes)]


def replay_one(words: list[tuple[str, float, float]]) -> dict[int, ReplayScript]:
    return {0: ReplayScript((tuple(Word(w, s, e, 1.0) for w, s, e in words),))}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --------------------------------------------------------------------------- happy paths


def test_pocketsphinx_stream_independent_client(shared_dir) -> None:
    with open_audio(shared_dir / "audio" / "arctic_aew_a0001.wav") as src:
        pcm = src.read(sample_rate=16000, channels=1)

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
            reply = await run_stream(url_for(svc), chunks(pcm) + [audio_frame(b"")])
            (stats,) = await svc.wait_finished(1)
            return reply, stats

    reply, stats = run(main())
    assert reply.exceptions == [] and reply.close_code == 1000
    assert stats.audio_sha256 == hashlib.sha256(pcm).hexdigest()
    assert stats.audio_nbytes == len(pcm)
    results = reply.results()
    finals = [r for r in results if r["IsPartial"] is False]
    partials = [r for r in results if r["IsPartial"] is True]
    assert finals and partials
    ids = {r["ResultId"] for r in results}
    assert ids == {r["ResultId"] for r in finals}  # every partial's id ends in a final
    text = " ".join(r["Alternatives"][0]["Transcript"] for r in finals)
    assert "danger" in text and "author" in text
    duration = len(pcm) / 32000
    for r in finals:
        assert "ChannelId" not in r
        items = r["Alternatives"][0]["Items"]
        assert 0 <= r["StartTime"] <= r["EndTime"] <= duration + 0.05
        for it in items:
            assert it["Type"] == "pronunciation"
            assert r["StartTime"] <= it["StartTime"] <= it["EndTime"] <= r["EndTime"] + 0.05
            assert 0.0 <= it["Confidence"] <= 1.0
            assert "Stable" not in it
    for r in partials:
        assert all("Confidence" not in it for it in r["Alternatives"][0]["Items"])


def test_replay_stabilization_and_medical_shape() -> None:
    words = [("alpha", 0.1, 0.3), ("bravo", 0.4, 0.6), ("charlie", 0.7, 0.9)]
    med = {
        "language-code": "en-US",
        "media-encoding": "pcm",
        "sample-rate": "16000",
        "specialty": "PRIMARYCARE",
        "type": "DICTATION",
    }

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="replay", replay=replay_one(words)) as svc:
            stab = await run_stream(
                url_for(svc, params={**Q16, "enable-partial-results-stabilization": "true"}),
                chunks(silence(1.2), 1600) + [audio_frame(b"")],
            )
            medical = await run_stream(
                url_for(svc, MED, med), chunks(silence(1.2)) + [audio_frame(b"")]
            )
            return stab, medical

    stab, medical = run(main())
    results = stab.results()
    assert [r["Alternatives"][0]["Transcript"] for r in results] == [
        "alpha",
        "alpha bravo",
        "alpha bravo charlie",
    ]
    assert [r["IsPartial"] for r in results] == [True, True, False]
    assert len({r["ResultId"] for r in results}) == 1
    stable = [[it["Stable"] for it in r["Alternatives"][0]["Items"]] for r in results]
    assert stable == [[False], [True, False], [True, True, True]]
    final_items = results[-1]["Alternatives"][0]["Items"]
    assert [(i["Content"], i["StartTime"], i["EndTime"]) for i in final_items] == words
    med_final = medical.results()[-1]
    assert med_final["Alternatives"][0]["Transcript"] == "alpha bravo charlie"
    assert all(
        "Stable" not in i and "VocabularyFilterMatch" not in i
        for i in med_final["Alternatives"][0]["Items"]
    )


def test_call_analytics_configuration_and_roles() -> None:
    q = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "8000"}
    script = {
        0: ReplayScript(((Word("hello", 0.1, 0.3, 1.0),),)),
        1: ReplayScript(((Word("hi", 0.5, 0.7, 1.0),),)),
    }
    config = configuration_frame(channel_definitions("CUSTOMER", "AGENT"))

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="replay", replay=script) as svc:
            return await run_stream(
                url_for(svc, CA, q), [config] + chunks(silence(1.0, 8000, 2)) + [audio_frame(b"")]
            )

    reply = run(main())
    assert reply.exceptions == [] and reply.close_code == 1000
    utts = [e for t, e in reply.events if t == "UtteranceEvent"]
    by_role = {u["ParticipantRole"]: u for u in utts}
    assert by_role["CUSTOMER"]["Transcript"] == "hello"
    assert by_role["AGENT"]["Transcript"] == "hi"
    assert by_role["AGENT"]["BeginOffsetMillis"] == 500
    assert by_role["AGENT"]["Items"][0]["EndOffsetMillis"] == 700
    assert all(isinstance(u["BeginOffsetMillis"], int) and "Sentiment" not in u for u in utts)


def test_tls(tmp_path) -> None:
    import ssl

    cert, key = self_signed_cert(tmp_path)
    server_ctx = server_context(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null", ssl=server_ctx) as svc:
            assert svc.url.startswith("wss://")
            async with connect(url_for(svc), ssl=client_ctx, compression=None) as ws:
                await ws.send(audio_frame(silence(0.1)))
                await ws.send(audio_frame(b""))
                async for _ in ws:
                    pass
                return ws.close_code

    assert run(main()) == 1000


# --------------------------------------------------------------------------- handshake faults


def test_bad_signature_is_403_json() -> None:
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null") as svc:
            good = url_for(svc)
            bad = good[:-1] + ("0" if good[-1] != "0" else "1")
            with pytest.raises(InvalidStatus) as info:
                async with connect(bad):
                    pass
            return info.value.response

    resp = run(main())
    assert resp.status_code == 403
    body = json.loads(resp.body)
    assert body["__type"] == "UnrecognizedClientException"
    assert "signature does not match" in body["message"]


def test_wrong_secret_as_frame() -> None:
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null", auth_failure="frame") as svc:
            c = svc.credentials
            url = presign(
                svc.url, STD, Q16, access_key=c.access_key_id, secret="wrong", region=svc.region
            )
            return await run_stream(url, [])

    reply = run(main())
    assert reply.exceptions[0][0] == "UnrecognizedClientException"
    assert "signature does not match" in reply.exceptions[0][1]
    assert reply.close_code == 1000


def test_wrong_region_and_unknown_path() -> None:
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null", region="us-west-2") as svc:
            c = svc.credentials
            url = presign(
                svc.url,
                STD,
                Q16,
                access_key=c.access_key_id,
                secret=c.secret_access_key,
                region="eu-west-1",
            )
            out = []
            for u in (url, url_for(svc).replace(STD, "/nope-websocket")):
                with pytest.raises(InvalidStatus) as info:
                    async with connect(u):
                        pass
                out.append(info.value.response)
            return out

    region, path = run(main())
    assert region.status_code == 403 and b"region" in region.body
    assert path.status_code == 404


def test_invalid_parameters() -> None:
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null") as svc:
            return await run_stream(url_for(svc, params={**Q16, "sample-rate": "7999"}), [])

    reply = run(main())
    assert reply.exceptions[0][0] == "BadRequestException"
    assert "sample-rate" in reply.exceptions[0][1]
    assert reply.close_code == 1000


# --------------------------------------------------------------------------- stream faults


async def _one(
    svc_kw: dict[str, Any],
    frames: list[bytes],
    *,
    params: dict[str, str] | None = None,
    path: str = STD,
    text: str | None = None,
) -> Any:
    async with LocalTranscribeService(**{"recognizer": "null", **svc_kw}) as svc:
        reply = await run_stream(url_for(svc, path, params), frames, text=text)
        (stats,) = await svc.wait_finished(1)
        return reply, stats


def test_corrupt_frame() -> None:
    bad = bytearray(audio_frame(silence(0.1)))
    bad[-1] ^= 0xFF
    reply, stats = run(_one({}, [audio_frame(silence(0.1)), bytes(bad)]))
    assert reply.exceptions[0][0] == "BadRequestException"
    assert "CRC32" in reply.exceptions[0][1]
    assert reply.close_code == 1000 and stats.exceptions == ["BadRequestException"]
    assert stats.audio_nbytes == 3200


def test_text_frame() -> None:
    reply, _ = run(_one({}, [], text="hello"))
    assert reply.exceptions[0][0] == "BadRequestException"
    assert "Text WebSocket messages" in reply.exceptions[0][1]
    assert reply.close_code == 1000


def test_more_than_one_second_in_one_event() -> None:
    reply, _ = run(_one({}, [audio_frame(silence(1.0) + b"\0\0")]))
    assert reply.exceptions == [("BadRequestException", STREAM_TOO_BIG_MESSAGE)]
    assert reply.close_code == 1000


def test_idle_timeout() -> None:
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null", idle_timeout=0.3) as svc:
            async with connect(url_for(svc), compression=None) as ws:
                await ws.send(audio_frame(silence(0.1)))
                data = await asyncio.wait_for(ws.recv(), 5)
                await asyncio.wait_for(ws.wait_closed(), 5)
                return data, ws.close_code

    data, code = run(main())
    from botocore.eventstream import EventStreamBuffer

    buf = EventStreamBuffer()
    buf.add_data(data)
    (msg,) = list(buf)
    assert msg.headers[":exception-type"] == "BadRequestException"
    assert json.loads(msg.payload)["Message"] == IDLE_TIMEOUT_MESSAGE.format(seconds="0.3")
    assert code == 1000
    assert IDLE_TIMEOUT_MESSAGE.format(seconds="15") == (
        "Your request timed out because no new audio was received for 15 seconds."
    )


def test_max_duration() -> None:
    reply, stats = run(_one({"max_audio_seconds": 0.5}, chunks(silence(1.0))))
    assert reply.exceptions[0][0] == "LimitExceededException"
    assert "maximum audio duration" in reply.exceptions[0][1]
    assert reply.close_code == 1000 and stats.audio_seconds > 0.5


def test_quota() -> None:
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null", quota=1) as svc:
            async with connect(url_for(svc), compression=None) as first:
                await first.send(audio_frame(silence(0.1)))
                second = await run_stream(url_for(svc), [])
                await first.send(audio_frame(b""))
                async for _ in first:
                    pass
                return second, first.close_code

    second, first_code = run(main())
    assert second.exceptions[0][0] == "LimitExceededException"
    assert "limit of 1 concurrent streams" in second.exceptions[0][1]
    assert second.close_code == 1000 and first_code == 1000


def test_session_id_conflict_ends_older_stream() -> None:
    sid = str(uuid.uuid4())
    params = {**Q16, "session-id": sid}

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null") as svc:
            async with connect(url_for(svc, params=params), compression=None) as older:
                await older.send(audio_frame(silence(0.1)))
                await asyncio.sleep(0.05)
                newer = await run_stream(
                    url_for(svc, params=params), chunks(silence(0.2)) + [audio_frame(b"")]
                )
                data = await asyncio.wait_for(older.recv(), 5)
                await asyncio.wait_for(older.wait_closed(), 5)
                return newer, data, older.close_code

    newer, data, code = run(main())
    from botocore.eventstream import EventStreamBuffer

    buf = EventStreamBuffer()
    buf.add_data(data)
    (msg,) = list(buf)
    assert msg.headers[":exception-type"] == "ConflictException"
    assert sid in json.loads(msg.payload)["Message"]
    assert code == 1000
    assert newer.exceptions == [] and newer.close_code == 1000


def test_configuration_event_must_come_first() -> None:
    q = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "8000"}
    config = configuration_frame(channel_definitions("AGENT", "CUSTOMER"))
    reply, _ = run(_one({}, [audio_frame(silence(0.1, 8000)), config], params=q, path=CA))
    assert reply.exceptions[0][0] == "BadRequestException"
    assert "first event" in reply.exceptions[0][1]


def test_wrong_event_type() -> None:
    bogus = frame({":event-type": "TranscriptEvent", ":message-type": "event"}, b"{}")
    reply, _ = run(_one({}, [bogus]))
    assert reply.exceptions[0][0] == "BadRequestException"
    assert "TranscriptEvent" in reply.exceptions[0][1]


# --------------------------------------------------------------------------- strict envelopes


@pytest.mark.parametrize("fault", [None, "tamper", "stale"])
def test_verify_event_signatures(fault: str | None) -> None:
    import datetime as dt

    words = [("hello", 0.1, 0.3)]

    async def main() -> Any:
        async with LocalTranscribeService(
            recognizer="replay", replay=replay_one(words), verify_event_signatures=True
        ) as svc:
            url = url_for(svc)
            when = svc.now_utc() - dt.timedelta(seconds=600 if fault == "stale" else 0)
            payloads = chunks(silence(0.5)) + [audio_frame(b""), b""]
            prior = bytes.fromhex(parse_qs(urlsplit(url).query)["X-Amz-Signature"][0])
            secret = svc.credentials.secret_access_key
            frames = amazon_envelopes(payloads, prior, secret, svc.region, lambda: when)
            if fault == "tamper":  # other audio under the same signature, CRCs redone
                from botocore.eventstream import EventStreamBuffer

                buf = EventStreamBuffer()
                buf.add_data(frames[2])
                (msg,) = list(buf)
                hb = frames[2][12 : 12 + len(frames[2]) - 16 - len(msg.payload)]
                inner = audio_frame(b"\1" * 3200)
                prelude = struct.pack(">II", 16 + len(hb) + len(inner), len(hb))
                body = prelude + struct.pack(">I", zlib.crc32(prelude)) + hb + inner
                frames[2] = body + struct.pack(">I", zlib.crc32(body))
            reply = await run_stream(url, frames)
            (stats,) = await svc.wait_finished(1)
            return reply, stats

    reply, stats = run(main())
    assert reply.close_code == 1000
    if fault is None:
        assert reply.exceptions == [] and stats.input_ended
        assert stats.audio_nbytes == len(silence(0.5))
        assert [
            r["Alternatives"][0]["Transcript"] for r in reply.results() if not r["IsPartial"]
        ] == ["hello"]
    else:
        ((code, message),) = reply.exceptions
        assert code == "BadRequestException"
        assert message == "Invalid event signature: " + (
            "envelope :date is outside the allowed clock skew"
            if fault == "stale"
            else "envelope :chunk-signature does not match"
        )
        assert stats.audio_nbytes == (0 if fault == "stale" else 6400)
