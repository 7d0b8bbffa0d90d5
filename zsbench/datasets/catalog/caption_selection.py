"""Dataset specs: image-caption selection (CLIP_benchmark's ``image_caption_selection`` task).

``sugar_crepe/<task>``: the seven SugarCrepe splits (RAIVNLab/sugar-crepe), each one JSON file of
``{key: {filename, caption, negative_caption}}`` over COCO val2017 images, in the layout CLIP_benchmark's builder
reads (``<root>/val2017/`` + ``<root>/<task>.json``; ``download=True`` fetches the JSON). ``winoground``: the
facebook/winoground release (``examples.jsonl`` + ``images/`` or ``images.zip``, or a Parquet export), read from
disk; CLIP_benchmark loads it from the Hugging Face hub instead.

The SugarCrepe splits carry no ``sizes``: their instance counts are not recorded here (a JSON file cut short does
not parse), and the number of distinct COCO images per split is not published.
"""

from zsbench.datasets import register_dataset
from zsbench.datasets.base import CAPTION_SELECTION, DatasetSpec, RemoteFile

SUGAR_CREPE_TASKS = ("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")
_SUGAR_CREPE_RAW = "https://raw.githubusercontent.com/RAIVNLab/sugar-crepe/main/data"

for _task in SUGAR_CREPE_TASKS:
    register_dataset(
        DatasetSpec(
            name=f"sugar_crepe/{_task}",
            task=CAPTION_SELECTION,
            loader="zsbench.datasets.loaders.caption_selection:load_sugar_crepe",
            splits=("test",),
            languages=("en",),
            layout=f"val2017/<COCO file name>.jpg + {_task}.json ({{key: {{filename, caption, negative_caption}}}})",
            source="images: http://images.cocodataset.org/zips/val2017.zip (unzip into the root); "
            f"{_task}.json: download=True (RAIVNLab/sugar-crepe data/)",
            files=(RemoteFile(f"{_task}.json", f"{_SUGAR_CREPE_RAW}/{_task}.json"),),
            required=("val2017", f"{_task}.json"),
            license="SugarCrepe annotations: MIT (RAIVNLab); COCO images: Flickr terms",
            citation="Hsieh et al., SugarCrepe: Fixing Hackable Benchmarks for Vision-Language Compositionality, "
            "NeurIPS 2023",
        )
    )

register_dataset(
    DatasetSpec(
        name="winoground",
        task=CAPTION_SELECTION,
        loader="zsbench.datasets.loaders.caption_selection:load_winoground",
        splits=("test",),
        languages=("en",),
        sizes={"test": 800},  # 400 examples of two images and two captions each
        layout="[data/]examples.jsonl + [data/]images/<image_0|image_1>.png (or the release's images.zip unextracted); "
        "or a Parquet export ([data/]*.parquet, [default/]test/*.parquet; needs pyarrow)",
        source="https://huggingface.co/datasets/facebook/winoground (gated: accept the terms, then download "
        "data/examples.jsonl and data/images.zip into the root)",
        required=("examples.jsonl|data/examples.jsonl|data|test|default",),
        license="Winoground license agreement (research use only; see the dataset page)",
        citation="Thrush et al., Winoground: Probing Vision and Language Models for Visio-Linguistic "
        "Compositionality, CVPR 2022",
    )
)
