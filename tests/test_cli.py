"""The ``scribewire`` command, run in-process and as a subprocess, on real files."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import scribewire
from scribewire.cli.main import main, transcribe_main

ROOT = Path(__file__).resolve().parent.parent
CALL = str(ROOT / "examples" / "call.wav")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = transcribe_main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"scribewire {scribewire.__version__}"
    assert lines[2].startswith("kernels: ") and lines[-1].startswith("cpu paths: CRC32 ")
    assert "G.711/PCM " in lines[-1]
    if os.environ.get("SCRIBEWIRE_REQUIRE_EXTENSIONS") == "1" and not os.environ.get("SCRIBEWIRE_NO_EXTENSIONS"):
        assert lines[2] == "kernels: all native (crc32, eventstream, audio, wsframe, wsserver, pacing)"


def test_version_names_the_pure_twins() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scribewire.cli.main", "--version"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SCRIBEWIRE_NO_EXTENSIONS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "kernels: all pure-Python twins (SCRIBEWIRE_NO_EXTENSIONS is set)" in proc.stdout
    assert "cpu paths: CRC32 zlib (pure twin); G.711/PCM pure Python" in proc.stdout


def test_call_with_channel_identification_jsonl() -> None:
    code, out, err = run_cli(CALL, "--local", "--recognizer", "null", "--speed", "100", "--format", "jsonl")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert records and {r["label"] for r in records} == {"ch_0", "ch_1"}
    assert all(r["end"] >= r["start"] for r in records)
    assert "local Transcribe service" in err
    assert re.search(r"1 file\(s\), 1 stream\(s\), 26\.8 s of audio .* 0 error\(s\)", err)


def test_split_channels_and_call_analytics(tmp_path: Path) -> None:
    code, out, err = run_cli(CALL, "--local", "--recognizer", "null", "--speed", "100", "--split-channels")
    assert code == 0, err
    assert "call.wav#ch0" in out and "call.wav#ch1" in out
    code, out, err = run_cli(
        CALL, "--local", "--recognizer", "null", "--speed", "100", "--call-analytics", "--agent-channel", "1"
    )
    assert code == 0, err
    labels = {line.split("]")[1].split(":")[0].strip() for line in out.splitlines()}
    assert labels == {"AGENT", "CUSTOMER"}


def test_srt_and_vtt_files(tmp_path: Path, shared_dir: Path) -> None:
    clip = str(shared_dir / "audio" / "ps_goforward.16k.wav")
    folder = tmp_path / "subs"
    code, _, err = run_cli(
        CALL, clip, "--local", "--recognizer", "null", "--speed", "200", "--format", "vtt", "--out", str(folder)
    )
    assert code == 0, err
    vtt = (folder / "call.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n") and re.search(r"\d\d:\d\d:\d\d\.\d{3} --> ", vtt)
    assert (folder / "ps_goforward.16k.vtt").exists()
    srt_path = tmp_path / "one.srt"
    code, _, err = run_cli(clip, "--local", "--recognizer", "null", "--speed", "200", "--format", "srt", "--out", str(srt_path))
    assert code == 0, err
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", srt_path.read_text())


def test_errors_one_line_each_others_processed(tmp_path: Path, shared_dir: Path) -> None:
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    clip = str(shared_dir / "audio" / "ps_goforward.16k.wav")
    code, out, err = run_cli(
        str(tmp_path / "missing.wav"), str(bad), clip, "--local", "--recognizer", "null", "--speed", "200"
    )
    assert code == 1
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 2
    assert "missing.wav" in errors[0] and "not_audio.wav" in errors[1]
    assert "-->" in out  # the good file was still transcribed
    assert "2 error(s)" in err


def test_raw_file_needs_raw_format_flag(shared_dir: Path) -> None:
    raw = str(shared_dir / "audio" / "ps_goforward.raw")
    code, _, err = run_cli(raw, "--local", "--recognizer", "null", "--speed", "200")
    assert code == 1
    assert f"error: {raw}: AudioFileError: headerless raw audio: give --raw-format" in err
    assert err.count("ps_goforward.raw") == 1
    code, out, err = run_cli(
        raw, "--raw-format", "16000:1:pcm_s16le", "--local", "--recognizer", "null", "--speed", "200"
    )
    assert code == 0, err
    assert "-->" in out


def test_progress_counts_streams_not_planning_errors(tmp_path: Path, shared_dir: Path) -> None:
    clips = [str(shared_dir / "audio" / n) for n in ("ps_goforward.16k.wav", "ps_cards_005.wav")]
    code, _, err = run_cli(
        str(tmp_path / "missing.wav"), *clips, "--local", "--recognizer", "null", "--speed", "200"
    )
    assert code == 1
    progress = re.findall(r"\[(\d+)/(\d+)\]", err)
    assert sorted(progress) == [("1", "2"), ("2", "2")]


def test_invalid_parameter_and_unreachable_endpoint(shared_dir: Path) -> None:
    clip = str(shared_dir / "audio" / "ps_goforward.16k.wav")
    env_keys = {"AWS_ACCESS_KEY_ID": "AKIDCLITEST", "AWS_SECRET_ACCESS_KEY": "s3cr3t-never-printed"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)
    try:
        code, _, err = run_cli(clip, "--endpoint", "ws://127.0.0.1:9", "--speed", "100")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert code == 1 and "ConnectionClosed" in err and "cannot connect" in err
    assert "s3cr3t" not in err


def test_usage_errors() -> None:
    with pytest.raises(SystemExit) as info:
        transcribe_main(["x.wav", "--concurrency", "0"], out=io.StringIO(), err=io.StringIO())
    assert info.value.code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--language-code", "xx-XX"], "argument --language-code: 'xx-XX' is not one of the"),
        (["--language-code", "en-us"], "did you mean en-US?"),
        (["--vocabulary-filter-method", "drop"], "is not one of: mask, remove, tag"),
        (["--pii-entity-types", "NAME,FOO", "--content-redaction-type", "PII"], "'FOO' is not one of"),
        (["--identify-language", "--language-options", "en-US"], "--language-options 'en-US': needs at least two"),
        (["--language-options", "en-US,es-US"], "only allowed with identify-language"),
        (["--session-id", "abc"], "--session-id 'abc': must be a UUID"),
        (["--medical", "--identify-language"], "--identify-language: not a parameter of StartMedicalStreamTranscription"),
        (["--medical", "--specialty", "DENTAL"], "'DENTAL' is not one of: CARDIOLOGY"),
        (["--call-analytics", "--language-code", "ja-JP"], "--language-code 'ja-JP': is not a language code of StartCallAnalytics"),
        (["--medical", "--call-analytics"], "exclude each other"),
    ],
)
def test_invalid_parameter_is_a_usage_error_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as info:
        transcribe_main([CALL, "--local", *argv], out=out, err=err)
    assert info.value.code == 2
    text = capsys.readouterr().err  # argparse writes to sys.stderr
    assert message in text, text
    assert text.startswith("usage: scribewire transcribe [options] FILE...")
    assert "protocol.md" not in text and "§" not in text
    assert out.getvalue() == "" and err.getvalue() == ""  # nothing ran


def test_help_every_flag_has_help_short_usage_plain_description(capsys: pytest.CaptureFixture[str]) -> None:
    from scribewire.cli.flags import subparser
    from scribewire.cli.main import build_parser

    parser = subparser(build_parser(), "transcribe")
    for action in parser._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help"
    with pytest.raises(SystemExit):
        main(["transcribe", "--help"])
    text = capsys.readouterr().out
    usage = text.split("\n\n")[0]
    assert usage == "usage: scribewire transcribe [options] FILE..."
    assert "``" not in text and "protocol.md" not in text and "§" not in text
    assert "--content-redaction-type {PII}" in text and "(default PRIMARYCARE)" in text


def test_param_flags_come_from_the_params_metadata() -> None:
    from scribewire.cli.flags import subparser
    from scribewire.cli.main import build_parser
    from scribewire.transcribe.params import CallAnalyticsParams, MedicalStreamParams, StreamParams

    parser = subparser(build_parser(), "transcribe")
    dests = {a.dest for a in parser._actions}
    derived = {"sample_rate", "media_encoding", "enable_channel_identification", "number_of_channels"}
    for cls in (StreamParams, MedicalStreamParams, CallAnalyticsParams):
        for spec in cls.fields():
            assert spec.help, f"{cls.__name__}.{spec.name} has no help metadata"
            if spec.name not in derived:
                assert spec.name in dests, spec.name
    args = parser.parse_args([CALL, "--pii-entity-types", "NAME, SSN", "--show-speaker-label"])
    assert args.pii_entity_types == ("NAME", "SSN") and args.show_speaker_label is True
    assert args.language_code is None and args.identify_language is None  # unset stays None


def test_flag_builder_takes_any_class_with_the_metadata_shape() -> None:
    import argparse
    from typing import NamedTuple

    from scribewire.cli.flags import add_param_flags, param_values

    class Spec(NamedTuple):
        name: str
        type: str
        default: object
        choices: tuple[str, ...] | None
        help: str
        minimum: float | None = None
        maximum: float | None = None
        deprecated_for: str | None = None

    class Other:
        @classmethod
        def fields(cls) -> tuple[Spec, ...]:
            return (
                Spec("speech_model", "str", None, ("a", "b"), "model"),
                Spec("vad_threshold", "float", None, None, "threshold", 0.0, 1.0),
                Spec("format_turns", "bool", None, None, "format turns"),
                Spec("keyterms", "list[str]", None, None, "terms"),
                Spec("old_name", "str", None, None, "old", deprecated_for="speech_model"),
            )

    parser = argparse.ArgumentParser(prog="x", exit_on_error=False)
    assert add_param_flags(parser, [Other]) == ["speech_model", "vad_threshold", "format_turns", "keyterms", "old_name"]
    args = parser.parse_args(["--speech-model", "b", "--vad-threshold", "0.5", "--no-format-turns", "--keyterms", "x,y"])
    assert param_values(args, Other) == {"speech_model": "b", "vad_threshold": 0.5, "format_turns": False, "keyterms": ("x", "y")}
    for bad in (["--vad-threshold", "2"], ["--speech-model", "c"], ["--vad-threshold", "x"]):
        with pytest.raises(argparse.ArgumentError):
            parser.parse_args(bad)
    assert "--old-name" not in parser.format_help()


def test_console_script_without_credentials_uses_local_service(tmp_path: Path, shared_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(tmp_path),
    )
    clip = str(shared_dir / "audio" / "ps_goforward.16k.wav")
    proc = subprocess.run(
        [sys.executable, "-m", "scribewire.cli.main", "transcribe", clip, "--speed", "50"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no AWS credentials found: using the local Transcribe service" in proc.stderr
    assert "go forward" in proc.stdout


@pytest.mark.parametrize("case", ["region", "sso-profile"])
def test_aws_asked_for_without_credentials_fails_in_one_line(tmp_path: Path, case: str) -> None:
    """--region / --profile ask for AWS: no credentials is an error (exit 1, one line), not
    a silent switch to the local service, and never a traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    config = tmp_path / "config"
    config.write_text(
        "[profile corp]\nsso_session = corp\nsso_account_id = 111122223333\n"
        "sso_role_name = Reader\nregion = us-east-1\n"
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.invalid/start\n"
        "sso_region = us-east-1\n"
    )
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(config),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(tmp_path),
    )
    flags = ["--region", "us-east-1"] if case == "region" else ["--profile", "corp"]
    proc = subprocess.run(
        [sys.executable, "-m", "scribewire.cli.main", "transcribe", CALL, *flags],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("scribewire: error: CredentialsError:")
    assert ("--region" if case == "region" else "--profile") in lines[0]
    assert "local Transcribe service" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def _wav_header_only_rate(path: Path, rate: int, seconds_at_16k: float = 1.25) -> None:
    """A valid 16-bit mono WAV (40 KB) whose header declares ``rate``."""
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\1\0" * int(16000 * seconds_at_16k))


@pytest.mark.parametrize("extra", [[], ["--sample-rate", "48000"]])
def test_absurd_sample_rate_is_refused_up_front(tmp_path: Path, extra: list[str]) -> None:
    # A 40 KB WAV declaring 1 Hz took the client to 528 MB (2.93 GB with --sample-rate
    # 48000): every 8,192-frame read was resampled thousands of times over.
    path = tmp_path / "one_hz.wav"
    _wav_header_only_rate(path, 1)
    code, _, err = run_cli(str(path), "--local", "--recognizer", "null", "--speed", "100", *extra)
    assert code == 1
    line = next(ln for ln in err.splitlines() if "error:" in ln)
    assert line == (
        f"scribewire: error: {path}: AudioFileError: sample rate 1 Hz is outside "
        "4,000..384,000 Hz (streaming services take 8,000..48,000 Hz; this header is "
        "corrupt or the file needs converting first)"
    )


def test_error_lines_name_the_path_once_and_say_what_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # opening it would block: it must not be opened
    loop_a, loop_b = tmp_path / "a.wav", tmp_path / "b.wav"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    dangling = tmp_path / "gone.wav"
    dangling.symlink_to(tmp_path / "never-there.wav")
    (tmp_path / "dir.wav").mkdir()
    (tmp_path / "file").write_bytes(b"x")
    cases = {
        tmp_path / "dir.wav": "is a directory, not an audio file",
        fifo: "is a named pipe (FIFO), not a regular file",
        loop_a: "too many levels of symbolic links (a symbolic link loop)",
        dangling: "broken symbolic link (its target does not exist)",
        tmp_path / "missing.wav": "no such file",
        tmp_path / "file" / "x.wav": "a component of the path is not a directory",
    }
    code, _, err = run_cli(*map(str, cases), "--local", "--recognizer", "null")
    assert code == 1
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert lines == [f"scribewire: error: {p}: AudioFileError: {why}" for p, why in cases.items()]


def test_missing_local_extra_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from scribewire.cli import local

    monkeypatch.setattr(local, "_installed", lambda module: False)
    code, out, err = run_cli(CALL, "--local", "--speed", "100")
    assert code == 1 and out == ""
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "pip install 'scribewire[local]'" in errors[0], err
    assert "local Transcribe service at" not in err  # nothing started
    code, _, err = run_cli(CALL, "--local", "--recognizer", "null", "--speed", "200")
    assert code == 0, err  # the other recognizers need no extra
    assert main(["serve", "--port", "0"]) == 2
    serve_err = capsys.readouterr().err.strip()
    assert serve_err.count("\n") == 0 and "pip install 'scribewire[local]'" in serve_err


@pytest.mark.parametrize("provider", ["transcribe", "assemblyai"])
def test_the_in_process_service_gets_a_deadline_for_its_own_recognizer(provider: str) -> None:
    """Against the embedded service, end() waits for the local recognizer, which shares
    this machine's cores with every stream: not the 30 s that suits a cloud service."""
    import contextlib
    import io

    from scribewire.cli.flags import subparser
    from scribewire.cli.main import LOCAL_END_TIMEOUT, _client_options, build_parser

    args = subparser(build_parser(), "transcribe").parse_args(
        [CALL, "--local", "--provider", provider, "--recognizer", "null"]
    )

    async def options() -> dict[str, Any]:
        async with contextlib.AsyncExitStack() as stack:
            return dict(await _client_options(args, io.StringIO(), stack))

    got = asyncio.run(options())
    assert got["end_timeout"] == LOCAL_END_TIMEOUT >= 300
    assert got["endpoint"].startswith("ws://127.0.0.1:")


@pytest.mark.parametrize("command", ["worker", "ingest", "transcripts"])
def test_fleet_commands_without_redis_py_name_the_extra(command: str) -> None:
    """Without redis-py (the ``pool`` extra), each fleet command says so in one line and
    exits 2: no traceback."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from scribewire.cli.main import main\n"
        f"sys.exit(main([{command!r}, '--redis', 'redis://127.0.0.1:1']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"scribewire {command}: needs redis-py: "), done.stderr
    assert "pip install 'scribewire[pool]'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
