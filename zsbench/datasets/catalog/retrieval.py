"""Dataset specs: retrieval (filled in by its owner)."""
