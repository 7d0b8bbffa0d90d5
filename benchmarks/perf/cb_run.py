"""Run CLIP_benchmark's CLI with one NumPy >= 2.4 fix; everything else is clip-benchmark 1.6.2 unchanged.

clip-benchmark 1.6.2's ``zeroshot_classification.accuracy()`` calls ``float()`` on a shape-(1,) array, which
NumPy >= 2.4 rejects. Of the two ways out (a separate venv pinning ``numpy<2.4``, or this wrapper), the suite uses
this wrapper: it replaces that one function with the same arithmetic ending in ``.item()`` (bit-identical
results) and then calls ``clip_benchmark.cli.main`` with the given arguments, so the timed process is
CLIP_benchmark's own console script plus one tiny import.

    python benchmarks/perf/cb_run.py eval --dataset wds/perf_cls ...
"""

from __future__ import annotations

import sys
from typing import Any


def accuracy(output: Any, target: Any, topk: tuple[int, ...] = (1,)) -> list[float]:
    """clip-benchmark's top-k accuracy, with ``.item()`` instead of ``float(<1-element array>)``."""
    pred = output.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    n = len(target)
    return [correct[:k].reshape(-1).float().sum(0, keepdim=True).cpu().numpy().item() / n for k in topk]


def main() -> int:
    import clip_benchmark.metrics.zeroshot_classification as zc
    from clip_benchmark.cli import main as cb_main

    zc.accuracy = accuracy
    sys.argv = ["clip_benchmark", *sys.argv[1:]]
    return cb_main() or 0


if __name__ == "__main__":
    sys.exit(main())
