"""``scribewire --version``: the version, which kernels are native, the CPU paths chosen.

The first line is ``scribewire VERSION``; then the interpreter and platform, one line
saying which kernels run native (``kernels: all native (...)``, or which ones fell back
to their pure-Python twin and why), and the CPU code paths the native kernels picked at
import: CRC32 (``vpclmulqdq``, ``pclmulqdq``, ``armv8-crc`` or ``table``) and G.711/PCM
(``avx512`` or the compiler-vectorised portable C).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._kernels import _impl

__all__ = ["KERNELS", "VersionAction", "kernel_status", "version_text"]

#: kernel name -> dotted name of its native module.
KERNELS: dict[str, str] = {
    "crc32": "scribewire._kernels._crc32_c",
    "eventstream": "scribewire._kernels._eventstream_c",
    "audio": "scribewire._kernels._audio_c",
    "wsframe": "scribewire._kernels._wsframe_c",
    "wsserver": "scribewire._kernels._wsserver_c",
    "pacing": "scribewire.transport._pacing_c",
}


def kernel_status() -> dict[str, str | None]:
    """Kernel name -> None when its native module loads, else why the pure twin runs."""
    out: dict[str, str | None] = {}
    for name, dotted in KERNELS.items():
        if _impl.NO_EXTENSIONS:
            if os.environ.get("SCRIBEWIRE_NO_EXTENSIONS"):
                out[name] = "SCRIBEWIRE_NO_EXTENSIONS is set"
            else:
                out[name] = f"{platform.python_implementation()} runs the pure twins"
            continue
        if importlib.util.find_spec(dotted) is None:
            out[name] = "not built in this install"
            continue
        try:
            importlib.import_module(dotted)
        except ImportError as exc:
            out[name] = f"fails to load: {exc}"
        else:
            out[name] = None
    return out


def _cpu_paths(status: dict[str, str | None]) -> str:
    parts = []
    if status.get("crc32") is None:
        crc: Any = importlib.import_module(KERNELS["crc32"])
        others = [p for p in getattr(crc, "PATHS", ()) if p != crc.IMPLEMENTATION]
        detail = []
        if os.environ.get("SCRIBEWIRE_CRC32_PATH"):
            detail.append("forced by SCRIBEWIRE_CRC32_PATH")
        if others:
            detail.append("also: " + ", ".join(others))
        parts.append(f"CRC32 {crc.IMPLEMENTATION}" + (f" ({'; '.join(detail)})" if detail else ""))
    else:
        parts.append("CRC32 zlib (pure twin)")
    if status.get("audio") is None:
        audio: Any = importlib.import_module(KERNELS["audio"])
        simd = audio._simd() if hasattr(audio, "_simd") else "auto"
        vector = "avx512" if simd == "avx512" else "portable C (auto-vectorised)"
        parts.append(f"G.711/PCM {vector}")
    else:
        parts.append("G.711/PCM pure Python")
    return "; ".join(parts)


def version_text() -> str:
    """The text ``scribewire --version`` prints (several lines, no trailing newline)."""
    status = kernel_status()
    native = [k for k, why in status.items() if why is None]
    pure = {k: why for k, why in status.items() if why is not None}
    if not pure:
        kernels = f"kernels: all native ({', '.join(native)})"
    elif not native:
        reasons = sorted(set(pure.values()))
        kernels = f"kernels: all pure-Python twins ({'; '.join(reasons)})"
        if "not built in this install" in reasons:
            kernels += (
                "\n  for the native kernels reinstall with a C compiler and the Python headers:"
                "\n  pip install --no-cache-dir --force-reinstall --no-deps scribewire"
            )
    else:
        fell_back = ", ".join(f"{k} ({why})" for k, why in pure.items())
        kernels = f"kernels: native {', '.join(native)}; pure-Python {fell_back}"
    interpreter = (
        f"{platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}"
    )
    return "\n".join(
        [
            f"scribewire {__version__}",
            f"python: {interpreter}",
            kernels,
            f"cpu paths: {_cpu_paths(status)}",
        ]
    )


class VersionAction(argparse.Action):
    """``--version``: prints :func:`version_text` on stdout and exits 0 (argparse's own
    version action re-wraps the text into one paragraph)."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str = argparse.SUPPRESS,
        default: Any = argparse.SUPPRESS,
        help: str = "show the version, the native kernels and CPU paths in use, and exit",
    ) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(version_text() + "\n")
        sys.stdout.flush()
        parser.exit(0)
