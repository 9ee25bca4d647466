"""A minimal Transcribe WebSocket client built only from botocore, websockets and zlib.

No scribewire code: the local service is checked against an independent implementation of
the wire (botocore's ``SigV4QueryAuth`` presigns, a hand-written event-stream encoder frames
audio, botocore's ``EventStreamBuffer`` decodes the answers, amazon_transcribe's
``EventSigner`` signs envelopes).
"""

from __future__ import annotations

import datetime
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def presign(
    base: str,
    path: str,
    params: dict[str, str],
    *,
    access_key: str,
    secret: str,
    region: str,
    token: str | None = None,
    expires: int = 300,
) -> str:
    http = base.replace("ws://", "http://").replace("wss://", "https://")
    req = AWSRequest(method="GET", url=f"{http}{path}?{urlencode(params, quote_via=quote)}")
    SigV4QueryAuth(
        Credentials(access_key, secret, token), "transcribe", region, expires=expires
    ).add_auth(req)
    return req.url.replace("http://", "ws://").replace("https://", "wss://")


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """An event-stream message with string headers (protocol.md §1.1), CRCs by zlib."""
    hb = b"".join(_header(k, v) for k, v in headers.items())
    total = 16 + len(hb) + len(payload)
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + hb + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event_frame(event_type: str, content_type: str, payload: bytes) -> bytes:
    """A client event message (``:message-type`` event) with the usual three headers."""
    headers = {":content-type": content_type, ":event-type": event_type, ":message-type": "event"}
    return frame(headers, payload)


def audio_frame(pcm: bytes) -> bytes:
    return event_frame("AudioEvent", "application/octet-stream", pcm)


def configuration_frame(payload: bytes) -> bytes:
    """A Call Analytics ``ConfigurationEvent`` message carrying ``payload`` (JSON)."""
    return event_frame("ConfigurationEvent", "application/json", payload)


def channel_definitions(*roles: str) -> bytes:
    """ConfigurationEvent JSON giving channel ``i`` the participant role ``roles[i]``."""
    defs = [{"ChannelId": i, "ParticipantRole": r} for i, r in enumerate(roles)]
    return json.dumps({"ChannelDefinitions": defs}).encode()


def amazon_envelopes(
    payloads: list[bytes],
    prior: bytes,
    secret: str,
    region: str,
    utc_now: Callable[[], datetime.datetime],
) -> list[bytes]:
    """Signed envelopes around ``payloads`` from amazon_transcribe's ``EventSigner`` and
    serializer (the oracle), the chain seeded with ``prior`` (the URL's signature)."""
    from amazon_transcribe.auth import Credentials as AtCredentials
    from amazon_transcribe.eventstream import EventSigner, EventStreamMessageSerializer

    signer = EventSigner("transcribe", region, utc_now=utc_now)
    creds = AtCredentials("AKIDEXAMPLE", secret)
    out = []
    for p in payloads:
        headers = signer.sign(p, prior, creds)
        prior = headers[":chunk-signature"]
        out.append(EventStreamMessageSerializer().serialize(headers, p))
    return out


@dataclass
class Reply:
    """What came back: JSON events (by type), exceptions, close code."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exceptions: list[tuple[str, str]] = field(default_factory=list)
    close_code: int | None = None

    def results(self) -> list[dict[str, Any]]:
        return [
            r for t, e in self.events if t == "TranscriptEvent" for r in e["Transcript"]["Results"]
        ]


async def run_stream(
    url: str, frames: list[bytes], *, read_timeout: float = 30.0, text: str | None = None
) -> Reply:
    """Send ``frames`` (binary) then read until the server closes."""
    import asyncio

    reply = Reply()
    buf = EventStreamBuffer()
    async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:

        async def reader() -> None:
            try:
                async for data in ws:
                    buf.add_data(data)
                    for msg in buf:
                        h = msg.headers
                        body = json.loads(msg.payload) if msg.payload else {}
                        if h[":message-type"] == "exception":
                            reply.exceptions.append((h[":exception-type"], body.get("Message", "")))
                        else:
                            reply.events.append((h[":event-type"], body))
            except ConnectionClosed:
                pass

        task = asyncio.create_task(reader())
        try:
            if text is not None:
                await ws.send(text)
            for f in frames:
                await ws.send(f)
        except ConnectionClosed:
            pass
        await asyncio.wait_for(task, read_timeout)
        reply.close_code = ws.close_code
    return reply
