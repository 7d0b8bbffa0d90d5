"""Retrieval datasets in the InternVL fork's layouts: Flickr30k(-CN), MSCOCO(-CN) Karpathy test, XTD.

* ``flickr30k``: images in ``root/Images/`` (Kaggle adityajn105/flickr30k), captions in
  ``root/flickr30k_<split>_karpathy.txt`` (en) or ``root/flickr30k_cn_<split>.txt`` (cn): a header line, then
  ``<id>.jpg,<caption>`` lines, grouped per image in order of first appearance.
* ``mscoco_captions``: ``root/coco_<split>_karpathy.json`` (COCO captions format, read with pycocotools) with images
  in ``root/val2014`` (``train2014`` for ``train``); ``cn``: ``root/coco-cn_<split>.json`` whose ``file_name`` already
  starts with ``train2014/`` or ``val2014/``, resolved against the root. Images in sorted id order, captions in
  annotation order (torchvision ``CocoCaptions``).
* ``flickr8k`` (CLIP_benchmark main): images directly in ``root`` (or ``root/Images/``), captions in
  ``root/flickr8k_<split>_karpathy.txt`` (en) or ``root/flickr8k_<split>_zh.txt`` (cn), the same txt format; captions
  are not normalized (neither upstream nor the fork applies ``pre_caption`` to it).
* flickr30k and mscoco_captions apply the fork's ``pre_caption`` to every caption in every language
  (``caption_preprocess="fork"``, the default, for the README numbers); ``caption_preprocess="none"`` keeps them as
  written, as upstream CLIP_benchmark does. Flickr30k images are read from ``root/Images/`` (the fork's layout) or,
  when that folder is absent, from ``root`` itself (upstream's); the result's ``dataset_info`` says which.
* ``multilingual_mscoco_captions`` (XTD, the fork's version): ``root/multilingual_coco_images.txt`` (one COCO file
  name per line, e.g. ``COCO_val2014_000000000042.jpg``; resolved to ``train2014/`` or ``val2014/`` by the name, or
  used as is when it contains a ``/``) and ``root/raw_multilingual_coco_captions_<code>.txt`` (line ``i`` is the only
  caption of image ``i``; code = the language, ``zh`` for Chinese as XTD10 names it). Not normalized, as in the fork.
  ``de`` (CLIP_benchmark main has it, the fork not) reads ``raw_multilingual_coco_captions_de.txt``. Without the
  fork's files, CLIP_benchmark main's ``multilingual_mscoco_captions-<code>.json`` (``loaders/multilingual.py``) is read.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

from zsbench.datasets.base import DatasetSpec, FileImageSet
from zsbench.datasets.languages import require_language
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError

XTD_FILE_CODE = {"cn": "zh"}
# --caption_preprocess: "fork" = what the InternVL fork does for the dataset (pre_caption on Flickr30k and COCO),
# "none" = captions as written (upstream CLIP_benchmark); flickr8k and XTD are raw under both.
CAPTION_PREPROCESS = ("fork", "none")


def pre_caption(caption: str, max_words: int = 50) -> str:
    """The fork's ``datasets/tools.py`` cleaning (from BLIP): lowercase, drop ``.!"()*#:;~``, squeeze spaces, cut."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption)
    caption = caption.rstrip("\n").strip(" ")
    words = caption.split(" ")
    if len(words) > max_words:
        caption = " ".join(words[:max_words])
    return caption


def read_flickr_txt(path: Path) -> list[tuple[str, list[str]]]:
    """CLIP_benchmark's ``Flickr`` parsing: skip the header, split at ``.jpg,``, group per image in file order."""
    data: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        f.readline()
        for lineno, line in enumerate(f, start=2):
            line = line.strip()
            if not line:
                continue
            if ".jpg," not in line:
                raise DatasetNotFoundError(f"{path}:{lineno}: expected '<image>.jpg,<caption>', got {line[:60]!r}")
            img, caption = line.split(".jpg,", 1)
            data.setdefault(img + ".jpg", []).append(caption)
    return list(data.items())


def caption_mode(spec: DatasetSpec, options: dict[str, Any]) -> str:
    mode = options.get("caption_preprocess", "fork")
    if mode not in CAPTION_PREPROCESS:
        raise ZsbenchError(
            f"dataset {spec.name!r}: --caption_preprocess {mode!r} is not one of {', '.join(CAPTION_PREPROCESS)} "
            "(fork: the InternVL fork's lower-casing and punctuation stripping; none: captions as written, as upstream)"
        )
    return mode


def preprocess_captions(captions: list[list[str]], mode: str) -> list[list[str]]:
    return [[pre_caption(t) for t in caps] if mode == "fork" else list(caps) for caps in captions]


def _start(spec: DatasetSpec, root: Path, split: str, language: str, options: dict[str, Any]) -> str:
    c.check_options(spec, options)
    c.check_split(spec, split)
    lang = require_language(language, spec.languages, spec.name, what="captions")
    c.maybe_download(spec, root, lang, options)
    return lang


