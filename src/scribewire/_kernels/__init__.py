"""Native kernels and their pure-Python twins (internal; the facades are the API)."""

__all__: list[str] = []
