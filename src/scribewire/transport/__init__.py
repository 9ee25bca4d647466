"""The asyncio shell: pacing wheel, connections, the Stream users hold, credentials."""

__all__: list[str] = []
