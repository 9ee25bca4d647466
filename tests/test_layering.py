"""Imports only go downward through the layers of DESIGN.md.

3  apps        scribewire.cli.main, scribewire.server.*, scribewire.__main__
2  client      scribewire.clients, scribewire.pool, scribewire.transport.pacing, scribewire.cli.output
1  protocol    scribewire.transcribe.*, scribewire.assemblyai.*
0  codecs      everything else (kernels, their twins, eventstream, audio, errors, ...)

A module may import from its own layer or below, never above. The package
``__init__`` re-exports across layers and is exempt. Imports under
``if TYPE_CHECKING:`` count too: a type reference upward is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scribewire

PKG_DIR = Path(scribewire.__file__).resolve().parent


def layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "scribewire" or len(parts) == 1:
        return -1
    top = parts[1]
    if top in ("cli", "server", "ingest", "integrations", "__main__"):
        return 3
    if top in ("transport", "clients", "pool", "metrics"):
        return 2
    if top in ("streaming", "transcribe", "assemblyai"):
        return 1
    return 0


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _python_import_lines(path: Path) -> str:
    """Source to parse: the file itself, or for Cython only its (c)import statements."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".pyx":
        return text
    keep = []
    for line in text.splitlines():
        stripped = line.strip().replace(" cimport ", " import ")
        if stripped.startswith("cimport "):
            stripped = stripped[1:]
        if stripped.startswith("from ") and stripped.endswith(("(", "\\")):
            keep.append(stripped[:-1].rstrip() + " _")  # the module is what matters
        elif stripped.startswith(("import ", "from ")):
            keep.append(stripped)
        else:
            keep.append("")  # keep line numbers
    return "\n".join(keep)


def imported(path: Path, modname: str) -> list[tuple[int, str]]:
    tree = ast.parse(_python_import_lines(path), filename=str(path))
    is_pkg = path.name == "__init__.py"
    package = modname if is_pkg else modname.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module or ""
            out.append((node.lineno, root))
            out.extend((node.lineno, f"{root}.{a.name}") for a in node.names)
    return out


SOURCES = sorted(p for p in PKG_DIR.rglob("*.py") if p.name != "__init__.py" or p.parent != PKG_DIR)
SOURCES += sorted(PKG_DIR.rglob("*.pyx"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG_DIR)))
def test_imports_only_go_downward(path: Path) -> None:
    modname = module_name(path)
    own = layer(modname)
    bad = []
    for lineno, target in imported(path, modname):
        if target.startswith("scribewire") and layer(target) > own:
            bad.append(f"line {lineno}: imports {target} (layer {layer(target)} > {own})")
    assert not bad, f"{modname} (layer {own}) imports upward:\n" + "\n".join(bad)


def test_checker_sees_upward_imports(tmp_path: Path) -> None:
    src = tmp_path / "session.py"
    src.write_text("from ..clients import TranscribeClient\nimport scribewire.server.service\n")
    found = [t for _, t in imported(src, "scribewire.transcribe.session")]
    assert "scribewire.clients.TranscribeClient" in found
    assert "scribewire.server.service" in found
    assert {layer(t) for t in found} == {2, 3}


def test_layer_table() -> None:
    assert layer("scribewire.cli.main") == 3
    assert layer("scribewire.server.service") == 3
    assert layer("scribewire.clients") == 2
    assert layer("scribewire.transport.pacing") == 2
    assert layer("scribewire.streaming.replay") == 1
    assert layer("scribewire.transcribe.session") == 1
    assert layer("scribewire.eventstream") == 0
    assert layer("scribewire._kernels._eventstream_c") == 0


# --------------------------------------------------------------------------- sans-I/O

#: Packages that must do no I/O (DESIGN.md "Layers" 1-3): no sockets, files, clocks or
#: environment reads. Time and bytes are passed in.
SANS_IO = ("streaming", "transcribe", "assemblyai", "_kernels")
#: Modules that bring I/O with them.
IO_MODULES = {
    "asyncio", "socket", "selectors", "ssl", "subprocess", "pathlib", "configparser",
    "shutil", "tempfile", "time", "soundfile", "websockets", "botocore", "urllib.request",
    "http.client", "logging.handlers", "scribewire.media.files", "scribewire.transport",
}
#: (attribute chain) calls and reads that are I/O or a clock.
IO_CALLS = {
    "open", "os.environ", "os.getenv", "os.listdir", "os.stat", "os.path.exists",
    "datetime.now", "datetime.today", "datetime.utcnow", "_dt.datetime.now",
    "dt.datetime.now", "time.time", "time.monotonic", "input", "print",
}
#: Deliberate exceptions, each with its reason.
ALLOWED = {
    # the twin selector reads SCRIBEWIRE_NO_EXTENSIONS once at import (DESIGN.md "Layers" 1)
    ("scribewire._kernels._impl", "os.environ"),
}


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def io_uses(path: Path, modname: str) -> list[str]:
    """The I/O imports and calls of a Python source (the layer's own rules aside)."""
    if path.suffix == ".pyx":  # Cython: only its imports are checked
        found = [t for _, t in imported(path, modname)]
        return [f"imports {t}" for t in found if t in IO_MODULES or t.split(".")[0] in IO_MODULES]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for lineno, target in imported(path, modname):
        root = target.split(".")[0]
        if target in IO_MODULES or root in IO_MODULES or any(
            target.startswith(m + ".") for m in IO_MODULES if "." in m
        ):
            bad.append(f"line {lineno}: imports {target}")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node)
            if name in IO_CALLS and (modname, name) not in ALLOWED:
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                    continue
                bad.append(f"line {node.lineno}: uses {name}")
    return sorted(set(bad))


SANS_IO_SOURCES = [
    p for p in SOURCES if module_name(p).split(".")[1] in SANS_IO and p.suffix in (".py", ".pyx")
]


@pytest.mark.parametrize("path", SANS_IO_SOURCES, ids=lambda p: str(p.relative_to(PKG_DIR)))
def test_sans_io_layers_do_no_io(path: Path) -> None:
    modname = module_name(path)
    bad = io_uses(path, modname)
    assert not bad, f"{modname} is sans-I/O but does I/O:\n" + "\n".join(bad)


def test_io_checker_sees_io(tmp_path: Path) -> None:
    src = tmp_path / "replay.py"
    src.write_text(
        "import asyncio\nimport os\nfrom ..transport import stream\n"
        "x = os.environ['A']\nwith open('f') as f: pass\n"
        "import datetime as _dt\nnow = _dt.datetime.now()\n"
    )
    bad = "\n".join(io_uses(src, "scribewire.streaming.replay"))
    for what in ("imports asyncio", "imports scribewire.transport", "os.environ", "uses open",
                 "_dt.datetime.now"):
        assert what in bad, what
    assert len(SANS_IO_SOURCES) > 20
