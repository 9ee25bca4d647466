"""Native extensions only; all metadata lives in pyproject.toml.

``SCRIBEWIRE_BUILD_EXTENSION``:
  ``yes``   the extensions must build (release wheels, CI); a failure is an error.
  ``no``    skip them: a pure-Python install.
  unset     try; fall back to pure Python when no compiler is available.

``SCRIBEWIRE_DEBUG=1`` compiles with Cython's bounds/wraparound checks and line tracing.

Two kinds of compiled module (DESIGN.md, "Layers" 1):
  twins          ``_x_c.pyx`` (+ C in ``csrc/``) beside a hand-written ``_x_py.py``.
  one source     a state machine written once as ``_x_py.py`` in Cython's pure-Python
                 mode with ``_x_py.pxd`` beside it (the pacer). Imported as it is, the
                 .py is the pure twin; this file compiles the same source as the native
                 twin ``_x_c``. Cython names a module's init function and looks up its
                 .pxd by the file's own name, so both files are first copied, renamed
                 ``_x_c.py`` / ``_x_c.pxd``, to ``build/pure_mode/scribewire/...`` and
                 compiled from there. The copies are build output (``build/`` is
                 ignored by git and is not part of the package): the source tree never
                 holds a ``_x_c.py`` that could be imported in place of a missing
                 extension.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
PKG = Path("src") / "scribewire"
CSRC = Path("csrc")
PURE_MODE_TREE = Path("build") / "pure_mode"  # the renamed copies of one-source modules

# Hand-written C that each compiled module links, besides its .pyx.
EXTRA_SOURCES: dict[str, list[str]] = {
    "_crc32_c": ["crc32.c"],
    "_eventstream_c": ["crc32.c"],
    "_wsframe_c": ["crc32.c"],
    "_audio_c": ["g711.c", "pcm.c", "soxr_dl.c"],
}
# System libraries per compiled module (dlopen lives in libdl before glibc 2.34).
LIBRARIES: dict[str, list[str]] = {"_audio_c": ["dl"] if sys.platform.startswith("linux") else []}

MODE = os.environ.get("SCRIBEWIRE_BUILD_EXTENSION", "").strip().lower()
DEBUG = os.environ.get("SCRIBEWIRE_DEBUG", "") == "1"
if MODE not in ("", "yes", "no"):
    sys.exit(f"SCRIBEWIRE_BUILD_EXTENSION must be yes, no or unset, not {MODE!r}")


class OptionalBuildExt(build_ext):
    """Turns a failed native build into a pure-Python install unless it is required."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - compiler errors come in many types
            if MODE == "yes":
                raise
            print(f"scribewire: native build failed ({exc}); installing pure Python", file=sys.stderr)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            if MODE == "yes":
                raise
            print(f"scribewire: skipping {ext.name} ({exc})", file=sys.stderr)


def extensions() -> list:  # type: ignore[type-arg]
    if MODE == "no" or platform.python_implementation() != "CPython":
        print("scribewire: Pure (no native extensions)", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        if MODE == "yes":
            raise
        print("scribewire: Cython missing; Pure", file=sys.stderr)
        return []

    cflags = ["-O3", "-Wall", "-Wextra", "-Wno-unused-function", "-Wno-unused-parameter"]
    if sys.platform == "win32":
        cflags = ["/O2"]
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if DEBUG:
        macros.append(("CYTHON_TRACE_NOGIL", "1"))
    exts = []
    for pxd in sorted((HERE / PKG).rglob("_*_py.pxd")):
        # one source: _x_py.py + _x_py.pxd, compiled as _x_c from renamed copies
        name = pxd.stem[: -len("_py")] + "_c"
        rel = pxd.parent.relative_to(HERE / PKG)
        dotted = ".".join(("scribewire", *rel.parts, name))
        dest = PURE_MODE_TREE / "scribewire" / rel
        (HERE / dest).mkdir(parents=True, exist_ok=True)
        for suffix in (".py", ".pxd"):
            src = pxd.with_suffix(suffix)
            out = HERE / dest / (name + suffix)
            if not out.exists() or out.read_bytes() != src.read_bytes():
                shutil.copy2(src, out)  # keeps the mtime: Cython rebuilds only on change
        exts.append(
            Extension(
                dotted,
                sources=[str(dest / (name + ".py"))]
                + [str(CSRC / s) for s in EXTRA_SOURCES.get(name, [])],
                include_dirs=[str(CSRC)],
                libraries=LIBRARIES.get(name, []),
                extra_compile_args=cflags,
                define_macros=macros,
            )
        )
    for pyx in sorted((HERE / PKG).rglob("_*_c.pyx")):
        name = pyx.stem
        rel = pyx.relative_to(HERE / PKG)
        dotted = ".".join(("scribewire", *rel.parent.parts, name))
        sources = [str(PKG / rel)] + [str(CSRC / s) for s in EXTRA_SOURCES.get(name, [])]
        exts.append(
            Extension(
                dotted,
                sources=sources,
                include_dirs=[str(CSRC)],
                libraries=LIBRARIES.get(name, []),
                extra_compile_args=cflags,
                define_macros=macros,
            )
        )
    directives = {
        "language_level": 3,
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "cdivision": not DEBUG,
        "initializedcheck": DEBUG,
        "embedsignature": True,
        "linetrace": DEBUG,
    }
    print("scribewire: Accelerated (native extensions)", file=sys.stderr)
    # include_path: where Cython finds each renamed copy's .pxd by its module name
    return cythonize(
        exts, compiler_directives=directives, include_path=[str(PURE_MODE_TREE)], quiet=True
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
