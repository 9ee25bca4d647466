"""Platform simulators for the front-door tests, written from the protocol references
(not from scribewire.ingest): Twilio Media Streams
(https://www.twilio.com/docs/voice/media-streams/websocket-messages) and Genesys AudioHook
v2 (purecloudlabs/audiohook-reference-implementation, protocol/message.ts), plus the
generic start-then-L16 socket. Each streams one call over a real WebSocket, paced at
``speed`` times real time, and records what the front door answered."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import websockets

from scribewire.audio import ulaw_encode


class Outcome:
    """What a simulated platform saw: the server's messages and how the socket closed."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.sent_nbytes = 0  # audio bytes the platform sent (wire encoding)

    def types(self) -> list[str]:
        return [m.get("type", "") for m in self.received if isinstance(m, dict)]


async def _closed(ws: Any, out: Outcome, timeout: float = 10.0) -> None:
    try:
        while True:
            msg = await asyncio.wait_for(ws.recv(), timeout)
            out.received.append(json.loads(msg) if isinstance(msg, str) else msg)
    except websockets.ConnectionClosed:
        pass
    out.close_code = ws.close_code
    out.close_reason = ws.close_reason or ""


async def twilio_call(
    url: str,
    call_sid: str,
    tracks: dict[str, bytes],
    *,
    speed: float = 8.0,
    stop: bool = True,
) -> Outcome:
    """One Twilio stream: ``tracks`` maps ``inbound``/``outbound`` to int16 8 kHz mono
    PCM; sent as 20 ms base64 μ-law ``media`` messages, one track per message."""
    out = Outcome()
    stream_sid = "MZ" + uuid.uuid4().hex
    seq = 0

    def message(event: str, **body: Any) -> str:
        nonlocal seq
        seq += 1
        return json.dumps(
            {"event": event, "sequenceNumber": str(seq), "streamSid": stream_sid, **body}
        )

    async with websockets.connect(url, max_size=None) as ws:
        try:
            await ws.send(
                json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            )
            start = {
                "streamSid": stream_sid,
                "accountSid": "AC" + "0" * 32,
                "callSid": call_sid,
                "tracks": list(tracks),
                "customParameters": {"queue": "billing"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }
            await ws.send(message("start", start=start))
            ulaw = {t: ulaw_encode(pcm) for t, pcm in tracks.items()}
            chunks = {t: 0 for t in tracks}
            longest = max(len(u) for u in ulaw.values())
            for pos in range(0, longest, 160):
                for t, u in ulaw.items():
                    piece = u[pos : pos + 160]
                    if not piece:
                        continue
                    chunks[t] += 1
                    media = {
                        "track": t,
                        "chunk": str(chunks[t]),
                        "timestamp": str(pos // 8),
                        "payload": base64.b64encode(piece).decode(),
                    }
                    await ws.send(message("media", media=media))
                    out.sent_nbytes += len(piece)
                await asyncio.sleep(0.02 / speed)
            if stop:
                body = {"accountSid": start["accountSid"], "callSid": call_sid}
                await ws.send(message("stop", stop=body))
            # Twilio closes the socket after stop (or just goes away without one)
            await ws.close()
        except websockets.ConnectionClosed:
            pass  # the front door closed it: its code is the refusal
        out.close_code = ws.close_code
        out.close_reason = ws.close_reason or ""
    return out


async def audiohook_call(
    url: str,
    conversation_id: str,
    pcm: bytes,
    *,
    channels: tuple[str, ...] = ("external",),
    fmt: str = "PCMU",
    speed: float = 8.0,
    frame_ms: int = 100,
    offer_stereo_too: bool = False,
    discard_ms: int = 0,
) -> Outcome:
    """One AudioHook session: ``pcm`` is int16 8 kHz with ``len(channels)`` interleaved
    channels; it is offered as ``fmt`` and sent in ``frame_ms`` binary frames after
    ``opened``, with a ``ping`` now and then and ``close`` at the end (then ``closed``).
    ``discard_ms``: a ``discarded`` message for that much audio halfway through."""
    out = Outcome()
    session = str(uuid.uuid4())
    seq = 0
    server_seq = 0
    sent_ms = 0

    def message(type_: str, parameters: dict[str, Any]) -> str:
        nonlocal seq
        seq += 1
        return json.dumps(
            {
                "version": "2",
                "id": session,
                "type": type_,
                "seq": seq,
                "serverseq": server_seq,
                "position": f"PT{sent_ms / 1000:g}S",
                "parameters": parameters,
            }
        )

    media = [{"type": "audio", "format": fmt, "channels": list(channels), "rate": 8000}]
    if offer_stereo_too:
        media.append(
            {"type": "audio", "format": fmt, "channels": ["external", "internal"], "rate": 8000}
        )
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(
            message(
                "open",
                {
                    "organizationId": str(uuid.uuid4()),
                    "conversationId": conversation_id,
                    "participant": {
                        "id": str(uuid.uuid4()),
                        "ani": "+15551234567",
                        "aniName": "",
                        "dnis": "+15557654321",
                    },
                    "media": media,
                    "language": "en-US",
                },
            )
        )
        try:
            opened = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except websockets.ConnectionClosed:
            out.close_code = ws.close_code
            return out
        out.received.append(opened)
        if opened.get("type") != "opened":  # refused (disconnect): close the session
            server_seq = opened.get("seq", 0)
            await ws.send(message("close", {"reason": "disconnect"}))
            await _closed(ws, out)
            return out
        server_seq = opened["seq"]
        chosen = opened["parameters"]["media"][0]
        n_ch = len(chosen["channels"])
        data = ulaw_encode(pcm) if chosen["format"] == "PCMU" else pcm
        per_sample = 1 if chosen["format"] == "PCMU" else 2
        step = 8 * frame_ms * per_sample * n_ch
        discard_at = len(data) // 2 // step * step if discard_ms else -1
        try:
            for i, pos in enumerate(range(0, len(data), step)):
                if pos == discard_at:
                    await ws.send(
                        message(
                            "discarded",
                            {
                                "start": f"PT{sent_ms / 1000:g}S",
                                "discarded": f"PT{discard_ms / 1000:g}S",
                            },
                        )
                    )
                piece = data[pos : pos + step]
                await ws.send(piece)
                out.sent_nbytes += len(piece)
                sent_ms += frame_ms
                if i % 10 == 5:
                    await ws.send(message("ping", {}))
                while True:  # read what the server said meanwhile (pong, disconnect, ...)
                    try:
                        msg = await asyncio.wait_for(ws.recv(), 0.001)
                    except TimeoutError:
                        break
                    m = json.loads(msg)
                    out.received.append(m)
                    server_seq = m.get("seq", server_seq)
                    if m.get("type") in ("disconnect", "reconnect"):
                        raise _Leave(m["type"])
                await asyncio.sleep(frame_ms / 1000 / speed)
            await ws.send(message("close", {"reason": "end"}))
        except _Leave as why:  # the server asked: close the session with that reason
            await ws.send(message("close", {"reason": str(why)}))
        except websockets.ConnectionClosed:
            pass
        # the client closes the socket once the server's closed arrived
        try:
            while "closed" not in out.types():
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                out.received.append(m)
        except (websockets.ConnectionClosed, TimeoutError):
            pass
        await ws.close()
        out.close_code = ws.close_code
        out.close_reason = ws.close_reason or ""
    return out


class _Leave(Exception):
    pass


async def generic_call(
    url: str, call_id: str, pcm: bytes, *, rate: int = 8000, speed: float = 8.0, frame_ms: int = 20
) -> Outcome:
    """The generic socket: a JSON start, int16 LE mono frames, ``{"event": "stop"}``."""
    out = Outcome()
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(
            json.dumps({"call_id": call_id, "sample_rate": rate, "channels": 1, "encoding": "L16"})
        )
        step = rate // 1000 * frame_ms * 2
        try:
            for pos in range(0, len(pcm), step):
                await ws.send(pcm[pos : pos + step])
                out.sent_nbytes += len(pcm[pos : pos + step])
                await asyncio.sleep(frame_ms / 1000 / speed)
            await ws.send(json.dumps({"event": "stop"}))
        except websockets.ConnectionClosed:
            pass
        await _closed(ws, out)
    return out
