"""Upgrade requests the real services accept although websockets' server would not.

Some clients add their own ``Sec-WebSocket-Key`` and ``Sec-WebSocket-Version`` headers
beside the ones their WebSocket library already sends (pipecat's
``AWSTranscribeSTTService`` passes a 20-character random "key" and ``13`` as extra
headers, so its requests carry each header twice). Amazon Transcribe completes those
upgrades; websockets' ``ServerProtocol.accept`` answers 400 ("multiple values"). The
local service must accept every request the real service accepts, so before websockets
checks the request each repeated header is reduced to the one value the handshake can use
(RFC 6455 §4.2.1: the key is base64 of 16 bytes, the version is 13). The client validates
``Sec-WebSocket-Accept`` against the key its library generated, which is that valid one.

A request whose repeated values hold no valid one keeps them all and is refused by
websockets as before.
"""

from __future__ import annotations

import base64
import binascii

from websockets.datastructures import Headers

__all__ = ["collapse_repeated_upgrade_headers"]

#: RFC 6455 §4.1: the only version a server speaking the RFC accepts
_VERSION = "13"


def _valid_key(value: str) -> bool:
    """RFC 6455 §4.1 item 7: base64 of a 16-byte nonce."""
    try:
        return len(base64.b64decode(value.encode(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def collapse_repeated_upgrade_headers(headers: Headers) -> None:
    """Keep, of a repeated ``Sec-WebSocket-Key`` / ``Sec-WebSocket-Version``, the first
    value that is valid (in place); a single or missing header is left alone."""
    for name, valid in (
        ("Sec-WebSocket-Key", _valid_key),
        ("Sec-WebSocket-Version", lambda v: v.strip() == _VERSION),
    ):
        values = headers.get_all(name)
        if len(values) < 2:
            continue
        chosen = next((v for v in values if valid(v)), None)
        if chosen is None:
            continue
        del headers[name]
        headers[name] = chosen
