"""Dataset specs: DataComp's evaluation suite (mlfoundations/datacomp ``tasklist.yml``), as DataComp reads it.

DataComp scores 38 tasks (``aggregate_scores.py`` asserts 38 main metrics; FairFace and UTKFace have none). Each
is read from what DataComp's ``download_evalsets.py`` leaves under its data dir:

* 35 webdatasets, ``<data_dir>/wds_<task>_test/`` (``fairness/`` dropped, ``/`` written as ``-``), fetched from
  ``djghosh/wds_<task>_test``: ``test/nshards.txt``, ``test/{0..n-1}.tar``, ``classnames.txt`` and
  ``zeroshot_classification_templates.txt``. DataComp evaluates even ``vtab/caltech101``, ``cifar10`` or
  ``imagenet1k`` from these shards (CLIP_benchmark's ``wds/<task>``), never from TFDS or the original files, so
  here the 30 plain ones are the ``wds/<task>`` names (zsbench's webdataset reader) and the five WILDS / fairness
  ones (``wilds/iwildcam`` ...) a reader that also takes each sample's ``.npy`` group metadata row.
* Flickr, MSCOCO and WinoGAViL, the HF ``datasets`` repositories ``nlphuji/<name>`` that DataComp loads with
  ``datasets.load_dataset(..., split="test", cache_dir=<data_dir>/hf_cache)``: read from that cache's Arrow files
  (``hf_cache/nlphuji___<name>/<config>/<version>/<hash>/<name>-test.arrow``), images from the paths they record
  under ``hf_cache/downloads/extracted/`` (or their embedded bytes); no ``datasets`` library needed.

``--dataset datacomp --task auto --dataset_root <data_dir>/{datacomp}`` evaluates all 38 on that folder:
``{datacomp}`` is the folder name above (:func:`datacomp_folder`). :data:`DATACOMP_DATASETS` maps each zsbench
name to DataComp's task key, display name and main-metric key; every result carries that key in its metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from zsbench.datasets import register_dataset
from zsbench.datasets.base import ASSOCIATION, CLASSIFICATION, RETRIEVAL, DatasetSpec

GROUP_TASK = "group_classification"  # zsbench/tasks/group_classification.py
RETRIEVAL_TASK = "datacomp_retrieval"  # zsbench/tasks/datacomp_retrieval.py


@dataclass(frozen=True)
class DataCompTask:
    """One of DataComp's 38 scored tasks (``tasklist.yml``): its key, display name, main metric and size."""

    key: str  # DataComp's task key, e.g. "vtab/caltech101"
    name: str  # DataComp's display name ("dataset" in its results; aggregate_scores.py groups by it)
    main_metric: str  # the metrics key DataComp's main_metric reads (tasklist.yml's main_metric, default acc1)
    size: int  # tasklist.yml's size (images; WinoGAViL: instances)


