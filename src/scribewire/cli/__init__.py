"""The ``scribewire`` command."""

__all__: list[str] = []
