"""Dataset specs: classification (filled in by its owner)."""
