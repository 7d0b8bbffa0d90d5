"""HTML reports (``zsbench build --html``, ``zsbench compare --html``, the plugin's ``--zs-report PATH.html``):
images beside the page that exist and load, tables that show the results' values, escaping, determinism."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import run_cli
from tests.snapshot_project import fake_case, run_project, start_project  # imports torch before pytester runs

pytest.importorskip("matplotlib", reason="the HTML reports need matplotlib (pip install matplotlib)")

pytest_plugins = ["pytester"]

CLS, RET, LP = "zeroshot_classification", "zeroshot_retrieval", "linear_probe"
EVIL = '<img src=x onerror="alert(1)">&amp;'


def record(model: str, dataset: str, task: str, metrics: dict[str, Any], **prov: Any) -> dict[str, Any]:
    return {"dataset": dataset, "model": model, "pretrained": "laion2b", "task": task, "metrics": metrics,
            "language": "en", "zsbench": {"schema_version": 1, "precision": "fp32", **prov}}  # fmt: skip


def results() -> list[dict[str, Any]]:
    recall = {f"{side}_retrieval_recall@{k}": 0.5 + 0.01 * k for side in ("image", "text") for k in (1, 5, 10)}
    return [
        record("ViT-B-32", "cifar10", CLS, {"acc1": 0.8125, "acc5": 0.9625, "mean_per_class_recall": 0.8})
        | {"pretrained": EVIL},
        record("ViT-B-32", EVIL, CLS, {"acc1": 0.4375, "acc5": None, "mean_per_class_recall": 0.43}),
        record("ViT-L-14", "cifar10", CLS, {"acc1": 0.9375, "acc5": 1, "mean_per_class_recall": 0.93}),
        record("ViT-B-32", "flickr30k", RET, recall),
        record(
            "ViT-B-32",
            "shapes",
            LP,
            {
                "lp_acc1": 0.97,
                "lp_acc5": None,
                "lp_mean_per_class_recall": 0.96,
                "weight_decay": 0.0,
                "epochs": 10,
                "seed": 0,
                "fewshot_k": -1,
                "normalized": True,
            },
            allow_incomplete=True,
        ),  # fmt: skip
    ]


def write_results(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


class Page(HTMLParser):
    """What a test needs from a report: its tags, images, table rows (cell texts and classes), links."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []  # (text, class) per cell; header rows too
        self.handlers: list[str] = []
        self._cell: list[str] | None = None
        self._cls = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "img":
            self.images.append(a)
        if tag in ("a", "link") and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell, self._cls = [], a.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(("".join(self._cell), self._cls))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def row(self, *cells: str) -> list[tuple[str, str]]:
        """The one table row whose leading cells are ``cells``."""
        found = [r for r in self.rows if [c[0] for c in r[: len(cells)]] == list(cells)]
        assert len(found) == 1, f"{cells}: {len(found)} rows"
        return found[0]

    def header_of(self, row: list[tuple[str, str]]) -> list[str]:
        """The header row of the table that holds ``row`` (the nearest header above it)."""
        index = next(i for i, r in enumerate(self.rows) if r is row)
        return [c[0] for c in next(r for r in reversed(self.rows[:index]) if r and r[0][1] == "" and _is_head(r))]


def _is_head(row: list[tuple[str, str]]) -> bool:
    return row[0][0] in ("model", "case")


def check_images(report: Path, page: Page) -> list[Path]:
    """Every <img> is a relative path to a PNG in the folder beside the report, at half its pixel size."""
    files = []
    for img in page.images:
        src = str(img["src"])
        assert "://" not in src and not src.startswith("/"), src
        assert src.startswith(f"{report.stem}_files/"), src
        path = report.parent / src
        assert path.is_file(), f"{src} is not beside {report}"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (int(img["width"]), int(img["height"])) == (round(width / 2), round(height / 2))
        assert img.get("alt")
        files.append(path)
    return files


