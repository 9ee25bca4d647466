"""The local service in a child process, for the benches that watch its memory and sockets.

``ServiceProcess`` starts ``scribewire serve --port 0`` with fixed credentials (the same
command ``test_bench_server.py`` runs), reads the URL it prints, and samples the child's
resident memory and open file descriptors from ``/proc``. Linux only (``/proc``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import TracebackType

__all__ = ["AK", "REGION", "SK", "ServiceProcess", "cpu_seconds", "fd_count", "rss_kib"]

AK, SK, REGION = "AKIDBENCH", "bench-secret-not-real", "us-east-1"


def rss_kib(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (default: this process), KiB (``VmRSS``)."""
    with open(f"/proc/{pid or 'self'}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time of ``pid`` (default: this process), user + system, seconds."""
    with open(f"/proc/{pid or 'self'}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid: int | None = None) -> int:
    """Open file descriptors of ``pid`` (default: this process)."""
    return len(os.listdir(f"/proc/{pid or 'self'}/fd"))


class ServiceProcess:
    """``with ServiceProcess(quota=..., extra=[...]) as svc:`` ``svc.url``, ``svc.pid``."""

    def __init__(self, *, quota: int = 25, extra: list[str] | None = None) -> None:
        self.argv = [
            sys.executable,
            "-c",
            "import sys; from scribewire.server import serve_main; "
            "sys.exit(serve_main(sys.argv[1:]))",
            "--port",
            "0",
            "--recognizer",
            "null",
            "--quota",
            str(quota),
            "--access-key-id",
            AK,
            "--secret-access-key",
            SK,
            "--region",
            REGION,
            *(extra or []),
        ]
        self.url = ""
        self.pid = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServiceProcess:
        self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("listening on "):
            self._proc.kill()
            raise RuntimeError(f"service did not start: {line!r}")
        self.url = line.split()[2]
        self.pid = self._proc.pid
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._proc is not None
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    @property
    def host_port(self) -> tuple[str, int]:
        hostport = self.url.split("://", 1)[1]
        host, _, port = hostport.rpartition(":")
        return host.strip("[]"), int(port)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def fd_count(self) -> int:
        return fd_count(self.pid)
