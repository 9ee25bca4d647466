"""Fuzzing the local service's upgrade request over real loopback sockets (issue 13, item 3).

The rule: every upgrade request is answered 403/400 (or another 4xx of websockets' own for
a request it cannot parse: 414 for a line over 8 KiB; no answer at all for non-ASCII bytes
in the request line) or 101; never a 5xx, never an ``InternalFailureException`` after the
101, never an ERROR log record or a traceback in the service's log.

``FuzzService`` runs a ``LocalTranscribeService`` in a thread of its own (so blocking
sockets can drive it) and collects the log records that break the rule. ``targets()`` is
the hypothesis strategy of request targets, in three families:

- raw query strings over the parameter names the service knows and random ones, values of
  every shape (random text, thousands of digits, percent escapes of non-UTF-8 bytes, dates
  and credentials near the valid forms), names repeated, encoded or sent raw;
- a valid presigned URL with one change (a value replaced, a pair repeated, dropped or
  added, a name's case changed);
- the signature's own fields built from parts each valid or not (algorithm, date,
  credential scope, expiry, signed headers, token, signature computed over the result or
  not), so that one bad field at a time reaches the deeper checks;
- fuzzed operation parameters presigned correctly, so they reach parameter validation.

Used by ``tests/test_server_handshake_hypothesis.py`` (~200 examples) and by
``fuzz/fuzz_handshake.py`` (as many as asked).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from typing import Any

from hypothesis import strategies as st

from scribewire.eventstream import encode_audio_event
from scribewire.server import LocalTranscribeService
from scribewire.transcribe import sigv4
from scribewire.transcribe.sigv4 import presign_url

STD = "/stream-transcription-websocket"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_RST = struct.pack("ii", 1, 0)
# the empty AudioEvent (protocol.md §4.1) in a masked client frame (zero mask)
_END = encode_audio_event(b"")
_END_FRAME = bytes([0x82, 0x80 | len(_END)]) + b"\0\0\0\0" + _END
ALLOWED = {0, 101, 400, 403, 414}

AMZ = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
]
PARAMS = [
    "language-code",
    "media-encoding",
    "sample-rate",
    "session-id",
    "number-of-channels",
    "enable-channel-identification",
    "enable-partial-results-stabilization",
    "partial-results-stability",
    "identify-language",
    "identify-multiple-languages",
    "language-options",
    "preferred-language",
    "vocabulary-name",
    "vocabulary-names",
    "vocabulary-filter-method",
    "content-identification-type",
    "content-redaction-type",
    "pii-entity-types",
    "show-speaker-label",
    "specialty",
    "type",
    "user-agent",
]


class FuzzService:
    """``with FuzzService(auth_failure) as fs:`` a service on loopback in its own thread.

    Attributes:
        findings: log records that break the rule (ERROR or above, or with a traceback).
        statuses: HTTP status -> probes answered with it.
        frames: first exception type after a 101 -> probes.
    """

    def __init__(self, auth_failure: str = "http") -> None:
        self.auth_failure = auth_failure
        self.findings: list[logging.LogRecord] = []
        self.statuses: Counter[int] = Counter()
        self.frames: Counter[str] = Counter()
        self.probes = 0
        self.total_findings = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.svc: LocalTranscribeService | None = None

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with LocalTranscribeService(
                recognizer="null", auth_failure=self.auth_failure, quota=10_000, keep_finished=0
            ) as svc:
                self.svc = svc
                self._ready.set()
                await self._stop.wait()

        asyncio.run(main())

    def __enter__(self) -> FuzzService:
        collector = self

        class _Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.levelno >= logging.ERROR or record.exc_info:
                    collector.findings.append(record)

        self._handler = _Collect(logging.DEBUG)
        for name in ("websockets", "scribewire", "asyncio"):
            logging.getLogger(name).addHandler(self._handler)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the service did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        for name in ("websockets", "scribewire", "asyncio"):
            logging.getLogger(name).removeHandler(self._handler)

    # ---------------------------------------------------------------- probing

    def signed(self, query: dict[str, str]) -> str:
        """A valid presigned target (path and query) for ``query``."""
        assert self.svc is not None
        url = presign_url(
            credentials=self.svc.credentials,
            region=self.svc.region,
            path=STD,
            query=query,
            now=time.time(),
            endpoint=self.svc.url,
        )
        return "/" + url.split("/", 3)[3]

    def probe(self, target: bytes) -> tuple[int, str]:
        """Send one upgrade request; returns (status or 0 for no answer, first exception
        type after a 101 or "")."""
        assert self.svc is not None
        host, port = self.svc.host, self.svc.port
        self.probes += 1
        sock = socket.create_connection((host, port), timeout=15)
        try:
            sock.sendall(
                b"GET " + target + b" HTTP/1.1\r\n"
                + f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            data = b""
            while b"\r\n\r\n" not in data:
                more = sock.recv(65536)
                if not more:
                    break
                data += more
            if not data.startswith(b"HTTP/1.1 "):
                status = 0
            else:
                status = int(data[9:12])
            exc_type = ""
            if status == 101:  # end the stream at once: a valid one closes, not waits
                sock.sendall(_END_FRAME)
                exc_type = self._first_exception(sock, data.split(b"\r\n\r\n", 1)[1])
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
            sock.close()
        self.statuses[status] += 1
        if exc_type:
            self.frames[exc_type] += 1
        return status, exc_type

    @staticmethod
    def _first_exception(sock: socket.socket, buf: bytes) -> str:
        """The ``:exception-type`` of the first server message, "" when the server closes
        (or stays silent for 10 s) without one."""
        from botocore.eventstream import EventStreamBuffer

        sock.settimeout(10)
        try:
            while True:
                while len(buf) < 2 or len(buf) < 2 + _ext(buf) + _plen(buf):
                    more = sock.recv(65536)
                    if not more:
                        return ""
                    buf += more
                opcode, at = buf[0] & 0x0F, 2 + _ext(buf)
                payload, buf = buf[at : at + _plen(buf)], buf[at + _plen(buf) :]
                if opcode == 8:
                    return ""
                if opcode == 2:
                    es = EventStreamBuffer()
                    es.add_data(payload)
                    for msg in es:
                        if msg.headers.get(":message-type") == "exception":
                            return str(msg.headers.get(":exception-type", ""))
        except TimeoutError:
            return ""

    def check(self, status: int, exc_type: str) -> None:
        """Raise AssertionError when an answer or the log breaks the rule."""
        assert status in ALLOWED, f"HTTP {status}"
        assert exc_type != "InternalFailureException", exc_type
        if self.findings:  # reported once: the next probe starts clean
            rec = self.findings[0]
            self.total_findings += len(self.findings)
            self.findings.clear()
            text = logging.Formatter().format(rec)
            raise AssertionError(f"service logged {rec.levelname}: {text}")


def _ext(buf: bytes) -> int:
    n = buf[1] & 0x7F
    return 2 if n == 126 else 8 if n == 127 else 0


def _plen(buf: bytes) -> int:
    n = buf[1] & 0x7F
    if n == 126:
        return int(struct.unpack("!H", buf[2:4])[0]) if len(buf) >= 4 else 1 << 30
    if n == 127:
        return int(struct.unpack("!Q", buf[2:10])[0]) if len(buf) >= 10 else 1 << 30
    return n


# --------------------------------------------------------------------------- strategies

_names = st.one_of(
    st.sampled_from(AMZ + PARAMS),
    st.sampled_from(AMZ + PARAMS).map(str.lower),
    st.sampled_from(AMZ + PARAMS).map(str.upper),
    st.text(max_size=12),
)
_dates = st.sampled_from(
    [
        "20240101T000000Z",
        "99991231T235959Z",
        "00010101T000000Z",
        "20241301T000000Z",
        "20240101T000000Z\n",
        "\u0662\u0660\u0662\u0664\u0660\u0661\u0660\u0661T000000Z",  # Arabic-Indic digits
        "2024-01-01T00:00:00Z",
    ]
)
_values = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.text("0123456789", min_size=1, max_size=6000),
    st.integers(7_000, 12_000).map(lambda n: "v" * n),  # past websockets' 8 KiB line
    st.binary(max_size=24).map(lambda b: "".join(f"%{x:02X}" for x in b)),
    _dates,
    st.sampled_from(
        ["AWS4-HMAC-SHA256", "host", "%", "%zz", "%ff%fe", "+", "=", "", "&", "true", "pcm",
         "16000", "0", "300", "0300", "a" * 64, "A" * 64, "f" * 64 + "\n"]
    ),
    st.tuples(
        st.text(max_size=20), _dates.map(lambda d: d[:8]),
        st.sampled_from(["us-east-1", "eu-west-1", "", "US-EAST-1"]),
        st.sampled_from(["transcribe", "s3", ""]), st.sampled_from(["aws4_request", "x"]),
    ).map("/".join),
)


def _encode(text: str, how: str) -> bytes:
    if how == "quote":
        return urllib.parse.quote(text, safe="").encode()
    if how == "plus":
        return urllib.parse.quote_plus(text).encode()
    # raw: only what would break the HTTP request line itself is escaped
    raw = text.replace("%", "%25") if how == "raw-escaped" else text
    raw = raw.replace(" ", "%20").replace("\r", "%0D").replace("\n", "%0A").replace("\t", "%09")
    return raw.encode("utf-8", "surrogatepass") if how != "raw-latin1" else raw.encode(
        "latin-1", "replace"
    )


_hows = st.sampled_from(["quote", "plus", "raw", "raw-escaped", "raw-latin1"])


@st.composite
def raw_queries(draw: Any) -> bytes:
    pairs = draw(st.lists(st.tuples(_names, _values), max_size=12))
    if pairs and draw(st.booleans()):  # repeat one
        pairs.insert(draw(st.integers(0, len(pairs))), pairs[draw(st.integers(0, len(pairs) - 1))])
    how = draw(_hows)
    parts = [_encode(n, how) + (b"" if draw(st.integers(0, 9)) == 0 else b"=" + _encode(v, how))
             for n, v in pairs]
    sep = draw(st.sampled_from([b"&", b"&", b"&", b";", b"&&"]))
    return STD.encode() + b"?" + sep.join(parts)


@st.composite
def mutated_signed(draw: Any, fs: FuzzService) -> bytes:
    target = fs.signed({"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"})
    path, _, query = target.partition("?")
    pairs = [p.partition("=") for p in query.split("&")]
    items = [(n, v) for n, _, v in pairs]
    op = draw(st.sampled_from(["replace", "repeat", "drop", "add", "case", "append"]))
    i = draw(st.integers(0, len(items) - 1))
    how = draw(_hows)
    if op == "replace":
        items[i] = (items[i][0], _encode(draw(_values), how).decode("latin-1"))
    elif op == "repeat":
        items.insert(draw(st.integers(0, len(items))), items[i])
    elif op == "drop":
        del items[i]
    elif op == "add":
        items.insert(i, (_encode(draw(_names), how).decode("latin-1"),
                         _encode(draw(_values), how).decode("latin-1")))
    elif op == "case":
        items[i] = (items[i][0].swapcase(), items[i][1])
    else:
        items[i] = (items[i][0], items[i][1] + _encode(draw(_values), how).decode("latin-1"))
    return (path + "?" + "&".join(f"{n}={v}" for n, v in items)).encode("latin-1")


_param_names = st.one_of(st.sampled_from(PARAMS), st.text(min_size=1, max_size=12)).filter(
    lambda n: not n.lower().startswith("x-amz-")
)
_param_values = st.one_of(
    st.text(max_size=40),
    st.text("0123456789", min_size=1, max_size=6000),
    st.sampled_from(["en-US", "pcm", "ogg-opus", "flac", "16000", "8000", "48000", "7999", "2",
                     "true", "false", "TRUE", "PII", "PHI", "en-US,es-US", "high"]),
)


@st.composite
def signed_params(draw: Any, fs: FuzzService) -> bytes:
    base = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"}
    query = dict(base) if draw(st.booleans()) else {}
    query.update(draw(st.dictionaries(_param_names, _param_values, max_size=6)))
    return fs.signed(query).encode()


def _mostly(valid: Any, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` seven times in eight, else a draw from ``other``."""
    return st.integers(0, 7).flatmap(lambda i: st.just(valid) if i else other)


