"""CPU levers of a cold ``zsbench eval``, each measured on and off: the README's lever rows from one command.

    python benchmarks/perf/run.py --levers [--reps N] [--images N] [--only a,b] [--json PATH]

Case (a) of the speed suite (random-weight ViT-B-32, procedural 224 px images, 10 classes x 18 templates, fp32,
batch 64, 2 workers, a fresh empty cache), one whole ``zsbench eval`` process per measurement, through
``lever_run.py`` on both sides. On and off alternate (on, off, off, on, ...) so a drift in the load from other
processes hits both alike; each row gives the median wall time of each side, their ratio, the ratio of process CPU
time (user + system, workers included: steadier than wall time on a shared machine) and the average number of
cores that other processes used meanwhile (``busy``; above ~0.2 the wall times are noisy).

``--images N`` runs on the first N images (a separate, smaller copy of the data) for a quick look; the table of
the README is the default 500. Printed rows: ``| lever | on | off | ratio | kept? |`` plus the CPU ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from perf_common import BATCH_SIZE, NUM_WORKERS, REPO, env  # noqa: E402


@dataclass(frozen=True)
class Side:
    changes: tuple[str, ...] = ()  # lever_run.py --with CHANGE
    args: tuple[str, ...] = ()  # zsbench eval arguments (override the defaults of case (a))
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Lever:
    name: str
    what: str
    on: Side
    off: Side
    kept: str  # "yes (default)" / "no: why" as the README row says
    numbers: str  # what it does to the numbers, and the test that says so
    tags: tuple[str, ...] = field(default=())


LEVERS: tuple[Lever, ...] = (
    Lever(
        "keep_freed_memory",
        "freed tensor memory kept for reuse (glibc mallopt), not returned to the OS and faulted in again",
        Side(),
        Side(changes=("default_malloc",)),
        "yes (default)",
        "bit-identical embeddings (tests/engine/test_cpu_levers.py)",
    ),
    Lever(
        "light_imports",
        "open_clip imported without transformers, timm and torch._dynamo for a plain CLIP",
        Side(),
        Side(changes=("full_imports",)),
        "yes (default)",
        "bit-identical embeddings (tests/engine/test_cpu_levers.py)",
    ),
    Lever(
        "no_init_mha",
        "no random init of nn.MultiheadAttention before a checkpoint replaces it",
        Side(),
        Side(changes=("random_init_mha",)),
        "yes (default)",
        "bit-identical (tests/engine/test_cpu_levers.py)",
    ),
    Lever(
        "trimmed_text",
        "text tower run up to the longest prompt, not all 77 positions",
        Side(),
        Side(changes=("untrimmed_text",)),
        "yes (default, earlier)",
        "equal within 1e-5, recorded in the cache key (tests/models/test_open_clip.py)",
    ),
    Lever(
        "workers_1",
        "1 loader worker instead of 2 (2 cores, 2 compute threads)",
        Side(args=("--num_workers", "1")),
        Side(args=("--num_workers", "2")),
        "no: no faster (decoding is ~2 % of the work)",
        "bit-identical (decoding is per image)",
    ),
    Lever(
        "workers_0",
        "decode in the main process instead of 2 loader workers",
        Side(args=("--num_workers", "0")),
        Side(args=("--num_workers", "2")),
        "no: no faster",
        "bit-identical (decoding is per image)",
    ),
    Lever(
        "threads_1",
        "1 compute thread instead of 2 (torch.set_num_threads)",
        Side(changes=("threads1",)),
        Side(),
        "no",
        "bit-identical in a check on the 2-core VM (MKL splits rows, not sums)",
    ),
    Lever(
        "omp_passive",
        "OMP_WAIT_POLICY=PASSIVE (compute threads sleep at once instead of spinning)",
        Side(env=(("OMP_WAIT_POLICY", "PASSIVE"),)),
        Side(),
        "no: within noise",
        "bit-identical",
    ),
    Lever(
        "batch_128",
        "--batch_size 128 instead of 64",
        Side(args=("--batch_size", "128")),
        Side(args=("--batch_size", "64")),
        "no (the user's setting)",
        "other GEMM shapes: bit-identical rows in a check on the 2-core VM (batches >= 16), not guaranteed",
    ),
    Lever(
        "channels_last",
        "channels-last image batches and image tower",
        Side(changes=("channels_last",)),
        Side(),
        "no",
        "bit-identical (only the patch-embedding conv sees the layout)",
    ),
    Lever(
        "mha_fastpath",
        "torch's fused MultiheadAttention inference path (torch default)",
        Side(),
        Side(changes=("no_mha_fastpath",)),
        "yes (torch default)",
        "off: different rounding",
    ),
    Lever(
        "mkldnn",
        "oneDNN kernels (torch default; the patch-embedding conv)",
        Side(),
        Side(changes=("no_mkldnn",)),
        "yes (torch default)",
        "off: different rounding (2e-6)",
    ),
)


def _busy_core_seconds() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def measure(cmd: list[str], extra_env: dict[str, str], log: Path) -> dict[str, float]:
    """Wall and CPU seconds of one process (its workers included) and other processes' average busy cores."""
    has_proc = os.path.exists("/proc/stat")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = _busy_core_seconds() if has_proc else 0.0
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=REPO, env={**env(), **extra_env}, stdout=f, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    s1 = _busy_core_seconds() if has_proc else 0.0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    busy = max(0.0, (s1 - s0) - cpu) / wall if has_proc else float("nan")
    return {"wall": wall, "cpu": cpu, "sys": r1.ru_stime - r0.ru_stime, "faults": r1.ru_minflt - r0.ru_minflt,
            "busy": busy}  # fmt: skip


