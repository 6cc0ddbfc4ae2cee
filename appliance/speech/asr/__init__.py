"""Speech recognition: the engine interface, PocketSphinx and vosk engines, worker processes, the factory."""
