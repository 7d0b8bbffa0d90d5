"""GPU images/s of zsbench's whole image pipeline vs the model alone, and achieved TFLOP/s vs the card's peak.

For random-weight ViT-B-32, ViT-L-14 (open_clip, bf16 autocast = zsbench's GPU default) and the full-size
InternVL-C (native, bf16 weights, built on the meta device and materialised on the GPU without a checkpoint):

* pipeline: ``zsbench.engine.encode.encode_images`` over a procedural JPEG folder (DataLoader workers decode and
  transform, pinned memory, host-to-device copy, encode) -- what ``zsbench eval`` does per dataset;
* model alone: ``ZeroShotModel.encode_image`` on the same batches, pre-made and already on the GPU.

TFLOP/s uses the usual estimate ``2 x vision parameters x tokens`` per image (attention's quadratic term left out,
so slightly low); peak is the card's dense bf16 figure from a small table by device name (else n/a). Meant to
finish in a few minutes on one H100/H200:

    python benchmarks/gpu/pipeline_throughput.py                # all three models
    python benchmarks/gpu/pipeline_throughput.py --models ViT-B-32 --workers 16
    python benchmarks/gpu/pipeline_throughput.py --dry-run      # CPU, tiny sizes, one pass (a smoke test)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

try:
    import zsbench  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from zsbench.datasets.base import FileImageSet  # noqa: E402
from zsbench.engine.encode import LoaderSettings, encode_images  # noqa: E402
from zsbench.models.base import Precision, ZeroShotModel  # noqa: E402

# Dense bf16 tensor-core peak (TFLOP/s, no sparsity), matched by substring of torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = (("H200", 989.0), ("H100 80GB HBM3", 989.0), ("H100 SXM", 989.0))
MODELS = ("ViT-B-32", "ViT-L-14", "InternVL-C")
# (images, batch size) per model on a GPU: large enough for steady state, small enough for < 10 min in all.
GPU_SIZES = {"ViT-B-32": (8192, 512), "ViT-L-14": (4096, 256), "InternVL-C": (1024, 64)}


@dataclass
class Row:
    model: str
    images: int
    batch: int
    pipeline_ips: float
    alone_ips: float
    tflops: float
    peak: float | None
    note: str = ""


def peak_tflops(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for key, v in PEAK_BF16_TFLOPS if key in name), None)


def make_jpegs(folder: Path, n: int, size: int) -> FileImageSet:
    """``n`` procedural JPEGs (noise + gradient + a rectangle), larger than 224 px so resizing is real work."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    names = []
    ramp = np.linspace(0, 80, size)[None, :, None]
    for i in range(n):
        arr = np.clip(rng.integers(0, 256, 3)[None, None] + rng.normal(0, 30, (size, size, 3)) + ramp, 0, 255)
        x, y = (int(v) for v in rng.integers(0, size // 2, 2))
        arr[y : y + size // 3, x : x + size // 3] = rng.integers(0, 256, 3)
        name = f"{i:06d}.jpg"
        Image.fromarray(arr.astype(np.uint8)).save(folder / name, quality=90)
        names.append(name)
    return FileImageSet(folder, names)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def open_clip_model(name: str, device: str, precision: str) -> tuple[ZeroShotModel, int, int]:
    """(model, vision parameters, tokens per image) for a random-weight open_clip model."""
    from zsbench.models import load_model

    model = load_model("open_clip", name, "", device=device, precision=precision)
    visual = model.module.visual
    grid = visual.grid_size
    return model, sum(p.numel() for p in visual.parameters()), grid[0] * grid[1] + 1


def internvl_model(device: str, dry_run: bool) -> tuple[ZeroShotModel, int, int]:
    """Full-size InternVL-C (tiny config on --dry-run): meta build, bf16 cast on meta, ``to_empty`` on the device,
    cheap in-place random init; wrapped in zsbench's model protocol with its classification transform."""
    from zsbench.models.internvl.config import pth_config
    from zsbench.models.internvl.model import BuildOptions, build_model
    from zsbench.models.internvl.transforms import build_transform

    if dry_run:
        from zsbench.testing.internvl_tiny import tiny_config

        config, dtype, prec = tiny_config(), torch.float32, Precision("fp32", "fp32", None)
    else:
        config, dtype, prec = pth_config(), torch.bfloat16, Precision("bf16", "bf16", None)
    net = build_model(config, BuildOptions(style="pth", query_branch=False))
    net.to(dtype=dtype)
    net.to_empty(device=device)
    with torch.no_grad():
        for pname, p in net.named_parameters():
            leaf = pname.rsplit(".", 1)[-1]
            if leaf in ("ls1", "ls2"):
                p.fill_(0.1)  # layer scale, as the reference initialises it
            elif p.ndim == 1 and leaf == "weight":
                p.fill_(1.0)  # norms
            elif p.ndim <= 1:
                p.zero_()
            else:
                p.normal_(0.0, 0.02)
    net.init_non_persistent_buffers(device)  # RoPE frequencies were left empty by to_empty
    net.eval().requires_grad_(False)
    model = ZeroShotModel(
        name="InternVL-C",
        model_type="internvl",
        pretrained="",
        transform=build_transform("classification", config.vision.image_size),
        tokenize_fn=lambda texts: texts,
        image_fn=lambda px: net.encode_image(px, "InternVL-C"),
        text_fn=net.encode_text,
        device=device,
        precision=prec,
        module=net,
    )
    vision = sum(p.numel() for p in net.vision_model.parameters()) + sum(
        p.numel() for p in net.clip_projector.parameters()
    )
    return model, vision, config.vision.num_patches + 1


def timed(fn: Callable[[], Any], device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def measure(
    name: str,
    model: ZeroShotModel,
    vision_params: int,
    tokens: int,
    images: FileImageSet,
    n: int,
    batch: int,
    workers: int,
    device: str,
) -> Row:
    settings = LoaderSettings(batch_size=batch, num_workers=workers, progress=False)
    idx = list(range(n))
    # Pre-made batches on the device in the weights' dtype: what the model alone sees.
    batches = [
        torch.stack([model.transform(images.load_image(i)) for i in idx[s : s + batch]]).to(
            device, dtype=model.precision.weights_dtype
        )
        for s in range(0, n, batch)
    ]
    model.encode_image(batches[0])  # warm-up: kernels, cuBLAS workspaces, autotuning
    alone_s = timed(lambda: [model.encode_image(b) for b in batches], device)
    batches.clear()  # free the device memory before the pipeline runs
    pipe_s = timed(lambda: encode_images(model, images, settings, indices=idx, desc=name), device)
    tflops = 2.0 * vision_params * tokens * n / alone_s / 1e12
    return Row(name, n, batch, n / pipe_s, n / alone_s, tflops, peak_tflops(device))


def print_table(rows: Sequence[Row], device: str, workers: int) -> None:
    print()
    print(
        f"device: {torch.cuda.get_device_name(device) if device.startswith('cuda') else 'cpu'}; "
        f"torch {torch.__version__}; DataLoader workers {workers}"
    )
    head = (
        f"{'model':<11} {'images':>6} {'batch':>5} {'pipeline img/s':>14} {'model img/s':>11} {'pipe/model':>10} "
        f"{'TFLOP/s':>8} {'of peak':>8}  note"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        of_peak = f"{100 * r.tflops / r.peak:.1f}%" if r.peak else "n/a"
        print(
            f"{r.model:<11} {r.images:>6} {r.batch:>5} {r.pipeline_ips:>14.1f} {r.alone_ips:>11.1f} "
            f"{r.pipeline_ips / r.alone_ips:>10.2f} {r.tflops:>8.1f} {of_peak:>8}  {r.note}"
        )
    print("(TFLOP/s of the model alone = 2 x vision params x tokens per image; peak = dense bf16 by device name)")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="DataLoader workers")
    ap.add_argument("--jpeg-size", type=int, default=320, help="side of the procedural JPEGs")
    ap.add_argument("--dry-run", action="store_true", help="CPU, a few tiny batches, tiny InternVL (a smoke test)")
    args = ap.parse_args(argv)

    if args.dry_run:
        device, precision, workers = "cpu", "fp32", 1
        sizes = {m: (4, 2) for m in MODELS}
    else:
        if not torch.cuda.is_available():
            print("no CUDA device; use --dry-run for a CPU smoke test", file=sys.stderr)
            return 2
        device, precision, workers = args.device, "auto", args.workers  # auto = bf16 autocast on H100/H200
        sizes = GPU_SIZES
        torch.backends.cuda.matmul.allow_tf32 = True
    n_max = max(sizes[m][0] for m in args.models)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="zs-gpu-jpeg-") as tmp:
        t0 = time.perf_counter()
        images = make_jpegs(Path(tmp), n_max, args.jpeg_size)
        print(f"made {n_max} JPEGs of {args.jpeg_size} px in {time.perf_counter() - t0:.1f}s", flush=True)
        for name in args.models:
            n, batch = sizes[name]
            t0 = time.perf_counter()
            try:
                if name == "InternVL-C":
                    model, vparams, tokens = internvl_model(device, args.dry_run)
                else:
                    model, vparams, tokens = open_clip_model(name, device, precision)
            except Exception as e:  # noqa: BLE001 -- report and go on with the other models
                print(f"{name}: skipped, cannot build it: {type(e).__name__}: {e}", flush=True)
                continue
            print(
                f"{name}: built in {time.perf_counter() - t0:.1f}s, {vparams / 1e6:.0f}M vision params, "
                f"{tokens} tokens/image, precision {model.precision.name}",
                flush=True,
            )
            try:
                row = measure(name, model, vparams, tokens, images, n, batch, workers, device)
            except torch.cuda.OutOfMemoryError:
                row = Row(name, n, batch, float("nan"), float("nan"), float("nan"), None, "OOM")
            rows.append(row)
            print(f"  pipeline {row.pipeline_ips:.1f} img/s, model alone {row.alone_ips:.1f} img/s", flush=True)
            del model
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    print_table(rows, device, workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
