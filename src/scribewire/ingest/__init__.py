"""Media front doors (``scribewire ingest``): the WebSockets contact-center platforms open
to you, terminated and written to Redis Streams for the worker pool (``scaleout.md`` §1,
§4). No speech-to-text and no cloud credentials here.

- :class:`IngestServer`: the server (``/twilio``, ``/audiohook``, ``/ws``);
- :class:`TwilioSession`, :class:`AudioHookSession`, :class:`WebSocketSession`: the
  protocols, sans-I/O (messages in, :mod:`~scribewire.ingest.events` out);
- :class:`CallSink` / :class:`CallWriter`: the Redis side (call start, coalesced
  ``XADD`` with explicit IDs, the end marker, refusals).
"""

from __future__ import annotations

from .audiohook import AudioHookSession
from .events import Audio, CallEnd, CallStart, Gap, Reply
from .server import IngestServer
from .twilio import TwilioSession
from .websocket import WebSocketSession
from .writer import CallSink, CallWriter

__all__ = [
    "Audio",
    "AudioHookSession",
    "CallEnd",
    "CallSink",
    "CallStart",
    "CallWriter",
    "Gap",
    "IngestServer",
    "Reply",
    "TwilioSession",
    "WebSocketSession",
]
