"""The local service against clients that misbehave on purpose, on real loopback sockets.

Each test reproduces one finding of the hostile-client review (issue 13) and fails
without its fix: a client that stops reading, upgrades that websockets refuses after
``process_request``, messages far over the 1 s rule, a recognizer slower than the idle
timeout. Every wait is bounded; no test asserts how long something took.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import os
import socket
import struct
import threading
import tracemalloc
from typing import Any

import pytest
from _server_client import audio_frame, presign, run_stream
from websockets.asyncio.client import connect

from scribewire.server import LocalTranscribeService, Segment, Word
from scribewire.server.stats import NOT_READING
from scribewire.transcribe.server_session import STREAM_TOO_BIG_MESSAGE

STD = "/stream-transcription-websocket"
Q16 = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"}
CHUNK = b"\1\0" * 1600  # 100 ms at 16 kHz


def url_for(svc: LocalTranscribeService, params: dict[str, str] | None = None) -> str:
    c = svc.credentials
    return presign(
        svc.url, STD, dict(Q16 if params is None else params),
        access_key=c.access_key_id, secret=c.secret_access_key, region=svc.region,
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --------------------------------------------------------------------------- raw WebSocket


def _upgrade(host: str, port: int, target: str, *, rcvbuf: int | None = None) -> socket.socket:
    """A blocking socket upgraded to WebSocket by hand (no library reads for us)."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        more = sock.recv(4096)
        assert more, "closed during the handshake"
        head += more
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _frame_header(length: int, opcode: int = 2) -> bytes:
    """A masked client frame header (RFC 6455 §5.2) announcing ``length`` payload bytes."""
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + b"\0\0\0\0"  # a zero mask: the payload goes as it is


def _client_frame(payload: bytes) -> bytes:
    return _frame_header(len(payload)) + payload


def _read_until_close(sock: socket.socket) -> tuple[list[bytes], int | None]:
    """Server frames (unmasked) until its close frame or EOF: (binary payloads, close code)."""
    buf = b""
    payloads: list[bytes] = []
    while True:
        while True:
            if len(buf) >= 2:
                n = buf[1] & 0x7F
                at = 2 + (2 if n == 126 else 8 if n == 127 else 0)
                if len(buf) >= at:
                    if n == 126:
                        n = struct.unpack("!H", buf[2:4])[0]
                    elif n == 127:
                        n = struct.unpack("!Q", buf[2:10])[0]
                    if len(buf) >= at + n:
                        break
            more = sock.recv(65536)
            if not more:
                return payloads, None
            buf += more
        opcode, body, buf = buf[0] & 0x0F, buf[at : at + n], buf[at + n :]
        if opcode == 8:
            return payloads, struct.unpack("!H", body[:2])[0] if len(body) >= 2 else 1005
        if opcode == 2:
            payloads.append(body)


def _exception_types(payloads: list[bytes]) -> list[str]:
    from botocore.eventstream import EventStreamBuffer

    buf = EventStreamBuffer()
    for p in payloads:
        buf.add_data(p)
    return [m.headers.get(":exception-type", "") for m in buf if m.headers[":message-type"] == "exception"]


# --------------------------------------------------------------------------- 1. non-reading


class _Chatty:
    """A recognizer that answers every chunk with a large partial (fills a socket fast)."""

    blocking = False

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.n = 0

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        self.n += 1
        words = tuple(Word("chatter", t, t + 0.05, None) for _ in range(1500))  # ~200 KB
        return [Segment(0, 0.0, t + 0.1, words, True)]

    def finish(self) -> list[Segment]:
        return [Segment(0, 0.0, 0.1, (Word("done", 0.0, 0.1, 1.0),), False)]

    def close(self) -> None:
        pass


