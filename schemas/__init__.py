"""Records, API models and the topic registry. Pure data: no I/O here."""
