"""The front door (``scribewire ingest``) with real parts: a redis-server, platform
simulators written from the protocol references (tests/_media_sims.py), and, end to end,
``scribewire ingest`` and three ``scribewire worker`` processes transcribing the calls
against the local service (digest recognizer): one worker dies at a named point (after a
final arrived, before it was published), another is killed with SIGKILL mid-run.

Refusals are the platform's own: capacity and Redis out of memory (``maxmemory-policy
noeviction``) become AudioHook ``disconnect`` and a Twilio / generic close with 1013;
nothing the front door accepted is missing from Redis. Waits are bounded; nothing
asserts wall-clock timings.
"""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")
from _media_sims import audiohook_call, generic_call, twilio_call  # noqa: E402
from _pool_harness import (  # noqa: E402
    Fleet,
    RedisServer,
    Service,
    assert_no_secrets,
    check_call,
    free_port,
    keys,
    wait_until,
)

from scribewire.audio import open_audio, ulaw_decode, ulaw_encode  # noqa: E402
from scribewire.ingest import IngestServer  # noqa: E402

RATE = 8000
CLIPS = ["arctic_aew_a0001.wav", "arctic_axb_a0004.wav", "asterisk_vm-options.wav"]


def clip(shared: Path, name: str, most: float = 8.0) -> bytes:
    with open_audio(shared / "audio" / name) as src:
        pcm = src.read(sample_rate=RATE, channels=1)
    n = min(len(pcm), int(most * RATE) * 2) // 320 * 320  # whole 20 ms
    return pcm[:n]


def through_mulaw(pcm: bytes) -> bytes:
    return ulaw_decode(ulaw_encode(pcm))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def audio_in_redis(r: Any, call_id: str) -> tuple[list[tuple[int, int]], bytes, bool]:
    """The call's audio entries: their IDs, the bytes in order, and the end marker."""
    entries = r.xrange(keys(call_id)["audio"])
    ids = [tuple(int(x) for x in eid.split(b"-")) for eid, _ in entries]
    data = b"".join(f.get(b"pcm", b"") for _, f in entries)
    return ids, data, bool(entries) and entries[-1][1].get(b"end") == b"1"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def finished_calls(r: Any, svc: Service, calls: Any) -> list[Any]:
    """Wait (bounded) for every call to finish and the service to close its streams;
    the service's stream stats (their digests are final then)."""
    wait_until(
        lambda: all(r.hget(keys(c)["ledger"], "done") == b"1" for c in calls),
        90,
        "every call finished",
    )
    wait_until(lambda: not svc.svc.streams, 30, "the service's streams to close")
    return svc.stats()


# ----------------------------------------------------------------------------- end to end


def test_calls_from_three_platforms_through_ingest_and_three_workers_two_killed(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    port, metrics = free_port(), free_port()
    pcms = [clip(shared_dir, c) for c in CLIPS]
    calls = {  # call id -> (platform, the int16 the service must have heard)
        "CA-twilio-0": ("twilio", through_mulaw(pcms[0])),
        "CA-twilio-1": ("twilio", through_mulaw(pcms[1])),
        "conv-ah-pcmu": ("audiohook-pcmu", through_mulaw(pcms[2])),
        "conv-ah-l16": ("audiohook-l16", pcms[0]),
        "generic-0": ("generic", pcms[1]),
    }
    with Fleet(redis_server, tmp_path / "fleet.log") as f:
        r, svc, procs = f.r, f.svc, f.procs
        for i in range(3):  # w1 kills itself after a final arrived, before publishing it
            f.worker(f"w{i}", fault="after_final:6" if i == 1 else None)
        wait_until(lambda: r.hlen("sw:cap") == 3, 30, "three workers publishing capacity")
        f.ingest(port, "--metrics-port", str(metrics), "-v")
        base = f"ws://127.0.0.1:{port}"

        async def platforms() -> list[Any]:
            return await asyncio.gather(
                twilio_call(f"{base}/twilio", "CA-twilio-0", {"inbound": pcms[0]}),
                twilio_call(f"{base}/twilio", "CA-twilio-1", {"inbound": pcms[1]}),
                audiohook_call(f"{base}/audiohook", "conv-ah-pcmu", pcms[2]),
                audiohook_call(f"{base}/audiohook", "conv-ah-l16", pcms[0], fmt="L16"),
                generic_call(f"{base}/ws", "generic-0", pcms[1]),
                kill_one_worker(),
            )

        async def kill_one_worker() -> None:
            # once finals are being published, SIGKILL the worker owning the most calls
            for _ in range(400):
                if sum(r.xlen(keys(c)["transcript"]) for c in calls) >= 3:
                    break
                await asyncio.sleep(0.02)
            owners = [r.hget(keys(c)["ledger"], "owner") for c in calls]
            alive = {o for o in owners if o and procs[int(o.decode()[1:])].poll() is None}
            if len(alive) > 1:  # never the last one alive
                victim = max(alive, key=owners.count).decode()
                procs[int(victim[1:])].send_signal(signal.SIGKILL)

        outcomes = run(platforms())[:-1]
        stats = finished_calls(r, svc, calls)
        results = {c: check_call(r, c, pcm, RATE, stats) for c, (_, pcm) in calls.items()}
        died = [p.poll() for p in procs[:3]]
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10).read()
    for o in outcomes:
        assert o.close_code == 1000, (o.close_code, o.close_reason)
    ah = outcomes[2]
    assert ah.types()[0] == "opened" and "pong" in ah.types() and ah.types()[-1] == "closed"
    assert any(len(res["epochs"]) > 1 for res in results.values()), results  # a takeover
    assert sum(d is not None for d in died) >= 1, died
    print("workers' exit codes before the end:", died)
    ledger = {k.decode(): v.decode() for k, v in r_hgetall(redis_server, "CA-twilio-0").items()}
    assert ledger["meta:source"] == "twilio" and ledger["meta:param:queue"] == "billing"
    assert ledger["encoding"] == "mulaw" and ledger["channels"] == "1"
    text = scrape.decode()
    for proto in ("twilio", "audiohook", "websocket"):
        assert f'scribewire_frontdoor_frames_total{{protocol="{proto}"}}' in text, text[-2000:]


