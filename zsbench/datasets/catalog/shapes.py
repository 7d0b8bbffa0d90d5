"""Dataset specs: shapes (filled in by its owner)."""
