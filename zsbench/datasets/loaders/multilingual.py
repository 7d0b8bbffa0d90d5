"""CLIP_benchmark main's multilingual datasets: Babel-ImageNet, Crossmodal-3600, XTD10, XTD200, Flickr30k-200.

* ``babel_imagenet``: the ImageNet-1k validation images (``val/<wnid>/`` or devkit + tar, as ``imagenet1k``) of the
  classes in the language's Babel-ImageNet subset (``babel_imagenet.json``: ``[imagenet indices, class names]``),
  labelled by the position of their ImageNet class in that subset, in subset order; templates are the language's
  NLLB-translated ImageNet templates (``nllb_dist13b_prompts.json``, ``{}`` written ``{c}``). CLIP_benchmark picks
  ``idx * 50 + i`` by position, which assumes exactly 50 images per class in order; zsbench selects by label, the
  same samples on the complete set, and still the right ones on a partial copy (``--allow_incomplete``).
* the retrieval sets read the annotation JSON that CLIP_benchmark's ``create_annotation_file`` writes in the root
  (``<name>-<lang>.json``: ``image_paths``, ``annotations``, ``indices``/``indicies``): one caption per image,
  as written (no ``pre_caption``). The stored image paths start with the root CLIP_benchmark was given, so zsbench
  keeps them from ``<folder>/images/`` on and resolves that against ``--dataset_root`` (a moved folder still
  reads). Crossmodal-3600 without its JSON is read from ``xm3600/captions.jsonl`` exactly as that function would
  (first caption of each image whose file is present).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from zsbench.datasets.base import ClassificationData, DatasetSpec, FileImageSet, SubsetImageSet
from zsbench.datasets.languages import require_language
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError

# zsbench's canonical code -> the code in the dataset's file names (XM3600 and XTD write zh / ja).
XM3600_FILE_CODE = {"cn": "zh", "jp": "ja"}
XTD_FILE_CODE = {"cn": "zh"}


# --- Babel-ImageNet ---------------------------------------------------------------------------------------------
@cache
def _babel_tables() -> tuple[dict[str, Any], dict[str, list[str]]]:
    from zsbench.datasets.prompts import DATA_DIR

    with open(DATA_DIR / "babel_imagenet.json", encoding="utf-8") as f:
        classes = json.load(f)
    with open(DATA_DIR / "nllb_dist13b_prompts.json", encoding="utf-8") as f:
        prompts = json.load(f)
    return classes, prompts


def babel_key(language: str) -> str:
    """The Babel-ImageNet key of a canonical zsbench code (``cn`` -> ``ZH``, ``jp`` -> ``JA``, ``de`` -> ``DE``)."""
    return {"cn": "ZH", "jp": "JA"}.get(language, language.upper())


def babel_subset(language: str) -> tuple[list[int], list[str], list[str] | None]:
    """ImageNet class indices, class names and NLLB templates (``None`` when the language has none) of a language."""
    classes, prompts = _babel_tables()
    key = babel_key(language)
    idxs, names = classes[key]
    templates = [t.replace("{}", "{c}") for t in prompts[key]] if key in prompts else None
    return list(idxs), list(names), templates


def select(images: Any, indices: list[int]) -> Any:
    """The images at ``indices``, as the same kind of set where possible (so --gpu_decode and fingerprints work as
    for imagenet1k), else a view."""
    if isinstance(images, FileImageSet):
        return FileImageSet(images.root, [images.relpaths[i] for i in indices])
    if isinstance(images, c.ArchiveImageSet):
        return c.ArchiveImageSet(images.root, [images.entries[i] for i in indices], images.extract)
    return SubsetImageSet(images, indices)


def load_babel_imagenet(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    from zsbench.datasets import prompts
    from zsbench.datasets.languages import canonical_language
    from zsbench.datasets.loaders.imagenet import val_samples

    c.check_options(spec, options)
    c.check_split(spec, split)
    lang = canonical_language(language)
    if babel_key(lang) not in _babel_tables()[0] or not options.get("custom_template_file"):
        # The class subset is the language's own, so a language outside Babel-ImageNet has none, custom files or
        # not; BR, LA and FY have a subset but no templates (usable with --custom_template_file).
        lang = require_language(language, spec.languages, spec.name)
    idxs, names, templates = babel_subset(lang)
    images, labels, info = val_samples(spec, root, options)
    if "absent_classes" in info:  # only the subset's own classes matter here
        from zsbench.datasets.loaders.imagenet import wnid_lists

        subset_wnids = {wnid_lists()["imagenet1k"][i] for i in idxs}
        info["absent_classes"] = [w for w in info["absent_classes"] if w in subset_wnids]
    position = {imagenet_index: k for k, imagenet_index in enumerate(idxs)}
    # Subset order (CLIP_benchmark: for idx in idxs, its 50 images in ImageNet order); the sort is stable.
    keep = sorted((position[lab], i) for i, lab in enumerate(labels) if lab in position)
    subset = select(images, [i for _, i in keep])
    targets = [k for k, _ in keep]
    c.check_size(spec, root, split, lang, len(subset), options)
    pinfo: dict[str, Any] = {}
    if options.get("custom_classname_file"):
        found = prompts._first(prompts.load_custom_file(options["custom_classname_file"]), [spec.name])
        if found is None:
            raise ZsbenchError(f"custom classname file {options['custom_classname_file']} has no key {spec.name!r}")
        if len(found[1]) != len(idxs):
            raise ZsbenchError(
                f"custom classname file {options['custom_classname_file']}: {len(found[1])} names under "
                f"{spec.name!r}, but Babel-ImageNet's {babel_key(lang)} subset has {len(idxs)} classes"
            )
        names, pinfo["classnames_source"] = list(found[1]), f"custom:{spec.name}"
    else:
        pinfo["classnames_source"] = f"babel_imagenet:{babel_key(lang)}"
    if options.get("custom_template_file"):
        found = prompts._first(
            prompts.load_custom_file(options["custom_template_file"]), [spec.name, prompts.FALLBACK_TEMPLATE_KEY]
        )
        if found is None:
            raise ZsbenchError(f"custom template file {options['custom_template_file']} has no key {spec.name!r}")
        templates, source = found[1], f"custom:{found[0]}"
    else:
        source = f"nllb_dist13b:{babel_key(lang)}"
    tid, sha = prompts.template_set_id(templates, source)  # type: ignore[arg-type]
    data_info = {
        "root": str(root),
        "split": split,
        "size": len(subset),
        **pinfo,
        "template_set": tid,
        "template_sha256": sha,
        "language": lang,
        "babel_classes": len(idxs),
        **info,
    }
    return ClassificationData(subset, targets, names, templates, info=data_info)  # type: ignore[arg-type]


# --- annotation JSON (CLIP_benchmark's create_annotation_file) ----------------------------------------------------
def read_annotation_json(spec: DatasetSpec, root: Path, ann: Path, folder: str) -> tuple[list[str], list[str]]:
    """Image paths (relative to ``root``, from ``<folder>/images/`` on) and one caption per image, from ``ann``."""
    try:
        with open(ann, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: cannot read annotation file {ann}: {e}; delete it and create it again "
            f"({c.obtain_hint(spec)})"
        ) from e
    if not isinstance(data, dict) or not all(k in data for k in ("image_paths", "annotations")):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: annotation file {ann} is not CLIP_benchmark's format (a JSON object with "
            "'image_paths' and 'annotations' lists); delete it and create it again"
        )
    paths, caps = data["image_paths"], data["annotations"]
    for key, value in (("image_paths", paths), ("annotations", caps)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DatasetNotFoundError(f"dataset {spec.name!r}: {ann}: {key!r} must be a list of strings")
    if len(paths) != len(caps):
        # CLIP_benchmark zips the two lists, silently dropping the surplus; a caption would pair with another image.
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {ann} has {len(paths)} image paths but {len(caps)} captions; delete it and "
            "create it again"
        )
    marker = f"{folder}/images/"
    rel = []
    for i, p in enumerate(paths):
        norm = p.replace("\\", "/")
        at = norm.rfind(marker)
        if at < 0 or (at > 0 and norm[at - 1] != "/"):
            raise DatasetNotFoundError(
                f"dataset {spec.name!r}: {ann}: image path {i} ({p!r}) is not under '{marker}'; expected layout: "
                f"{spec.layout}"
            )
        rel.append(norm[at:])
    return rel, caps


def _check_images(spec: DatasetSpec, root: Path, ann: Path, rel: list[str], options: dict[str, Any]) -> list[int]:
    """Indices of the listed images that exist; a missing one is an error unless ``allow_incomplete``."""
    present = [i for i, r in enumerate(rel) if (root / r).is_file()]
    if len(present) != len(rel) and not options.get("allow_incomplete"):
        missing = [rel[i] for i in sorted(set(range(len(rel))) - set(present))]
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {len(missing)} of the {len(rel)} images that {ann.name} lists are missing "
            f"under {root} (first: {missing[0]}); restore them or create the annotation file again (pass "
            "--allow_incomplete, or allow_incomplete=True in Python, to evaluate the images present)"
        )
    return present


def _json_retrieval(
    spec: DatasetSpec,
    root: Path,
    split: str,
    language: str,
    options: dict[str, Any],
    *,
    folder: str,
    ann_name: str,
    file_code: dict[str, str],
) -> Any:
    c.check_options(spec, options)
    c.check_split(spec, split)
    lang = require_language(language, spec.languages, spec.name, what="captions")
    code = file_code.get(lang, lang)
    ann = Path(options.get("annotation_file") or root / ann_name.format(code))
    if spec.name == "crossmodal3600" and not ann.exists() and (root / "xm3600" / "captions.jsonl").exists():
        rel, caps, ann = _xm3600_jsonl(spec, root, code)
    else:
        c.require_root(spec, root, ann)
        rel, caps = read_annotation_json(spec, root, ann, folder)
    keep = _check_images(spec, root, ann, rel, options)
    info = {
        "annotation_file": str(ann),
        "file_language": code,
        "caption_preprocess": c_mode(spec, options),
        "pre_caption": False,
        "layout": f"CLIP_benchmark main: {folder}/images + {ann.name}",
    }
    images = FileImageSet(root, [rel[i] for i in keep])
    return c.retrieval(spec, root, split, lang, images, [[caps[i]] for i in keep], options, info=info)


def c_mode(spec: DatasetSpec, options: dict[str, Any]) -> str:
    from zsbench.datasets.loaders.captions import caption_mode

    return caption_mode(spec, options)  # checked and recorded; these captions are never normalized


def _xm3600_jsonl(spec: DatasetSpec, root: Path, code: str) -> tuple[list[str], list[str], Path]:
    """What ``crossmodal3600.create_annotation_file`` would write: each line's ``image/key`` and first caption."""
    path = root / "xm3600" / "captions.jsonl"
    rel, caps = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, first = item["image/key"], item[code]["caption"][0]
            except (json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
                raise DatasetNotFoundError(
                    f"dataset {spec.name!r}: {path}:{lineno}: no 'image/key' or no {code!r} caption ({e!r}); "
                    "re-extract captions.zip"
                ) from e
            rel.append(f"xm3600/images/{key}.jpg")
            caps.append(first)
    return rel, caps, path


def load_crossmodal3600(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _json_retrieval(
        spec,
        root,
        split,
        language,
        options,
        folder="xm3600",
        ann_name="crossmodal3600_captions-{}.json",
        file_code=XM3600_FILE_CODE,
    )


def load_xtd10(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _json_retrieval(
        spec, root, split, language, options, folder="xtd10", ann_name="xtd10-{}.json", file_code=XTD_FILE_CODE
    )


def load_xtd200(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _json_retrieval(
        spec, root, split, language, options, folder="xtd200", ann_name="xtd200-{}.json", file_code={}
    )


def load_flickr30k_200(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _json_retrieval(
        spec,
        root,
        split,
        language,
        options,
        folder="flickr30k-200",
        ann_name="flickr30k_200-{}.json",
        file_code={},
    )


def load_upstream_multilingual_mscoco(
    spec: DatasetSpec, root: Path, split: str, language: str, options: dict[str, Any]
) -> Any:
    """CLIP_benchmark main's ``multilingual_mscoco_captions``: ``multilingual_mscoco_captions-<lang>.json`` with the
    images in ``multilingual_mscoco/images/`` (the same XTD10 captions as ``xtd10``)."""
    return _json_retrieval(
        spec,
        root,
        split,
        language,
        options,
        folder="multilingual_mscoco",
        ann_name="multilingual_mscoco_captions-{}.json",
        file_code=XTD_FILE_CODE,
    )
