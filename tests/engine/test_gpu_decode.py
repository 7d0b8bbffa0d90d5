"""The GPU-decode path's machinery, exercised with torchvision's CPU JPEG decoder (no GPU here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from zsbench.datasets.base import FileImageSet
from zsbench.engine.encode import LoaderSettings, encode_images
from zsbench.engine.gpu_decode import encode_images_gpu_decode, supports_gpu_decode, tensor_transform
from zsbench.testing import fake


def _jpegs(tmp_path, n=6):
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg", quality=95)
    return FileImageSet(tmp_path, [f"{i}.jpg" for i in range(n)])


def test_tensor_transform_follows_the_pil_one(tmp_path):
    pil = T.Compose([T.Resize(32, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(32),
                     lambda im: im.convert("RGB"), T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)])  # fmt: skip
    images = _jpegs(tmp_path, 1)
    from torchvision.io import decode_jpeg, read_file

    a = pil(images.load_image(0))
    b = tensor_transform(pil)(decode_jpeg(read_file(str(images.path(0)))))
    assert a.shape == b.shape == (3, 32, 32)
    # decoders and tensor resizing differ slightly from PIL; far below what changes a prediction
    assert (a - b).abs().mean() < 0.05


def test_gpu_decode_path_gives_close_embeddings(tmp_path):
    images = _jpegs(tmp_path)
    assert supports_gpu_decode(images)
    model = fake.load_fake("m", "p", device="cpu", precision="fp32")
    model.transform = T.Compose([T.Resize(8), T.CenterCrop(8), T.ToTensor()])
    settings = LoaderSettings(batch_size=4, num_workers=0, progress=False)
    ref, _ = encode_images(model, images, settings)
    got = encode_images_gpu_decode(model, images, settings)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=0.05)


def test_non_jpeg_sets_fall_back(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    assert not supports_gpu_decode(FileImageSet(tmp_path, ["a.png"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (decode_jpeg on the device)")
def test_cuda_decode(tmp_path):
    images = _jpegs(tmp_path)
    model = fake.load_fake("m", "p", device="cuda", precision="fp32")
    model.transform = T.Compose([T.Resize(8), T.CenterCrop(8), T.ToTensor()])
    assert encode_images_gpu_decode(model, images, LoaderSettings(batch_size=4, num_workers=0)).shape[0] == 6
