"""Local webdataset shards in CLIP_benchmark's layout, read and written with ``tarfile`` (no webdataset needed).

Layout (``clip_benchmark_export_wds``)::

    root/<split>/nshards.txt        number of shards (mandatory: a missing one used to evaluate one shard silently)
    root/<split>/sizes.json         {"0.tar": n, ...} samples per shard (written by export_wds; checked when present)
    root/<split>/{0..n-1}.tar       samples s0000000.<webp|png|jpg|jpeg> + .cls (int) | .npy (multi-hot) | .txt
    root/classnames.txt             one class name per line (classification)
    root/zeroshot_classification_templates.txt   one template per line
    root/dataset_type.txt           'retrieval' or 'multilabel'; absent = classification

Images stay in the shards and are read lazily by byte range. As in CLIP_benchmark, class names and templates come
from the shard folder, so ``--language`` has no effect on ``wds/`` datasets: another language is an error unless
custom classname and template files are passed. ``export_wds`` writes the same layout for classification,
multilabel and retrieval data (CLIP_benchmark's retrieval export fails at HEAD, notes 3.8).

A shard cut short is an error unless ``allow_incomplete`` (then recorded in ``info["incomplete_shards"]``):
``tarfile`` stops silently at end of file, so each shard must end with the tar end-of-archive marker, and its
sample count must match ``sizes.json`` where there is one. Members are never extracted to disk; a member named
with an absolute path or ``..`` is refused.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from zsbench.datasets.base import CLASSIFICATION, RETRIEVAL, ClassificationData, DatasetSpec, RetrievalData
from zsbench.datasets.languages import require_language
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError

IMAGE_EXTS = ("webp", "png", "jpg", "jpeg")
RETRIEVAL_NAMES = {
    "flickr30k",
    "flickr8k",
    "mscoco_captions",
    "multilingual_mscoco_captions",
    "flickr30k-200",
    "crossmodal3600",
    "xtd10",
    "xtd200",
}


def wds_spec(name: str) -> DatasetSpec:
    """The spec of a ``wds/<name>`` dataset; the default task follows the stripped name (CLIP_benchmark 3.7)."""
    short = name.split("/", 1)[1]
    task = RETRIEVAL if short in RETRIEVAL_NAMES else CLASSIFICATION
    return DatasetSpec(
        name=name,
        task=task,
        loader="zsbench.datasets.loaders.webdataset:load_wds",
        splits=("test", "train", "val"),
        languages=("en",),
        layout="<split>/nshards.txt + <split>/{0..n-1}.tar + classnames.txt + zeroshot_classification_templates.txt "
        "[+ dataset_type.txt]",
        source=f"https://huggingface.co/datasets/clip-benchmark/wds_{short.replace('/', '-')} (pass the URL as "
        "--dataset_root: the shards are fetched into the cache at one commit and checked; or a local folder)",
        prompt_key=name,
    )


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _unsafe_name(name: str) -> bool:
    """An absolute member name or one that climbs with ``..``: never part of a webdataset shard."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _has_end_marker(shard: Path, end: int, file_size: int) -> bool:
    """Two 512-byte zero blocks right after the last member (tarfile itself stops silently at EOF)."""
    if file_size < end + 2 * tarfile.BLOCKSIZE:
        return False
    with open(shard, "rb") as f:
        f.seek(end)
        return f.read(2 * tarfile.BLOCKSIZE) == bytes(2 * tarfile.BLOCKSIZE)


def _read_sizes(root: Path, split: str) -> dict[str, int] | None:
    path = root / split / "sizes.json"
    if not path.exists():
        return None
    try:
        sizes = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): int(v) for k, v in sizes.items()}
    except (ValueError, TypeError, AttributeError) as e:
        raise DatasetNotFoundError(
            f"webdataset at {root}: {path} is not a JSON object of shard sample counts ({e}); fix or delete it"
        ) from e


