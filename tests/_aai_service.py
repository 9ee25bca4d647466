"""The local service on its own event loop in a thread, for callers that run their own
loop or none (the official SDK's synchronous client, ``transcribe_main``).

``with ThreadedService(**kwargs) as svc:`` starts ``LocalTranscribeService(**kwargs)``;
``svc.url`` is its base URL, ``svc.svc`` the service, ``svc.finished(n)`` waits (on the
service's loop) for ``n`` finished streams and returns their ``StreamStats``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from scribewire.server import LocalTranscribeService

__all__ = ["KEY", "ThreadedService"]

#: The AssemblyAI API key the tests give the service.
KEY = "aai-local-test-key-0123456789abcdef"


class ThreadedService:
    """The service on its own loop in a thread (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LocalTranscribeService(**self.kwargs) as svc:
            self.svc = svc
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedService:
        self._thread.start()
        assert self._ready.wait(30)
        return self

    @property
    def url(self) -> str:
        return self.svc.url

    def finished(self, count: int, timeout: float = 30) -> list[Any]:
        future = asyncio.run_coroutine_threadsafe(
            self.svc.wait_finished(count, timeout), self.loop
        )
        return future.result(timeout + 30)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
