"""Dataset specs: CLIP_benchmark's ``vtab/<task>`` names, read from prepared TFDS folders without TensorFlow.

CLIP_benchmark builds these with ``task_adaptation`` (VTAB's own data classes) over TFDS and evaluates VTAB's
``test`` split. Each task below records, as data, what those classes do for ``test``: the TFDS builder (with
config) and the version pattern they request, the TFDS split string, how the label is made from the example, and
where the class names come from (CLIP_benchmark's bundled list where it overrides them, else the TFDS ``ClassLabel``
names of the feature). ``size`` is the full test split.

Split strings are TFDS's (``test``, ``train[25200:]``, ``test[50%:]``, percent boundaries rounded to the closest
example); ``{floor:60+20}`` stands for task_adaptation's ``n * 60 // 100 + n * 20 // 100`` of the named split's
``n`` examples (VTAB computes its ``train``/``val``/``test`` boundaries that way, not with TFDS percent slices).

Differences from VTAB-1k's own benchmark settings that CLIP_benchmark (and so zsbench) keeps: dSprites labels are
not binned (``DSpritesData(task)`` is called without ``num_classes``: 32 positions, 40 orientations, 6 scales, 3
shapes, named ``"0"``, ``"1"``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from zsbench.datasets import register_dataset
from zsbench.datasets.base import CLASSIFICATION, DatasetSpec

_TFDS_BUILD = (
    "tensorflow_datasets prepared into root (tfds build {builder} --data_dir root, or CLIP_benchmark's own download)"
)

# Label rules other than "the integer value of feature <name>".
LABEL_RULES = ("clevr_count", "clevr_closest_object_distance", "kitti_closest_vehicle_distance")


@dataclass(frozen=True)
class VtabTask:
    """What VTAB's data class does for its ``test`` split, as CLIP_benchmark 1.6.2 calls it.

    Attributes:
        builder: TFDS builder name, ``name`` or ``name/config`` (folder ``root/name[/config]/<version>``).
        version: the version task_adaptation requests: ``"3.*.*"`` (highest 3.x.y present) or exact ``"2.0.0"``.
        split: the TFDS split string of VTAB's ``test`` split (see the module docstring).
        size: images in the complete test split.
        label: the ``ClassLabel`` feature holding the label, or one of :data:`LABEL_RULES`.
        classnames_key: CLIP_benchmark's bundled class-name key, or ``""`` for the TFDS names of ``label``.
        image_scale: pixel multiplier after decoding (dSprites stores 0/1 pixels and VTAB multiplies by 255).
        manual: a manual download step, when TFDS cannot fetch the data itself.
    """

    builder: str
    version: str
    split: str
    size: int
    label: str = "label"
    classnames_key: str = ""
    image_scale: int = 1
    manual: str = ""


_DSPRITES = VtabTask("dsprites", "2.*.*", "train[{floor:80+10}:]", 73728, image_scale=255)
_SMALLNORB = VtabTask("smallnorb", "2.*.*", "test[50%:]", 12150)

VTAB_TASKS: dict[str, VtabTask] = {
    "caltech101": VtabTask("caltech101", "3.*.*", "test", 6084, classnames_key="caltech101_vtab"),
    "cars": VtabTask("cars196", "2.*.*", "test", 8041),
    "cifar10": VtabTask("cifar10", "3.*.*", "test", 10000),
    "cifar100": VtabTask("cifar100", "3.*.*", "test", 10000),
    # CLEVR's "test" is TFDS "validation" (the TFDS test split has no labels).
    "clevr_count_all": VtabTask(
        "clevr", "3.*.*", "validation", 15000, label="clevr_count", classnames_key="clevr_count_all"
    ),
    "clevr_closest_object_distance": VtabTask(
        "clevr",
        "3.*.*",
        "validation",
        15000,
        label="clevr_closest_object_distance",
        classnames_key="clevr_closest_object_distance",
    ),
    "cub": VtabTask("caltech_birds2011", "0.1.1", "test", 5794),
    "diabetic_retinopathy": VtabTask(
        "diabetic_retinopathy_detection/btgraham-300",
        "3.*.*",
        "test",
        42670,
        classnames_key="diabetic_retinopathy",
        manual="Kaggle competition diabetic-retinopathy-detection, extracted into root/downloads/manual",
    ),
    "dmlab": VtabTask("dmlab", "2.0.0", "test", 22735, classnames_key="dmlab"),
    "dsprites_label_shape": replace(_DSPRITES, label="label_shape"),
    "dsprites_label_scale": replace(_DSPRITES, label="label_scale"),
    "dsprites_label_orientation": replace(_DSPRITES, label="label_orientation"),
    "dsprites_label_x_position": replace(_DSPRITES, label="label_x_position"),
    "dsprites_label_y_position": replace(_DSPRITES, label="label_y_position"),
    "dtd": VtabTask("dtd", "3.*.*", "test", 1880),
    "eurosat": VtabTask("eurosat/rgb", "2.*.*", "train[{floor:60+20}:]", 5400, classnames_key="eurosat"),
    # food101's and iNaturalist's "test" is TFDS "validation".
    "food101": VtabTask("food101", "2.*.*", "validation", 25250),
    "inaturalist": VtabTask("i_naturalist2017", "0.1.0", "validation", 95986),
    "kitti_closest_vehicle_distance": VtabTask(
        "kitti",
        "3.3.0",
        "test",
        711,
        label="kitti_closest_vehicle_distance",
        classnames_key="kitti_closest_vehicle_distance",
    ),
    "flowers": VtabTask("oxford_flowers102", "2.*.*", "test", 6149),
    "pets": VtabTask("oxford_iiit_pet", "3.*.*", "test", 3669, classnames_key="pets"),
    "pcam": VtabTask("patch_camelyon", "2.*.*", "test", 32768, classnames_key="pcam"),
    "resisc45": VtabTask(
        "resisc45",
        "3.*.*",
        "train[{floor:60+20}:]",
        6300,
        manual="NWPU-RESISC45.rar (OneDrive link in the TFDS resisc45 docs) extracted into root/downloads/manual",
    ),
    "smallnorb_label_category": replace(_SMALLNORB, label="label_category"),
    "smallnorb_label_elevation": replace(_SMALLNORB, label="label_elevation"),
    "smallnorb_label_azimuth": replace(_SMALLNORB, label="label_azimuth"),
    "smallnorb_label_lighting": replace(_SMALLNORB, label="label_lighting"),
    "sun397": VtabTask("sun397/tfds", "4.*.*", "test", 21750),
    "svhn": VtabTask("svhn_cropped", "3.*.*", "test", 26032, classnames_key="svhn"),
}


def _register(task_name: str, task: VtabTask) -> None:
    name = f"vtab/{task_name}"
    builder = task.builder.split("/", 1)[0]
    how = task.manual + ", then " if task.manual else ""
    register_dataset(
        DatasetSpec(
            name=name,
            task=CLASSIFICATION,
            loader="zsbench.datasets.loaders.tfds:load_vtab",
            sizes={"test": task.size},
            layout=f"{task.builder}/<version {task.version}>/{{dataset_info.json,{builder}-<split>.tfrecord-*}} "
            f"(TFDS data_dir; VTAB test = {task.split})",
            source=how + _TFDS_BUILD.format(builder=task.builder) + "; README root ./data/",
            prompt_key=name,
            required=(task.builder,),
        )
    )


for _name, _task in VTAB_TASKS.items():
    _register(_name, _task)