def _index_shards(root: Path, split: str, options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The samples of all shards in order, and info about incomplete shards (only with ``allow_incomplete``).

    A shard cut short (even exactly at a member boundary: no end-of-archive marker) or with fewer samples than
    ``sizes.json`` says is an error unless ``allow_incomplete``; then only its complete samples are used and the
    shard is listed in ``info["incomplete_shards"]``. Members are read in place by byte range, never extracted.
    """
    nshards_file = root / split / "nshards.txt"
    if not nshards_file.exists():
        raise DatasetNotFoundError(f"webdataset at {root}: missing {nshards_file} (mandatory; it says how many shards)")
    try:
        n = int(nshards_file.read_text().strip())
    except ValueError as e:
        raise DatasetNotFoundError(f"webdataset at {root}: {nshards_file} does not hold a shard count ({e})") from e
    allow = bool(options.get("allow_incomplete"))
    sizes = _read_sizes(root, split)
    incomplete: list[dict[str, Any]] = []

    def problem(shard: Path, rel: str, what: str) -> None:
        if not allow:
            kind = "shard" if shard.suffix == ".tar" else "file"
            raise DatasetNotFoundError(
                f"webdataset {kind} {shard} {what}; download it again (or pass --allow_incomplete, or "
                "allow_incomplete=True in Python, to evaluate the complete samples only)"
            )
        incomplete.append({"shard": rel, "problem": what})

    if sizes is not None and sorted(sizes) != sorted(f"{i}.tar" for i in range(n)):
        problem(root / split / "sizes.json", f"{split}/sizes.json", f"lists {len(sizes)} shards, nshards.txt says {n}")
    samples: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []
    cut_shards: set[str] = set()
    for i in range(n):
        shard = root / split / f"{i}.tar"
        if not shard.exists():
            raise DatasetNotFoundError(f"webdataset at {root}: nshards.txt says {n} shards but {shard} is missing")
        rel = f"{split}/{i}.tar"
        file_size = shard.stat().st_size
        keys: set[str] = set()
        try:
            # 'r:' = uncompressed only: members are read later by byte offset into this very file.
            with tarfile.open(shard, "r:") as tar:
                members: list[tarfile.TarInfo] = []
                damaged = None
                try:
                    for m in tar:
                        members.append(m)
                except tarfile.ReadError as e:  # raised at the next header when a member's data runs past EOF
                    if not members:
                        raise
                    damaged = e
                end = max(
                    (m.offset_data + -(-m.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE for m in members), default=0
                )
                for m in members:
                    if _unsafe_name(m.name):
                        raise DatasetNotFoundError(
                            f"webdataset shard {shard}: member {m.name!r} has an absolute path or '..'; zsbench reads "
                            "members in place and never extracts them, but no webdataset shard has such names: "
                            "re-create the shard"
                        )
                cut = [m for m in members if m.offset_data + m.size > file_size]
                if cut:
                    cut_shards.add(rel)
                    problem(shard, rel, f"is cut short inside member {cut[0].name!r}")
                elif damaged is not None:
                    cut_shards.add(rel)
                    problem(shard, rel, f"is damaged after member {members[-1].name!r} ({damaged})")
                elif not _has_end_marker(shard, end, file_size):
                    cut_shards.add(rel)
                    problem(shard, rel, "is cut short: it has no tar end-of-archive marker after its last member")
                for m in members:
                    if not m.isfile() or m in cut:
                        continue
                    base = os.path.basename(m.name)
                    key, _, ext = base.partition(".")  # webdataset splits the key at the first dot
                    key = f"{os.path.dirname(m.name)}/{key}" if os.path.dirname(m.name) else key
                    keys.add(key)
                    if (rel, key) not in samples:
                        samples[(rel, key)] = {"shard": rel, "key": key, "exts": set()}
                        order.append((rel, key))
                    entry = samples[(rel, key)]
                    entry["exts"].add(ext.lower())
                    if ext.lower() in IMAGE_EXTS:
                        entry["image"] = (rel, m.offset_data, m.size, m.name)
                    else:
                        entry[ext.lower()] = tar.extractfile(m).read()
        except (tarfile.TarError, EOFError) as e:
            raise DatasetNotFoundError(
                f"webdataset shard {shard} is not a readable tar ({e}); download it again"
            ) from e
        if sizes is not None and f"{i}.tar" in sizes and len(keys) != sizes[f"{i}.tar"]:
            cut_shards.add(rel)
            problem(shard, rel, f"has {len(keys)} samples, {split}/sizes.json says {sizes[f'{i}.tar']}")
    result = [samples[k] for k in order]
    if cut_shards:
        # The last sample of a shard cut short may have lost members (e.g. its label): keep only whole samples.
        full = set().union(*(s["exts"] for s in result)) if result else set()
        result = [s for s in result if s["shard"] not in cut_shards or s["exts"] >= full]
    info = {"incomplete_shards": incomplete} if incomplete else {}
    return result, info


def _label_member(sample: dict[str, Any], ext: str, root: Path) -> bytes:
    if ext not in sample:
        raise DatasetNotFoundError(
            f"webdataset at {root}: sample {sample['key']!r} in {sample['shard']} has no .{ext} member"
        )
    return sample[ext]


def load_wds(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    samples, shard_info = _index_shards(root, split, options)
    missing = [s["key"] for s in samples if "image" not in s]
    if missing:
        raise DatasetNotFoundError(f"webdataset at {root}: samples without an image: {missing[:3]}")
    images = c.ArchiveImageSet(root, [s["image"] for s in samples])
    dataset_type = (_read_text(root / "dataset_type.txt") or "classification").strip().lower()
    info = {"wds_dataset_type": dataset_type, **shard_info}
    if dataset_type == "retrieval":
        captions = [_label_member(s, "txt", root).decode("utf-8").splitlines() for s in samples]
        lang = require_language(language, spec.languages, spec.name, what="captions")
        return c.retrieval(spec, root, split, lang, images, captions, options, info=info)

    import numpy as np

    def label(s: dict[str, Any]) -> Any:
        try:
            if dataset_type == "multilabel":
                # allow_pickle=False: an .npy target is data, never code (numpy's default, made explicit).
                return np.load(io.BytesIO(_label_member(s, "npy", root)), allow_pickle=False)
            return int(_label_member(s, "cls", root).decode().strip())
        except (ValueError, UnicodeDecodeError, OSError) as e:
            raise DatasetNotFoundError(
                f"webdataset shard {root / s['shard']}: the label member of sample {s['key']!r} is unreadable ({e})"
            ) from e

    targets: Any = [label(s) for s in samples]
    if dataset_type == "multilabel":
        targets = np.stack(targets).astype(np.float32) if targets else np.zeros((0, 0), np.float32)
    opts = dict(options)
    names, templates = read_prompt_files(root, opts)
    data = c.classification(
        spec,
        root,
        split,
        language,
        images,
        targets,
        opts,
        dataset_classnames=names or None,
        multilabel=dataset_type == "multilabel",
        info=info,
    )
    use_shard_templates(data, templates, spec, opts)
    return data


def read_prompt_files(root: Path, opts: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The folder's class names and templates (non-empty lines); a missing file is an error unless a custom file
    replaces it."""
    classes = _read_text(root / "classnames.txt")
    tmpl = _read_text(root / "zeroshot_classification_templates.txt")
    if classes is None and not opts.get("custom_classname_file"):
        raise DatasetNotFoundError(f"webdataset at {root}: classnames.txt is missing (needed for classification)")
    if tmpl is None and not opts.get("custom_template_file"):
        raise DatasetNotFoundError(
            f"webdataset at {root}: zeroshot_classification_templates.txt is missing (needed for classification)"
        )
    lines = [[x.strip() for x in (text or "").splitlines() if x.strip()] for text in (classes, tmpl)]
    return lines[0], lines[1]


def use_shard_templates(data: Any, templates: list[str], spec: DatasetSpec, opts: dict[str, Any]) -> None:
    """The folder's own templates win over the catalog's (CLIP_benchmark's wds rule), unless a custom file is given."""
    if not opts.get("custom_template_file"):
        from zsbench.datasets.prompts import template_set_id

        data.templates = templates
        tid, sha = template_set_id(templates, f"wds:{spec.name}")
        data.info.update(template_set=tid, template_sha256=sha)


# --- export --------------------------------------------------------------------------------------------------------
_SAVE = {"webp": {"format": "webp", "lossless": True}, "png": {"format": "png"}, "jpg": {"format": "jpeg"}}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible shards
    tar.addfile(info, io.BytesIO(data))


def _write_text_atomic(path: Path, text: str) -> None:
    # A sibling temp file renamed into place: a reader sees the old or the new content, never half of it.
    tmp = path.with_name(f".{path.name}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove_stale_temp(out: Path, split: str) -> None:
    """Temp folders of exports that were killed (their process is gone); a live export's folder is left alone."""
    for d in out.glob(f".{split}-*.tmp"):
        pid = d.name[len(split) + 2 :].split("-", 1)[0]
        if d.is_dir() and (not pid.isdigit() or int(pid) == os.getpid() or not _pid_alive(int(pid))):
            shutil.rmtree(d, ignore_errors=True)


def export_wds(
    data: ClassificationData | RetrievalData,
    out_dir: str | os.PathLike[str],
    *,
    split: str = "test",
    image_format: str = "webp",
    max_count: int = 10_000,
    max_size: int = 1_000_000_000,
) -> Path:
    """Write ``data`` as CLIP_benchmark webdataset shards under ``out_dir`` and return ``out_dir``.

    Images are re-encoded (lossless webp by default, as ``clip_benchmark_export_wds``); CuPL (dict) templates have no
    txt form and are not written. The split is built in a temporary sibling folder (``.<split>-<pid>-<rand>.tmp``,
    with ``nshards.txt`` and ``sizes.json``: the sample count of each shard) and swapped in at the end, so an
    export that fails or is killed leaves the previous export intact; the next export removes a killed one's
    temporary folder. Files get the usual permissions (0644 under umask 022).
    """
    import numpy as np

    if image_format not in _SAVE:
        raise ZsbenchError(f"image format {image_format!r}: choose one of {', '.join(_SAVE)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(out, split)
    tmp = out / f".{split}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    tmp.mkdir()  # not tempfile.mkdtemp: that folder would be 0700
    retrieval = isinstance(data, RetrievalData)
    try:
        shard, count, size, tar = 0, 0, 0, None
        counts: dict[str, int] = {}
        for i in range(len(data.images)):
            if tar is None or count >= max_count or size >= max_size:
                if tar is not None:
                    tar.close()
                    shard += 1
                tar = tarfile.open(tmp / f"{shard}.tar", "w")  # noqa: SIM115 (one open shard at a time)
                count = size = 0
            buf = io.BytesIO()
            data.images.load_image(i).save(buf, **_SAVE[image_format])
            key = f"s{i:07d}"
            _add(tar, f"{key}.{image_format}", buf.getvalue())
            if retrieval:
                label = "\n".join(t.replace("\n", r"\n") for t in data.captions[i]).encode("utf-8")
                _add(tar, f"{key}.txt", label)
            elif data.multilabel:
                npy = io.BytesIO()
                np.save(npy, np.asarray(data.targets[i]), allow_pickle=False)
                _add(tar, f"{key}.npy", npy.getvalue())
            else:
                _add(tar, f"{key}.cls", str(int(data.targets[i])).encode())
            count += 1
            counts[f"{shard}.tar"] = count
            size += buf.tell()
        if tar is not None:
            tar.close()
        (tmp / "sizes.json").write_text(json.dumps(counts, indent=1) + "\n")
        (tmp / "nshards.txt").write_text(f"{shard + 1 if tar is not None else 0}\n")

        if retrieval:
            _write_text_atomic(out / "dataset_type.txt", "retrieval\n")
        else:
            _write_text_atomic(out / "classnames.txt", "".join(f"{n}\n" for n in data.classnames))
            if isinstance(data.templates, list):
                _write_text_atomic(
                    out / "zeroshot_classification_templates.txt", "".join(f"{t}\n" for t in data.templates)
                )
            if data.multilabel:
                _write_text_atomic(out / "dataset_type.txt", "multilabel\n")
            else:  # a stale 'retrieval'/'multilabel' from an earlier export would change how the shards are read
                (out / "dataset_type.txt").unlink(missing_ok=True)
        dest = out / split
        old = out / f".{split}-{os.getpid()}-{secrets.token_hex(4)}-old.tmp"
        if dest.exists():
            os.rename(dest, old)
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