def _either(a: st.SearchStrategy[Any], b: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A draw from ``a`` or ``b``, half and half (``one_of`` would flatten a nested
    ``one_of`` and give ``a`` one share among all of ``b``'s branches)."""
    return st.booleans().flatmap(lambda first: a if first else b)


_long_digits = st.integers(4_000, 6_000).map(lambda n: "1" * n)


@st.composite
def structured(draw: Any, fs: FuzzService) -> bytes:
    assert fs.svc is not None
    svc = fs.svc
    now = sigv4.amz_date(time.time())
    date = draw(_mostly(now, _either(_dates, _values)))
    scope = [
        draw(_mostly(svc.credentials.access_key_id, _values)),
        draw(_mostly(date[:8], _either(st.just(now[:8]), _values))),
        draw(_mostly(svc.region, _values)),
        draw(_mostly(sigv4.SERVICE, _values)),
        draw(_mostly("aws4_request", _values)),
    ]
    amz = [
        ("X-Amz-Algorithm", draw(_mostly(sigv4.ALGORITHM, _values))),
        ("X-Amz-Credential", "/".join(scope)),
        ("X-Amz-Date", date),
        ("X-Amz-Expires", draw(_mostly("300", _either(_long_digits, _values)))),
        ("X-Amz-SignedHeaders", draw(_mostly("host", _values))),
    ]
    if draw(st.integers(0, 3)) == 0:
        amz.append(("X-Amz-Security-Token", draw(_values)))
    params = [("language-code", "en-US"), ("media-encoding", "pcm"), ("sample-rate", "16000")]
    pairs = amz + params
    try:
        host = f"{svc.host}:{svc.port}"
        creq, _ = sigv4.canonical_request("GET", STD, pairs, [("host", host)])
        sts = sigv4.string_to_sign(creq, date, sigv4.credential_scope(date, svc.region))
        key = sigv4.signing_key(svc.credentials.secret_access_key, date, svc.region)
        computed = sigv4.signature(key, sts)
    except (UnicodeError, ValueError):  # a date no signer could use
        computed = "0" * 64
    pairs.append(("X-Amz-Signature", draw(_mostly(computed, _values))))
    draw(st.randoms()).shuffle(pairs)
    how = draw(st.sampled_from(["quote", "quote", "raw-escaped"]))
    return STD.encode() + b"?" + b"&".join(_encode(n, how) + b"=" + _encode(v, how) for n, v in pairs)


def targets(fs: FuzzService) -> st.SearchStrategy[bytes]:
    """Request targets of the four families (see the module docstring)."""
    return st.one_of(raw_queries(), mutated_signed(fs), structured(fs), signed_params(fs))