def test_build_html_has_a_chart_per_task_and_every_value_in_its_table(tmp_path):
    src = write_results(tmp_path / "runs", results())
    report = tmp_path / "out" / "report.html"
    result = run_cli("build", src, "--output", tmp_path / "out" / "b.csv", "--html", report)
    result.assert_ok()
    text = report.read_text(encoding="utf-8")
    page = Page(text)
    assert len(check_images(report, page)) == 3  # classification, retrieval, linear probe
    assert sorted(p.name for p in (tmp_path / "out" / "report_files").iterdir()) == sorted(
        Path(str(i["src"])).name for i in page.images
    )
    # the cells show the results: 4 decimals for scores (an integer 1 too), settings as written, null as null
    row = page.row("ViT-L-14", "laion2b", "cifar10")
    assert [c[0] for c in row[4:7]] == ["0.9375", "1.0000", "0.9300"]
    row = page.row("ViT-B-32", "laion2b", EVIL)  # the hostile dataset name is text, not markup
    assert [c[0] for c in row[4:6]] == ["0.4375", "null"]
    probe = page.row("ViT-B-32", "laion2b", "shapes")
    head = page.header_of(probe)
    cells = dict(zip(head, (c[0] for c in probe)))
    assert (cells["lp_acc1"], cells["fewshot_k"], cells["normalized"]) == ("0.9700", "-1", "true")
    assert "incomplete split" in cells["notes"]  # a result not comparable with a published one says so
    retrieval = page.row("ViT-B-32", "laion2b", "flickr30k")
    assert dict(zip(page.header_of(retrieval), (c[0] for c in retrieval)))["text_retrieval_recall@10"] == "0.6000"
    # self-contained and inert: no script, no handler attribute, no external reference, escaped values
    assert "script" not in page.tags and not page.handlers
    assert all(link.startswith("#") for link in page.links)
    assert "http://" not in text and "https://" not in text
    assert EVIL not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;" in text


def test_a_changed_result_value_shows_in_the_html_and_its_chart(tmp_path):
    records = results()
    src = write_results(tmp_path / "runs", records)
    report = tmp_path / "report.html"
    run_cli("build", src, "--output", tmp_path / "b.csv", "--html", report).assert_ok()
    before = {i["alt"]: i["src"] for i in Page(report.read_text()).images}
    records[2]["metrics"]["acc1"] = 0.6875  # ViT-L-14 on cifar10: 0.9375 -> 0.6875
    write_results(tmp_path / "runs", records)
    run_cli("build", src, "--output", tmp_path / "b.csv", "--html", report).assert_ok()
    page = Page(report.read_text())
    assert page.row("ViT-L-14", "laion2b", "cifar10")[4][0] == "0.6875"
    assert "0.9375" not in report.read_text()
    after = {i["alt"]: i["src"] for i in page.images}
    changed = [alt for alt in after if after[alt] != before[alt]]
    assert len(changed) == 1 and "zeroshot_classification" in str(changed[0])  # the chart was redrawn, only it
    # the previous report's image is gone, the others are the same files
    files = {p.name for p in (tmp_path / "report_files").iterdir()}
    assert files == {Path(str(s)).name for s in after.values()}


def test_same_results_give_byte_identical_reports(tmp_path):
    src = write_results(tmp_path / "runs", results())
    outputs = []
    for name in ("a", "b"):
        report = tmp_path / name / "report.html"
        run_cli("build", src, "--output", tmp_path / name / "b.csv", "--html", report).assert_ok()
        folder = report.parent / "report_files"
        outputs.append((report.read_bytes(), {p.name: p.read_bytes() for p in sorted(folder.iterdir())}))
    assert outputs[0] == outputs[1]  # no date or software version in the PNGs, no timestamp in the HTML


def test_files_of_others_in_the_images_folder_are_kept(tmp_path):
    src = write_results(tmp_path / "runs", results())
    folder = tmp_path / "report_files"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "logo.png").write_bytes(b"not ours")
    run_cli("build", src, "--output", tmp_path / "b.csv", "--html", tmp_path / "report.html").assert_ok()
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "logo.png").read_bytes() == b"not ours"
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_same_named_checkpoints_are_two_models_and_a_duplicate_result_is_noted(tmp_path):
    from zsbench.engine.html_report import results_report

    a = record("m", "cifar10", CLS, {"acc1": 0.5}) | {"pretrained": "/a/model.pt"}
    b = record("m", "cifar10", CLS, {"acc1": 0.6}) | {"pretrained": "/b/model.pt"}
    page = results_report([a, b, b], tmp_path / "r.html").html
    assert 'alt="Bar chart of acc1 per dataset for 2 model(s)' in page  # not one bar hiding the other
    # the same result twice: the chart can show one bar, and says which
    assert "m model.pt #2 on cifar10 appears in results 2 and 3; the chart shows 3" in page


