"""The README's set-up commands stay true: the test command is the one CI runs, and the
main job CI runs from the built wheel is the README's first command."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q '.[test]' && .venv/bin/python -m pytest"
)
MAIN_JOB = "scribewire transcribe examples/call.wav"


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S)]


def ci_script() -> str:
    return (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_test_command_is_the_ci_command() -> None:
    assert TEST_COMMAND in commands()
    assert TEST_COMMAND in ci_script()


def test_readme_try_command_names_a_shipped_example() -> None:
    first = commands()[0]
    assert "\n" not in first, "each set-up command is a single line"
    assert "scribewire transcribe" in first
    named = re.findall(r"examples/\S+\.wav", first)
    assert named and all((ROOT / n).is_file() for n in named)


def test_readme_api_example_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    """The README's API example, as a user would paste it, passes ``mypy --strict``: the
    lazy top-level exports give mypy the real classes (not ``object``)."""
    import shutil
    import subprocess
    import sys

    import pytest

    if shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy").exists():
        pytest.skip("mypy is not installed (it is in the test extra)")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    example = next(b for b in blocks if "TranscribeClient" in b)
    # the example's chunk source is the caller's: give it a type
    source = (
        "from collections.abc import AsyncIterator\n"
        + example.replace("async def main(pcm_chunks):", "async def main(pcm_chunks: AsyncIterator[bytes]) -> None:")
        .replace("async def feed():", "async def feed() -> None:")
    )
    path = tmp_path / "readme_example.py"
    path.write_text(source, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "c"), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # and mypy sees TranscribeClient as the class, not object
    probe = tmp_path / "probe.py"
    probe.write_text("import scribewire\nreveal_type(scribewire.TranscribeClient)\n")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "c"), str(probe)],
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert "TranscribeClient" in out and "builtins.object" not in out, out


def test_readme_try_command_installs_the_local_recognizer_and_ci_runs_it() -> None:
    first = commands()[0]
    extras = re.findall(r"pip install -q '\.\[([a-z,]+)\]'", first)
    assert extras, "the try command installs the project with an extra"
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = [dep for extra in extras[0].split(",") for dep in optional[extra]]
    assert any(dep.startswith("pocketsphinx") for dep in wanted)
    assert first.endswith(MAIN_JOB)
    # .ci/run runs it with the wheel it built, installed alone in a fresh venv
    assert re.search(r'/venv/bin/scribewire"? transcribe examples/call\.wav', ci_script())


def test_core_install_is_slim() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for heavy in ("pocketsphinx", "sounddevice", "audioop", "rich"):
        assert heavy not in core, f"{heavy} belongs in an extra"
    test = " ".join(project["optional-dependencies"]["test"])
    assert "pocketsphinx" in test and "audioop-lts" in test
