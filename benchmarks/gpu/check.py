"""The one GPU check: run it the moment a GPU is lent. Finishes in under 8 minutes on one H100/H200.

    python benchmarks/gpu/check.py              # JSON to --out, default $OUT/gpu_check.json (else ./gpu_check.json)
    python benchmarks/gpu/check.py --dry-run    # CPU, tiny configs, well under a minute (tests/test_gpu_check.py)

Sections (each a function below; see benchmarks/gpu/README.md for what each goal means):

1. InternVL towers: full-size InternVL-C and -G with random weights built directly on the GPU, fp16 and bf16:
   image and text throughput over batch sizes (stops at OOM), peak memory, TFLOP/s against the card's dense peak;
   goal: the InternViT-6B image tower at >= 60% of peak at its best batch size. Projects the InternVL README's 42
   InternVL-C cases (each image set encoded once per model) onto the measured images/s; goal: < 60 minutes.
2. Pipeline: zsbench's engine (``zsbench.evaluate``: decode, transform, encode) on synthetic 224 px JPEGs vs the
   same model alone on pre-made tensors, ``--compile`` and ``--gpu_decode`` on and off; goal: >= 0.9.
3. torchrun: ``torch.distributed.run --nproc-per-node 2 -m zsbench eval`` (NCCL) gives the metrics of one process
   (needs 2 GPUs; the dry run uses 2 gloo processes on the CPU).
4. ``pytest -m gpu``: the regression-suite machinery end to end on two snapshot cases with the random full-size
   InternVL-C (fp16, the network built once for both cases, the report written); see random_internvl_plugin.py.

The script keeps its own time budget (``--budget``): a step that would not fit is skipped with a note, and so is a
section, keeping the minimum the later sections need. It prints one line per measurement as it goes, the elapsed
time of each section, and ONE table at the end. Every row is a measurement or says ``skipped: <reason>``; a row
saying ``error: ...`` is a failure of the check itself (exit status 1). Missed goals are reported, not fatal.
From zsbench it uses the public API (``load_model``, ``evaluate``), the CLI, the InternVL model builder, the tiny
test checkpoints (``zsbench.testing.internvl_tiny``), the dataset catalog and the pytest plugin; what zsbench does not
offer (random full-size InternVL weights in the pytest run, a fallback tokenizer, the README-suite count) is here.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
try:
    import zsbench  # noqa: F401
except ImportError:  # a checkout without `pip install -e .` (the GPU machine)
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

# Dense (no sparsity) bf16/fp16 tensor-core peaks in TFLOP/s, matched in order against torch.cuda.get_device_name():
# "NVIDIA H100 80GB HBM3" is the SXM card; NVL variants before their plain names.
PEAK_TFLOPS = (
    ("H200 NVL", 835.0),
    ("H200", 989.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
)
TOWER_GOAL = 0.60  # InternViT-6B image tower: fraction of the dense peak at the best batch size
SUITE_GOAL_MIN = 60.0  # the README's 42 InternVL-C cases on one GPU, minutes
PIPELINE_GOAL = 0.90  # engine images/s over model-alone images/s
DEFAULT_BUDGET_S = 420.0  # 7 min (+ start-up, + an in-process step that overruns): < 8 min in all
TEXT_PROJECTION_LEN = 32  # tokens: prompts padded to the batch's longest ('summarize:' + a short sentence)


# -- rows, budget, context ------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table: a measurement (``value``), or ``note`` = "skipped: <why>" / "error: <what>"."""

    section: str
    check: str
    value: float | None = None
    unit: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Budget:
    """Wall-clock budget of the whole check; ``reserve_s`` is kept for the sections still to come."""

    total_s: float
    start: float = field(default_factory=time.perf_counter)
    reserve_s: float = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.total_s - self.elapsed()

    def spare(self) -> float:
        """What the current section may still spend."""
        return self.left() - self.reserve_s

    def allows(self, need_s: float) -> bool:
        return self.spare() >= need_s


@dataclass
class Context:
    dry_run: bool
    device: str
    budget: Budget
    tmp: Path
    workers: int
    args: argparse.Namespace
    rows: list[Row] = field(default_factory=list)

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        value = "" if row.value is None else f"{_fmt(row.value)} {row.unit}"
        verdict = {True: " [goal met]", False: " [goal MISSED]", None: ""}[row.met]
        print(f"  {row.check}: {value}{verdict} {row.note}".rstrip(), flush=True)
        return row

    def skip(self, section: str, check: str, reason: str) -> Row:
        return self.add(Row(section, check, note=f"skipped: {reason}"))

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def free(self) -> None:
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()

    def env(self, *extra_paths: Path) -> dict[str, str]:
        """Environment of the subprocesses: this checkout importable, offline, the check's own cache folder."""
        paths = [str(p) for p in (*extra_paths, REPO)] + [p for p in [os.environ.get("PYTHONPATH", "")] if p]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _fmt(v: float) -> str:
    if float(v).is_integer() or abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def peak_for_name(name: str) -> tuple[float | None, str]:
    """(dense bf16/fp16 peak, which figure it is) for a ``torch.cuda.get_device_name()``; (None, why) if unknown."""
    for key, value in PEAK_TFLOPS:
        if key in name:
            return value, f"{key} dense bf16/fp16 peak {value:.0f} TFLOP/s ({name})"
    return None, f"no peak figure for {name!r} (known: {', '.join(k for k, _ in PEAK_TFLOPS)})"


