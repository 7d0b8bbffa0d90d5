"""The fine-tuned retrieval checkpoints' 364 px path (InternVL-14B-Flickr30K-FT-364px, ...-FlickrCN-FT-364px).

Their ``config.json`` keeps ``vision_config.image_size`` 224 and sets ``force_image_size`` 364; the reference
(``InternVLModel.__init__``) resizes the position embedding to the 26x26 grid before loading, the checkpoint stores
it at that size (677 positions), and the transforms use 364. Before: zsbench refused any ``force_image_size``
("position-embedding interpolation is not implemented"), so the four fine-tuned cases could never run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from zsbench.errors import CheckpointError
from zsbench.models.internvl.checkpoint import load_hf_folder
from zsbench.models.internvl.config import load_hf_config
from zsbench.models.internvl.transforms import build_transform
from zsbench.testing.internvl_tiny import tiny_config, write_tiny_hf_folder

BASE, FORCED = 56, 364  # the tiny model's "224" and the fine-tunes' real size: a 26x26 grid, 677 positions


def _fine_tuned_layout(folder: Path, base: int, forced: Any) -> None:
    """Rewrite ``config.json`` as the fine-tuning script saves it: base image size kept, force_image_size set."""
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg["vision_config"]["image_size"] = base
    cfg["force_image_size"] = forced
    path.write_text(json.dumps(cfg))


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny HF folder whose weights hold the 364 px position embedding and whose config says force_image_size."""
    folder = write_tiny_hf_folder(
        tmp_path_factory.mktemp("ft364") / "ft", None, tiny_config(image_size=FORCED), dtype=torch.float32
    )
    _fine_tuned_layout(folder, BASE, FORCED)
    return folder


def test_force_image_size_sets_the_grid_and_the_transforms(fine_tuned: Path) -> None:
    from PIL import Image

    cfg = load_hf_config(fine_tuned)
    assert cfg.vision.image_size == FORCED and cfg.vision.num_patches == 26 * 26
    img = Image.new("RGB", (500, 333), (10, 200, 30))  # not square: retrieval squashes, classification crops
    for kind in ("retrieval", "classification"):
        assert build_transform(kind, cfg.vision.image_size)(img).shape == (3, FORCED, FORCED)


@pytest.mark.parametrize("mode", ["InternVL-C", "InternVL-G"])
def test_forward_at_364_runs_with_677_tokens(fine_tuned: Path, mode: str) -> None:
    net = load_hf_folder(fine_tuned, mode=mode)
    pixels = torch.randn(2, 3, FORCED, FORCED, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert net.vision_hidden_states(pixels).shape == (2, 26 * 26 + 1, 32)
        emb = net.encode_image(pixels, mode)
    assert emb.shape == (2, 16) and torch.isfinite(emb).all()
    # the stored 677-position embedding is used as it is, not re-interpolated
    assert net.vision_model.embeddings.position_embedding.shape == (1, 677, 32)


def test_a_224_position_embedding_with_force_364_is_refused(tmp_path: Path) -> None:
    # The reference's from_pretrained fails on this size mismatch too: zsbench never interpolates silently.
    folder = write_tiny_hf_folder(tmp_path / "ft", None, tiny_config(image_size=BASE), dtype=torch.float32)
    _fine_tuned_layout(folder, BASE, FORCED)
    with pytest.raises(CheckpointError) as err:
        load_hf_folder(folder, mode="InternVL-C")
    message = str(err.value)
    assert "\n" not in message and "position_embedding" in message and "677" in message and "17" in message


@pytest.mark.parametrize("value", ["364", 0, -364, 364.0, True])
def test_a_force_image_size_that_is_not_a_positive_integer_is_refused(tmp_path: Path, value: Any) -> None:
    folder = write_tiny_hf_folder(tmp_path / "ft", None, tiny_config(image_size=BASE), dtype=torch.float32)
    _fine_tuned_layout(folder, BASE, value)
    with pytest.raises(CheckpointError, match="force_image_size"):
        load_hf_config(folder)


@pytest.mark.golden
def test_golden_tiny_model_at_a_364_like_size(golden_files: Any, tmp_path: Path) -> None:
    """The golden (reference-checked) tiny model, position embedding resized as the fine-tuning script does
    (bicubic on the grid, align_corners=False) from 56 px to 98 px (x1.75, as 224 -> 364 is x1.625)."""
    from safetensors.torch import load_file, save_file

    src = golden_files.path("tiny_hf_folder")
    out = golden_files.tensors("tiny_outputs.safetensors")
    pixels = golden_files.tensors("tiny_inputs.safetensors")["pixel_values"]
    folder = tmp_path / "golden_ft"
    shutil.copytree(src, folder)

    _fine_tuned_layout(folder, BASE, BASE)  # force == base: a no-op, the reference's numbers exactly
    same = load_hf_folder(folder, mode="InternVL-G")
    with torch.inference_mode():
        torch.testing.assert_close(same.encode_image(pixels, "InternVL-G"), out["g_image_embeds"], atol=1e-5, rtol=0)

    key = "vision_model.embeddings.position_embedding"
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shard = folder / index["weight_map"][key]
    tensors = load_file(str(shard))
    pos = tensors[key]  # (1, 17, 64): class token + 4x4 grid
    grid = pos[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=7, mode="bicubic", align_corners=False)
    tensors[key] = torch.cat([pos[:, :1], grid.reshape(1, pos.shape[-1], -1).permute(0, 2, 1)], 1).contiguous()
    save_file(tensors, str(shard), metadata={"format": "pt"})
    _fine_tuned_layout(folder, BASE, 98)

    cfg = load_hf_config(folder)
    assert cfg.vision.image_size == 98 and cfg.vision.num_patches == 49
    net = load_hf_folder(folder, mode="InternVL-G")
    big = F.interpolate(pixels, size=98, mode="bicubic", align_corners=False)
    with torch.inference_mode():
        assert net.vision_hidden_states(big).shape == (3, 50, 64)
        emb = net.encode_image(big, "InternVL-G")
    assert emb.shape == out["g_image_embeds"].shape and torch.isfinite(emb).all()


def test_full_load_transforms_to_364(tmp_path: Path, tokenizer_model: Path) -> None:
    """Through ``load()``, as a regression case runs it: the model's own transform gives 364 x 364 pixels."""
    from PIL import Image

    from zsbench.models.internvl import load

    folder = write_tiny_hf_folder(tmp_path / "ft", tokenizer_model, tiny_config(image_size=FORCED), dtype=torch.float32)
    _fine_tuned_layout(folder, BASE, FORCED)
    model = load("internvl_g_retrieval_hf", str(folder), device="cpu", precision="fp32")
    pixels = model.transform(Image.new("RGB", (640, 480), (120, 50, 220)))
    assert pixels.shape == (3, FORCED, FORCED)
    assert model.identity["preprocess"]["image_size"] == FORCED  # in the cache key too
    with torch.inference_mode():
        assert model.image_fn(pixels[None]).shape == (1, 16)