def test_headline_metric_per_task():
    from zsbench.engine.html_report import headline_metric

    cls = [{"metrics": {"acc1": 0.5, "acc5": 0.9}}, {"metrics": {"acc1": None}}]
    assert headline_metric(CLS, cls) == ("acc1", [0.5, None])
    assert headline_metric(LP, [{"metrics": {"lp_acc1": 0.7, "acc1": 0.1}}]) == ("lp_acc1", [0.7])
    one = {"image_retrieval_recall@1": 0.2, "text_retrieval_recall@1": 0.4, "image_retrieval_recall@5": 0.9}
    two = {"image_retrieval_recall@1": 0.3, "text_retrieval_recall@1": 0.5}
    # the mean is over the recall@k every record has: a mean over different k would not compare
    label, values = headline_metric(RET, [{"metrics": one}, {"metrics": two}])
    assert label == "mean recall (image & text R@1)" and values == pytest.approx([0.3, 0.4])
    # one null recall makes the mean unknown, not the mean of the rest
    assert headline_metric(RET, [{"metrics": {**two, "text_retrieval_recall@1": None}}])[1] == [None]
    assert headline_metric("image_captioning", [{"metrics": {"cider": 1.0}}]) is None


def test_compare_html_shows_the_differences_and_the_verdicts(tmp_path):
    base = [record("ViT-B-32", "cifar10", CLS, {"acc1": 0.80, "acc5": 0.95}),
            record("ViT-B-32", "flickr30k", RET, {"image_retrieval_recall@1": 0.5, "text_retrieval_recall@1": 0.6})]  # fmt: skip
    new = json.loads(json.dumps(base))
    new[0]["metrics"]["acc1"] = 0.79  # -1pp: beyond 0.5pp
    new[1]["metrics"]["text_retrieval_recall@1"] = 0.605
    new[1]["zsbench"]["precision"] = "bf16"
    b, n = write_results(tmp_path / "base", base), write_results(tmp_path / "new", new)
    report = tmp_path / "cmp.html"
    result = run_cli("compare", b, n, "--fail", "acc1:0.5pp,*:1pp", "--html", report)
    assert result.rc == 1 and "FAIL" in result.out  # the exit status and the printed table are unchanged
    page = Page(report.read_text())
    assert len(check_images(report, page)) == 2  # one difference chart per task
    acc1 = dict(zip(page.header_of(page.row("ViT-B-32", "laion2b", "cifar10", "en", "acc1")),
                    page.row("ViT-B-32", "laion2b", "cifar10", "en", "acc1")))  # fmt: skip
    assert acc1["base"][0] == "0.8000" and acc1["new"][0] == "0.7900" and acc1["diff"][0] == "-1.00pp"
    assert acc1["limit"][0] == "0.5pp" and acc1["verdict"] == ("FAIL", "fail")
    ok = page.row("ViT-B-32", "laion2b", "flickr30k", "en", "text_retrieval_recall@1")
    assert ok[-1] == ("ok", "ok") and ok[-2][0] == "1pp"
    text = report.read_text()
    assert "precision" in text and "fp32" in text and "bf16" in text  # the settings that differ
    assert "FAIL: 1 of 4 metrics" in text


def outcomes() -> list[dict[str, Any]]:
    def row(metric: str, expected: Any, measured: Any, ok: bool, kind: str = "score") -> dict[str, Any]:
        diff = None if kind == "setting" or None in (expected, measured) else measured - expected
        return {"metric": metric, "expected": expected, "measured": measured, "diff": diff, "tolerance": 0.002,
                "ok": ok, "kind": kind}  # fmt: skip

    return [
        {"id": "tiny-shapes-en", "model": "tiny", "status": "pass",
         "rows": [row("acc1", 0.9, 0.901, True), row("acc5", None, None, True)]},
        {"id": "tiny-shapes-fr", "model": "tiny", "status": "FAIL",
         "rows": [row("acc1", 0.9, 0.8, False), row("mean_per_class_recall", 0.9, 0.9, True)]},
        {"id": "tiny-probe", "model": "tiny", "status": "NEW",
         "rows": [row("lp_acc1", None, 0.97, False), row("fewshot_k", None, 5, False, "setting")]},
        {"id": "big-x", "model": "skipped cases", "status": "skipped", "reason": f"missing weights {EVIL}"},
    ]  # fmt: skip


