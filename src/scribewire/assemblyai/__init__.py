"""AssemblyAI Universal-Streaming v3: the sans-I/O protocol layer (assemblyai.md)."""