def test_non_reading_clients_do_not_pin_the_quota() -> None:
    # Quota 2, two clients that send audio and then never read again (their receive
    # windows fill with results): a third, normal client must get results while they
    # are still connected. Before the fix the handler and the idle timer's close both
    # waited in ws.send forever, and the third got LimitExceededException for as long.
    idle, send_timeout = 2.0, 2.0

    async def main() -> Any:
        async with LocalTranscribeService(
            recognizer=lambda rate, ch: _Chatty(rate),
            quota=2,
            idle_timeout=idle,
            send_timeout=send_timeout,
            close_timeout=2.0,
        ) as svc:
            host, port = svc.host, svc.port
            target = "/" + url_for(svc).split("/", 3)[3]

            def stuck_client() -> socket.socket:
                # 80 chunks ask for ~16 MB of results: far more than the socket buffers
                # hold (4 MiB send buffer at most here, 8 KiB receive window)
                sock = _upgrade(host, port, target, rcvbuf=4096)
                for _ in range(80):
                    sock.sendall(_client_frame(audio_frame(CHUNK)))
                return sock  # open, never read

            stuck = await asyncio.gather(
                asyncio.to_thread(stuck_client), asyncio.to_thread(stuck_client)
            )
            try:
                deadline = asyncio.get_running_loop().time() + idle + send_timeout + 30
                attempts = 0
                while True:
                    attempts += 1
                    reply = await run_stream(url_for(svc), [audio_frame(CHUNK), audio_frame(b"")])
                    if not reply.exceptions:
                        break
                    assert reply.exceptions[0][0] == "LimitExceededException", reply.exceptions
                    assert asyncio.get_running_loop().time() < deadline, "quota still pinned"
                    await asyncio.sleep(0.25)
                # the two stuck streams end too (closed by the service, sockets still open)
                while sum(s.audio_events > 1 for s in svc.finished_streams) < 2:
                    assert asyncio.get_running_loop().time() < deadline, "stuck streams live on"
                    await asyncio.sleep(0.1)
                return reply, list(svc.finished_streams), attempts
            finally:
                for sock in stuck:
                    sock.close()

    reply, stats, attempts = run(main())
    assert reply.close_code == 1000 and reply.results()
    assert attempts >= 1
    stuck = [s for s in stats if s.audio_events > 1]  # the normal client sent one chunk
    assert len(stuck) == 2
    assert all(s.close_reason == NOT_READING for s in stuck), stuck


# --------------------------------------------------------------------------- 2. memory


def _rejected_upgrade(host: str, port: int, target: str) -> int:
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        data = b""
        while more := sock.recv(65536):
            data += more
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return int(data.split(b" ", 2)[1])


