"""CLIP_benchmark's ``dummy`` dataset: one image, label 0, classes "blank image" and "noisy image".

Upstream's ``Dummy`` returns ``torch.zeros(3, 224, 224)`` *after* the model transform, i.e. a normalized tensor of
zeros. zsbench always decodes images and applies the model's own transform, so it feeds the 224x224 image whose
pixels are OpenAI CLIP's normalization mean (rounded to uint8): with OpenAI normalization that is a tensor within
half a pixel step (|x| < 0.01) of upstream's zeros. It is a smoke test: one sample, acc1 is 0 or 1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from zsbench.datasets.base import ArrayImageSet, DatasetSpec
from zsbench.datasets.loaders import _common as c

DUMMY_CLASSES = ["blank image", "noisy image"]
# OpenAI CLIP's mean (open_clip OPENAI_DATASET_MEAN) in 0..255, rounded.
MEAN_RGB = tuple(round(m * 255) for m in (0.48145466, 0.4578275, 0.40821073))


def load_dummy(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    import numpy as np

    c.check_options(spec, options)
    c.check_split(spec, split)
    arrays = np.empty((1, 224, 224, 3), dtype=np.uint8)
    arrays[:] = MEAN_RGB
    digest = hashlib.sha256(arrays.tobytes()).hexdigest()
    images = ArrayImageSet(arrays, "dummy", digest, mode="RGB")
    return c.classification(
        spec, root, split, language, images, [0], options, dataset_classnames=list(DUMMY_CLASSES),
        info={"note": "CLIP_benchmark feeds a zero tensor after the transform; zsbench feeds the CLIP-mean image"},
    )  # fmt: skip
