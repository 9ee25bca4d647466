"""Static checks as tests: ``mypy --strict`` over the package and ``ruff check`` over the tree.

Both read their configuration from ``pyproject.toml`` (``[tool.mypy]``: strict over
``src/scribewire``; ``[tool.ruff]``). A finding anywhere fails the test with the tool's
report. The tools come with the ``test`` extra; a test skips only when its tool is not
importable.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import ROOT

RUFF_PATHS = ("src", "tests", "bench", "fuzz", "examples")


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_mypy_strict_is_clean() -> None:
    proc = _run("mypy", "--config-file", str(ROOT / "pyproject.toml"))
    if proc.returncode != 0 or "Success: no issues found" not in proc.stdout:
        pytest.fail(f"mypy (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}", pytrace=False)


def test_ruff_check_is_clean() -> None:
    paths = [p for p in RUFF_PATHS if (ROOT / p).is_dir()]
    proc = _run("ruff", "check", "--no-fix", "--output-format", "concise", *paths)
    if proc.returncode != 0:
        pytest.fail(f"ruff (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}", pytrace=False)
