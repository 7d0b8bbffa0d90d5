"""All dataset specs. Each module registers the specs of one family; specs are data (no torch imports)."""

from zsbench.datasets.catalog import (  # noqa: F401
    caption_selection,
    classification,
    classification_more,
    datacomp,
    multilingual,
    retrieval,
    shapes,
    vtab,
)