def peak_tflops(device: str) -> tuple[float | None, str]:
    if not device.startswith("cuda"):
        return None, "no peak figure on the CPU"
    return peak_for_name(torch.cuda.get_device_name(device))


def bench(fn: Callable[[], object], ctx: Context, min_time: float) -> float:
    """Seconds per call: warm-up, then calls until ``min_time`` has passed (at least 3 on a GPU)."""
    warmup, min_iters = (2, 3) if ctx.cuda else (1, 1)
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        ctx.sync()
        iters, start = 0, time.perf_counter()
        while iters < min_iters or (time.perf_counter() - start < min_time and iters < 50):
            fn()
            iters += 1
            if iters >= min_iters:
                ctx.sync()
    return (time.perf_counter() - start) / iters


def run_command(cmd: Sequence[str], ctx: Context, *, env: dict[str, str], cwd: Path | None = None) -> tuple[int, str]:
    """Run ``cmd`` in its own process group within the budget; returns (exit status, output).

    On timeout the whole group (torchrun and its ranks too) is killed, and TimeoutError raised.
    """
    timeout = max(5.0, ctx.budget.spare())
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this Popen started, nothing else
        proc.communicate()
        raise TimeoutError(f"timed out after {timeout:.0f} s (budget): {' '.join(cmd[:6])} ...") from None
    return proc.returncode, out


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# -- section 1: InternVL towers ---------------------------------------------------------------------------------------
def section_towers(ctx: Context, sec: str) -> None:
    from internvl_throughput import build_random, flops_per_sample

    from zsbench.models.internvl.config import pth_config

    if ctx.dry_run:
        from zsbench.testing.internvl_tiny import tiny_config

        config = tiny_config()
        image_batches, g_batches, text_batches, min_time = [2, 4], [2], {TEXT_PROJECTION_LEN: [4], 80: [4]}, 0.0
    else:
        config = pth_config()
        image_batches, g_batches, min_time = [8, 16, 32, 64, 128, 256], [16, 64, 128], 1.0
        text_batches = {TEXT_PROJECTION_LEN: [256, 1024], 80: [256]}
    peak, peak_note = peak_tflops(ctx.device)
    print(f"  peak used: {peak_note}", flush=True)
    from zsbench.engine.estimate import internvl_shape, tower_peak_bytes

    best_image: dict[str, Row] = {}  # dtype -> best InternVL-C image row
    best_text: dict[str, Row] = {}  # dtype -> best text row at TEXT_PROJECTION_LEN
    for dname, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        for mode in ("C", "G"):
            tower = f"InternVL-{mode} {dname}"
            if not ctx.budget.allows(20 if ctx.cuda else 1):
                ctx.skip(sec, tower, f"budget ({ctx.budget.spare():.0f} s left for this section)")
                continue
            t0 = time.perf_counter()
            model = None
            try:
                model = build_random(config, mode, ctx.device, dtype)
                ctx.sync()
            except torch.cuda.OutOfMemoryError:
                pass  # freed below, outside the handler: its traceback still holds the frames
            if model is None:
                ctx.free()
                ctx.skip(sec, f"{tower} build", "OOM while materialising the weights")
                continue
            weights_gib = torch.cuda.memory_allocated() / 2**30 if ctx.cuda else float("nan")
            print(
                f"  {tower}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params built on {ctx.device} "
                f"in {time.perf_counter() - t0:.1f} s, weights {weights_gib:.1f} GiB",
                flush=True,
            )
            gen = torch.Generator(device=ctx.device).manual_seed(0)
            side = config.vision.image_size
            image_flops, _ = flops_per_sample(model, mode, 80)
            sweep = image_batches if mode == "C" else g_batches

            def image_input(b: int, side: int = side, gen: torch.Generator = gen, dtype: torch.dtype = dtype) -> Any:
                return torch.randn(b, 3, side, side, device=ctx.device, dtype=dtype, generator=gen)

            # zsbench plan's memory model for this tower (weights + working set), beside each measured peak
            shape = internvl_shape(config, f"InternVL-{mode}")
            nbytes = torch.empty((), dtype=dtype).element_size()
            rows = sweep_batches(
                ctx, sec, f"{tower} image", sweep, image_input,
                lambda x, m=model, mode=mode: m.encode_image(x, f"InternVL-{mode}"),
                image_flops, peak, min_time, "img/s",
                estimate=lambda b, s=shape, n=nbytes: tower_peak_bytes(s, "image", b, n),
            )  # fmt: skip
            if mode == "C" and rows:
                best_image[dname] = max(rows, key=lambda r: r.value or 0.0)
            if mode == "C":
                for length, batches in text_batches.items():
                    _, text_flops = flops_per_sample(model, mode, length)
                    vocab = config.text.vocab_size

                    def text_input(b: int, length: int = length, vocab: int = vocab, gen: torch.Generator = gen) -> Any:
                        ids = torch.randint(3, vocab, (b, length), device=ctx.device, generator=gen)
                        ids[:, 0], ids[:, -1] = 1, 2  # BOS ... EOS, no padding
                        return ids

                    rows = sweep_batches(
                        ctx, sec, f"{tower} text len {length}", batches, text_input,
                        lambda ids, m=model: m.encode_text(ids), text_flops, peak, min_time, "texts/s",
                        estimate=lambda b, s=shape, n=nbytes, t=length: tower_peak_bytes(s, "text", b, n, tokens=t),
                    )  # fmt: skip
                    if length == TEXT_PROJECTION_LEN and rows:
                        best_text[dname] = max(rows, key=lambda r: r.value or 0.0)
            del model
            ctx.free()

    for dname, row in best_image.items():
        pct = row.extra.get("pct_peak")
        ctx.add(
            Row(
                sec,
                f"InternViT-6B image tower (InternVL-C {dname}), best batch",
                row.extra["tflops"],
                "TFLOP/s",
                goal=f">= {TOWER_GOAL:.0%} of peak" + (f" ({TOWER_GOAL * peak:.0f})" if peak else ""),
                met=None if pct is None else pct >= 100 * TOWER_GOAL,
                note=f"batch {row.extra['batch']}, {row.value:.1f} img/s, "
                + (f"{pct:.1f}% of {peak:.0f}" if pct is not None else peak_note),
                extra={**row.extra, "peak_tflops": peak, "peak_source": peak_note},
            )
        )
    project_suite(ctx, sec, best_image.get("fp16"), best_text.get("fp16"))