def _grown(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    """Bytes still allocated from scribewire's server and protocol code that were not before."""
    keep = [tracemalloc.Filter(True, "*scribewire/server/*"),
            tracemalloc.Filter(True, "*scribewire/transcribe/*")]
    diff = after.filter_traces(keep).compare_to(before.filter_traces(keep), "filename")
    return sum(d.size_diff for d in diff)


def test_rejected_upgrades_and_finished_streams_leave_no_state() -> None:
    # Before the fix each signed upgrade that websockets refused after process_request
    # (no Upgrade header) left an entry in the service's auth table (so did unsigned ones
    # with auth_failure="frame": anyone could grow it), and every finished stream's stats
    # stayed in finished_streams forever (~920 B each).
    n_rejected, n_streams, keep = 300, 120, 10

    async def rejected(svc: LocalTranscribeService, signed: bool) -> None:
        target = "/" + url_for(svc).split("/", 3)[3] if signed else STD + "?sample-rate=16000"
        statuses = await asyncio.gather(
            *(asyncio.to_thread(_rejected_upgrade, svc.host, svc.port, target)
              for _ in range(n_rejected))
        )
        assert set(statuses) == {426}

    async def streams(svc: LocalTranscribeService) -> None:
        sem = asyncio.Semaphore(8)

        async def one() -> None:
            async with sem:
                await run_stream(url_for(svc), [audio_frame(CHUNK), audio_frame(b"")])

        await asyncio.gather(*(one() for _ in range(n_streams)))
        await svc.wait_finished(n_streams + 20, timeout=60)

    async def main() -> tuple[int, int, LocalTranscribeService]:
        async with LocalTranscribeService(recognizer="null", keep_finished=keep) as svc, \
                LocalTranscribeService(recognizer="null", auth_failure="frame") as frame_svc:
            # warm up every code path once, then measure what stays behind
            await rejected(svc, True)
            await rejected(frame_svc, False)
            for _ in range(20):
                await run_stream(url_for(svc), [audio_frame(CHUNK), audio_frame(b"")])
            gc.collect()
            before = tracemalloc.take_snapshot()
            await rejected(svc, True)
            await rejected(frame_svc, False)
            await streams(svc)
            gc.collect()
            after = tracemalloc.take_snapshot()
            return _grown(before, after), len(svc.finished_streams), svc

    tracemalloc.start()
    try:
        grown, kept, svc = run(main())
    finally:
        tracemalloc.stop()
    # the leak was ~600 B per rejected upgrade and ~1 KB per finished stream: 300 KB here
    assert grown < 64 * 1024, f"{grown} bytes stayed allocated"
    assert kept == keep
    assert svc.totals.streams == n_streams + 20 and svc.totals.close_codes == {1000: n_streams + 20}
    assert svc.streams == {} and svc._live == {} and svc._sessions == {}


# --------------------------------------------------------------------------- 4. big messages


def test_oversized_message_refused_from_its_header() -> None:
    # A WebSocket frame announcing 24 MiB on a 16 kHz mono stream: refused (1009) from
    # its header, before the service reads, let alone buffers, its payload. Before the
    # fix the limit was 24 MiB for every stream: the service waited for the rest.
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null") as svc:
            target = "/" + url_for(svc).split("/", 3)[3]

            def client() -> tuple[list[bytes], int | None]:
                sock = _upgrade(svc.host, svc.port, target)
                with sock:
                    sock.sendall(_client_frame(audio_frame(CHUNK)))
                    sock.sendall(_frame_header(24 * 2**20) + b"\0" * 1024)
                    return _read_until_close(sock)

            got = await asyncio.to_thread(client)
            (stats,) = await svc.wait_finished(1)
            return got, stats

    (payloads, code), stats = run(main())
    assert code == 1009
    assert stats.audio_events == 1  # the client hung up on the 1009: no close frame back


def test_oversized_event_refused_from_its_prelude() -> None:
    # The same event split over small WebSocket messages: the event-stream prelude
    # announces it, and the stream fails at once with the service's "too big" text.
    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null") as svc:
            target = "/" + url_for(svc).split("/", 3)[3]
            big = audio_frame(bytes(24 * 2**20))

            def client() -> tuple[list[bytes], int | None]:
                sock = _upgrade(svc.host, svc.port, target)
                with sock:
                    sock.sendall(_client_frame(big[:4096]))
                    return _read_until_close(sock)

            return await asyncio.to_thread(client)

    payloads, code = run(main())
    assert _exception_types(payloads) == ["BadRequestException"]
    assert STREAM_TOO_BIG_MESSAGE.encode() in payloads[-1]
    assert code == 1000


def test_largest_legal_event_still_accepted() -> None:
    # 1 s of 48 kHz stereo PCM (192,000 B, protocol.md §5) passes both limits.
    q = {**Q16, "sample-rate": "48000", "enable-channel-identification": "true",
         "number-of-channels": "2"}

    async def main() -> Any:
        async with LocalTranscribeService(recognizer="null") as svc:
            reply = await run_stream(url_for(svc, q), [audio_frame(b"\1\0" * 96_000), audio_frame(b"")])
            (stats,) = await svc.wait_finished(1)
            return reply, stats

    reply, stats = run(main())
    assert reply.exceptions == [] and reply.close_code == 1000
    assert stats.audio_nbytes == 192_000


# --------------------------------------------------------------------------- 5. false idle


class _Slow:
    """A blocking recognizer whose first call lasts until the test releases it."""

    blocking = True

    def __init__(self, sample_rate: int, release: threading.Event, entered: threading.Event) -> None:
        self.sample_rate = sample_rate
        self.release, self.entered = release, entered
        self.calls = 0

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            self.release.wait(60)
        return []

    def finish(self) -> list[Segment]:
        return [Segment(0, 0.0, 0.1, (Word("finally", 0.0, 0.1, 1.0),), False)]

    def close(self) -> None:
        pass


def test_slow_recognizer_is_not_idle_time() -> None:
    # The recognizer holds its first call for three idle timeouts while the client keeps
    # sending: before the fix the idle clock counted from the last audio *processed* and
    # the client was told "no new audio was received for 1.5 seconds".
    idle = 1.5
    release, entered = threading.Event(), threading.Event()

    async def main() -> Any:
        async with LocalTranscribeService(
            recognizer=lambda rate, ch: _Slow(rate, release, entered), idle_timeout=idle
        ) as svc:
            async with connect(url_for(svc), compression=None, max_size=None) as ws:
                await ws.send(audio_frame(CHUNK))
                assert await asyncio.to_thread(entered.wait, 30)
                loop = asyncio.get_running_loop()
                held_until = loop.time() + 3 * idle
                while loop.time() < held_until:  # audio every 100 ms while the call lasts
                    await ws.send(audio_frame(CHUNK))
                    await asyncio.sleep(0.1)
                release.set()
                await ws.send(audio_frame(b""))
                messages = [m async for m in ws]
                code = ws.close_code
            (stats,) = await svc.wait_finished(1)
            return messages, code, stats

    try:
        messages, code, stats = run(main())
    finally:
        release.set()
    assert _exception_types(list(messages)) == []
    assert code == 1000 and stats.input_ended and stats.exceptions == []
    assert stats.finals_sent == 1


class _ChattySlow(_Slow):
    """``_Slow`` that answers every call with a partial result (each one a send)."""

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        super().accept(pcm, t)
        return [Segment(0, 0.0, 0.1, (Word("hello", 0.0, 0.1, 1.0),), True)]


def test_client_gone_while_the_recognizer_queue_is_full_frees_the_stream() -> None:
    # The recognizer holds its first call while the client sends far more than the
    # worker's queue holds, then the client's connection is aborted (a link cut). The
    # worker's next send fails and the worker ends; before the fix the reader stayed
    # blocked on the full queue for ever (no idle timeout: the idle clock is paused while
    # the queue is full), so the stream never finished and the service could not stop.
    release, entered = threading.Event(), threading.Event()

    async def main() -> Any:
        async with LocalTranscribeService(
            recognizer=lambda rate, ch: _ChattySlow(rate, release, entered), idle_timeout=300
        ) as svc:
            ws = await connect(url_for(svc), compression=None, max_size=None)
            await ws.send(audio_frame(CHUNK))
            assert await asyncio.to_thread(entered.wait, 30)
            for _ in range(80):  # more than the worker's queue holds
                await ws.send(audio_frame(CHUNK))
            await asyncio.sleep(0.5)  # the service has read what it can
            ws.transport.abort()
            release.set()
            return await svc.wait_finished(1, timeout=30)

    try:
        (stats,) = run(main())
    finally:
        release.set()
    assert not stats.input_ended


# --------------------------------------------------------------------------- 3. handshake


def _answer(host: str, port: int, target: str, extra: str = "") -> int:
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}Upgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data and (more := sock.recv(65536)):
            data += more
    return int(data.split(b" ", 2)[1])


def test_handshake_parse_faults_are_403_or_400(caplog: pytest.LogCaptureFixture) -> None:
    # A 5,000-digit X-Amz-Expires, X-Amz-Date in year 9999 (its scope to match) and a
    # second Host header each raised inside the service's handshake: HTTP 500 and a
    # traceback in its log. The documented answers: 403 (bad signature fields), 400.
    import re as _re

    async def main() -> list[int]:
        async with LocalTranscribeService(recognizer="null") as svc:
            good = "/" + url_for(svc).split("/", 3)[3]
            targets = [
                _re.sub(r"X-Amz-Expires=300", "X-Amz-Expires=" + "1" * 5000, good),
                _re.sub(r"%2F\d{8}%2F", "%2F99991231%2F",
                        _re.sub(r"X-Amz-Date=\d{8}T", "X-Amz-Date=99991231T", good)),
            ]
            out = [await asyncio.to_thread(_answer, svc.host, svc.port, t) for t in targets]
            out.append(await asyncio.to_thread(
                _answer, svc.host, svc.port, good, f"Host: {svc.host}:{svc.port}\r\n"))
            return out

    with caplog.at_level(logging.WARNING):
        statuses = run(main())
    assert statuses == [403, 403, 400]
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
