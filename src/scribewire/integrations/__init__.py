"""Drop-in speech-to-text services for voice-agent frameworks, on scribewire's streams.

- :mod:`scribewire.integrations.pipecat` (extra ``scribewire[pipecat]``): pipecat
  ``STTService`` subclasses taking the arguments and ``Settings`` of pipecat's own
  services.
- :mod:`scribewire.integrations.livekit` (extra ``scribewire[livekit]``): a livekit-agents
  ``stt.STT`` plugin.

Neither framework is imported until its module is.
"""

__all__: list[str] = []