def test_regression_html_has_a_pass_fail_grid_and_the_cases_tables(tmp_path):
    from zsbench.engine.html_report import write_regression_html

    report = tmp_path / "zsbench-report.html"
    write_regression_html(report, outcomes())
    text = report.read_text()
    page = Page(text)
    [grid] = check_images(report, page)
    assert "grid" in grid.name
    assert page.row("tiny-shapes-fr", "FAIL", "acc1")[1:3] == [("FAIL", "fail"), ("acc1", "fail")]
    measured = page.row("tiny-shapes-fr", "FAIL", "acc1")[4][0]
    assert measured == "0.8000"
    assert page.row("tiny-shapes-en", "pass", "acc1")[1] == ("pass", "ok")
    assert page.row("tiny-probe", "NEW", "lp_acc1")[1] == ("NEW", "new")
    assert page.row("big-x", "skipped")[2][0] == f"missing weights {EVIL}"  # the reason, as text
    assert EVIL not in text and "4 cases: 1 pass, 1 FAIL, 1 NEW, 1 skipped" in text


def test_the_plugin_writes_the_html_report_when_the_path_ends_in_html(pytester):
    weights = start_project(pytester)
    case = fake_case(weights, markers=["tiny"], tolerance=0.002, published=None, provenance=None,
                     expected={"acc1": 0.0, "acc5": None, "mean_per_class_recall": 0.0})  # fmt: skip
    (pytester.path / "expected").mkdir()
    (pytester.path / "expected" / "fake_cls__en.json").write_text(json.dumps(case))
    result = run_project(pytester, "--zs-report", "out/zsbench-report.html")
    result.assert_outcomes(failed=1)  # the placeholder numbers are wrong
    report = pytester.path / "out" / "zsbench-report.html"
    page = Page(report.read_text())
    assert len(check_images(report, page)) == 1
    assert page.row("fake_model-fake_cls-en", "FAIL")[1] == ("FAIL", "fail")
    assert not (pytester.path / "out" / "zsbench-report.md").exists()


# --------------------------------------------------------------------------------------------------------------
# the report in a real browser (headless Chromium, where installed)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")
# appended to a copy of the report beside it (same folder, same relative image paths): each image says whether it
# loaded, in the DOM that --dump-dom prints
PROBE = (
    "<script>addEventListener('load', () => { for (const img of document.images) "
    "img.setAttribute('data-loaded', String(img.complete && img.naturalWidth > 0)); });</script>"
)


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _loaded_images(browser: str, report: Path, profile: Path) -> list[str]:
    probe = report.with_name("probe-" + report.name)
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    try:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=90, env={**os.environ, "HOME": str(profile)},
        )  # fmt: skip
    finally:
        probe.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [str(img.get("data-loaded")) for img in Page(proc.stdout).images]


@pytest.mark.skipif(_browser() is None, reason="no headless Chromium/Chrome here (Debian: apt-get install chromium)")
def test_the_report_opens_offline_in_headless_chromium_with_every_image_loaded(tmp_path):
    browser = _browser()
    assert browser is not None
    src = write_results(tmp_path / "runs", results())
    report = tmp_path / "my report.html"  # a space: the relative image paths are URL-encoded
    run_cli("build", src, "--output", tmp_path / "b.csv", "--html", report).assert_ok()
    assert _loaded_images(browser, report, tmp_path / "profile") == ["true"] * 3
    # the check can fail: a missing image is reported as not loaded
    next((tmp_path / "my report_files").glob("zeroshot_retrieval-*.png")).unlink()
    assert sorted(_loaded_images(browser, report, tmp_path / "profile")) == ["false", "true", "true"]