def sweep_batches(
    ctx: Context,
    sec: str,
    what: str,
    batches: Sequence[int],
    make_input: Callable[[int], Any],
    fn: Callable[[Any], Any],
    flops_per_sample: float,
    peak: float | None,
    min_time: float,
    unit: str,
    estimate: Callable[[int], int] | None = None,
) -> list[Row]:
    """Throughput at each batch size, ascending; stops at the first OOM (that row says so) or when the budget ends.
    ``estimate(batch)``: zsbench's estimated peak bytes, recorded next to the measured peak (``memory`` column)."""
    rows: list[Row] = []
    last_call_s, last_b = None, None
    for b in batches:
        # warm-up + timed calls: about 5 calls of this batch, extrapolated from the previous one
        need = 5 * last_call_s * b / last_b if last_call_s else (10 if ctx.cuda else 0.5)
        if not ctx.budget.allows(need):
            ctx.skip(sec, f"{what} batch {b}", f"budget ({ctx.budget.spare():.0f} s left, needs ~{need:.0f} s)")
            break
        if ctx.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        sec_per_call = None
        try:
            x = make_input(b)
            sec_per_call = bench(lambda x=x: fn(x), ctx, min_time)
        except torch.cuda.OutOfMemoryError:
            pass  # freed below, outside the handler: its traceback still holds the activations
        x = None
        if sec_per_call is None:
            ctx.free()
            ctx.skip(sec, f"{what} batch {b}", "OOM (larger batches not tried)")
            break
        last_call_s, last_b = sec_per_call, b
        peak_gib = torch.cuda.max_memory_allocated() / 2**30 if ctx.cuda else None
        tflops = flops_per_sample * b / sec_per_call / 1e12
        pct = 100 * tflops / peak if peak else None
        note = f"{sec_per_call * 1e3:.1f} ms/batch, {tflops:.1f} TFLOP/s"
        note += f" ({pct:.1f}% of peak)" if pct is not None else ""
        note += f", peak mem {peak_gib:.1f} GiB" if peak_gib is not None else ""
        est_gib = estimate(b) / 2**30 if estimate is not None else None
        extra = {"batch": b, "ms_per_batch": sec_per_call * 1e3, "tflops": tflops, "pct_peak": pct,
                 "peak_mem_gib": peak_gib, "tflop_per_sample": flops_per_sample / 1e12,
                 "est_mem_gib": est_gib,
                 "mem_vs_est": peak_gib / est_gib if peak_gib is not None and est_gib else None}  # fmt: skip
        rows.append(ctx.add(Row(sec, f"{what} batch {b}", b / sec_per_call, unit, note=note, extra=extra)))
    return rows


@dataclass
class SuiteCount:
    cases: int
    images: dict[tuple[str, str, str], int]  # (model, dataset, split key) -> images, each image set once per model
    texts: dict[tuple[str, str, str], int | None]  # (model, dataset, language) -> prompts or captions; None: unknown


def count_readme_suite(expected_dir: Path) -> SuiteCount:
    """Images and texts of the InternVL README's InternVL-C cases (``expected/internvl_c_*``), from the catalog.

    An image set is (model, dataset, split key): the key is ``<split>@<language>`` where the catalog lists a size for
    it (COCO-CN is its own 1000 images), else ``<split>``; so the five ImageNet-1k languages count 50,000 images once
    per model. Texts: classes x templates where zsbench bundles the class names (others come from the dataset's own
    files: None), captions from the catalog for retrieval.
    """
    from zsbench.datasets import RETRIEVAL, get_spec
    from zsbench.datasets.prompts import classnames, templates
    from zsbench.errors import ZsbenchError

    files = sorted(expected_dir.glob("internvl_c_*/*.json"))
    images: dict[tuple[str, str, str], int] = {}
    texts: dict[tuple[str, str, str], int | None] = {}
    for f in files:
        case = json.loads(f.read_text(encoding="utf-8"))
        model, dataset, language = case["model"], case["dataset"], case["language"]
        split = case.get("split") or "test"
        spec = get_spec(dataset)
        key = f"{split}@{language}" if f"{split}@{language}" in spec.sizes else split
        images[(model, dataset, key)] = spec.sizes[key]
        if spec.task == RETRIEVAL:
            texts[(model, dataset, language)] = spec.sizes.get(f"{key}/captions")
        else:
            prompt_key = spec.prompt_key or dataset
            try:
                texts[(model, dataset, language)] = len(classnames(prompt_key, language)) * len(
                    templates(prompt_key, language)
                )
            except ZsbenchError:  # class names read from the dataset's own files
                texts[(model, dataset, language)] = None
    return SuiteCount(len(files), images, texts)