def case_a_args(data: dict[str, Any]) -> list[str]:
    return [
        "--dataset", "wds/perf_cls", "--dataset_root", str(data["wds"]), "--model", "ViT-B-32",
        "--pretrained", str(data["weights"]), "--batch_size", str(BATCH_SIZE), "--num_workers", str(NUM_WORKERS),
        "--precision", "fp32", "--no_progress",
    ]  # fmt: skip


def _override(args: list[str], extra: tuple[str, ...]) -> list[str]:
    """``args`` with the flags of ``extra`` replaced (each flag takes one value)."""
    out = list(args)
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


def run_side(side: Side, base: list[str], tmp: Path, tag: str) -> dict[str, float]:
    run_dir = Path(tempfile.mkdtemp(prefix=f"lever-{tag}-", dir=tmp))
    changes = [x for c in side.changes for x in ("--with", c)]
    args = _override(base, side.args) + ["--cache_dir", str(run_dir / "cache"), "--output", str(run_dir / "o.json")]
    cmd = [sys.executable, str(HERE / "lever_run.py"), *changes, "--", *args]
    result = measure(cmd, dict(side.env), run_dir / "log.txt")
    result["metrics"] = json.loads((run_dir / "o.json").read_text())["metrics"]  # type: ignore[assignment]
    return result


def measure_lever(lever: Lever, base: list[str], reps: int, tmp: Path) -> dict[str, Any]:
    on: list[dict[str, float]] = []
    off: list[dict[str, float]] = []
    for r in range(reps):
        order = [("on", lever.on, on), ("off", lever.off, off)]
        for tag, side, out in order if r % 2 == 0 else order[::-1]:  # on, off, off, on, ...
            out.append(run_side(side, base, tmp, f"{lever.name}-{tag}"))
            r = out[-1]
            print(f"  {lever.name} {tag}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU ({r['sys']:.1f} s system, "
                  f"{r['faults'] / 1e3:.0f}k page faults), busy {r['busy']:.2f}", flush=True)  # fmt: skip
    wall_on, wall_off = (statistics.median(x["wall"] for x in s) for s in (on, off))
    cpu_on, cpu_off = (statistics.median(x["cpu"] for x in s) for s in (on, off))
    same = all(x["metrics"] == on[0]["metrics"] for x in on + off)
    return {
        "lever": lever.name,
        "what": lever.what,
        "on_s": round(wall_on, 2),
        "off_s": round(wall_off, 2),
        "ratio": round(wall_on / wall_off, 3),
        "cpu_on_s": round(cpu_on, 2),
        "cpu_off_s": round(cpu_off, 2),
        "cpu_ratio": round(cpu_on / cpu_off, 3),
        "busy": round(statistics.mean(x["busy"] for x in on + off), 2),
        "reps": reps,
        "same_metrics": same,
        "kept": lever.kept,
        "numbers": lever.numbers,
        "walls_on": [round(x["wall"], 1) for x in on],
        "walls_off": [round(x["wall"], 1) for x in off],
    }


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| lever | on | off | ratio | kept? |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['what']} | {r['on_s']:.1f} s | {r['off_s']:.1f} s | {r['ratio']:.3f} (CPU {r['cpu_ratio']:.3f}) "
            f"| {r['kept']} |"
        )
    lines.append("")
    lines.append("lever: metrics equal on and off | numbers | other processes' busy cores | walls on / off")
    for r in rows:
        lines.append(
            f"{r['lever']}: {'yes' if r['same_metrics'] else 'NO'} | {r['numbers']} | {r['busy']:.2f} | "
            f"{r['walls_on']} / {r['walls_off']}"
        )
    return "\n".join(lines)


def subset_data(data: dict[str, Any], n: int) -> dict[str, Any]:
    """The first ``n`` images of ``wds/perf_cls`` as their own webdataset (built once, beside the full data)."""
    import make_data

    root = Path(data["root"]) / f"subset_{n}"
    wds = root / "wds" / make_data.CLS_NAME
    if not (wds / "test" / "nshards.txt").exists():
        full, shard = make_data.N_IMAGES, make_data.SHARD_SIZE
        make_data.N_IMAGES, make_data.SHARD_SIZE = n, max(1, (n + 1) // 2)  # 2 shards, as the full data
        try:
            make_data.make_classification(root)
        finally:
            make_data.N_IMAGES, make_data.SHARD_SIZE = full, shard
    return {**data, "wds": wds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=int(os.environ.get("ZSBENCH_PERF_REPS", "2")))
    ap.add_argument("--images", type=int, default=None, help="the first N images only (quick look)")
    ap.add_argument("--only", default="", help="comma-separated lever names (default: all)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - {lv.name for lv in LEVERS})
    if unknown:
        ap.error(f"unknown lever(s) {', '.join(unknown)}; valid: {', '.join(lv.name for lv in LEVERS)}")
    from make_data import ensure_data

    data = ensure_data()
    if args.images:
        data = subset_data(data, args.images)
    base = case_a_args(data)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zs-levers-") as tmp:
        for lever in LEVERS:
            if names and lever.name not in names:
                continue
            print(f"[levers] {lever.name}: {lever.what}", flush=True)
            rows.append(measure_lever(lever, base, args.reps, Path(tmp)))
    print()
    print(format_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
