"""Dataset specs: CLIP_benchmark main's imagenet1k-unverified, imagenet-w and pcam (builder.py 1.6.2 layouts).

Sizes: ImageNet-1k validation 50,000 (as ``imagenet1k``); PatchCamelyon 262,144 train, 32,768 val and 32,768 test
patches (github.com/basveeling/pcam README, "Numbers"). The ImageNet train split of imagenet1k-unverified has no
recorded size here (its count is not checked).
"""

from zsbench.datasets import register_dataset
from zsbench.datasets.base import CLASSIFICATION, DatasetSpec

_IV = "zsbench.datasets.loaders.classification_more"
_IMAGENET_LANGS = ("en", "cn", "jp", "ar", "it")

register_dataset(
    DatasetSpec(
        name="imagenet1k-unverified",
        task=CLASSIFICATION,
        loader=f"{_IV}:load_imagenet1k_unverified",
        splits=("test", "train"),
        languages=_IMAGENET_LANGS,
        sizes={"test": 50000},
        layout="val/<wnid>/*.JPEG (test) and train/<wnid>/*.JPEG (train): torchvision ImageFolder over "
        "root/{val,train}, already extracted (no devkit check, hence 'unverified')",
        source="https://image-net.org (login required), extracted into wnid folders",
        prompt_key="imagenet1k",
        required=("val",),
        license="ImageNet terms of access (non-commercial research)",
    )
)

register_dataset(
    DatasetSpec(
        name="imagenet-w",
        task=CLASSIFICATION,
        loader=f"{_IV}:load_imagenet_w",
        languages=_IMAGENET_LANGS,
        sizes={"test": 50000},
        layout="as imagenet1k: ILSVRC2012_devkit_t12.tar.gz + ILSVRC2012_img_val.tar, or val/<wnid>/*.JPEG; the "
        "watermark of the imagenet_w package is drawn on each image after the model's centre crop",
        source="https://image-net.org (login required); watermark: pip install imagenet-w",
        prompt_key="imagenet1k",
        required=("ILSVRC2012_img_val.tar|val", "ILSVRC2012_devkit_t12.tar.gz|val"),
        license="ImageNet terms of access; imagenet_w package: see its license",
        citation="Li et al. 2023, A Whac-A-Mole Dilemma: Shortcuts Come in Multiples Where Mitigating One "
        "Amplifies Others (CVPR 2023)",
    )
)

register_dataset(
    DatasetSpec(
        name="pcam",
        task=CLASSIFICATION,
        loader=f"{_IV}:load_pcam",
        splits=("test", "val", "train"),
        sizes={"test": 32768, "val": 32768, "train": 262144},
        layout="pcam/camelyonpatch_level_2_split_{test,valid,train}_{x,y}.h5 (torchvision PCAM; x: N x 96 x 96 x 3 "
        "uint8, y: N x 1 x 1 x 1); needs h5py",
        source="https://github.com/basveeling/pcam (Google Drive; gunzip the .h5.gz files into root/pcam/); "
        "pip install h5py",
        required=("pcam",),
        license="PatchCamelyon: CC0",
        citation="Veeling et al. 2018, Rotation Equivariant CNNs for Digital Pathology (arXiv:1806.03962)",
    )
)
