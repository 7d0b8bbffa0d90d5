"""Dataset specs: CLIP_benchmark main's multilingual names (Babel-ImageNet, Crossmodal-3600, XTD10, XTD200,
Flickr30k-200), in the layouts CLIP_benchmark 1.6.2's ``builder.py`` reads.

The retrieval sets are read from the annotation JSON that CLIP_benchmark's ``create_annotation_file(root, lang)``
writes into the root on first use (``image_paths``, ``annotations``: one caption per image, ``indices`` or
``indicies``), with the images where that function unpacks them. Those functions download at run time (images
from nllb-data.com / Open Images, captions from GitHub); zsbench never does: the ``source`` lines say how to get the
files. No digests of the sources could be established, so no ``RemoteFile`` entries are registered.

Sizes: Crossmodal-3600 has 3,600 images and CLIP_benchmark keeps the first caption of each (``captions[0]``);
XTD10 and XTD200 are the 1,000 XTD10 test images, Flickr30k-200 1,000 Flickr30k test images, each with one caption
per language (shared/notes/clip_benchmark_reference.md 4.4). Babel-ImageNet keeps the 50 ImageNet validation images
of each class in a language's subset: 50 x the class count of its ``babel_imagenet.json`` entry (below; a test
checks them against the bundled file).
"""

from zsbench.datasets import register_dataset
from zsbench.datasets.base import CLASSIFICATION, RETRIEVAL, DatasetSpec
from zsbench.datasets.language_codes import FLORES_200

_ML = "zsbench.datasets.loaders.multilingual"

# Class count per language of Babel-ImageNet (zsbench codes: cn = ZH, jp = JA): the 90 languages that have both
# class names in babel_imagenet.json and templates in nllb_dist13b_prompts.json. BR, LA and FY have class names
# but no templates, so CLIP_benchmark fails on them (KeyError); zsbench lists them as unavailable.
BABEL_CLASSES = {
    "ne": 134, "id": 463, "de": 738, "nl": 749, "af": 303, "he": 648, "sq": 273, "uz": 254, "kn": 175, "ku": 101,
    "ta": 346, "lv": 392, "ko": 648, "ug": 106, "el": 572, "su": 98, "kk": 365, "sk": 509, "gl": 473, "om": 18,
    "fa": 682, "jv": 183, "cs": 615, "lo": 141, "hy": 454, "xh": 35, "hr": 347, "so": 58, "gu": 106, "am": 85,
    "ar": 636, "sa": 66, "ca": 767, "is": 409, "it": 773, "sv": 699, "ga": 502, "bg": 602, "vi": 523, "sd": 61,
    "ur": 220, "km": 167, "pl": 778, "hu": 594, "sr": 468, "fr": 799, "hi": 342, "et": 496, "bs": 156, "sw": 220,
    "az": 365, "mk": 453, "es": 845, "mn": 201, "jp": 733, "tl": 272, "tr": 559, "gd": 217, "ro": 687, "mg": 64,
    "mr": 140, "sl": 393, "pt": 667, "lt": 535, "no": 599, "yi": 175, "uk": 640, "ky": 247, "ka": 438, "bn": 282,
    "or": 71, "my": 232, "en": 1000, "ps": 112, "fi": 973, "cn": 885, "da": 610, "ml": 281, "be": 415, "eo": 603,
    "ha": 47, "eu": 625, "as": 98, "te": 202, "th": 896, "cy": 407, "si": 97, "ru": 748, "pa": 128, "ms": 419,
}  # fmt: skip
BABEL_IMAGES_PER_CLASS = 50  # ImageNet-1k validation

# Crossmodal-3600's 36 languages (its codes, zh and ja written cn and jp as everywhere in zsbench).
XM3600_LANGS = tuple(
    "ar bn cs da de el en es fa fi fil fr he hi hr hu id it jp ko mi nl no pl pt quz ro ru sv sw te th tr uk vi cn".split()  # noqa: SIM905
)
# XTD10 as CLIP_benchmark main has it (xtd10 and multilingual_mscoco_captions): zh written cn.
XTD10_LANGS = ("de", "en", "es", "fr", "it", "jp", "ko", "pl", "ru", "tr", "cn")

