"""Miniature replicas of the real on-disk dataset formats, for offline tests.

Each ``write_*`` function writes a few tiny images plus the real annotation/metadata files (CIFAR pickles, IDX,
devkit tars, VOC XML, COCO JSON, Karpathy txt, TFRecord, ...) under ``root`` and returns what a correct loader
must produce (``labels``, ``classnames``, ``captions`` ...). Images encode their index in the red channel and
their label in the green channel (exact in PNG/PPM, within +-2 in JPEG), so tests can check sample order.
Load replicas with ``allow_incomplete=True`` (their sizes differ from the real splits).
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def image(index: int, label: int = 0, size: tuple[int, int] = (8, 6)) -> Any:
    """A tiny RGB image whose pixels encode ``index`` (red) and ``label`` (green)."""
    from PIL import Image

    return Image.new("RGB", size, (index % 256, label % 256, 77))


def save_image(path: Path, index: int = 0, label: int = 0, size: tuple[int, int] = (8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".ppm": "PPM", ".webp": "WEBP"}[path.suffix.lower()]
    image(index, label, size).save(path, format=fmt)
    return path


def image_bytes(index: int = 0, label: int = 0, fmt: str = "PNG", size: tuple[int, int] = (8, 6)) -> bytes:
    buf = io.BytesIO()
    image(index, label, size).save(buf, format=fmt)
    return buf.getvalue()


def _labels(n: int, n_classes: int) -> list[int]:
    return [(i * 7 + 3) % n_classes for i in range(n)]


# --- arrays -------------------------------------------------------------------------------------------------------
def _cifar_array(labels: list[int]):
    import numpy as np

    data = np.zeros((len(labels), 3, 32, 32), dtype=np.uint8)
    for i, lab in enumerate(labels):
        data[i, 0], data[i, 1] = i, lab
    return data.reshape(len(labels), 3072)


def write_cifar10(root: Path, n: int, n_train: int = 0) -> dict[str, Any]:
    """``cifar-10-batches-py/{test_batch,batches.meta}`` (python pickles); with ``n_train`` also
    ``data_batch_1..5`` of ``n_train`` images each (torchvision's CIFAR10 wants all six batches, whichever split)."""
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    labels = _labels(n, 10)
    d = Path(root) / "cifar-10-batches-py"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "test_batch", "wb") as f:
        pickle.dump({"batch_label": "testing batch 1 of 1", "labels": labels, "data": _cifar_array(labels)}, f)
    for b in range(1, 6) if n_train else ():
        train = _labels(n_train + b, 10)[b:]  # each batch its own labels
        with open(d / f"data_batch_{b}", "wb") as f:
            pickle.dump({"batch_label": f"training batch {b} of 5", "labels": train, "data": _cifar_array(train)}, f)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": n, "num_vis": 3072}, f)
    return {"labels": labels, "classnames": names}


def write_cifar100(root: Path, n: int, n_train: int = 0) -> dict[str, Any]:
    """``cifar-100-python/{test,meta}``; with ``n_train`` also ``train`` (torchvision's CIFAR100 wants both)."""
    names = [f"class{i:02d}" for i in range(100)]
    labels = _labels(n, 100)
    d = Path(root) / "cifar-100-python"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "test", "wb") as f:
        pickle.dump({"fine_labels": labels, "coarse_labels": [0] * n, "data": _cifar_array(labels)}, f)
    if n_train:
        train = _labels(n_train + 1, 100)[1:]
        with open(d / "train", "wb") as f:
            pickle.dump({"fine_labels": train, "coarse_labels": [0] * n_train, "data": _cifar_array(train)}, f)
    with open(d / "meta", "wb") as f:
        pickle.dump({"fine_label_names": names, "coarse_label_names": ["c"] * 20}, f)
    return {"labels": labels, "classnames": names}