def project_suite(ctx: Context, sec: str, image_row: Row | None, text_row: Row | None) -> None:
    check = "README InternVL-C suite (42 cases), projected"
    if image_row is None:
        ctx.skip(sec, check, "no InternVL-C fp16 image throughput measured")
        return
    suite = count_readme_suite(REPO / "expected")
    n_images = sum(suite.images.values())
    img_s = image_row.value or float("nan")
    image_min = n_images / img_s / 60
    dry = " (dry run: tiny model, not a projection)" if ctx.dry_run else ""
    goal = f"< {SUITE_GOAL_MIN:.0f} min on one H100"
    ctx.add(
        Row(
            sec,
            f"{check}: image encoding",
            image_min,
            "min",
            goal=goal,
            met=None if ctx.dry_run else image_min < SUITE_GOAL_MIN,
            note=f"{n_images} images ({len(suite.images)} image sets of {suite.cases} cases, each once per model) "
            f"at {img_s:.1f} img/s (fp16, batch {image_row.extra['batch']}, model alone; the 25 GB load and data "
            f"reading not counted){dry}",
            extra={"images": n_images, "image_sets": len(suite.images), "cases": suite.cases, "img_per_s": img_s},
        )
    )
    known = {k: v for k, v in suite.texts.items() if v is not None}
    if text_row is None:
        ctx.skip(sec, f"{check}: text side", "no text throughput measured")
        return
    n_texts = sum(known.values())
    text_min = n_texts / (text_row.value or float("nan")) / 60
    ctx.add(
        Row(
            sec,
            f"{check}: text side (lower bound)",
            text_min,
            "min",
            note=f"{n_texts} prompts/captions of the {len(known)} of {len(suite.texts)} cases whose class names "
            f"zsbench bundles (the others read them from the data: not counted) at {text_row.value:.0f} texts/s "
            f"(len {TEXT_PROJECTION_LEN}, batch {text_row.extra['batch']}){dry}",
            extra={"texts": n_texts, "cases_counted": len(known), "texts_per_s": text_row.value},
        )
    )
    total = image_min + text_min
    ctx.add(
        Row(
            sec,
            f"{check}: images + counted texts",
            total,
            "min",
            goal=goal,
            met=None if ctx.dry_run else total < SUITE_GOAL_MIN,
            note=f"no model load or data reading{dry}",
        )
    )


# -- section 2: pipeline vs model alone -------------------------------------------------------------------------------
def write_jpegs(folder: Path, classes: Sequence[str], n: int, size: int, workers: int) -> None:
    """``n`` procedural JPEGs (gradient + noise + a rectangle) spread over one folder per class."""
    jobs = [(folder / classes[i % len(classes)] / f"{i:06d}.jpg", i, size) for i in range(n)]
    for c in classes:
        (folder / c).mkdir(parents=True, exist_ok=True)
    if workers > 1 and n > 256:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_write_jpeg, jobs, chunksize=64))
    else:
        for job in jobs:
            _write_jpeg(job)


