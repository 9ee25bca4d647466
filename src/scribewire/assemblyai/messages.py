"""Client-to-server control messages of AssemblyAI v3 (assemblyai.md §3.2), both ways.

Audio travels as bare binary messages (§3.1); everything else the client sends is a
JSON text message with a ``type``: ``Terminate``, ``ForceEndpoint``, ``KeepAlive`` and
``UpdateConfiguration`` (the changed fields beside ``type``).

* Client side: the ``encode_*`` functions return :class:`TextMessage`, a ``bytes``
  subclass holding the UTF-8 JSON that marks "send me as a **text** message";
  :func:`text_frame` turns one into a complete masked WebSocket text frame with a
  :class:`~scribewire.wsframe.ClientFramer`'s next masking key.
* Server side: :func:`decode_client_message` parses a text message into a typed
  control message, or raises :class:`~scribewire.assemblyai.errors.InvalidClientMessage`
  carrying the 3006 reason to answer with (§5.1, §6 item 12). JSON is parsed, never
  compared as bytes: pipecat puts ``type`` first with spaces, the SDK last (§3.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import msgspec

from ..wsframe import ClientFramer
from .errors import InvalidClientMessage
from .limits import REASON_INVALID_JSON, REASON_INVALID_MESSAGE, REASON_INVALID_MESSAGE_TYPE

__all__ = [
    "CLIENT_MESSAGE_TYPES",
    "ClientMessage",
    "ForceEndpoint",
    "KeepAlive",
    "Terminate",
    "TextMessage",
    "UpdateConfiguration",
    "decode_client_message",
    "encode_force_endpoint",
    "encode_keep_alive",
    "encode_terminate",
    "encode_update_configuration",
    "text_frame",
]


class TextMessage(bytes):
    """UTF-8 JSON to send as a WebSocket **text** message (``ws.send(msg.decode())``);
    every other ``bytes`` a session returns is a binary message (or a whole frame)."""

    __slots__ = ()


_encode = msgspec.json.Encoder().encode
_TERMINATE = TextMessage(b'{"type":"Terminate"}')
_FORCE_ENDPOINT = TextMessage(b'{"type":"ForceEndpoint"}')
_KEEP_ALIVE = TextMessage(b'{"type":"KeepAlive"}')


def encode_terminate() -> TextMessage:
    """``{"type":"Terminate"}``: end the session gracefully (§3.2)."""
    return _TERMINATE


def encode_force_endpoint() -> TextMessage:
    """``{"type":"ForceEndpoint"}``: end the current turn now (§3.2)."""
    return _FORCE_ENDPOINT


def encode_keep_alive() -> TextMessage:
    """``{"type":"KeepAlive"}``: reset ``inactivity_timeout`` (§3.2, §3.4)."""
    return _KEEP_ALIVE


def encode_update_configuration(fields: Mapping[str, object]) -> TextMessage:
    """``{"type":"UpdateConfiguration", <fields>}`` (§3.2, §3.3).

    Args:
        fields: already-validated wire values (numbers, booleans, strings, lists of
            strings; tuples are sent as JSON arrays). ``keyterms_prompt=[]`` clears the set.
    """
    body: dict[str, Any] = {"type": "UpdateConfiguration"}
    for name, value in fields.items():
        body[name] = list(value) if isinstance(value, tuple) else value
    return TextMessage(_encode(body))


def text_frame(framer: ClientFramer, payload: bytes) -> bytes:
    """One complete masked WebSocket **text** frame (RFC 6455 §5.2: FIN, opcode 0x1)
    holding ``payload`` (UTF-8), masked with ``framer``'s next key.

    A binary and a text frame differ only in the opcode nibble of the first byte, so
    this asks the framer for a binary frame (header, key, masked payload) and sets the
    opcode to text: one key source, no second masking routine.

    Raises:
        ValueError: the framer returned something that is not an unfragmented binary frame.
    """
    frame = framer.binary_frame(payload)
    if not frame or frame[0] != 0x82:
        raise ValueError("ClientFramer.binary_frame did not return a FIN binary frame")
    return b"\x81" + frame[1:]


# --------------------------------------------------------------------------- server side


class Terminate(msgspec.Struct, frozen=True):
    """The client ends the session (§3.2)."""


class ForceEndpoint(msgspec.Struct, frozen=True):
    """The client asks to end the current turn now (§3.2)."""


class KeepAlive(msgspec.Struct, frozen=True):
    """The client resets the inactivity timer (§3.2)."""


class UpdateConfiguration(msgspec.Struct, frozen=True):
    """The client changes settings (§3.3).

    Attributes:
        fields: every member except ``type``, as sent (to validate against the
            session's model: ``StreamingParams.update``).
    """

    fields: dict[str, Any]


ClientMessage: TypeAlias = Terminate | ForceEndpoint | KeepAlive | UpdateConfiguration

#: ``type`` -> class.
CLIENT_MESSAGE_TYPES: dict[str, type[msgspec.Struct]] = {
    "Terminate": Terminate,
    "ForceEndpoint": ForceEndpoint,
    "KeepAlive": KeepAlive,
    "UpdateConfiguration": UpdateConfiguration,
}

_decode_any = msgspec.json.Decoder().decode


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def decode_client_message(data: str | bytes) -> ClientMessage:
    """Parse one client text message (server side, §3.2, §6 item 12).

    Raises:
        InvalidClientMessage: not JSON (reason ``Invalid JSON: <json>``), not an object
            or without a string ``type`` (``Invalid Message: <message>``), or an unknown
            ``type`` (``Invalid Message Type: <type>``); the reason is what to send with
            ``Error`` 3006 and the close (§5.1).
    """
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
    try:
        obj = _decode_any(data)
    except msgspec.DecodeError:
        raise InvalidClientMessage(REASON_INVALID_JSON.format(_short(text))) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise InvalidClientMessage(REASON_INVALID_MESSAGE.format(_short(text)))
    kind = obj.pop("type")
    cls = CLIENT_MESSAGE_TYPES.get(kind)
    if cls is None:
        raise InvalidClientMessage(REASON_INVALID_MESSAGE_TYPE.format(_short(kind)))
    if cls is UpdateConfiguration:
        return UpdateConfiguration(obj)
    msg: ClientMessage = cls()  # type: ignore[assignment]
    return msg