def load_flickr30k(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    lang = _start(spec, root, split, language, options)
    mode = caption_mode(spec, options)
    default = f"flickr30k_{split}_karpathy.txt" if lang == "en" else f"flickr30k_cn_{split}.txt"
    ann = Path(options.get("annotation_file") or root / default)
    c.require_root(spec, root, ann)
    items = read_flickr_txt(ann)
    # The fork moved the images to root/Images; upstream CLIP_benchmark reads them from the root itself.
    prefix, layout = "Images/", "fork: root/Images"
    if not (root / "Images").is_dir():
        if items and not (root / items[0][0]).exists():
            c.require_root(spec, root, "Images")  # neither layout: name the fork's folder, as the README does
        prefix, layout = "", "upstream: images in the root"
    images = FileImageSet(root, [prefix + img for img, _ in items])
    captions = preprocess_captions([caps for _, caps in items], mode)
    info = {"annotation_file": str(ann), "caption_preprocess": mode, "pre_caption": mode == "fork", "layout": layout}
    return c.retrieval(spec, root, split, lang, images, captions, options, info=info)


def load_flickr8k(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """CLIP_benchmark main's ``flickr8k``: ``Flickr`` over the root, captions kept as written (no ``pre_caption``).

    Upstream's auto-download moves the Kaggle zip's ``Images/`` folder to the root, so images sit directly in the
    root; a root that still holds ``Images/`` (the unzipped Kaggle layout) is read from there instead.
    """
    lang = _start(spec, root, split, language, options)
    default = f"flickr8k_{split}_karpathy.txt" if lang == "en" else f"flickr8k_{split}_zh.txt"
    ann = Path(options.get("annotation_file") or root / default)
    c.require_root(spec, root, ann)
    items = read_flickr_txt(ann)
    prefix = ""
    if items and not (root / items[0][0]).exists() and (root / "Images" / items[0][0]).exists():
        prefix = "Images/"
    images = FileImageSet(root, [prefix + img for img, _ in items])
    captions = [list(caps) for _, caps in items]
    info = {"annotation_file": str(ann), "caption_preprocess": caption_mode(spec, options), "pre_caption": False}
    return c.retrieval(spec, root, split, lang, images, captions, options, info=info)


def read_coco_captions(ann: Path) -> list[tuple[str, list[str]]]:
    """(file_name, captions) in torchvision ``CocoCaptions`` order, via pycocotools."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco = COCO(str(ann))
    out = []
    for img_id in sorted(coco.imgs.keys()):
        caps = [a["caption"] for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id))]
        out.append((coco.loadImgs(img_id)[0]["file_name"], caps))
    return out


def load_mscoco_captions(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    lang = _start(spec, root, split, language, options)
    if lang == "en":
        default, prefix = f"coco_{split}_karpathy.json", ("train2014/" if split == "train" else "val2014/")
    else:
        default, prefix = f"coco-cn_{split}.json", ""
    ann = Path(options.get("annotation_file") or root / default)
    c.require_root(spec, root, ann)
    items = read_coco_captions(ann)
    images = FileImageSet(root, [prefix + name for name, _ in items])
    mode = caption_mode(spec, options)
    captions = preprocess_captions([caps for _, caps in items], mode)
    info = {"annotation_file": str(ann), "caption_preprocess": mode, "pre_caption": mode == "fork"}
    return c.retrieval(spec, root, split, lang, images, captions, options, info=info)


def xtd_image_path(name: str) -> str:
    if "/" in name:
        return name
    for folder in ("train2014", "val2014"):
        if folder in name:
            return f"{folder}/{name}"
    raise DatasetNotFoundError(f"XTD image name {name!r} names neither train2014 nor val2014")


def load_multilingual_mscoco(
    root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any
):
    lang = _start(spec, root, split, language, options)
    code = XTD_FILE_CODE.get(lang, lang)
    names_file, caps_file = "multilingual_coco_images.txt", f"raw_multilingual_coco_captions_{code}.txt"
    fork_layout = (root / names_file).exists() and (root / caps_file).exists()
    if not fork_layout and (root / f"multilingual_mscoco_captions-{code}.json").exists():
        # CLIP_benchmark main's layout (its annotation JSON); the fork's files win where both exist.
        from zsbench.datasets.loaders.multilingual import load_upstream_multilingual_mscoco

        return load_upstream_multilingual_mscoco(spec, root, split, language, options)
    c.require_root(spec, root, names_file, caps_file)
    names = [x.strip() for x in (root / names_file).read_text(encoding="utf-8").splitlines() if x.strip()]
    caps = [x.strip() for x in (root / caps_file).read_text(encoding="utf-8").splitlines() if x.strip()]
    if len(names) != len(caps):
        raise DatasetNotFoundError(
            f"{root / caps_file} has {len(caps)} captions for {len(names)} images in {names_file}"
        )
    images = FileImageSet(root, [xtd_image_path(n) for n in names])
    info = {"caption_file": caps_file, "caption_preprocess": caption_mode(spec, options), "pre_caption": False}
    return c.retrieval(spec, root, split, lang, images, [[t] for t in caps], options, info=info)
