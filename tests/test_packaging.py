"""The release artefacts: the sdist is complete, and a build without a C compiler says so.

Both build with ``python -m build --no-isolation`` (the ``build`` and ``setuptools``
of the test extra, no download). The sdist must hold every file git tracks except the
repository's own plumbing (cibuildwheel runs this suite from the unpacked sdist, so a
file the tests read and MANIFEST.in forgets fails there first), and nothing generated.
The wheel built from that sdist with no working compiler must be a pure ``py3-none-any``
wheel, and the build must end with the warning that tells how to get the native kernels.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

#: Tracked files the sdist leaves out on purpose.
PLUMBING = (".github/", ".gitignore")
#: What setuptools adds to every sdist.
GENERATED = ("PKG-INFO", "setup.cfg", "src/scribewire.egg-info/")
FORBIDDEN = (".so", ".pyd", ".o", ".pyc", "_c.c", "_c.html")


def _need_build_tools() -> None:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the build package is not installed (pip install '.[test]')")
    major = int(importlib.metadata.version("setuptools").split(".")[0])
    if major < 77:
        pytest.skip(f"setuptools {major} < 77 cannot build this project without isolation")


def _build(kind: str, source: Path, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--no-isolation", "--skip-dependency-check",
         "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env}, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need_build_tools()
    out = tmp_path_factory.mktemp("sdist")
    _build("sdist", ROOT, out, SCRIBEWIRE_BUILD_EXTENSION="no")
    (archive,) = out.glob("scribewire-*.tar.gz")
    return archive


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tf:
        return [m.name.split("/", 1)[1] for m in tf.getmembers() if m.isfile() and "/" in m.name]


def test_sdist_holds_every_tracked_file_and_nothing_built(sdist: Path) -> None:
    names = set(_members(sdist))
    bad = sorted(n for n in names if n.endswith(FORBIDDEN) or "__pycache__" in n)
    assert not bad, f"built files in the sdist: {bad}"
    for needed in ("LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in",
                   ".ci/run", "examples/call.wav", "examples/call.json", "csrc/crc32.c"):
        assert needed in names, f"{needed} missing from the sdist"
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown (the fixed list passed)")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    expected = {t for t in tracked if not t.startswith(PLUMBING) and (ROOT / t).is_file()}
    missing = sorted(expected - names)
    assert not missing, f"tracked files missing from the sdist (MANIFEST.in): {missing}"
    extra = sorted(n for n in names - expected if not n.startswith(GENERATED))
    untracked = set(subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT,
        capture_output=True, text=True, check=True,
    ).stdout.split())
    assert set(extra) <= untracked, f"files in the sdist that git does not know: {extra}"


def test_sdist_metadata(sdist: Path) -> None:
    with tarfile.open(sdist) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("/PKG-INFO") and m.name.count("/") == 1)
        file = tf.extractfile(member)
        assert file is not None
        info = file.read().decode()
    assert "License-Expression: Apache-2.0" in info and "License-File: LICENSE" in info
    for minor in range(10, 15):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}" in info
    # the summary claims only what exists: both providers' clients are in the package
    summary = next(line for line in info.splitlines() if line.startswith("Summary:"))
    assert "Amazon Transcribe" in summary and "AssemblyAI" in summary
    from scribewire import AssemblyAIClient, TranscribeClient  # noqa: F401
    requires = [line for line in info.splitlines() if line.startswith("Requires-Dist:")]
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if "pocketsphinx" in r or "audioop" in r or "rich" in r]
    assert any("pocketsphinx" in r and 'extra == "local"' in r for r in requires)


def test_wheel_from_the_sdist_without_a_compiler_is_pure_and_says_so(
    sdist: Path, tmp_path: Path
) -> None:
    with tarfile.open(sdist) as tf:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(tmp_path, **safe)  # type: ignore[arg-type]
    (tree,) = tmp_path.glob("scribewire-*/")
    proc = _build("wheel", tree, tmp_path / "dist", CC=str(tmp_path / "no-such-cc"),
                  SCRIBEWIRE_BUILD_EXTENSION="")
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        wheel_meta = zf.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyx", ".c"))]
    assert "Root-Is-Purelib: true" in wheel_meta
    assert "scribewire/_kernels/_crc32_py.py" in names
    log = proc.stderr + proc.stdout
    assert "WARNING: no native kernels were built" in log
    assert "no working C compiler" in log and "no-such-cc" in log
    assert "--no-cache-dir --force-reinstall" in log
