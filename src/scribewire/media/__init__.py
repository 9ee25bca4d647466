"""Audio files, input normalisation and the streaming resampler."""

__all__: list[str] = []