def test_assemblyai_calls_through_ingest_and_workers_one_killed(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    """The same path with ``--provider assemblyai``: the workers open AssemblyAI v3
    sessions (the local service's ``/v3/ws``) and publish each end-of-turn ``Turn``."""
    port = free_port()
    # whole 100 ms: no short last message for the stream to pad (assemblyai.md §3.1)
    pcms = [p[: len(p) // 1600 * 1600] for p in (clip(shared_dir, c) for c in CLIPS[:2])]
    calls = {"CA-aai": through_mulaw(pcms[0]), "generic-aai": pcms[1]}
    with Fleet(redis_server, tmp_path / "fleet.log") as f:
        r, svc, log, procs = f.r, f.svc, f.log, f.procs
        for i in range(2):
            # -v -v: DEBUG, websockets' handshake lines (the Authorization header) included
            f.worker(f"w{i}", extra=("-v",))
        wait_until(lambda: r.hlen("sw:cap") == 2, 30, "two workers publishing capacity")
        f.ingest(port, "--provider", "assemblyai")
        base = f"ws://127.0.0.1:{port}"

        async def kill_one() -> None:
            for _ in range(400):
                if sum(r.xlen(keys(c)["transcript"]) for c in calls) >= 2:
                    break
                await asyncio.sleep(0.02)
            owner = r.hget(keys("CA-aai")["ledger"], "owner")
            if owner:
                procs[int(owner.decode()[1:])].send_signal(signal.SIGKILL)

        async def platforms() -> list[Any]:
            return await asyncio.gather(
                twilio_call(f"{base}/twilio", "CA-aai", {"inbound": pcms[0]}),
                generic_call(f"{base}/ws", "generic-aai", pcms[1]),
                kill_one(),
            )

        outcomes = run(platforms())[:-1]
        stats = finished_calls(r, svc, calls)
        results = {
            c: check_call(r, c, pcm, RATE, stats, by_session=False) for c, pcm in calls.items()
        }
        provider = r.hget(keys("CA-aai")["ledger"], "provider")
        paths = {st.path for st in stats if st.audio_nbytes}
    assert [o.close_code for o in outcomes] == [1000, 1000]
    assert provider == b"assemblyai" and paths == {"/v3/ws"}, paths
    assert results["CA-aai"]["epochs"] == [1, 2], results  # taken over after the kill
    assert "> Authorization: " in log.read_text()  # DEBUG was on
    assert_no_secrets(log)


def test_through_ingest_a_paused_worker_is_fenced_and_cut_stt_links_are_replayed(
    shared_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGSTOP the worker owning every call past its lease, SIGCONT it after the takeover
    (it is fenced, ownership never moves back), while every other STT connection is cut
    mid-call (the reconnect replays from the ring)."""
    import threading

    port = free_port()
    pcms = [clip(shared_dir, c, 6.0) * 2 for c in CLIPS]
    calls = {
        "CA-pause-0": through_mulaw(pcms[0]),
        "conv-pause": through_mulaw(pcms[1]),
        "generic-pause": pcms[2],
    }
    extra = ("--reconnect-attempts", "20", "--max-replay-bytes", "64000")
    outcomes: list[Any] = []
    with Fleet(redis_server, tmp_path / "fleet.log", cut_every=2, cut_after=40_000) as f:
        r, svc, log = f.r, f.svc, f.log
        zombie = f.worker("w0", extra=extra)
        wait_until(lambda: r.hlen("sw:cap") == 1, 30, "the first worker's capacity")
        f.ingest(port)
        base = f"ws://127.0.0.1:{port}"

        async def platforms() -> None:
            outcomes.extend(
                await asyncio.gather(
                    twilio_call(f"{base}/twilio", "CA-pause-0", {"inbound": pcms[0]}, speed=4),
                    audiohook_call(f"{base}/audiohook", "conv-pause", pcms[1], speed=4),
                    generic_call(f"{base}/ws", "generic-pause", pcms[2], speed=4),
                )
            )

        thread = threading.Thread(target=lambda: asyncio.run(platforms()))
        thread.start()
        owned = lambda w: all(r.hget(keys(c)["ledger"], "owner") == w for c in calls)  # noqa: E731
        wait_until(lambda: owned(b"w0"), 30, "the first worker owning every call")
        wait_until(lambda: all(r.exists(keys(c)["transcript"]) for c in calls), 30, "finals")
        zombie.send_signal(signal.SIGSTOP)
        f.worker("w1", extra=extra)
        wait_until(lambda: owned(b"w1"), 30, "the takeover")
        zombie.send_signal(signal.SIGCONT)
        thread.join(120)
        stats = finished_calls(r, svc, calls)
        epochs = {c: int(r.hget(keys(c)["ledger"], "epoch")) for c in calls}
        results = [check_call(r, c, pcm, RATE, stats) for c, pcm in calls.items()]
    assert [o.close_code for o in outcomes] == [1000, 1000, 1000]
    assert epochs == {c: 2 for c in calls}  # taken once each, never back
    assert all(res["epochs"][-1] == 2 for res in results)
    assert svc.cutter is not None and svc.cutter.cuts >= 1
    assert "owned by another worker now" in log.read_text()


def r_hgetall(server: RedisServer, call_id: str) -> dict[bytes, bytes]:
    c = server.client()
    try:
        return c.hgetall(keys(call_id)["ledger"])
    finally:
        c.close()


# ----------------------------------------------------------------------------- in process


async def serving(server: RedisServer, **kw: Any) -> IngestServer:
    door = IngestServer(server.url, **kw)
    await door.start()
    return door


def test_stereo_twilio_and_audiohook_are_interleaved_in_redis(
    shared_dir: Path, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    a, b = clip(shared_dir, CLIPS[0], 3.0), clip(shared_dir, CLIPS[1], 3.0)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    from scribewire.audio import interleave

    stereo16 = bytes(interleave([a, b]))

    async def main() -> list[Any]:
        door = await serving(redis_server, min_free_capacity=0)
        base = f"ws://127.0.0.1:{door.port}"
        try:
            return await asyncio.gather(
                twilio_call(f"{base}/twilio", "CA-stereo", {"inbound": a, "outbound": b}, speed=50),
                audiohook_call(
                    f"{base}/audiohook",
                    "conv-stereo",
                    stereo16,
                    channels=("external", "internal"),
                    speed=50,
                ),
                audiohook_call(  # offered mono and stereo: the front door takes stereo
                    f"{base}/audiohook",
                    "conv-choice",
                    stereo16,
                    offer_stereo_too=True,
                    channels=("external",),
                    speed=50,
                ),
            )
        finally:
            await door.close()

    tw, ah, choice = run(main())
    assert tw.close_code == ah.close_code == 1000
    expected = bytes(interleave([ulaw_encode(a), ulaw_encode(b)], sample_width=1))
    for call in ("CA-stereo", "conv-stereo"):
        ids, data, end = audio_in_redis(r, call)
        assert end and data == expected, call
        assert ids == sorted(set(ids))  # IDs strictly increasing
        assert all(ms2 - ms1 >= 200 for (ms1, _), (ms2, _) in zip(ids[:-2], ids[1:-1], strict=True))
        assert r.hget(keys(call)["ledger"], "channels") == b"2"
    assert choice.received[0]["parameters"]["media"][0]["channels"] == ["external", "internal"]
    r.close()


def test_audiohook_discarded_audio_moves_the_position_on(
    shared_dir: Path, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    pcm = clip(shared_dir, CLIPS[0], 4.0)

    async def main() -> Any:
        door = await serving(redis_server, min_free_capacity=0)
        try:
            return await audiohook_call(
                f"ws://127.0.0.1:{door.port}/audiohook", "conv-gap", pcm, speed=50, discard_ms=700
            )
        finally:
            await door.close()

    out = run(main())
    assert out.types()[-1] == "closed"
    ids, data, end = audio_in_redis(r, "conv-gap")
    assert end and data == ulaw_encode(pcm)  # every byte sent, in order
    assert ids[-1][0] == len(pcm) // 16 + 700  # the call's clock moved on by the discard
    r.close()


def test_capacity_refuses_new_calls_in_each_platforms_own_way(
    shared_dir: Path, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    pcm = clip(shared_dir, CLIPS[0], 1.0)

    async def main() -> tuple[Any, ...]:
        door = await serving(redis_server, min_free_capacity=2)
        base = f"ws://127.0.0.1:{door.port}"
        try:
            r.hset("sw:cap", mapping={"w1": "1 10"})  # one free place: below the floor
            refused = await asyncio.gather(
                twilio_call(f"{base}/twilio", "CA-full", {"inbound": pcm}, speed=20),
                audiohook_call(f"{base}/audiohook", "conv-full", pcm, speed=20),
                generic_call(f"{base}/ws", "gen-full", pcm, speed=20),
            )
            r.hset("sw:cap", mapping={"w2": "4 10"})
            accepted = await twilio_call(f"{base}/twilio", "CA-ok", {"inbound": pcm}, speed=50)
            return (*refused, accepted, dict(door.refused))
        finally:
            await door.close()

    tw, ah, gen, ok, counts = run(main())
    assert tw.close_code == 1013 and gen.close_code == 1013
    assert ah.types() == ["disconnect", "closed"], ah.received  # no opened for a refusal
    assert ah.received[0]["parameters"]["reason"] == "error"
    assert "capacity" in ah.received[0]["parameters"]["info"]
    assert counts == {"capacity": 3}
    for call in ("CA-full", "conv-full", "gen-full"):
        assert not r.exists(keys(call)["ledger"])  # nothing started for a refused call
    assert ok.close_code == 1000 and audio_in_redis(r, "CA-ok")[2]
    r.close()


def test_redis_out_of_memory_is_the_platforms_refusal_and_nothing_accepted_is_lost(
    shared_dir: Path, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    pcm = clip(shared_dir, CLIPS[2], 12.0) * 40  # ~3.8 MB of μ-law per call: more than fits

    async def main() -> tuple[Any, ...]:
        door = await serving(redis_server, min_free_capacity=0)
        base = f"ws://127.0.0.1:{door.port}"
        try:
            used = int(r.info("memory")["used_memory"])
            r.config_set("maxmemory", used + 300_000)
            got = await asyncio.gather(
                audiohook_call(f"{base}/audiohook", "conv-oom", pcm, speed=4000, frame_ms=200),
                twilio_call(f"{base}/twilio", "CA-oom", {"inbound": pcm}, speed=4000),
            )
            # the refused calls are ended in Redis once it has room again (a worker
            # trimming acknowledged audio frees it; here the limit is lifted)
            r.config_set("maxmemory", 0)
            for _ in range(200):
                if all(audio_in_redis(r, c)[2] for c in ("conv-oom", "CA-oom")):
                    break
                await asyncio.sleep(0.05)
            return (*got, dict(door.refused))
        finally:
            r.config_set("maxmemory", 0)
            await door.close()

    ah, tw, counts = run(main())
    types = ah.types()  # a ping in flight is still answered while the session closes
    assert types[0] == "opened" and "disconnect" in types and types[-1] == "closed", types
    assert "oom" in ah.received[types.index("disconnect")]["parameters"]["info"]
    assert tw.close_code == 1013, (tw.close_code, tw.close_reason)
    assert counts.get("oom", 0) >= 1
    for call, sent in (("conv-oom", ulaw_encode(pcm)), ("CA-oom", ulaw_encode(pcm))):
        ids, data, end = audio_in_redis(r, call)
        # what Redis holds is exactly the start of what was sent: no hole, nothing reordered
        assert sent.startswith(data) and len(data) < len(sent), call
        last = r.xrevrange(keys(call)["audio"], count=1)[0][1]
        assert end and last[b"lost"] == b"1" and ids == sorted(set(ids)), call
    r.close()


def test_protocol_errors_slow_peers_and_unknown_paths_are_closed_with_a_reason(
    redis_server: RedisServer,
) -> None:
    import websockets

    async def main() -> list[tuple[int | None, str]]:
        door = await serving(redis_server, min_free_capacity=0, start_timeout=2.0)
        base = f"ws://127.0.0.1:{door.port}"
        out = []
        try:
            cases: list[tuple[str, list[Any]]] = [
                ("/twilio", ["not json"]),
                ("/twilio", [json.dumps({"event": "media", "media": {"payload": "AAAA"}})]),
                ("/twilio", [b"\x00\x01"]),
                ("/audiohook", [json.dumps({"version": "1", "type": "open", "seq": 1})]),
                ("/ws", [json.dumps({"call_id": "x", "sample_rate": 11025})]),
                ("/ws", [json.dumps({"call_id": "y", "sample_rate": 8000}), b"\x00\x01\x02"]),
                ("/nowhere", []),
                ("/twilio", []),  # connects and says nothing: the start timeout
            ]
            for path, messages in cases:
                async with websockets.connect(base + path) as ws:
                    try:
                        for m in messages:
                            await ws.send(m)
                        await asyncio.wait_for(ws.wait_closed(), 10)
                    except websockets.ConnectionClosed:
                        pass
                    out.append((ws.close_code, ws.close_reason or ""))
        finally:
            await door.close()
        return out

    got = run(main())
    codes = [c for c, _ in got]
    assert codes == [1007, 1008, 1003, 1008, 1008, 1007, 1008, 1008], got
    assert "mediaFormat" not in got[0][1] and "before start" in got[1][1]
    assert "unknown path" in got[6][1] and "no call started" in got[7][1]


def test_closing_the_front_door_asks_audiohook_to_reconnect(
    shared_dir: Path, redis_server: RedisServer
) -> None:
    pcm = clip(shared_dir, CLIPS[0], 6.0)

    async def main() -> Any:
        door = await serving(redis_server, min_free_capacity=0)
        call = asyncio.ensure_future(
            audiohook_call(f"ws://127.0.0.1:{door.port}/audiohook", "conv-move", pcm, speed=2)
        )
        for _ in range(500):
            if "conv-move" in door.calls:
                break
            await asyncio.sleep(0.01)
        await door.close(drain=5.0)
        return await call

    out = run(main())
    assert "reconnect" in out.types(), out.types()


def test_an_audiohook_session_continued_after_reconnect_appends_to_the_same_call(
    redis_server: RedisServer,
) -> None:
    """Session A ends with close reason ``reconnect`` (no end marker); session B lists A
    in ``continuedSessions``: its audio follows A's in the same call, then the end."""
    import uuid

    import websockets

    r = redis_server.client()
    first, second = bytes(range(256)) * 10, bytes(reversed(range(256))) * 10

    async def session(url: str, data: bytes, reason: str, continued: list[Any]) -> list[str]:
        sid, seq, got = str(uuid.uuid4()), 0, []

        def msg(type_: str, parameters: dict[str, Any]) -> str:
            nonlocal seq
            seq += 1
            return json.dumps({"version": "2", "id": sid, "type": type_, "seq": seq,
                               "serverseq": 0, "position": "PT0S", "parameters": parameters})  # fmt: skip

        media = [{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}]
        open_params = {"organizationId": "o", "conversationId": "conv-cont",
                       "participant": {"id": "p"}, "media": media}  # fmt: skip
        if continued:
            open_params["continuedSessions"] = continued
        async with websockets.connect(url) as ws:
            await ws.send(msg("open", open_params))
            got.append(json.loads(await ws.recv())["type"])
            for i in range(0, len(data), 800):
                await ws.send(data[i : i + 800])
            await ws.send(msg("close", {"reason": reason}))
            got.append(json.loads(await ws.recv())["type"])
        return got

    async def main() -> tuple[list[str], list[str]]:
        door = await serving(redis_server, min_free_capacity=0)
        url = f"ws://127.0.0.1:{door.port}/audiohook"
        try:
            a = await session(url, first, "reconnect", [])
            ids_after_a = audio_in_redis(r, "conv-cont")
            assert not ids_after_a[2]  # no end marker: the call goes on
            b = await session(
                url, second, "end", [{"id": "earlier", "serverseq": 2, "clientseq": 3}]
            )
            return a, b
        finally:
            await door.close()

    a, b = run(main())
    assert a == b == ["opened", "closed"]
    ids, data, end = audio_in_redis(r, "conv-cont")
    assert end and data == first + second
    assert ids == sorted(set(ids)) and ids[-1][0] == len(first + second) // 8
    r.close()
