"""Run CLIP_benchmark's CLI with one NumPy >= 2.4 fix; everything else is clip-benchmark 1.6.2 unchanged.

clip-benchmark 1.6.2's ``zeroshot_classification.accuracy()`` calls ``float()`` on a shape-(1,) array, which
NumPy >= 2.4 rejects. Of the two ways out (a separate venv pinning ``numpy<2.4``, or this wrapper), the suite uses
this wrapper: it replaces that one function with zsbench's drop-in (``zsbench.tasks.classification.
clip_benchmark_accuracy``: the same arithmetic ending in ``.item()``, bit-identical results, checked against
upstream's in tests/tasks) and then calls ``clip_benchmark.cli.main`` with the given arguments, so the timed
process is CLIP_benchmark's own console script plus one small import.

    python benchmarks/perf/cb_run.py eval --dataset wds/perf_cls ...
"""

from __future__ import annotations

import sys


def main() -> int:
    import clip_benchmark.metrics.zeroshot_classification as zc
    from clip_benchmark.cli import main as cb_main

    from zsbench.tasks.classification import clip_benchmark_accuracy

    zc.accuracy = clip_benchmark_accuracy
    sys.argv = ["clip_benchmark", *sys.argv[1:]]
    return cb_main() or 0


if __name__ == "__main__":
    sys.exit(main())
