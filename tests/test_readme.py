"""The README's set-up commands stay true: the test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q '.[test]' && .venv/bin/python -m pytest"
)


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S)]


def test_readme_test_command_is_the_ci_command() -> None:
    assert TEST_COMMAND in commands()
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_try_command_names_a_shipped_example() -> None:
    first = commands()[0]
    assert "\n" not in first, "each set-up command is a single line"
    assert "scribewire transcribe" in first
    named = re.findall(r"examples/\S+\.wav", first)
    assert named and all((ROOT / n).is_file() for n in named)