def _write_jpeg(job: tuple[Path, int, int]) -> None:
    import numpy as np
    from PIL import Image

    path, seed, size = job
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 80, size)[None, :, None]
    arr = np.clip(rng.integers(0, 256, 3)[None, None] + rng.normal(0, 30, (size, size, 3)) + ramp, 0, 255)
    x, y = (int(v) for v in rng.integers(0, size // 2, 2))
    arr[y : y + size // 3, x : x + size // 3] = rng.integers(0, 256, 3)
    Image.fromarray(arr.astype(np.uint8)).save(path, quality=90)


def tiny_internvl(ctx: Context) -> tuple[Path, str]:
    """(folder, tokenizer note): the tiny random InternVL HF checkpoint of zsbench's tests, written once per check."""
    from zsbench.testing.internvl_tiny import write_tiny_hf_folder

    root = ctx.tmp / "internvl_tiny"
    if not (root / "hf" / "config.json").exists():
        note = _tokenizer_file(root / "tokenizer.model")
        write_tiny_hf_folder(root / "hf", root / "tokenizer.model")
        (root / "tokenizer.txt").write_text(note, encoding="utf-8")
    return root / "hf", (root / "tokenizer.txt").read_text(encoding="utf-8")


def pipeline_model(ctx: Context) -> tuple[str, str, str]:
    """(model type, model, pretrained): a random-weight open_clip model on the GPU; on the dry run the tiny InternVL
    (importing open_clip alone takes ~13 s on a 2-core CI machine)."""
    if ctx.dry_run:
        return "internvl", "internvl_c_classification_hf", str(tiny_internvl(ctx)[0])
    return "open_clip", ctx.args.pipeline_model, ""


def model_alone(ctx: Context, spec: tuple[str, str, str], n: int, batch: int, compiled: bool) -> tuple[float, str]:
    """(images/s, precision) of ``encode_image`` on pre-made tensors already on the device, after a warm-up."""
    import zsbench

    model = zsbench.load_model(*spec, device=ctx.device, precision="auto")
    if compiled:
        model.image_fn = torch.compile(model.image_fn)  # what zsbench's engine does for --compile
    from PIL import Image

    probe = model.transform(Image.new("RGB", (224, 224)))
    gen = torch.Generator(device=ctx.device).manual_seed(0)
    dtype = model.precision.weights_dtype
    batches = [
        torch.randn((batch, *probe.shape), device=ctx.device, dtype=dtype, generator=gen)
        for _ in range(min(4, n // batch))
    ]
    for b in batches[:2]:  # warm-up (and compilation)
        model.encode_image(b)
    ctx.sync()
    t0 = time.perf_counter()
    for i in range(n // batch):
        model.encode_image(batches[i % len(batches)])
    ctx.sync()
    return n / (time.perf_counter() - t0), model.precision.name


def engine_run(
    ctx: Context, root: Path, spec: tuple[str, str, str], batch: int, workers: int, compiled: bool, gpu_decode: bool
) -> dict[str, Any]:
    """The eurosat record of one ``zsbench.evaluate`` over the warm-up set (fer2013) and then the timed set (eurosat):
    one model, so compilation and first-batch costs land in the warm-up job."""
    import zsbench

    model_type, name, pretrained = spec
    records = zsbench.evaluate(
        model_type=model_type,
        model=name,
        pretrained=pretrained,
        datasets=["fer2013", "eurosat"],
        dataset_root=str(root / "{dataset}"),
        batch_size=batch,
        num_workers=workers,
        device=ctx.device,
        cache_dir="",  # no disk cache: every run encodes
        compile=compiled,
        gpu_decode=gpu_decode,
        write_results=False,
        progress=False,
        verbose=False,
        dataset_options={"allow_incomplete": True},  # a few thousand images, not the full 27,000
    )
    order = [r["dataset"] for r in records]
    record = next(r for r in records if r["dataset"] == "eurosat")
    return {**record, "_order": order}


def section_pipeline(ctx: Context, sec: str) -> None:
    spec = pipeline_model(ctx)
    if spec[0] == "open_clip":
        try:
            import open_clip  # noqa: F401
        except ImportError:
            ctx.skip(sec, "pipeline vs model alone", "open_clip_torch is not installed (carry its wheel, see README)")
            return
    from zsbench.datasets import get_spec

    name = spec[1]
    if ctx.dry_run:
        n, batch, workers = 32, 8, 0
    else:
        batch, workers = ctx.args.pipeline_batch, ctx.workers
        n = max(batch, ctx.args.pipeline_images // batch * batch)  # whole batches: one shape for torch.compile
    root = ctx.tmp / "pipeline"
    t0 = time.perf_counter()
    write_jpegs(root / "eurosat" / "eurosat" / "2750", get_spec("eurosat").class_folders, n, 224, ctx.workers)
    write_jpegs(root / "fer2013" / "test", get_spec("fer2013").class_folders, 2 * batch, 224, ctx.workers)
    print(f"  wrote {n} + {2 * batch} JPEGs of 224 px in {time.perf_counter() - t0:.1f} s", flush=True)

    for compiled in (False, True):
        if compiled and not ctx.cuda:
            ctx.skip(sec, "--compile rows", "dry run on the CPU (torch.compile's CPU code generation takes minutes)")
            break
        need = 60 if compiled else 10  # compilation of a ViT-B-16 is ~30-60 s per process on a cold cache
        label = "compile on" if compiled else "compile off"
        if not ctx.budget.allows(need * 2):
            ctx.skip(sec, f"{label} rows", f"budget ({ctx.budget.spare():.0f} s left, needs ~{need * 2} s)")
            continue
        ips, precision = model_alone(ctx, spec, n, batch, compiled)
        ctx.free()
        ctx.add(
            Row(sec, f"{name} model alone, {label}", ips, "img/s",
                note=f"{n} pre-made tensors on {ctx.device}, batch {batch}, {precision}")
        )  # fmt: skip
        for gpu_decode in (False, True):
            check = f"pipeline / model alone ({label}, gpu_decode {'on' if gpu_decode else 'off'})"
            if not ctx.budget.allows(need):
                ctx.skip(sec, check, f"budget ({ctx.budget.spare():.0f} s left, needs ~{need} s)")
                continue
            rec = engine_run(ctx, root, spec, batch, workers, compiled, gpu_decode)
            ctx.free()
            z = rec["zsbench"]
            n_img, enc_s = z["n_images"], z["timing"]["encode_images_s"]
            ips_pipe = n_img / enc_s
            ratio = ips_pipe / ips
            note = (
                f"pipeline {ips_pipe:.1f} img/s vs alone {ips:.1f} img/s; {n_img} JPEGs, batch {batch}, "
                f"{z['num_workers']} workers, {z['precision']}, compiled={z['compiled']}, gpu_decode={z['gpu_decode']}"
            )
            if rec["_order"][0] != "fer2013":
                note += f"; warm-up job did not run first ({rec['_order']}): includes first-batch costs"
            if ctx.dry_run:
                note += " (dry run: CPU, tiny model; the goal is for the GPU)"
            met = None if ctx.dry_run else ratio >= PIPELINE_GOAL
            ctx.add(
                Row(sec, check, ratio, "x", goal=f">= {PIPELINE_GOAL}", met=met, note=note,
                    extra={"pipeline_img_s": ips_pipe, "alone_img_s": ips, "images": n_img, "encode_s": enc_s})
            )  # fmt: skip


# -- section 3: two ranks == one process ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_record(path: Path) -> dict[str, Any]:
    """The one record of a result file (a JSON object; JSON Lines when a file holds several)."""
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.splitlines()[0])


def section_torchrun(ctx: Context, sec: str) -> None:
    check = "torchrun 2 ranks == 1 process (metrics)"
    if not ctx.dry_run and torch.cuda.device_count() < 2:
        ctx.skip(sec, check, f"{torch.cuda.device_count()} GPU: two NCCL ranks need 2 GPUs")
        return
    import zsbench
    from zsbench.datasets import get_spec

    # Bit-identity needs the same weights in every process, so a checkpoint file: the tiny random InternVL HF folder
    # of zsbench's tests (what is checked is the sharding and the ordered gather, whatever the model's size; and
    # the ranks start without importing open_clip).
    root = ctx.tmp / "torchrun"
    folder, tokenizer = tiny_internvl(ctx)
    n, batch = (48, 8) if ctx.dry_run else (2048, 128)
    write_jpegs(root / "eurosat" / "2750", get_spec("eurosat").class_folders, n, 224, ctx.workers)
    model = "internvl_c_classification_hf"
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ranks (OMP_NUM_THREADS=1): the bits of a CPU matmul may depend on it
    try:
        (a,) = zsbench.evaluate(
            model_type="internvl", model=model, pretrained=str(folder), datasets=["eurosat"],
            dataset_root=str(root), batch_size=batch, num_workers=0, device=ctx.device, cache_dir="",
            write_results=False, progress=False, verbose=False, dataset_options={"allow_incomplete": True},
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    single_s = time.perf_counter() - t0
    dist = ctx.tmp / "dist.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           "-m", "zsbench", "eval", "--model_type", "internvl", "--model", model, "--pretrained", str(folder),
           "--dataset", "eurosat", "--dataset_root", str(root), "--allow_incomplete", "--batch_size", str(batch),
           "--num_workers", "0", "--no_cache", "--quiet", "--output", str(dist)]  # fmt: skip
    t0 = time.perf_counter()
    rc, out = run_command(cmd, ctx, env={**ctx.env(), "OMP_NUM_THREADS": "1"})
    if rc != 0:
        raise RuntimeError(f"torchrun failed ({rc}):\n{_tail(out)}")
    dist_s = time.perf_counter() - t0
    b = _read_record(dist)
    ma, mb = a["metrics"], b["metrics"]
    diffs = [abs(ma[k] - mb[k]) for k in ma if isinstance(ma[k], float) and isinstance(mb.get(k), float)]
    same = ma == mb and a["zsbench"]["n_images"] == b["zsbench"]["n_images"]
    backend = "nccl" if ctx.cuda else "gloo, CPU (dry run)"
    ctx.add(
        Row(sec, check, max(diffs, default=0.0), "max |diff|", goal="identical", met=same,
            note=f"{backend}; tiny random InternVL-C ({b['zsbench']['precision']}), {a['zsbench']['n_images']} "
            f"images, batch {batch}; metrics {ma}; tokenizer: {tokenizer}; 1 process {single_s:.1f} s, "
            f"2 ranks {dist_s:.1f} s (with start-up)",
            extra={"single": ma, "two_ranks": mb})
    )  # fmt: skip


# -- section 4: pytest -m gpu machinery -------------------------------------------------------------------------------
def _tokenizer_file(dest: Path) -> str:
    """The real InternVL tokenizer.model if this machine has it, else a small sentencepiece model trained here."""
    from zsbench.testing.shared import shared_root

    real = (
        os.environ.get("ZSBENCH_INTERNVL_TOKENIZER") or shared_root() / "seed_data/internvl_tokenizer/tokenizer.model"
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if Path(real).is_file():
        shutil.copyfile(real, dest)
        return "the real InternVL tokenizer.model"
    import sentencepiece as spm

    words = "a photo drawing picture of the small large red green blue white circle square triangle star ring cross"
    text = [" ".join(words.split()[i : i + 6]) for i in range(len(words.split()))] * 20
    with open(dest, "wb") as f:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(text), model_writer=f, vocab_size=64, hard_vocab_limit=False,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
        )  # fmt: skip
    return "a small sentencepiece model trained here (the real tokenizer.model is not on this machine)"


def _snapshot(case_id: str, model: str, dataset: str, task: str, metrics: Sequence[str]) -> dict[str, Any]:
    # Random weights give arbitrary numbers: 0.5 +- 0.5 accepts every value, so the case checks the machinery only.
    return {
        "id": case_id,
        "source": "benchmarks/gpu/check.py section 4 (random weights: the numbers are not checked)",
        "model_type": "internvl",
        "model": model,
        "pretrained": "internvl_c_13b_224px.pth",
        "dataset": dataset,
        "dataset_root": None,
        "language": "en",
        "task": task,
        "recall_k": [1, 5, 10] if task == "zeroshot_retrieval" else None,
        "markers": ["gpu", "internvl_c", task.removeprefix("zeroshot_"), dataset],
        "tolerance": 0.5,
        "published": None,
        "expected": dict.fromkeys(metrics, 0.5),
        "provenance": None,
    }


def section_pytest(ctx: Context, sec: str) -> None:
    base = ctx.tmp / "pytest"
    pretrained, expected = base / "pretrained", base / "expected" / "gpu_check"
    expected.mkdir(parents=True)
    # The plugin's random build replaces the read of this file (a 25 GB random .pth would take minutes to write);
    # a small real torch.save file, so anything that looks at the file before load_pth sees a checkpoint.
    pretrained.mkdir(parents=True)
    torch.save({"placeholder": torch.zeros(1)}, pretrained / "internvl_c_13b_224px.pth")
    tokenizer = _tokenizer_file(pretrained / "internvl_14b_224px" / "tokenizer.model")
    cases = [("gpu-check-internvl_c_classification-shapes-en", "internvl_c_classification", "shapes",
              "zeroshot_classification", ["acc1", "acc5", "mean_per_class_recall"])]  # fmt: skip
    try:
        import pycocotools  # noqa: F401  (the shapes_captions loader reads COCO-format captions)

        recall = [f"{d}_retrieval_recall@{k}" for k in (1, 5, 10) for d in ("image", "text")]
        cases.append(("gpu-check-internvl_c_retrieval-shapes_captions-en", "internvl_c_retrieval", "shapes_captions",
                      "zeroshot_retrieval", recall))  # fmt: skip
    except ImportError:
        ctx.skip(sec, "retrieval case", "pycocotools is not installed (carry its wheel): one case only")
    for case in cases:
        (expected / f"{case[2]}__en.json").write_text(json.dumps(_snapshot(*case), indent=2) + "\n", encoding="utf-8")
    log, report = base / "events.jsonl", base / "zsbench-report.md"
    env = {**ctx.env(HERE), "GPU_CHECK_LOG": str(log), "ZSBENCH_CACHE_DIR": str(base / "cache")}
    if ctx.dry_run:
        env["GPU_CHECK_INTERNVL"] = "tiny"
    batch, workers = ("16", "0") if ctx.dry_run else ("64", str(min(8, ctx.workers)))
    cmd = [sys.executable, "-m", "pytest", "benchmarks/test_regression_cases.py", "-m", "gpu", "-p",
           "random_internvl_plugin", "--zs-expected-dir", str(expected.parent), "--zs-pretrained-dir", str(pretrained),
           "--zs-report", str(report), "--zs-batch-size", batch, "--zs-num-workers", workers, "-q", "-rA",
           "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]  # fmt: skip
    t0 = time.perf_counter()
    rc, out = run_command(cmd, ctx, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    builds = [e for e in events if e["event"] == "build"]
    ran = [e for e in events if e["event"] == "case"]
    report_text = report.read_text(encoding="utf-8") if report.exists() else ""
    passed = [c[0] for c in cases if f"| {c[0]} | pass |" in report_text]
    print(_tail(out, 40), flush=True)
    if not builds:
        raise RuntimeError(f"pytest ran no random InternVL build (rc {rc}); was load_pth patched?\n{_tail(out)}")
    ctx.add(
        Row(sec, "pytest -m gpu: cases passed", len(passed), "cases", goal=f"{len(cases)} of {len(cases)}",
            met=rc == 0 and len(passed) == len(cases),
            note=f"exit {rc}, {wall:.1f} s in all; numbers not checked (random weights); tokenizer: {tokenizer}")
    )  # fmt: skip
    b = builds[0]
    ctx.add(
        Row(sec, "network built (load_pth) per worker", len(builds), "builds", goal="1", met=len(builds) == 1,
            note=f"{len(ran)} cases on one {b['params'] / 1e9:.2f}B-param {b['dtype']} network on {b['device']}, "
            f"built in {b['seconds']:.1f} s; the 25 GB file read replaced by a random build on the device",
            extra={"builds": builds})
    )  # fmt: skip
    precisions = sorted({str(e["precision"]) for e in ran})
    want = "fp16" if ctx.cuda else "fp32"
    ctx.add(
        Row(sec, "precision of the cases", len(ran), "cases", goal=f"fp16 (on CUDA; {want} here)",
            met=precisions == [want] if ran else False,
            note=f"recorded precision {', '.join(precisions) or 'none'}; "
            + "; ".join(f"{e['id']}: {e['n_images']} images, encode {e['timing'].get('encode_images_s')} s" for e in ran),
            extra={"cases": ran})
    )  # fmt: skip
    ctx.add(
        Row(sec, "--zs-report written", report_text.count("| pass |") + report_text.count("| FAIL |"), "cases",
            goal="every case", met=report.exists() and len(passed) == len(cases),
            note=f"{report.stat().st_size if report.exists() else 0} bytes Markdown")
    )  # fmt: skip


# -- driver -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    title: str
    run: Callable[[Context, str], None]
    min_gpu_s: float  # what the section needs at least on a GPU (kept in reserve while earlier sections run)
    min_dry_s: float

    def min_s(self, ctx: Context) -> float:
        if self.run is section_torchrun and not ctx.dry_run and torch.cuda.device_count() < 2:
            return 0.0
        return self.min_dry_s if ctx.dry_run else self.min_gpu_s


SECTIONS = (
    Section("1 InternVL towers", section_towers, 60, 2),
    Section("2 pipeline", section_pipeline, 45, 5),
    Section("3 torchrun", section_torchrun, 40, 10),
    Section("4 pytest -m gpu", section_pytest, 60, 10),
)


def memory_cell(extra: dict[str, Any]) -> str:
    """``measured / est. estimate GiB (ratio)`` for a row with a measured peak and zsbench plan's estimate."""
    peak, est = extra.get("peak_mem_gib"), extra.get("est_mem_gib")
    if est is None:
        return "" if peak is None else f"{peak:.1f} GiB"
    if peak is None:
        return f"- / est. {est:.2f} GiB"
    return f"{peak:.1f} / est. {est:.1f} GiB (x{peak / est:.2f})"


def print_table(rows: Sequence[Row], header: str) -> None:
    """The one table: section, check, value, goal, met, note (columns as wide as their contents)."""
    cells = [
        [r.section, r.check, "" if r.value is None else f"{_fmt(r.value)} {r.unit}", r.goal,
         {True: "yes", False: "NO", None: ""}[r.met], memory_cell(r.extra), r.note]
        for r in rows
    ]  # fmt: skip
    names = ["section", "check", "value", "goal", "met", "memory", "note"]
    widths = [max([len(n), *(len(c[i]) for c in cells)]) for i, n in enumerate(names[:-1])]
    print()
    print(header)
    line = " ".join(f"{n:<{w}}" for n, w in zip(names, widths)) + " note"
    print(line)
    print("-" * len(line))
    for c in cells:
        print(" ".join(f"{v:<{w}}" for v, w in zip(c, widths)) + " " + c[-1])


def _strict(value: Any) -> Any:
    """NaN / inf -> None, so the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Atomic: a temporary file in the same folder, then renamed over the target."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(_strict(payload), f, indent=2, allow_nan=False)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_out() -> str:
    out = os.environ.get("OUT")
    return str(Path(out) / "gpu_check.json") if out else "gpu_check.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="every section on the CPU with tiny configs (< 1 minute)")
    ap.add_argument("--out", default=default_out(), help="JSON result (default $OUT/gpu_check.json, else ./)")
    ap.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds for the whole check")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sections", default="1,2,3,4", help="comma-separated section numbers to run")
    ap.add_argument("--pipeline-model", default="ViT-B-16", help="open_clip model of section 2 (random weights)")
    ap.add_argument("--pipeline-images", type=int, default=8192, help="synthetic JPEGs timed in section 2")
    ap.add_argument("--pipeline-batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="DataLoader workers")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if not out.parent.is_dir():  # checked before minutes of work
        print(
            f"gpu-check: error: --out folder {out.parent} does not exist; create it or pass another --out",
            file=sys.stderr,
        )
        return 2
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu-check: error: no CUDA device; use --dry-run for the CPU smoke test", file=sys.stderr)
        return 2
    wanted = {s.strip() for s in args.sections.split(",") if s.strip()}
    known = {s.title.split()[0] for s in SECTIONS}
    if not wanted or not wanted <= known:
        print(f"gpu-check: error: --sections {args.sections!r}: give numbers from {', '.join(sorted(known))}",
              file=sys.stderr)  # fmt: skip
        return 2
    device = "cpu" if args.dry_run else args.device
    if not args.dry_run:
        torch.backends.cuda.matmul.allow_tf32 = True
    budget = Budget(args.budget)
    sections = [s for s in SECTIONS if s.title.split()[0] in wanted]
    with tempfile.TemporaryDirectory(prefix="zs-gpu-check-") as tmp:
        # The check's own embedding/data cache: never the user's, and nothing left behind.
        os.environ["ZSBENCH_CACHE_DIR"] = str(Path(tmp) / "zs-cache")
        ctx = Context(args.dry_run, device, budget, Path(tmp), max(1, args.workers), args)
        device_name = torch.cuda.get_device_name(device) if ctx.cuda else "cpu"
        print(f"gpu-check on {device_name}, torch {torch.__version__}, budget {budget.total_s:.0f} s", flush=True)
        timings: list[dict[str, Any]] = []
        for i, sec in enumerate(sections):
            budget.reserve_s = sum(s.min_s(ctx) for s in sections[i + 1 :])
            print(f"== {sec.title}: {budget.left():.0f} s left, {budget.reserve_s:.0f} s kept for later ==", flush=True)
            first = len(ctx.rows)
            t0 = time.perf_counter()
            if not budget.allows(sec.min_s(ctx)):
                ctx.skip(sec.title, "section", f"budget ({budget.spare():.0f} s left, needs ~{sec.min_s(ctx):.0f} s)")
            else:
                try:
                    sec.run(ctx, sec.title)
                except Exception as e:  # noqa: BLE001 -- one section's failure must not cost the others
                    traceback.print_exc(file=sys.stdout)
                    ctx.add(Row(sec.title, "section", note=f"error: {_first_line(e)}"))
            ctx.free()
            elapsed = time.perf_counter() - t0
            ctx.rows.insert(first, Row(sec.title, "elapsed", elapsed, "s", note=f"{budget.elapsed():.0f} s so far"))
            timings.append({"section": sec.title, "elapsed_s": elapsed})
            print(f"-- {sec.title}: {elapsed:.1f} s (total {budget.elapsed():.1f} s, {budget.left():.0f} s left)")
    peak, peak_note = peak_tflops(device)
    header = (
        f"gpu-check: {device_name}; torch {torch.__version__}; {'DRY RUN (CPU, tiny configs); ' if args.dry_run else ''}"
        f"peak {peak_note}; {budget.elapsed():.0f} s of {budget.total_s:.0f} s"
    )
    print_table(ctx.rows, header)
    payload = {
        "script": "benchmarks/gpu/check.py",
        "dry_run": args.dry_run,
        "device": device,
        "device_name": device_name,
        "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "torch": torch.__version__,
        "peak_tflops": peak,
        "peak_source": peak_note,
        "budget_s": budget.total_s,
        "elapsed_s": budget.elapsed(),
        "sections": timings,
        "rows": [asdict(r) for r in ctx.rows],
    }
    write_json(out, payload)
    print(f"wrote {out}")
    return 1 if any(r.note.startswith("error:") for r in ctx.rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
