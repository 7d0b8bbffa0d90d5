"""GPU throughput of the full-size native InternVL-C (or -G) with random weights.

Builds the model on the meta device, casts it to bf16 (or fp16) there, materialises it directly on the GPU
with ``to_empty`` and a cheap random init (no host copy, no checkpoint needed), then times
``encode_image`` and ``encode_text`` at a few batch sizes. Reports samples/s, peak GPU memory and achieved
TFLOP/s against the usual estimate ``2 x parameters x tokens`` per sample (attention's quadratic term is
left out, so the figure is a slight underestimate). Meant to finish in a few minutes on one H100/H200:

    python benchmarks/gpu/internvl_throughput.py                 # InternVL-C, bf16
    python benchmarks/gpu/internvl_throughput.py --mode G        # adds the QLLaMA query branch
    python benchmarks/gpu/internvl_throughput.py --dry-run       # tiny config, CPU, one step (CI smoke)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

try:
    import zsbench  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from zsbench.models.internvl.config import InternVLConfig, pth_config  # noqa: E402
from zsbench.models.internvl.model import BuildOptions, InternVLModel, build_model  # noqa: E402

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass
class Row:
    tower: str
    batch: int
    samples_per_s: float
    ms_per_batch: float
    peak_gib: float
    tflops: float
    note: str = ""


def build_random(config: InternVLConfig, mode: str, device: str, dtype: torch.dtype) -> InternVLModel:
    """Meta build -> dtype cast on meta (free) -> to_empty on the device -> in-place random init."""
    model = build_model(config, BuildOptions(style="pth" if mode == "C" else "hf", query_branch=mode == "G"))
    model.to(dtype=dtype)
    model.to_empty(device=device)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("ls1", "ls2"):
                p.fill_(0.1)  # the reference's layer-scale init
            elif p.ndim == 1 and leaf == "weight":
                p.fill_(1.0)  # RMSNorm / LayerNorm
            elif p.ndim <= 1:
                p.zero_()  # biases, logit_scale
            else:
                p.normal_(0.0, 0.02)
    model.init_non_persistent_buffers(device)  # RoPE inv_freq was left uninitialised by to_empty
    return model.eval().requires_grad_(False)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flops_per_sample(model: InternVLModel, mode: str, context_length: int) -> tuple[float, float]:
    """(image, text) FLOPs per sample = 2 x (each matmul parameter x the tokens it is applied to)."""
    cfg = model.config
    image_tokens = cfg.vision.num_patches + 1
    image = (count(model.vision_model) + count(model.clip_projector)) * image_tokens
    decoder = count(model.qllama.model) - model.qllama.model.embed_tokens.weight.numel()  # lookup, not a matmul
    cross = [layer.cross_attn for layer in model.qllama.model.layers if layer.cross_attn is not None]
    cross_all = sum(count(c) for c in cross)
    if mode == "G":
        # The queries go through the whole decoder; cross-attention k/v (and norm2) act on every vision token.
        cross_kv = sum(count(c.k_proj) + count(c.v_proj) + count(c.norm2) for c in cross)
        image += (decoder - cross_kv + count(model.clip_projector2)) * cfg.num_query_token + cross_kv * image_tokens
    text = (decoder - cross_all) * context_length  # the text path skips cross-attention
    return 2.0 * image, 2.0 * text


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_call(fn: Callable[[], object], device: str, warmup: int, iters: int) -> float:
    """Seconds per call (mean over ``iters`` after ``warmup``)."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def measure(
    tower: str, batch: int, fn: Callable[[], object], flops_per_sample: float, device: str, warmup: int, iters: int
) -> Row:
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        with torch.inference_mode():
            sec = time_call(fn, device, warmup, iters)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return Row(tower, batch, float("nan"), float("nan"), float("nan"), float("nan"), "OOM")
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return Row(tower, batch, batch / sec, sec * 1e3, peak, flops_per_sample * batch / sec / 1e12)


def report(r: Row) -> None:
    print(
        f"  {r.tower} batch {r.batch}: {r.samples_per_s:.1f}/s, {r.ms_per_batch:.1f} ms, peak {r.peak_gib:.1f} GiB, "
        f"{r.tflops:.1f} TFLOP/s {r.note}",
        flush=True,
    )


def parse_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("C", "G"), default="C")
    ap.add_argument("--dtype", choices=tuple(DTYPES), default="bf16")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--image-batches", default="8,32,64")
    ap.add_argument("--text-batches", default="64,256,512")
    ap.add_argument("--context-length", type=int, default=80, help="text length (the HF adapters pad to 80)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--dry-run", action="store_true", help="tiny config on the CPU, one step of each (a smoke test)")
    args = ap.parse_args(argv)

    if args.dry_run:
        from zsbench.testing.internvl_tiny import tiny_config

        config, device, dtype = tiny_config(), "cpu", torch.float32
        image_batches, text_batches, warmup, iters = [2], [2], 0, 1
    else:
        if not torch.cuda.is_available():
            print("no CUDA device; use --dry-run for a CPU smoke test", file=sys.stderr)
            return 2
        config, device, dtype = pth_config(), args.device, DTYPES[args.dtype]
        image_batches, text_batches = parse_ints(args.image_batches), parse_ints(args.text_batches)
        warmup, iters = args.warmup, args.iters
        torch.backends.cuda.matmul.allow_tf32 = True

    t0 = time.perf_counter()
    model = build_random(config, args.mode, device, dtype)
    sync(device)
    build_s = time.perf_counter() - t0
    n_params = count(model)
    weights_gib = torch.cuda.memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    image_tokens = config.vision.num_patches + 1
    image_flops, text_flops = flops_per_sample(model, args.mode, args.context_length)
    print(
        f"InternVL-{args.mode} {n_params / 1e9:.2f}B params, {str(dtype).removeprefix('torch.')} on {device}; "
        f"built in {build_s:.1f}s; weights {weights_gib:.1f} GiB"
    )
    if device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")

    gen = torch.Generator(device=device).manual_seed(0)
    rows: list[Row] = []
    for b in image_batches:
        px = torch.randn(
            b, 3, config.vision.image_size, config.vision.image_size, device=device, dtype=dtype, generator=gen
        )
        mode = f"InternVL-{args.mode}"
        rows.append(
            measure(
                "image", b, lambda px=px, mode=mode: model.encode_image(px, mode), image_flops, device, warmup, iters
            )
        )
        report(rows[-1])
        del px
    for b in text_batches:
        ids = torch.randint(3, config.text.vocab_size, (b, args.context_length), device=device, generator=gen)
        ids[:, 0], ids[:, -1] = 1, 2  # BOS ... EOS, no padding: the worst case (all 80 positions real)
        rows.append(measure("text", b, lambda ids=ids: model.encode_text(ids), text_flops, device, warmup, iters))
        report(rows[-1])
        del ids

    print()
    print(f"{'tower':<6} {'batch':>6} {'samples/s':>11} {'ms/batch':>10} {'peak GiB':>9} {'TFLOP/s':>9}  note")
    for r in rows:
        print(
            f"{r.tower:<6} {r.batch:>6} {r.samples_per_s:>11.1f} {r.ms_per_batch:>10.1f} {r.peak_gib:>9.1f} "
            f"{r.tflops:>9.1f}  {r.note}"
        )
    print(
        f"(TFLOP/s = 2 x params x tokens per sample: image {image_flops / 1e12:.3f} TFLOP at {image_tokens} tokens, "
        f"text {text_flops / 1e12:.3f} TFLOP at {args.context_length} tokens)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
