"""Dataset specs: zero-shot image-text retrieval (the InternVL fork's layouts and languages).

``--language cn`` selects Flickr30K-CN / COCO-CN (the fork's annotation files; ``download=True`` fetches them from
the fork's GitHub folder, checked against the digests below). XTD (``multilingual_mscoco_captions``) reads the
caption files the fork caches in the root; ``download=True`` fetches them from adobe-research/XTD10.
"""

from zsbench.datasets import register_dataset
from zsbench.datasets.base import RETRIEVAL, DatasetSpec, RemoteFile

_FORK_RAW = "https://raw.githubusercontent.com/OpenGVLab/InternVL/main/clip_benchmark/clip_benchmark/data"
_KARPATHY = "https://github.com/mehdidc/retrieval_annotations/releases/download/1.0.0"
_XTD = "https://raw.githubusercontent.com/adobe-research/Cross-lingual-Test-Dataset-XTD10/main"

register_dataset(
    DatasetSpec(
        name="flickr30k",
        task=RETRIEVAL,
        loader="zsbench.datasets.loaders.captions:load_flickr30k",
        splits=("test", "val", "train"),
        languages=("en", "cn"),
        sizes={"test": 1000, "test/captions": 5000, "test@cn": 1000, "test@cn/captions": 5000},
        layout="Images/<id>.jpg (the fork's layout; upstream CLIP_benchmark's <id>.jpg directly in the root is read "
        "too) + flickr30k_test_karpathy.txt (en) / flickr30k_cn_test.txt (cn); 'image,caption' txt with a header line",
        source="images: kaggle adityajn105/flickr30k (the 'Images' folder); captions: download=True; "
        "README root ./data/flickr30k",
        files=(
            RemoteFile("flickr30k_test_karpathy.txt", f"{_KARPATHY}/flickr30k_test_karpathy.txt", "", ("en",)),
            RemoteFile(
                "flickr30k_cn_test.txt",
                f"{_FORK_RAW}/flickr30k/flickr30k_cn_test.txt",
                "b0ea95e42d3c7b1319ff183e914e12b4dac911063e61a0ee8527b03a9c8b5234",
                ("cn",),
            ),
        ),
        required=("flickr30k_test_karpathy.txt|flickr30k_cn_test.txt",),
        license="Flickr terms of use (research); Flickr30K-CN annotations from the InternVL fork (MIT)",
    )
)

# CLIP_benchmark main's flickr8k (the fork never changed it): images directly in the root, captions as written.
register_dataset(
    DatasetSpec(
        name="flickr8k",
        task=RETRIEVAL,
        loader="zsbench.datasets.loaders.captions:load_flickr8k",
        splits=("test", "val", "train"),
        languages=("en", "cn"),
        sizes={"test": 1000, "test/captions": 5000},
        layout="<id>.jpg directly in the root (or in Images/, the Kaggle zip's folder) + flickr8k_test_karpathy.txt "
        "(en) / flickr8k_test_zh.txt (cn, alias zh); 'image,caption' txt with a header line",
        source="images: kaggle datasets download -d adityajn105/flickr8k (move Images/* into the root); captions: "
        "download=True (mehdidc/retrieval_annotations 1.0.0)",
        files=(
            RemoteFile("flickr8k_test_karpathy.txt", f"{_KARPATHY}/flickr8k_test_karpathy.txt", "", ("en",)),
            RemoteFile("flickr8k_test_zh.txt", f"{_KARPATHY}/flickr8k_test_zh.txt", "", ("cn",)),
        ),
        required=("flickr8k_test_karpathy.txt|flickr8k_test_zh.txt",),
        license="Flickr8k: research use (Hodosh et al. 2013); Karpathy split annotations from mehdidc",
    )
)

register_dataset(
    DatasetSpec(
        name="mscoco_captions",
        task=RETRIEVAL,
        loader="zsbench.datasets.loaders.captions:load_mscoco_captions",
        splits=("test", "val", "train"),
        languages=("en", "cn"),
        sizes={"test": 5000, "test/captions": 25010, "test@cn": 1000, "test@cn/captions": 1053},
        layout="val2014/*.jpg + coco_test_karpathy.json (en); coco-cn_test.json + {train2014,val2014}/*.jpg (cn, "
        "file_names resolved against the root)",
        source="images: http://images.cocodataset.org/zips/{val2014,train2014}.zip; captions: download=True; "
        "README root ./data/mscoco_captions",
        files=(
            RemoteFile("coco_test_karpathy.json", f"{_KARPATHY}/coco_test_karpathy.json", "", ("en",)),
            RemoteFile(
                "coco-cn_test.json",
                f"{_FORK_RAW}/mscoco_captions/coco-cn_test.json",
                "dc4eadbd93b27ca2caf0bf91b14a3e8cdadfdd954cdaf0a430cf523fca35b875",
                ("cn",),
            ),
        ),
        required=("val2014", "coco_test_karpathy.json|coco-cn_test.json"),
        license="COCO: CC BY 4.0 annotations, Flickr terms for images; COCO-CN annotations from the InternVL fork",
    )
)

_XTD_LANGS = ("en", "es", "fr", "cn", "it", "ko", "ru", "jp", "pl", "tr")
# The fork's cache names: file code per language (XTD10 uses zh, not cn), and where XTD10 keeps it.
_XTD_FILE_CODE = {"cn": "zh"}
_XTD_DIR = {"fr": "MIC", "jp": "STAIR"}

register_dataset(
    DatasetSpec(
        name="multilingual_mscoco_captions",
        task=RETRIEVAL,
        loader="zsbench.datasets.loaders.captions:load_multilingual_mscoco",
        splits=("test",),
        # de: CLIP_benchmark main has it (MIC/test_1kcaptions_de.txt), the fork does not; no digest, so no RemoteFile.
        languages=(*_XTD_LANGS, "de"),
        sizes={"test": 1000, "test/captions": 1000},
        layout="multilingual_coco_images.txt (1000 COCO file names) + raw_multilingual_coco_captions_<code>.txt "
        "(one caption per line, code: en es fr zh it ko ru jp pl tr de) + {train2014,val2014}/*.jpg (the fork's); "
        "or CLIP_benchmark main's multilingual_mscoco_captions-<code>.json + multilingual_mscoco/images/",
        source="XTD10 (adobe-research/Cross-lingual-Test-Dataset-XTD10; download=True fetches the txt files, except "
        "de: save MIC/test_1kcaptions_de.txt as raw_multilingual_coco_captions_de.txt) and COCO train2014 + val2014 "
        "images; README root ./data/mscoco_captions",
        files=(
            RemoteFile("multilingual_coco_images.txt", f"{_XTD}/XTD10/test_image_names.txt"),
            *(
                RemoteFile(
                    f"raw_multilingual_coco_captions_{_XTD_FILE_CODE.get(lang, lang)}.txt",
                    f"{_XTD}/{_XTD_DIR.get(lang, 'XTD10')}/test_1kcaptions_{_XTD_FILE_CODE.get(lang, lang)}.txt",
                    "",
                    (lang,),
                )
                for lang in _XTD_LANGS
            ),
        ),
        required=("multilingual_coco_images.txt", "train2014", "val2014"),
        license="XTD10: CC BY-NC-SA 4.0 (adobe-research); COCO images: Flickr terms",
    )
)
