"""Native extensions only; all metadata lives in pyproject.toml.

``SCRIBEWIRE_BUILD_EXTENSION``:
  ``yes``   the extensions must build (release wheels, CI); a failure is an error.
  ``no``    skip them: a pure-Python install.
  unset     try; fall back to pure Python when no compiler is available.

``SCRIBEWIRE_DEBUG=1`` compiles with Cython's bounds/wraparound checks and line tracing
(and keeps debug info; other builds carry none).

Before cythonizing, a probe compiles a one-line C file against ``Python.h``. When that
fails (no compiler, no Python headers) nothing native is built: the wheel holds the
pure-Python twins, is tagged ``py3-none-any``, and the build ends with a warning that says
how to get the native kernels. The same holds when every extension fails to compile.

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
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

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


#: Why nothing native is being built (None while the native build is on).
PURE_REASON: str | None = None
#: Extensions that did compile in this build (filled by OptionalBuildExt).
BUILT: list[str] = []

def _warn_pure(reason: str) -> None:
    """The end-of-build warning of a build that installs no native kernel."""
    import textwrap

    how = (
        "install a C compiler and the Python headers (Debian/Ubuntu: apt-get install gcc "
        "python3-dev; Fedora: dnf install gcc python3-devel; macOS: xcode-select "
        "--install), then reinstall without the pure wheel pip has cached:"
    )
    bar = "=" * 78
    lines = [
        bar,
        "scribewire: WARNING: no native kernels were built; the pure-Python twins were",
        "installed (same results, slower hot paths: CRC32, event-stream and WebSocket",
        "framing, G.711/PCM, pacing).",
        *textwrap.wrap(f"Reason: {reason}.", 78),
        *textwrap.wrap(f"For the native build, {how}", 78),
        "    pip install --no-cache-dir --force-reinstall --no-deps scribewire",
        "(or the path of this source tree). `scribewire --version` lists the native",
        "kernels in use.",
        bar,
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


class OptionalBuildExt(build_ext):
    """Turns a failed native build into a pure-Python install unless it is required."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - compiler errors come in many types
            if MODE == "yes":
                raise
            print(f"scribewire: native build failed ({exc})", file=sys.stderr)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            if MODE == "yes":
                raise
            print(f"scribewire: skipping {ext.name} ({exc})", file=sys.stderr)
        else:
            BUILT.append(ext.name)


class BuildPy(build_py):
    """Ends a build that installs no native kernel with the warning (editable ones too)."""

    def run(self) -> None:
        super().run()
        if PURE_REASON is not None and MODE != "no":
            _warn_pure(PURE_REASON)


class BdistWheel(bdist_wheel):
    """Tags the wheel ``py3-none-any`` when no extension compiled (not a platform wheel
    without a ``.so``, which pip would cache under the interpreter's tag)."""

    def run(self) -> None:
        if not self.skip_build:
            self.reinitialize_command("build_ext").inplace = False
            self.run_command("build")
        if self.distribution.ext_modules and not BUILT:
            self.distribution.ext_modules = []
            self.root_is_pure = True
            _warn_pure("every native extension failed to compile (see the errors above)")
        super().run()


def _probe_compiler() -> str | None:
    """None if a C compiler builds against this interpreter's ``Python.h``, else why not."""
    import sysconfig

    try:
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler
    except ImportError:  # pragma: no cover - older setuptools
        from distutils.ccompiler import new_compiler  # type: ignore[no-redef]
        from distutils.sysconfig import customize_compiler  # type: ignore[no-redef]

    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        return f"the Python headers are missing (no Python.h in {include})"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "scribewire_probe.c"
        src.write_text("#include <Python.h>\nint scribewire_probe(void) { return 0; }\n")
        try:
            compiler = new_compiler()
            customize_compiler(compiler)
            compiler.compile([str(src)], output_dir=tmp, include_dirs=[include])
        except Exception as exc:  # noqa: BLE001 - CompileError, DistutilsExecError, ...
            return f"no working C compiler ({exc})"
    return None


def extensions() -> list:  # type: ignore[type-arg]
    global PURE_REASON
    if MODE == "no":
        PURE_REASON = "SCRIBEWIRE_BUILD_EXTENSION=no"
        return []
    if platform.python_implementation() != "CPython":
        PURE_REASON = f"{platform.python_implementation()} runs the pure-Python twins"
        return []
    commands = {a for a in sys.argv[1:] if not a.startswith("-")}
    if commands and commands <= {"sdist", "egg_info", "dist_info"}:
        return []  # metadata and the sdist need no compiler
    why = _probe_compiler()
    if why is not None:
        if MODE == "yes":
            sys.exit(f"scribewire: SCRIBEWIRE_BUILD_EXTENSION=yes but {why}")
        PURE_REASON = why
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        if MODE == "yes":
            raise
        PURE_REASON = "Cython is not installed"
        return []

    cflags = ["-O3", "-Wall", "-Wextra", "-Wno-unused-function", "-Wno-unused-parameter"]
    ldflags: list[str] = []
    if not DEBUG:
        # No debug info (the interpreter's CFLAGS carry -g), none linked in either. The
        # symbol table stays: it costs little and lets objdump tell functions apart.
        cflags.append("-g0")
        ldflags.append("-Wl,-S")
    if sys.platform == "win32":
        cflags, ldflags = ["/O2"], []
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
                extra_link_args=ldflags,
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
                extra_link_args=ldflags,
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
    # include_path: where Cython finds each renamed copy's .pxd by its module name
    return cythonize(
        exts, compiler_directives=directives, include_path=[str(PURE_MODE_TREE)], quiet=True
    )


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPy, "bdist_wheel": BdistWheel},
)