# tasklist.yml (mlfoundations/datacomp 4afedc4) order: key, name, main metric, size.
_TASKLIST: tuple[tuple[str, str, str, int], ...] = (
    ("vtab/caltech101", "Caltech-101", "mean_per_class_recall", 6085),
    ("cifar10", "CIFAR-10", "acc1", 10000),
    ("vtab/cifar100", "CIFAR-100", "acc1", 10000),
    ("vtab/clevr_count_all", "CLEVR Counts", "acc1", 15000),
    ("vtab/clevr_closest_object_distance", "CLEVR Distance", "acc1", 15000),
    ("country211", "Country211", "acc1", 21100),
    ("vtab/dtd", "Describable Textures", "acc1", 1880),
    ("vtab/eurosat", "EuroSAT", "acc1", 5400),
    ("fgvc_aircraft", "FGVC Aircraft", "mean_per_class_recall", 3333),
    ("food101", "Food-101", "acc1", 25250),
    ("gtsrb", "GTSRB", "acc1", 12630),
    ("imagenet1k", "ImageNet 1k", "acc1", 50000),
    ("imagenet_sketch", "ImageNet Sketch", "acc1", 50889),
    ("imagenetv2", "ImageNet v2", "acc1", 10000),
    ("imagenet-a", "ImageNet-A", "acc1", 7500),
    ("imagenet-o", "ImageNet-O", "acc1", 2000),
    ("imagenet-r", "ImageNet-R", "acc1", 30000),
    ("vtab/kitti_closest_vehicle_distance", "KITTI Vehicle Distance", "acc1", 711),
    ("mnist", "MNIST", "acc1", 10000),
    ("objectnet", "ObjectNet", "acc1", 18574),
    ("vtab/flowers", "Oxford Flowers-102", "mean_per_class_recall", 6149),
    ("vtab/pets", "Oxford-IIIT Pet", "mean_per_class_recall", 3669),
    ("voc2007", "Pascal VOC 2007", "acc1", 14976),
    ("vtab/pcam", "PatchCamelyon", "acc1", 32768),
    ("renderedsst2", "Rendered SST2", "acc1", 1821),
    ("vtab/resisc45", "RESISC45", "acc1", 6300),
    ("cars", "Stanford Cars", "acc1", 8041),
    ("stl10", "STL-10", "acc1", 8000),
    ("sun397", "SUN397", "acc1", 108754),
    ("vtab/svhn", "SVHN", "acc1", 26032),
    ("retrieval/flickr_1k_test_image_text_retrieval", "Flickr", "mean_recall@1", 1000),
    ("retrieval/mscoco_2014_5k_test_image_text_retrieval", "MSCOCO", "mean_recall@1", 5000),
    ("misc/winogavil", "WinoGAViL", "jaccard_score_10-12", 3563),
    ("wilds/iwildcam", "iWildCam", "F1-macro_all", 42791),
    ("wilds/camelyon17", "Camelyon17", "acc1", 85054),
    ("wilds/fmow", "FMoW", "acc_worst_region", 22108),
    ("fairness/dollar_street", "Dollar Street", "acc_top5_wg", 3503),
    ("fairness/geode", "GeoDE", "acc_wg", 12488),
)

# Tasks read by a reader of their own (the rest are zsbench's wds/<key>): their zsbench name is DataComp's key.
_OWN_READER = ("retrieval/", "misc/", "wilds/", "fairness/")


def _zsbench_name(key: str) -> str:
    return key if key.startswith(_OWN_READER) else f"wds/{key}"


DATACOMP_DATASETS: dict[str, DataCompTask] = {_zsbench_name(k): DataCompTask(k, n, m, s) for k, n, m, s in _TASKLIST}
"""zsbench dataset name -> DataComp task, in tasklist.yml order (the ``datacomp`` collection)."""


def datacomp_folder(name: str) -> str:
    """The folder under DataComp's data dir that holds dataset ``name`` (``wds/`` prefix optional).

    ``download_evalsets.py``: HF ``datasets`` repositories (``retrieval/*``, ``misc/*``) go to ``hf_cache``;
    webdatasets to ``wds_<task>_test`` with ``fairness/`` dropped and ``/`` written as ``-`` (any other name gets the
    same rule, which is also the hub repository's name: ``djghosh/wds_<...>_test``).
    """
    task = name.removeprefix("wds/")
    if task.startswith(("retrieval/", "misc/")):
        return "hf_cache"
    return f"wds_{task.removeprefix('fairness/').replace('/', '-')}_test"


@dataclass(frozen=True)
class GroupEval:
    """What DataComp's evaluator of a WILDS / fairness set reads from each sample's ``.npy`` metadata row.

    ``fields`` are the row's columns in order (DataComp's ``_metadata_fields``); ``evaluator`` selects the metrics
    (zsbench/tasks/group_classification.py); ``group_by`` are the columns DataComp builds a WILDS grouper on (their
    values must be integers >= 0); ``n_groups`` bounds a grouping column where the group count is
    fixed by the dataset (a value outside it is refused): FMoW's 6 regions (5 + "Other") and 16 years (2002-2017),
    GeoDE's 6 regions.
    """

    fields: tuple[str, ...]
    evaluator: str
    group_by: tuple[str, ...]
    n_groups: tuple[tuple[str, int], ...] = ()


