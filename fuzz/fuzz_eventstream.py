"""Differential atheris fuzzer for the event-stream decoder (both twins).

The only rule (protocol.md §1.5, DESIGN "Reliability"): every input either parses or
raises a ``ProtocolError`` subclass, and the native and pure twins agree on the message
list or on the error class. Each input is also fed to the native twin in chunks, which
must give the same result as one feed, and through ``feed_events`` (the routing fast
path) of both twins, which must route exactly the messages ``feed`` returns, or raise
the same error.

Input layout: byte 0 selects the mode and the chunk size; the rest is the stream.
With bit 7 of byte 0 set, the prelude and message CRCs of every message are recomputed
before decoding, so that mutations reach the length checks and the header parser
instead of stopping at the prelude CRC.

Run: see fuzz/README.md.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from scribewire._kernels import _eventstream_py as py_twin
    from scribewire.errors import ProtocolError

from reseal import reseal  # fuzz/reseal.py, beside this script

from scribewire._kernels import _eventstream_c as c_twin

# Small limits so that big announced lengths are cheap to reject.
LIMITS = {"max_headers_length": 4096, "max_payload_length": 65536}


def run(mod: object, data: bytes, chunk: int) -> tuple[str, object]:
    dec = mod.EventStreamDecoder(**LIMITS)  # type: ignore[attr-defined]
    messages = []
    try:
        for i in range(0, len(data), chunk):
            messages += dec.feed(data[i : i + chunk])
    except ProtocolError as exc:
        return ("error", type(exc))
    return ("ok", (messages, dec.buffered))


HANDLED = ("a", "TranscriptEvent", "AudioEvent", "event")


def _handler(etype: str):  # type: ignore[no-untyped-def]
    return lambda payload: ("handler", etype, payload)


HANDLERS = {t: _handler(t) for t in HANDLED}


def route(msg: object) -> tuple[object, ...]:
    headers = msg.headers  # type: ignore[attr-defined]
    mtype, etype = headers.get(":message-type"), headers.get(":event-type")
    if type(mtype) is str and mtype == "event" and type(etype) is str and etype in HANDLERS:
        return ("handler", etype, msg.payload)  # type: ignore[attr-defined]
    return ("fallback", msg)


def run_events(mod: object, data: bytes, chunk: int) -> tuple[str, object]:
    dec = mod.EventStreamDecoder(**LIMITS)  # type: ignore[attr-defined]
    out: list[object] = []
    try:
        for i in range(0, len(data), chunk):
            dec.feed_events(data[i : i + chunk], HANDLERS, lambda m: ("fallback", m), out)
    except ProtocolError as exc:
        return ("error", type(exc))
    return ("ok", (out, dec.buffered))


def TestOneInput(raw: bytes) -> None:
    if not raw:
        return
    mode, data = raw[0], raw[1:]
    if mode & 0x80:
        data = reseal(data)
    whole = max(len(data), 1)
    chunk = (mode & 0x1F) + 1
    py_result = run(py_twin, data, whole)
    c_result = run(c_twin, data, whole)
    c_chunked = run(c_twin, data, chunk)
    if py_result != c_result or c_result != c_chunked:
        raise AssertionError(
            f"twins disagree: py={py_result!r} c={c_result!r} chunked={c_chunked!r}"
        )
    if c_result[0] == "ok":
        messages, buffered = c_result[1]  # type: ignore[misc]
        want: tuple[str, object] = ("ok", ([route(m) for m in messages], buffered))
    else:
        want = c_result
    for mod, size in ((c_twin, whole), (c_twin, chunk), (py_twin, whole)):
        got = run_events(mod, data, size)
        if got != want:
            raise AssertionError(f"feed_events disagrees with feed: {got!r} != {want!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
