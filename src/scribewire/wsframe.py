"""WebSocket client frames (RFC 6455 §5.2, §5.3): masked binary messages in one allocation.

Public API; the implementation is the native twin (``_wsframe_c``) unless
``SCRIBEWIRE_NO_EXTENSIONS`` is set or it is unavailable, then the pure twin
(``_wsframe_py``). ``IMPLEMENTATION`` says which (``"c"`` or ``"py"``).

The streaming client frames each AudioEvent with :meth:`ClientFramer.binary_frame` and
writes the frame to the socket itself, instead of going through ``websockets``' per-frame
send path (a ``Frame`` object, a ``getrandom`` system call for each masking key, and the
masking and joins in Python).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._kernels import _impl

if TYPE_CHECKING:
    from ._kernels._wsframe_py import KEY_POOL_NBYTES, ClientFramer, encode_binary_frame

    IMPLEMENTATION: str
else:
    _mod = _impl.load("wsframe")
    KEY_POOL_NBYTES = _mod.KEY_POOL_NBYTES
    ClientFramer = _mod.ClientFramer
    encode_binary_frame = _mod.encode_binary_frame
    IMPLEMENTATION = "c" if _mod.__name__.endswith("_c") else "py"

__all__ = ["IMPLEMENTATION", "KEY_POOL_NBYTES", "ClientFramer", "encode_binary_frame"]