GROUP_EVALS: dict[str, GroupEval] = {
    "wilds/iwildcam": GroupEval(
        ("location", "sequence", "year", "month", "day", "hour", "minute", "second", "y"), "iwildcam", ("location",)
    ),
    "wilds/camelyon17": GroupEval(("hospital", "slide", "y"), "camelyon17", ("slide",)),
    "wilds/fmow": GroupEval(("region", "year", "y"), "fmow", ("year", "region"), (("region", 6), ("year", 16))),
    "fairness/dollar_street": GroupEval(("income_ds", "income_meta", "region"), "dollar_street", ("income_ds",)),
    "fairness/geode": GroupEval(("region", "country"), "geode", ("region",), (("region", 6),)),
}

_WDS_LAYOUT = (
    "test/nshards.txt + test/{{0..n-1}}.tar (samples <key>.webp|png|jpg + <key>.cls label + <key>.npy metadata row: "
    "{fields}) + classnames.txt + zeroshot_classification_templates.txt (DataComp's <data_dir>/{folder})"
)
_SOURCE = (
    "python download_evalsets.py <data_dir> (mlfoundations/datacomp), then --dataset_root <data_dir>/{{datacomp}}; "
    "or zsbench download --collection datacomp; hub: https://huggingface.co/datasets/{repo}"
)

for _name, _ge in GROUP_EVALS.items():
    _folder = datacomp_folder(_name)
    register_dataset(
        DatasetSpec(
            name=_name,
            task=CLASSIFICATION,
            default_task=GROUP_TASK,
            loader="zsbench.datasets.loaders.datacomp_wds:load_group_wds",
            sizes={"test": DATACOMP_DATASETS[_name].size},
            layout=_WDS_LAYOUT.format(fields=", ".join(_ge.fields), folder=_folder),
            source=_SOURCE.format(repo=f"djghosh/{_folder}"),
            prompt_key=_name,
            required=("test/nshards.txt", "classnames.txt"),
            license="see the dataset card of the hub repository (WILDS / Dollar Street / GeoDE terms)",
        )
    )

# The HF `datasets` repositories DataComp reads (retr_eval.py, wino_eval.py): name -> (repository, images).
HF_SETS: dict[str, str] = {
    "retrieval/flickr_1k_test_image_text_retrieval": "nlphuji/flickr_1k_test_image_text_retrieval",
    "retrieval/mscoco_2014_5k_test_image_text_retrieval": "nlphuji/mscoco_2014_5k_test_image_text_retrieval",
    "misc/winogavil": "nlphuji/winogavil",
}
_HF_LAYOUT = (
    "DataComp's <data_dir>/hf_cache (or <data_dir>): nlphuji___{short}/<config>/<version>/<hash>/"
    "{{dataset_info.json,{short}-test*.arrow}} + downloads/extracted/<hash>/... (the images the Arrow file names)"
)

for _name, _repo in HF_SETS.items():
    _short = _repo.split("/", 1)[1]
    _winogavil = _name == "misc/winogavil"
    register_dataset(
        DatasetSpec(
            name=_name,
            task=ASSOCIATION if _winogavil else RETRIEVAL,
            default_task="" if _winogavil else RETRIEVAL_TASK,
            loader="zsbench.datasets.loaders.hf_cache:" + ("load_winogavil" if _winogavil else "load_hf_retrieval"),
            # images for the retrieval sets; WinoGAViL's 3563 instances are checked by its loader
            sizes={} if _winogavil else {"test": DATACOMP_DATASETS[_name].size},
            layout=_HF_LAYOUT.format(short=_short),
            source=f"python download_evalsets.py <data_dir> (datasets<3: it runs the repository's loading script; "
            f"https://huggingface.co/datasets/{_repo}), then --dataset_root <data_dir>/{{datacomp}} (= hf_cache)",
            prompt_key=_name,
            license="see https://huggingface.co/datasets/" + _repo,
        )
    )

__all__ = [
    "DATACOMP_DATASETS",
    "GROUP_EVALS",
    "GROUP_TASK",
    "HF_SETS",
    "RETRIEVAL_TASK",
    "DataCompTask",
    "GroupEval",
    "datacomp_folder",
]
