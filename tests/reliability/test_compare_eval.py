"""``zsbench compare`` on two real ``zsbench eval`` runs (the fake model): settings, one-sided results, exit codes."""

from __future__ import annotations

import json

from tests.reliability.conftest import run_cli

TEMPLATE = "{dataset}_{model}_{language}_{task}.json"


def test_compare_two_eval_runs(fake_eval, tmp_path):
    base, new = tmp_path / "out", tmp_path / "new"
    fake_eval("--dataset", "fake_cls", "fake_ret").assert_ok()
    # NEW: another fingerprint mode (a setting that does not change a metric) and one more language
    fake_eval(
        "--dataset", "fake_cls", "fake_ret", "--language", "en", "cn", "--fingerprint", "content",
        "--output", new / TEMPLATE,
    ).assert_ok()  # fmt: skip

    res = run_cli("compare", base, new, "--fail", "*:0pp")
    res.assert_ok()  # the same model on the same data: no metric moved at all
    lines = res.out.splitlines()
    setting = "  dataset fingerprint: stat -> content  (all 2 shared results)"
    assert setting in lines
    assert lines.index(setting) < lines.index("zeroshot_classification") < lines.index("zeroshot_retrieval")
    acc1 = next(line.split() for line in lines if " acc1 " in line)
    assert acc1 == ["m", "p", "fake_cls", "en", "acc1", "0.3333", "0.3333", "+0.00pp", "0pp", "ok"]
    only_new = lines[lines.index("Only in NEW (not compared):") + 1 :]
    assert any(line.split()[:5] == ["zeroshot_classification", "m", "p", "fake_cls", "cn"] for line in only_new)
    assert any(line.split()[:5] == ["zeroshot_retrieval", "m", "p", "fake_ret", "cn"] for line in only_new)
    assert lines[-1].startswith("OK: 9 metrics of 2 shared results compared")

    # NEW's acc1 drops by 10pp (the record edited in place, provenance kept): the limit is crossed
    path = new / "fake_cls_m_en_zeroshot_classification.json"
    record = json.loads(path.read_text())
    record["metrics"]["acc1"] -= 0.1
    path.write_text(json.dumps(record))
    res = run_cli("compare", base, new, "--fail", "acc1:0.5pp,*:1pp")
    assert res.rc == 1, res.out + res.err
    assert "Traceback" not in res.err
    assert "FAIL: 1 of 9 metrics" in res.out and "acc1 of m p fake_cls en -10.00pp (limit 0.5pp)" in res.out
    assert run_cli("compare", base, new, "--fail", "acc1:10.5pp").rc == 0