def _idx(array: Any) -> bytes:
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist(root: Path, n: int, gz: bool = False, n_train: int = 0) -> dict[str, Any]:
    """``MNIST/raw/t10k-{images-idx3,labels-idx1}-ubyte[.gz]``; with ``n_train`` also the ``train-*`` pair
    (torchvision's MNIST wants all four files, uncompressed, whichever split it reads)."""
    import numpy as np

    labels = np.array(_labels(n, 10), dtype=np.uint8)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        images[i, 0, 0] = i
        images[i, 3, 1] = 255 - i  # off-diagonal: a transposed reader differs
    d = Path(root) / "MNIST" / "raw"
    d.mkdir(parents=True, exist_ok=True)
    files = [("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)]
    if n_train:
        files += [
            ("train-images-idx3-ubyte", np.full((n_train, 28, 28), 9, dtype=np.uint8)),
            ("train-labels-idx1-ubyte", np.array(_labels(n_train, 10), dtype=np.uint8)),
        ]
    for stem, arr in files:
        raw = _idx(arr)
        if gz:
            (d / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (d / stem).write_bytes(raw)
    return {"labels": labels.tolist()}


def write_stl10(root: Path, n: int, n_train: int = 0) -> dict[str, Any]:
    """``stl10_binary/{test_X.bin,test_y.bin,class_names.txt}`` (column-major images, 1-based labels); with
    ``n_train`` also ``train_X.bin``, ``train_y.bin`` and ``unlabeled_X.bin`` (torchvision's STL10 wants all five)."""
    import numpy as np

    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    labels = _labels(n, 10)
    hwc = np.zeros((n, 96, 96, 3), dtype=np.uint8)
    for i in range(n):
        hwc[i, 0, 1, 0] = i + 1  # one off-diagonal pixel: a transposed reader would put it at (1, 0)
    d = Path(root) / "stl10_binary"
    d.mkdir(parents=True, exist_ok=True)
    (d / "test_X.bin").write_bytes(hwc.transpose(0, 3, 2, 1).tobytes())
    (d / "test_y.bin").write_bytes(bytes(lab + 1 for lab in labels))
    (d / "class_names.txt").write_text("\n".join(names) + "\n")
    if n_train:
        blank = np.zeros((n_train, 3, 96, 96), dtype=np.uint8).tobytes()
        (d / "train_X.bin").write_bytes(blank)
        (d / "train_y.bin").write_bytes(bytes(lab + 1 for lab in _labels(n_train, 10)))
        (d / "unlabeled_X.bin").write_bytes(blank)
    return {"labels": labels, "classnames": names}


# --- ImageNet family ------------------------------------------------------------------------------------------------
def write_imagenet_val_folders(root: Path, wnids: list[str], per_class: int = 2, folder: str = "val") -> list[str]:
    """``<folder>/<wnid>/*.JPEG``; returns relative paths in ImageFolder order."""
    out = []
    for w in sorted(wnids):
        for k in range(per_class):
            rel = f"{folder}/{w}/img_{k}.JPEG" if folder else f"{w}/img_{k}.JPEG"
            save_image(Path(root) / rel, k)
            out.append(rel)
    return out


def write_imagenet_tars(root: Path, val_wnids: list[str]) -> None:
    """``ILSVRC2012_devkit_t12.tar.gz`` (data/meta.mat + ground truth) and ``ILSVRC2012_img_val.tar``.

    ``val_wnids[i]`` is the class of ``ILSVRC2012_val_<i+1>.JPEG``. meta.mat lists the 1000 leaves with
    ILSVRC2012_IDs in a shuffled (non-sorted) wnid order, like the real devkit, plus one non-leaf synset.
    """
    import numpy as np
    import scipy.io as sio

    from zsbench.datasets.loaders.imagenet import wnid_lists

    allw = wnid_lists()["imagenet1k"]
    order = allw[500:] + allw[:500]  # ID 1 is not the first sorted wnid, as in the real devkit
    dtype = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("gloss", "O"), ("num_children", "O")]
    rows = [(i + 1, w, f"words {w}", "gloss", 0) for i, w in enumerate(order)] + [(1001, "n00001740", "entity", "", 3)]
    synsets = np.array(rows, dtype=dtype)
    meta = io.BytesIO()
    sio.savemat(meta, {"synsets": synsets})
    wnid_to_id = {w: i + 1 for i, w in enumerate(order)}
    truth = "".join(f"{wnid_to_id[w]}\n" for w in val_wnids).encode()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as tar:
        for name, data in (("meta.mat", meta.getvalue()), ("ILSVRC2012_validation_ground_truth.txt", truth)):
            info = tarfile.TarInfo(f"ILSVRC2012_devkit_t12/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with tarfile.open(root / "ILSVRC2012_img_val.tar", "w") as tar:
        for i in reversed(range(len(val_wnids))):  # archive order must not matter
            data = image_bytes(i, 0, "PNG")  # PNG bytes in a .JPEG name: PIL sniffs the format, as for real files
            info = tarfile.TarInfo(f"ILSVRC2012_val_{i + 1:08d}.JPEG")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_imagenetv2(root: Path, labels: list[int]) -> None:
    for i, lab in enumerate(labels):
        save_image(Path(root) / "ImageNetV2-matched-frequency" / str(lab) / f"{i:04d}.jpeg", i)


def write_objectnet(root: Path) -> dict[str, Any]:
    """ObjectNet images + the four mapping files; 'Chair' does not overlap ImageNet and must be dropped."""
    root = Path(root)
    folder_to_label = {
        "air_freshener": "Air freshener",
        "alarm_clock": "Alarm clock",
        "banana": "Banana",
        "chair": "Chair",
    }
    objectnet_to_imagenet = {"Alarm clock": "analog clock; digital clock", "Banana": "banana", "Air freshener": "spray"}
    imagenet_names = ["tench", "analog clock", "digital clock", "banana", "spray"]
    (root / "folder_to_objectnet_label.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "folder_to_objectnet_label.json").write_text(json.dumps(folder_to_label))
    (root / "objectnet_to_imagenet_1k.json").write_text(json.dumps(objectnet_to_imagenet))
    (root / "pytorch_to_imagenet_2012_id.json").write_text(json.dumps({str(i): i for i in range(5)}))
    (root / "imagenet_to_label_2012_v2").write_text("\n".join(imagenet_names) + "\n")
    paths = []
    for k, folder in enumerate(["banana", "chair", "alarm_clock", "air_freshener"]):
        for j in range(2):
            rel = f"objectnet-1.0/images/{folder}/{j}_{k}.png"
            save_image(root / rel, k * 2 + j)
            paths.append(rel)
    return {"classnames": ["air freshener", "alarm clock", "banana"]}


# --- torchvision file layouts ----------------------------------------------------------------------------------------
def write_caltech101(root: Path, counts: dict[str, int]) -> None:
    for cat, n in counts.items():
        for i in range(1, n + 1):
            save_image(Path(root) / "caltech101/101_ObjectCategories" / cat / f"image_{i:04d}.jpg", i)


def write_sun397(root: Path) -> dict[str, Any]:
    d = Path(root) / "SUN397"
    classes = ["/a/abbey", "/a/apartment_building/outdoor", "/b/bakery/shop"]
    d.mkdir(parents=True, exist_ok=True)
    (d / "ClassName.txt").write_text("\n".join(classes) + "\n")
    files = [
        ("b/bakery/shop", "sun_b.jpg", 2),
        ("a/abbey", "sun_z.jpg", 0),
        ("a/abbey", "sun_a.jpg", 0),
        ("a/apartment_building/outdoor", "sun_q.jpg", 1),
    ]
    for i, (sub, name, _) in enumerate(files):
        save_image(d / sub / name, i)
    (d / "a/abbey/not_an_image.txt").write_text("x")
    return {"classnames": ["abbey", "apartment building outdoor", "bakery shop"]}


def write_fgvc_aircraft(root: Path) -> dict[str, Any]:
    d = Path(root) / "fgvc-aircraft-2013b/data"
    d.mkdir(parents=True, exist_ok=True)
    variants = ["707-320", "A300B4", "Cessna 172"]
    (d / "variants.txt").write_text("\n".join(variants) + "\n")
    rows = [("0001", "Cessna 172"), ("0002", "707-320"), ("0003", "A300B4")]
    (d / "images_variant_test.txt").write_text("".join(f"{a} {b}\n" for a, b in rows))
    for i, (name, _) in enumerate(rows):
        save_image(d / "images" / f"{name}.jpg", i)
    return {"labels": [2, 0, 1], "classnames": variants}


def write_image_folder(
    root: Path, folder: str, classes: dict[str, int], ext: str = ".jpg", all_classes: Sequence[str] | None = None
) -> list[int]:
    """``<folder>/<class>/<k><ext>``; returns labels in ImageFolder order.

    A label is the class's position in ``all_classes`` (the dataset's complete folder list) when given, else its
    position among the folders written.
    """
    order = list(all_classes) if all_classes is not None else sorted(classes)
    labels = []
    for cls in sorted(classes):
        idx = order.index(cls)
        for k in range(classes[cls]):
            save_image(Path(root) / folder / cls / f"{k:03d}{ext}", k, idx)
            labels.append(idx)
    return labels


def write_cars(root: Path) -> dict[str, Any]:
    import numpy as np
    import scipy.io as sio

    base = Path(root) / "stanford_cars"
    (base / "devkit").mkdir(parents=True, exist_ok=True)
    classes = np.array(["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Audi TT RS Coupe 2012"], dtype=object)
    sio.savemat(base / "devkit" / "cars_meta.mat", {"class_names": classes.reshape(1, -1)})
    dtype = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    rows = [(1, 1, 5, 5, 3, "00001.jpg"), (1, 1, 5, 5, 1, "00002.jpg")]
    sio.savemat(base / "cars_test_annos_withlabels.mat", {"annotations": np.array(rows, dtype=dtype).reshape(1, -1)})
    for i, row in enumerate(rows):
        save_image(base / "cars_test" / row[5], i)
    return {"labels": [2, 0], "classnames": list(classes)}


def write_dtd(root: Path, all_classes: bool = False) -> dict[str, Any]:
    """Two of DTD's 47 classes; labels index the complete class list (banded = 0, zigzagged = 46).

    ``all_classes``: one more image of every class, as the real ``test1.txt`` names all 47 (torchvision's ``DTD``
    takes its classes from the names in the list, so only a complete list gives it the 47).
    """
    from zsbench.datasets import get_spec

    d = Path(root) / "dtd/dtd"
    rows = ["zigzagged/z_1.jpg", "banded/b_1.jpg", "banded/b_2.jpg"]
    if all_classes:
        rows += [f"{cls}/{cls}_0009.jpg" for cls in get_spec("dtd").class_folders]
    (d / "labels").mkdir(parents=True, exist_ok=True)
    (d / "labels/test1.txt").write_text("\n".join(rows) + "\n")
    for i, r in enumerate(rows):
        save_image(d / "images" / r, i)
    classes = list(get_spec("dtd").class_folders)
    return {"labels": [classes.index(r.split("/")[0]) for r in rows], "classnames": classes}


def write_food101(root: Path) -> dict[str, Any]:
    """``food-101/{meta/test.json,images/<class>/<id>.jpg}``. The keys are not sorted (the real file starts with
    ``churros``): samples come in the file's key order, labels index the sorted class list (torchvision ``Food101``)."""
    d = Path(root) / "food-101"
    meta = {"baby_back_ribs": ["baby_back_ribs/2"], "apple_pie": ["apple_pie/1", "apple_pie/3"]}
    (d / "meta").mkdir(parents=True, exist_ok=True)
    (d / "meta/test.json").write_text(json.dumps(meta))
    for i, p in enumerate(sum(meta.values(), [])):
        save_image(d / "images" / f"{p}.jpg", i)
    return {"labels": [1, 0, 0], "classnames": ["apple pie", "baby back ribs"]}


def write_gtsrb(root: Path) -> dict[str, Any]:
    d = Path(root) / "gtsrb"
    rows = [("00000.ppm", 16), ("00001.ppm", 1), ("00002.ppm", 38)]
    (d / "GTSRB/Final_Test/Images").mkdir(parents=True, exist_ok=True)
    lines = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    lines += [f"{f};8;6;0;0;7;5;{c}" for f, c in rows]
    (d / "GT-final_test.csv").write_text("\n".join(lines) + "\n")
    for i, (f, _) in enumerate(rows):
        save_image(d / "GTSRB/Final_Test/Images" / f, i)
    return {"labels": [16, 1, 38]}


def write_pets(root: Path) -> dict[str, Any]:
    d = Path(root) / "oxford-iiit-pet"
    rows = [("american_bulldog_10", 2, 2), ("Abyssinian_1", 1, 1), ("american_bulldog_11", 2, 2)]
    (d / "annotations").mkdir(parents=True, exist_ok=True)
    (d / "annotations/test.txt").write_text("".join(f"{a} {b} {c} 1\n" for a, b, c in rows))
    for i, (name, _, _) in enumerate(rows):
        save_image(d / "images" / f"{name}.jpg", i)
    return {"labels": [1, 0, 1], "classnames": ["Abyssinian", "American Bulldog"]}


def write_birdsnap(root: Path, test_list: Path | None = None) -> dict[str, Any]:
    """``species.txt`` + ``test_images_valid.txt`` + images; with ``test_list`` the real list is copied in."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if test_list is not None:
        lines = Path(test_list).read_text().splitlines()
        rel = [x.strip() for x in lines[1:] if x.strip()]
        dirs = sorted({r.split("/")[0] for r in rel})
    else:
        dirs = ["Coopers_Hawk", "Acadian_Flycatcher"]
        rel = ["Coopers_Hawk/0561.jpg", "Acadian_Flycatcher/0001.jpg", "Coopers_Hawk/0629.jpg"]
        (root / "test_images_valid.txt").write_text("path\n" + "\n".join(rel) + "\n")
        for i, r in enumerate(rel):
            save_image(root / r, i)
    species = ["id\tcommon\tscientific\tdir"]
    species += [f"{i + 1}\t{d.replace('_', ' ')}\tGenus species\t{d}" for i, d in enumerate(dirs)]
    (root / "species.txt").write_text("\n".join(species) + "\n")
    if test_list is not None:
        (root / "test_images_valid.txt").write_bytes(Path(test_list).read_bytes())
    return {"dirs": dirs, "paths": rel}


# --- VOC ---------------------------------------------------------------------------------------------------------------
def write_voc2007(root: Path, n: int, split: str = "test") -> dict[str, Any]:
    """``VOCdevkit/VOC2007`` with ``n`` images; image i has i % 3 + 1 objects. Returns boxes and multi-hot rows."""
    from zsbench.datasets.loaders.voc import CATEGORIES

    base = Path(root) / "VOCdevkit/VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    ids = [f"{i * 2 + 1:06d}" for i in range(n)]
    (base / f"ImageSets/Main/aeroplane_{split}.txt").write_text("".join(f"{i} -1\n" for i in ids))
    boxes, multi = [], []
    for k, image_id in enumerate(ids):
        save_image(base / "JPEGImages" / f"{image_id}.jpg", k, size=(40, 30))
        objs, row = [], [0] * len(CATEGORIES)
        for j in range(k % 3 + 1):
            cls = (k * 5 + j * 3) % len(CATEGORIES)
            box = (1 + j, 2 + j, 10 + 3 * j, 12 + 2 * j)
            objs.append(
                f"<object><name>{CATEGORIES[cls]}</name><pose>Left</pose><truncated>0</truncated>"
                f"<difficult>{j % 2}</difficult><bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin>"
                f"<xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox></object>"
            )
            boxes.append((image_id, box, cls))
            row[cls] = 1
        multi.append(row)
        xml = f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>{''.join(objs)}</annotation>"
        (base / "Annotations" / f"{image_id}.xml").write_text(xml)
    return {"ids": ids, "boxes": boxes, "labels": [b[2] for b in boxes], "multilabel": multi}


# --- TFDS ----------------------------------------------------------------------------------------------------------------
def write_tfds(
    root: Path, name: str, version: str, splits: dict[str, list[int]], label_names: list[str], shards: int = 2
) -> None:
    """A prepared TFDS folder: ``dataset_info.json``, ``label.labels.txt`` and TFRecord shards of Examples."""
    from zsbench.datasets.loaders.tfds import encode_example, write_records

    d = Path(root) / name / version
    d.mkdir(parents=True, exist_ok=True)
    info_splits = []
    counter = 0
    for split, labels in splits.items():
        size = -(-len(labels) // shards)
        per = [labels[i * size : (i + 1) * size] for i in range(shards)]
        lengths = []
        for s, chunk in enumerate(per):
            payloads = []
            for lab in chunk:
                payloads.append(
                    encode_example(
                        {
                            "image": [image_bytes(counter % 256, lab, "JPEG" if counter % 2 else "PNG")],
                            "label": [lab],
                            "file_name": [f"img_{counter}.jpg".encode()],
                        }
                    )
                )
                counter += 1
            write_records(d / f"{name}-{split}.tfrecord-{s:05d}-of-{shards:05d}", payloads)
            lengths.append(str(len(chunk)))
        info_splits.append({"name": split, "shardLengths": lengths, "numBytes": "0"})
    (d / "dataset_info.json").write_text(json.dumps({"name": name, "version": version, "splits": info_splits}))
    (d / "label.labels.txt").write_text("\n".join(label_names) + "\n")


# --- captions ------------------------------------------------------------------------------------------------------------
def write_flickr30k(root: Path, n_images: int, language: str = "en", images_dir: str = "Images") -> dict[str, Any]:
    """``Images/*.jpg`` (the fork's layout; ``images_dir=""``: upstream's, images in the root) +
    ``flickr30k_test_karpathy.txt`` (or ``flickr30k_cn_test.txt``), 5 captions per image."""
    root = Path(root)
    names = [f"{1000092795 + i * 7}.jpg" for i in range(n_images)]
    raw, expected = [], []
    for i, name in enumerate(names):
        save_image(root / images_dir / name, i)
        caps = [f"Image {i}: A  dog (brown), runs #{j}." for j in range(5)]
        if language == "cn":
            caps = [f"图{i}，一只狗在跑。第{j}句" for j in range(5)]
        raw.append(caps)
    lines = ["image,caption"]
    # interleave two images' lines: grouping must follow first appearance, not adjacency
    for i in range(n_images):
        lines += [f"{names[i]},{c}" for c in raw[i][:3]]
    for i in range(n_images):
        lines += [f"{names[i]},{c}" for c in raw[i][3:]]
    fname = "flickr30k_test_karpathy.txt" if language == "en" else "flickr30k_cn_test.txt"
    (root / fname).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for caps in raw:
        expected.append(caps)
    prefix = f"{images_dir}/" if images_dir else ""
    return {"images": [prefix + n for n in names], "raw_captions": expected}


def write_coco_karpathy(root: Path, n_images: int) -> dict[str, Any]:
    """``val2014/*.jpg`` + ``coco_test_karpathy.json`` (COCO captions format); image 0 has 6 captions."""
    root = Path(root)
    ids = [391895 - i * 1000 for i in range(n_images)]  # descending: the loader must sort ids
    images, anns = [], []
    for k, img_id in enumerate(ids):
        fname = f"COCO_val2014_{img_id:012d}.jpg"
        save_image(root / "val2014" / fname, k)
        images.append({"id": img_id, "file_name": fname, "height": 6, "width": 8})
        for j in range(6 if k == 0 else 5):
            anns.append({"id": len(anns) + 1, "image_id": img_id, "caption": f"A Photo ({k}) of thing {j}."})
    (root / "coco_test_karpathy.json").write_text(json.dumps({"images": images, "annotations": anns}))
    order = sorted(ids)
    caps = [[a["caption"] for a in anns if a["image_id"] == i] for i in order]
    return {"ids": order, "images": [f"val2014/COCO_val2014_{i:012d}.jpg" for i in order], "raw_captions": caps}


def write_xtd(root: Path, n_images: int, languages: tuple[str, ...] = ("en", "zh", "jp")) -> dict[str, Any]:
    """``multilingual_coco_images.txt`` + ``raw_multilingual_coco_captions_<code>.txt`` + train2014/val2014 images."""
    root = Path(root)
    names = []
    for i in range(n_images):
        split = "train2014" if i % 2 else "val2014"
        name = f"COCO_{split}_{i + 1:012d}.jpg"
        save_image(root / split / name, i)
        names.append(name)
    (root / "multilingual_coco_images.txt").write_text("\n".join(names) + "\n")
    caps = {}
    for code in languages:
        caps[code] = [f"[{code}] Caption Number {i}." for i in range(n_images)]
        (root / f"raw_multilingual_coco_captions_{code}.txt").write_text("\n".join(caps[code]) + "\n", encoding="utf-8")
    paths = [f"{'train2014' if i % 2 else 'val2014'}/{n}" for i, n in enumerate(names)]
    return {"images": paths, "captions": caps}


def write_flickr8k(root: Path, n_images: int, language: str = "en", images_dir: str = "") -> dict[str, Any]:
    """CLIP_benchmark main's flickr8k: ``<id>.jpg`` directly in ``root`` (or in ``images_dir``) +
    ``flickr8k_test_karpathy.txt`` (``flickr8k_test_zh.txt`` for zh), 5 captions per image, lines interleaved."""
    root = Path(root)
    names = [f"{1000268201 + i * 11}_{693 + i}b8.jpg" for i in range(n_images)]
    raw = []
    for i, name in enumerate(names):
        save_image(root / images_dir / name, i)
        if language == "en":
            raw.append([f"A Child, in pink #{j} (image {i})." for j in range(5)])
        else:
            raw.append([f"图{i}：一个穿粉色衣服的孩子。第{j}句" for j in range(5)])
    lines = ["image,caption"]
    for i in range(n_images):
        lines += [f"{names[i]},{c}" for c in raw[i][:2]]
    for i in range(n_images):
        lines += [f"{names[i]},{c}" for c in raw[i][2:]]
    fname = "flickr8k_test_karpathy.txt" if language == "en" else "flickr8k_test_zh.txt"
    (root / fname).write_text("\n".join(lines) + "\n", encoding="utf-8")
    prefix = f"{images_dir}/" if images_dir else ""
    return {"images": [prefix + n for n in names], "raw_captions": raw}


def write_flowers102(root: Path) -> dict[str, Any]:
    """torchvision ``Flowers102``: ``flowers-102/{jpg/image_<id>.jpg,imagelabels.mat,setid.mat}``.

    Eight images with labels 1..102 as in the real file (label 102 included); the test ids are not sorted, so a
    loader must keep ``setid.mat`` order.
    """
    import numpy as np
    import scipy.io as sio

    d = Path(root) / "flowers-102"
    (d / "jpg").mkdir(parents=True, exist_ok=True)
    mat_labels = [77, 1, 102, 5, 77, 40, 3, 102]  # 1-based, as imagelabels.mat
    sio.savemat(d / "imagelabels.mat", {"labels": np.array([mat_labels], dtype=np.uint8)})
    split_ids = {"trnid": [1, 2], "valid": [4, 6], "tstid": [8, 3, 5, 7]}
    sio.savemat(d / "setid.mat", {k: np.array([v], dtype=np.uint16) for k, v in split_ids.items()})
    for i in range(1, len(mat_labels) + 1):
        save_image(d / "jpg" / f"image_{i:05d}.jpg", i, mat_labels[i - 1] - 1)
    test = split_ids["tstid"]
    return {
        "images": [f"flowers-102/jpg/image_{i:05d}.jpg" for i in test],
        "labels": [mat_labels[i - 1] - 1 for i in test],
        "split_ids": split_ids,
    }
