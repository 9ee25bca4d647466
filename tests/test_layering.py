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
