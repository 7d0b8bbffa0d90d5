"""All dataset specs. Each module registers the specs of one family; specs are data (no torch imports)."""

from zsbench.datasets.catalog import caption_selection, classification, retrieval, shapes, vtab  # noqa: F401