register_dataset(
    DatasetSpec(
        name="babel_imagenet",
        task=CLASSIFICATION,
        loader=f"{_ML}:load_babel_imagenet",
        languages=tuple(BABEL_CLASSES),
        sizes={f"test@{lang}": n * BABEL_IMAGES_PER_CLASS for lang, n in BABEL_CLASSES.items()},
        layout="as imagenet1k: ILSVRC2012_devkit_t12.tar.gz + ILSVRC2012_img_val.tar (read in place), or "
        "val/<wnid>/*.JPEG; each language evaluates the validation images of its own class subset",
        source="https://image-net.org (login required); class subsets, names and NLLB-translated templates are "
        "bundled (Babel-ImageNet, github.com/gregor-ge/Babel-ImageNet, via clip-benchmark 1.6.2)",
        prompt_key="babel_imagenet",
        required=("ILSVRC2012_img_val.tar|val", "ILSVRC2012_devkit_t12.tar.gz|val"),
        license="ImageNet terms of access; Babel-ImageNet class names and prompts: MIT",
        citation="Geigle et al. 2023, Babel-ImageNet: Massively Multilingual Evaluation of Vision-and-Language "
        "Representations (arXiv:2306.08658)",
    )
)

register_dataset(
    DatasetSpec(
        name="crossmodal3600",
        task=RETRIEVAL,
        loader=f"{_ML}:load_crossmodal3600",
        languages=XM3600_LANGS,
        sizes={"test": 3600, "test/captions": 3600},
        layout="xm3600/images/<image key>.jpg + crossmodal3600_captions-<lang>.json (CLIP_benchmark's annotation "
        "file: the first caption of each image; lang as XM3600 writes it, zh and ja for cn and jp) or, without it, "
        "xm3600/captions.jsonl read directly",
        source="images: https://open-images-dataset.s3.amazonaws.com/crossmodal-3600/images.tgz (extract into "
        "root/xm3600/images/); captions: https://google.github.io/crossmodal-3600/web-data/captions.zip (extract "
        "into root/xm3600/); or let clip-benchmark's crossmodal3600.create_annotation_file(root, lang) do both",
        required=("xm3600/images",),
        license="Crossmodal-3600: CC BY 4.0 (captions); images from Open Images (CC BY 2.0)",
        citation="Thapliyal et al. 2022, Crossmodal-3600 (EMNLP 2022)",
    )
)

_NLLB_DATA = "https://nllb-data.com/test"
_NLLB_CLIP_RAW = "https://raw.githubusercontent.com/visheratin/nllb-clip/main/data"
_XTD_RAW = "https://raw.githubusercontent.com/adobe-research/Cross-lingual-Test-Dataset-XTD10/main"


def _one_caption(name: str, langs: tuple[str, ...], folder: str, ann: str, source: str, **kw) -> DatasetSpec:
    return register_dataset(
        DatasetSpec(
            name=name,
            task=RETRIEVAL,
            loader=f"{_ML}:load_{name.replace('-', '_')}",
            languages=langs,
            sizes={"test": 1000, "test/captions": 1000},
            layout=f"{folder}/images/<file> + {ann} (CLIP_benchmark's annotation file: image_paths, annotations "
            f"with one caption per image, indices; the image paths are read relative to the root from "
            f"'{folder}/images/' on)",
            source=source,
            required=(f"{folder}/images",),
            **kw,
        )
    )


_one_caption(
    "xtd10",
    XTD10_LANGS,
    "xtd10",
    "xtd10-<lang>.json (lang: zh for cn)",
    f"images: {_NLLB_DATA}/xtd10/images.tar.gz (extract into root/xtd10/); captions: {_XTD_RAW}/XTD10/"
    "test_1kcaptions_<lang>.txt (de, fr from MIC/, jp from STAIR/) with XTD10/test_image_names.txt; "
    "clip-benchmark's xtd10.create_annotation_file(root, lang) writes the JSON",
    license="XTD10: CC BY-NC-SA 4.0 (adobe-research); COCO images: Flickr terms",
)
_one_caption(
    "xtd200",
    FLORES_200,
    "xtd200",
    "xtd200-<FLORES code>.json",
    f"images: {_NLLB_DATA}/xtd10/images.tar.gz (extract into root/xtd200/); captions: {_NLLB_CLIP_RAW}/xtd200/"
    "<FLORES code>.txt with test_image_names.txt; clip-benchmark's xtd200.create_annotation_file(root, lang) writes "
    "the JSON",
    license="NLLB-CLIP XTD200 translations (visheratin/nllb-clip); COCO images: Flickr terms",
    citation="Visheratin 2023, NLLB-CLIP (arXiv:2309.01859)",
)
_one_caption(
    "flickr30k-200",
    FLORES_200,
    "flickr30k-200",
    "flickr30k_200-<FLORES code>.json",
    f"images: {_NLLB_DATA}/flickr30k/images.tar.gz (extract into root/flickr30k-200/); captions: "
    f"{_NLLB_CLIP_RAW}/flickr30k-200/<FLORES code>.txt with filenames.txt; clip-benchmark's "
    "flickr30k_200.create_annotation_file(root, lang) writes the JSON",
    license="NLLB-CLIP Flickr30k-200 translations (visheratin/nllb-clip); Flickr30k images: Flickr terms",
    citation="Visheratin 2023, NLLB-CLIP (arXiv:2309.01859)",
)
