"""Dataset specs: the embedded procedural shapes datasets (generated on first use, no download)."""

from zsbench.datasets import register_dataset
from zsbench.datasets.base import CLASSIFICATION, RETRIEVAL, DatasetSpec

# Sizes are duplicated from zsbench.datasets.loaders.shapes on purpose: importing it here is cheap, but specs stay
# plain data; tests/test_shapes.py checks that both agree. The root of a built-in dataset is a shared folder
# (zsbench's data cache), so ``required`` names the dataset's own folder: what ``zsbench datasets`` checks.
register_dataset(
    DatasetSpec(
        name="shapes",
        task=CLASSIFICATION,
        loader="zsbench.datasets.loaders.shapes:load_shapes",
        splits=("test", "train"),
        languages=("en",),
        sizes={"test": 500, "train": 500},
        layout="<root>/shapes/<split>/<class>/<nnnnn>.png (ImageFolder; splits test and train), generated on first use",
        source="procedural (zsbench.datasets.loaders.shapes), deterministic from a fixed seed; nothing to download",
        prompt_key="shapes",
        builtin=True,
        license="CC0-1.0 (generated)",
        required=("shapes/test",),
    )
)

register_dataset(
    DatasetSpec(
        name="shapes_captions",
        task=RETRIEVAL,
        loader="zsbench.datasets.loaders.shapes:load_shapes_captions",
        splits=("test",),
        languages=("en",),
        sizes={"test": 100, "test/captions": 500},
        layout="<root>/shapes_captions/images/<nnnnn>.png + captions_test.json (COCO captions), generated on first use",
        source="procedural (zsbench.datasets.loaders.shapes), deterministic from a fixed seed; nothing to download",
        builtin=True,
        license="CC0-1.0 (generated)",
        required=("shapes_captions/images", "shapes_captions/captions_test.json"),
    )
)
