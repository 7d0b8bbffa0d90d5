"""The regression suite: one case per snapshot file under expected/ (the README's 54 results, the four fine-tuned
364 px retrieval results of InternVL's internvl_g/README.md, and the CPU cases).

The CPU cases include the linear probe on shapes (full and 5-shot over three draws). A snapshot's ``expected`` may be
keyed by device and precision ({"default": ..., "cpu/fp32": ..., "cuda/bf16": ...}); each run compares with its own
entry (exact, then device, then default) and an update writes only its own ``<device>/<precision>`` entry.

pytest -m gpu benchmarks/              # reproduce the paper (needs weights in ./pretrained, data in ./data)
pytest -m finetuned benchmarks/        # the fine-tuned InternVL-C/G-FT results (pretrained/work_dirs/...)
pytest -m "not gpu"                    # CI: the CPU cases through the same machinery
pytest -m gpu benchmarks/ --snapshot-update   # rewrite `expected` for a new checkpoint
pytest benchmarks/ --snapshot-update-new-only  # record only the cases that have no `expected` yet
pytest -m "not gpu" benchmarks/ --junitxml=junit.xml   # each case's metrics as zsbench.<metric>.* properties
"""

from __future__ import annotations

from zsbench.pytest_plugin import check_case, run_case


def test_case(zs_case, zs_pretrained, zs_data_root, zs_engine, request):
    record = run_case(zs_case, zs_engine, zs_pretrained, zs_data_root)
    check_case(request, zs_case, record)
