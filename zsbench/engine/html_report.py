"""HTML reports a person would rather look at: the tables plus matplotlib charts, readable offline.

Three reports share one writer:

- ``zsbench build ... --html report.html``: per task, the headline metric of every model over the datasets (acc1 for
  zero-shot classification, lp_acc1 for a linear probe, the mean of the image and text recall@k for retrieval), then
  every metric in a table;
- ``zsbench compare BASE NEW --html out.html``: per task, each metric's difference NEW - BASE in percentage points
  beside its ``--fail`` tolerance band, then the comparison's tables;
- the pytest plugin's ``--zs-report PATH.html``: a pass/fail grid of cases x metrics, then the cases' tables.

The charts are PNG files in a folder beside the HTML (``report.html`` -> ``report_files/``), referenced by relative
paths: the report opens offline, with no script, font or stylesheet from the network. Every value from a result is
escaped. Image names carry a hash of their bytes, so the PNGs are written first (each atomically), then the HTML
(atomically), and only then are the previous report's images removed: whenever a browser opens the report, every
image it names is on disk. The PNGs hold no timestamp or software version, so the same results give the same bytes.

matplotlib is imported only here and only when an HTML report is asked for (``require_matplotlib`` checks it before
any work); it draws on ``Figure`` objects with the Agg canvas, never through pyplot's global state.
"""

from __future__ import annotations

import hashlib
import html
import io
import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from zsbench.engine.results import METRIC_ORDER, METRIC_SETTINGS
from zsbench.errors import OutputError, ZsbenchError

__all__ = [
    "HtmlReport",
    "check_html_path",
    "compare_report",
    "headline_metric",
    "images_folder",
    "regression_report",
    "require_matplotlib",
    "results_report",
    "write_regression_html",
]

# the page is at most 1200 CSS pixels wide (less its padding): a chart up to this many inches shows at 100%
MAX_WIDTH = 11.4
DPI = 200  # pixels per inch of the PNGs; the HTML shows them at 100 CSS pixels per inch (sharp on HiDPI screens)
CSS_DPI = 100
MAX_DIFF_ROWS = 60  # rows per difference chart; the table below it always has all of them
MAX_LABEL = 48  # characters of a model or pretrained name in a legend (the tables have the full names)
# An image this report wrote: <name>-<12 hex digits of its sha256>.png. Only such files are ever removed.
_IMAGE_RE = re.compile(r"^[A-Za-z0-9_.-]+-[0-9a-f]{12}\.png$")

# verdict colours, shared by the charts and the tables
GREEN, RED, GREY, AMBER, BAND = "#2e7d32", "#c62828", "#9e9e9e", "#ef6c00", "#d0e4f7"
CELL = {"ok": "#c8e6c9", "fail": "#ef9a9a", "new": "#bbdefb", "none": "#f5f5f5"}


def require_matplotlib(flag: str = "--html") -> None:
    """One line (exit 2) when matplotlib is missing, before any result is read or written."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as e:
        raise ZsbenchError(f"{flag} needs matplotlib: pip install matplotlib") from e


def images_folder(path: str | Path) -> Path:
    """``report.html`` -> ``report_files`` beside it (the name a browser's "save page" uses)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_files")


def check_html_path(path: str | Path, flag: str = "--html") -> None:
    """matplotlib is there, the HTML can be written and its images folder is not a file: checked before any work."""
    from zsbench.engine.checks import check_writable_file

    require_matplotlib(flag)
    if not str(path).lower().endswith((".html", ".htm")):
        raise ZsbenchError(f"{flag} {path}: give a path ending in .html (its images go to {images_folder(path)}/)")
    check_writable_file(path, flag)
    folder = images_folder(path)
    if folder.exists() and not folder.is_dir():
        raise ZsbenchError(f"{flag} {path}: its images folder {folder} is a file; move it or choose another path")


# --------------------------------------------------------------------------------------------------------------
# the writer


@dataclass
class HtmlReport:
    """An HTML page and its images (file name in the images folder -> PNG bytes), ready to be written."""

    path: Path
    html: str
    images: dict[str, bytes] = field(default_factory=dict)

    def write(self) -> None:
        """PNGs first, then the HTML (each atomically), then the previous report's images: never a broken image."""
        from zsbench.engine.atomic import atomic_write, describe_os_error
        from zsbench.engine.results import locked

        folder = images_folder(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # two runs writing one report must not remove each other's images
            with locked(self.path):
                if self.images:
                    folder.mkdir(exist_ok=True)
                for name, data in self.images.items():
                    target = folder / name
                    # the name holds the hash of the bytes: an existing file of that name and size is this image
                    if not (target.is_file() and target.stat().st_size == len(data)):
                        atomic_write(target, lambda f, data=data: f.write(data))
                atomic_write(self.path, lambda f: f.write(self.html.encode("utf-8")))
                self._remove_old_images(folder)
        except OSError as e:
            raise OutputError(f"cannot write --html {self.path}: {describe_os_error(e)}") from e

    def _remove_old_images(self, folder: Path) -> None:
        if not folder.is_dir():
            return
        for old in folder.iterdir():
            if _IMAGE_RE.match(old.name) and old.name not in self.images and old.is_file():
                old.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()  # a report without charts leaves no empty folder behind


@dataclass
class _Chart:
    name: str
    png: bytes
    alt: str
    caption: str

    @property
    def file_name(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name).strip("._")[:60] or "chart"
        return f"{stem}-{hashlib.sha256(self.png).hexdigest()[:12]}.png"

    @property
    def size(self) -> tuple[int, int]:
        """CSS pixels (PNG pixels at 100 per inch), from the PNG header."""
        width, height = struct.unpack(">II", self.png[16:24])
        return round(width * CSS_DPI / DPI), round(height * CSS_DPI / DPI)


class _Page:
    """The HTML of one report, built piece by piece; every value from a result goes through :func:`esc`."""

    def __init__(self, path: Path, title: str) -> None:
        self.path = Path(path)
        self.title = title
        self.parts: list[str] = []
        self.images: dict[str, bytes] = {}

    def add(self, *parts: str) -> None:
        self.parts.extend(parts)

    def figure(self, chart: _Chart | None) -> None:
        if chart is None:
            return
        name = chart.file_name
        self.images[name] = chart.png
        src = f"{quote(images_folder(self.path).name)}/{quote(name)}"
        width, height = chart.size
        self.add(
            f'<figure><img src="{esc(src)}" width="{width}" height="{height}" alt="{esc(chart.alt)}">'
            f"<figcaption>{esc(chart.caption)}</figcaption></figure>"
        )

    def report(self) -> HtmlReport:
        page = "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{esc(self.title)}</title>",
                f"<style>{STYLE}</style>",
                "</head>",
                "<body>",
                f"<h1>{esc(self.title)}</h1>",
                *self.parts,
                "<footer>Written by zsbench. Charts: matplotlib. Everything this page shows is in this file and the "
                f"folder {esc(images_folder(self.path).name)}/ beside it.</footer>",
                "</body>",
                "</html>",
                "",
            ]
        )
        return HtmlReport(self.path, page, dict(self.images))


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#212121;
max-width:1200px;margin:0 auto;padding:24px;line-height:1.45;font-size:15px}
h1{font-size:1.7em;margin:0 0 .3em}h2{font-size:1.3em;margin:1.6em 0 .4em;border-bottom:2px solid #e0e0e0;
padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .3em}
.meta,figcaption,footer{color:#616161;font-size:.9em}footer{margin-top:3em;border-top:1px solid #e0e0e0;padding-top:.6em}
figure{margin:1em 0}img{max-width:100%;height:auto}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.88em}
th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;white-space:nowrap}
th{background:#f5f5f5;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.ok,span.ok{background:#c8e6c9!important}td.fail,span.fail{background:#ef9a9a!important;font-weight:600}
td.new,span.new{background:#bbdefb!important}td.skip,span.skip{background:#eeeeee!important;color:#616161}
span.ok,span.fail,span.new,span.skip{padding:1px 6px;border-radius:3px}
p.summary{font-weight:600;padding:.5em .8em;border-radius:4px;background:#f5f5f5}
p.summary.fail{background:#ffebee;color:#b71c1c}p.summary.ok{background:#e8f5e9;color:#1b5e20}
ul.toc{columns:2}
""".strip()


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def _metric_text(metric: str, value: Any) -> str:
    """A score with 4 decimals (an integer 1 too); a linear-probe setting as written."""
    if metric not in METRIC_SETTINGS and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return _cell_text(value)


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], classes: Iterable[Sequence[str]] | None = None) -> str:
    """An HTML table; ``classes`` gives each cell's class (``num``, ``ok``, ``fail``, ...)."""
    rows = [list(r) for r in rows]
    cls_rows = [list(c) for c in classes] if classes is not None else [[""] * len(r) for r in rows]
    out = ['<div class="scroll"><table>', "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for row, cls in zip(rows, cls_rows):
        cells = []
        for value, c in zip(row, cls):
            attr = f' class="{esc(c)}"' if c else ""
            cells.append(f"<td{attr}>{esc(value)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------------------
# charts


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# matplotlib's defaults plus a few readability settings, whatever the user's matplotlibrc says
_RC = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
}


def _draw(draw: Any, *args: Any) -> bytes:
    """``draw(*args)`` -> a Figure, rendered to PNG bytes under zsbench's style (rcParams restored afterwards)."""
    import matplotlib as mpl
    import matplotlib.style

    with mpl.rc_context():
        matplotlib.style.use("default")
        mpl.rcParams.update(_RC)
        fig = draw(*args)
        buf = io.BytesIO()
        # no Software/date chunk: the same results give byte-identical PNGs
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
        return buf.getvalue()


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _model_label(record: dict[str, Any]) -> str:
    model, pretrained = str(record.get("model")), str(record.get("pretrained"))
    if "/" in pretrained:  # a checkpoint path: its file name says which one; the table has the whole path
        pretrained = pretrained.rstrip("/").rsplit("/", 1)[-1]
    return _short(f"{model} {pretrained}")


_RECALL_RE = re.compile(r"^(image|text)_retrieval_recall@(\d+)$")


def _task_kind(task: str | None, metrics: dict[str, Any]) -> str:
    if task == "linear_probe" or (task is None and "lp_acc1" in metrics):
        return "linear_probe"
    if task == "zeroshot_retrieval" or (task is None and any(_RECALL_RE.match(m) for m in metrics)):
        return "retrieval"
    if task == "zeroshot_classification" or (task is None and "acc1" in metrics):
        return "classification"
    return "other"


def headline_metric(task: str | None, records: Sequence[dict[str, Any]]) -> tuple[str, list[float | None]] | None:
    """The metric a chart shows for ``records`` of one task, and each record's value (None: null or absent).

    acc1 for zero-shot classification, lp_acc1 for a linear probe, and for retrieval the mean of the image and text
    recall@k over the k that *every* record has (a mean over different k would not compare); None for a task with
    none of these.
    """
    if not records:
        return None
    metrics = [r.get("metrics") or {} for r in records]
    kind = _task_kind(task, metrics[0])
    if kind == "retrieval":
        common = set.intersection(*({m for m in ms if _RECALL_RE.match(m)} for ms in metrics))
        if not common:
            return None
        keys = sorted(common, key=lambda m: (int(m.rsplit("@", 1)[1]), not m.startswith("image")))
        ks = sorted({int(m.rsplit("@", 1)[1]) for m in keys})
        sides = sorted({_RECALL_RE.match(m)[1] for m in keys})  # type: ignore[index]
        label = f"mean recall ({' & '.join(sides)} R@{', R@'.join(map(str, ks))})"
        values: list[float | None] = []
        for ms in metrics:
            vals = [ms.get(k) for k in keys]
            # one null recall makes the mean unknown, not the mean of the others
            values.append(None if any(v is None for v in vals) else sum(vals) / len(vals))
        return label, values
    name = {"linear_probe": "lp_acc1", "classification": "acc1"}.get(kind)
    if name is None:
        present = [m for m in METRIC_ORDER if any(m in ms for ms in metrics)]
        if not present:
            return None
        name = present[0]
    return name, [ms.get(name) for ms in metrics]


def _bars(task: str, label: str, categories: list[str], series: dict[str, dict[str, float | None]]) -> Any:
    """Grouped bars: one group per dataset, one bar per model, values in percent, each bar labelled."""
    n_series, n_cats = len(series), len(categories)
    group = min(0.8, 0.3 * n_series)  # a lone bar is not a metre wide
    width = min(MAX_WIDTH, max(6.0, 1.6 + n_cats * (0.3 + 0.36 * n_series * group / 0.8)))
    # rotate the dataset names when they would not fit side by side (about 0.075 inch per character)
    rotate = max(len(c) for c in categories) * 0.075 > 0.9 * (width - 1.2) / n_cats
    fig = _figure(width, 4.4 + (0.8 if rotate else 0) + 0.2 * ((n_series - 1) // 3))
    ax = fig.add_subplot()
    bar_w = group / n_series
    colors = _palette(n_series)
    annotate = n_cats * n_series <= 48
    for i, (name, values) in enumerate(series.items()):
        xs, hs, nulls = [], [], []
        for j, cat in enumerate(categories):
            if cat not in values:
                continue  # this model has no result on this dataset
            x = j - group / 2 + bar_w * (i + 0.5)
            if values[cat] is None:
                nulls.append(x)
            else:
                xs.append(x)
                hs.append(values[cat] * 100)
        bars = ax.bar(xs, hs, width=bar_w * 0.9, color=colors[i], label=name, zorder=3)
        if annotate:
            ax.bar_label(bars, fmt="%.1f", padding=2, fontsize=8 if n_series < 4 else 7, zorder=4)
        for x in nulls:
            ax.text(x, 1.5, "null", rotation=90, ha="center", va="bottom", fontsize=8, color=RED, zorder=4)
    ax.set_xticks(range(n_cats))
    ax.set_xticklabels(categories, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    if rotate:
        for tick in ax.get_xticklabels():
            tick.set_rotation_mode("anchor")
    ax.set_xlim(-0.6, n_cats - 0.4)
    ax.set_ylim(0, 108)
    ax.set_yticks(range(0, 101, 20))
    short, _, detail = label.partition(" (")
    ax.set_ylabel(f"{short} (%)")
    ax.set_xlabel("dataset")
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    _titles(fig, ax, f"{task}: {short} per dataset", f"{short} ({detail}" if detail else f"{short} of each model")
    _legend(fig, ax.get_legend_handles_labels()[0], list(series), width)
    return fig


def _legend(fig: Any, handles: list[Any], labels: list[str], width: float) -> None:
    """A legend below the axes with as many columns as fit the figure's width (a clipped entry would be lost)."""
    entry = 0.45 + 0.07 * max(len(label) for label in labels)  # inches: the swatch, the gap, ~0.07 per character
    ncols = max(1, min(len(labels), 4, int(width // entry)))
    fig.legend(handles, labels, loc="outside lower left", ncols=ncols)


def _titles(fig: Any, ax: Any, title: str, subtitle: str) -> None:
    """A bold title with a grey line under it that says what is drawn."""
    fig.suptitle(title, x=0.01, ha="left", fontsize=12.5, fontweight="bold")
    ax.set_title(subtitle, loc="left", fontsize=9.5, color="#616161", fontweight="normal")


def _palette(n: int) -> list[Any]:
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


# --------------------------------------------------------------------------------------------------------------
# zsbench build --html


def _group_by_task(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get("task") or "(no task)"), []).append(r)
    return groups


def _flags(record: dict[str, Any]) -> str:
    """What makes a result not comparable with a published one, from its provenance."""
    prov = record.get("zsbench") if isinstance(record.get("zsbench"), dict) else {}
    notes = []
    if prov.get("allow_incomplete"):
        notes.append("incomplete split (--allow_incomplete)")
    if prov.get("skipped_corrupt"):
        notes.append(f"{prov['skipped_corrupt']} corrupt images skipped")
    info = prov.get("dataset_info") if isinstance(prov.get("dataset_info"), dict) else {}
    if info.get("absent_classes"):
        notes.append(f"absent classes: {', '.join(map(str, info['absent_classes']))}")
    return "; ".join(notes)


def _metric_columns(records: list[dict[str, Any]]) -> list[str]:
    from zsbench.engine.compare import _metric_sort

    names = {m for r in records for m in (r.get("metrics") or {})}
    scores = sorted((m for m in names if m not in METRIC_SETTINGS), key=_metric_sort)
    return scores + [m for m in METRIC_SETTINGS if m in names]


def _results_chart(task: str, records: list[dict[str, Any]], notes: list[str]) -> _Chart | None:
    head = headline_metric(None if task == "(no task)" else task, records)
    if head is None:
        notes.append(f"{task}: no chart (no acc1, lp_acc1 or recall@k metric); every metric is in the table")
        return None
    label, values = head
    languages = {r.get("language") for r in records}
    categories: list[str] = []
    series: dict[str, dict[str, float | None]] = {}
    seen: dict[tuple[str, str], int] = {}
    names: dict[tuple[Any, Any], str] = {}  # (model, pretrained) -> its legend entry, unique
    for n, (r, value) in enumerate(zip(records, values), 1):
        cat = str(r.get("dataset")) + (f" [{r.get('language')}]" if len(languages) > 1 else "")
        key = (r.get("model"), r.get("pretrained"))
        if key not in names:
            # two checkpoints with one file name in different folders: still two entries
            name, i = _model_label(r), 1
            while name in names.values():
                i += 1
                name = f"{_model_label(r)} #{i}"
            names[key] = name
        name = names[key]
        if cat not in categories:
            categories.append(cat)
        if (name, cat) in seen:
            notes.append(f"{task}: {name} on {cat} appears in results {seen[name, cat]} and {n}; the chart shows {n}")
        seen[name, cat] = n
        series.setdefault(name, {})[cat] = value
    png = _draw(_bars, task, label, categories, series)
    alt = f"Bar chart of {label} per dataset for {len(series)} model(s) ({task})"
    caption = f"{task}: {label}, in percent, for each model (colour) on each dataset; null: not measurable."
    return _Chart(task, png, alt, caption)


def results_report(records: list[dict[str, Any]], path: str | Path, sources: Sequence[str] = ()) -> HtmlReport:
    """``zsbench build --html``: per task, a chart of the headline metric and a table of every metric."""
    page = _Page(Path(path), "zsbench results")
    groups = _group_by_task(records)
    origin = f" from {', '.join(map(str, sources))}" if sources else ""
    page.add(f'<p class="meta">{len(records)} results in {len(groups)} task(s){esc(origin)}.</p>')
    if len(groups) > 1:
        page.add(
            '<ul class="toc">' + "".join(f'<li><a href="#{_anchor(t)}">{esc(t)}</a></li>' for t in groups) + "</ul>"
        )
    for task, items in groups.items():
        notes: list[str] = []
        page.add(f'<h2 id="{_anchor(task)}">{esc(task)}</h2>')
        page.figure(_results_chart(task, items, notes))
        metrics = _metric_columns(items)
        flags = [_flags(r) for r in items]
        head = ["model", "pretrained", "dataset", "language", *metrics] + (["notes"] if any(flags) else [])
        rows, classes = [], []
        for r, flag in zip(items, flags):
            ms = r.get("metrics") or {}
            row = [r.get("model") or "-", r.get("pretrained") or "-", r.get("dataset"), r.get("language") or "-"]
            row += ["" if m not in ms else _metric_text(m, ms[m]) for m in metrics]
            cls = ["", "", "", ""] + ["num"] * len(metrics)
            if any(flags):
                row.append(flag)
                cls.append("fail" if flag else "")
            rows.append(row)
            classes.append(cls)
        page.add(_table(head, rows, classes))
        for note in notes:
            page.add(f'<p class="meta">Note: {esc(note)}</p>')
    return page.report()


def _anchor(text: str) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", text)


# --------------------------------------------------------------------------------------------------------------
# zsbench compare --html


def _diff_chart(task: str, rows: list[Any], several_models: bool) -> tuple[bytes, int]:
    """Horizontal bars of NEW - BASE (pp) per row, each beside its allowed drop; returns (png, rows shown)."""
    shown = rows
    if len(rows) > MAX_DIFF_ROWS:
        # the largest drops (and every failure): a chart of hundreds of rows is unreadable; shown in table order
        worst = sorted(rows, key=lambda r: (r.verdict != "FAIL", math.inf if r.diff is None else r.diff))
        keep = {id(r) for r in worst[:MAX_DIFF_ROWS]}
        shown = [r for r in rows if id(r) in keep]
    return _draw(_diff_figure, task, shown, several_models), len(shown)


def _diff_figure(task: str, rows: list[Any], several_models: bool) -> Any:
    several_languages = len({r.language for r in rows}) > 1
    # one y slot per row, plus a bold heading slot before each model's rows when the task has several models
    ys, labels, headings, model = [], [], [], None
    for r in rows:
        if several_models and (r.model, r.pretrained) != model:
            model = (r.model, r.pretrained)
            headings.append(len(labels))
            labels.append(_model_label({"model": r.model, "pretrained": r.pretrained}))
        ys.append(len(labels))
        labels.append(_short(f"{r.dataset}" + (f" [{r.language}]" if several_languages else "") + f"  {r.metric}", 60))
    n = len(labels)
    diffs = [None if r.diff is None else r.diff * 100 for r in rows]
    limits = [None if r.threshold is None else r.threshold.absolute * 100 for r in rows]
    span = max([0.5] + [abs(d) for d in diffs if d is not None] + [lim for lim in limits if lim is not None])
    fig = _figure(10.5, 1.9 + 0.3 * n)
    ax = fig.add_subplot()
    for y, lim in zip(ys, limits):
        if lim is not None:
            ax.barh(y, lim, left=-lim, height=0.84, color=BAND, edgecolor="none", zorder=1)
            ax.plot([-lim, -lim], [y - 0.42, y + 0.42], color=RED, linestyle=(0, (2, 1.5)), linewidth=1.2, zorder=2)
    colors = []
    for r, d in zip(rows, diffs):
        if r.verdict == "FAIL":
            colors.append(RED)
        elif d is None or d == 0:
            colors.append(GREY)
        else:
            colors.append(GREEN if d > 0 else AMBER)
    bars = ax.barh(ys, [0 if d is None else d for d in diffs], height=0.55, color=colors, zorder=3)
    texts = []
    for r, d in zip(rows, diffs):
        if d is None:
            texts.append("became null" if r.new is None and r.base is not None else "null")
        else:
            texts.append(f"{d:+.2f}pp")
    ax.bar_label(bars, labels=texts, padding=3, fontsize=8, zorder=4)
    ax.axvline(0, color="#424242", linewidth=0.9, zorder=2)
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels)
    for i in headings:
        ax.get_yticklabels()[i].set_fontweight("bold")
        if i:
            ax.axhline(i - 0.5, color="#bdbdbd", linewidth=0.8, zorder=1)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(-span * 1.45, span * 1.45)
    ax.set_xlabel("NEW - BASE (percentage points; left of 0 is a drop)")
    ax.grid(axis="x", color="#eeeeee", zorder=0)
    sub = (
        "NEW - BASE per metric; shaded: the drop --fail allows"
        if any(x is not None for x in limits)
        else ("NEW - BASE per metric (no --fail limits)")
    )
    _titles(fig, ax, f"{task}: NEW vs BASE", sub)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=GREEN, label="gain"), Patch(color=AMBER, label="drop (within its limit, if any)")]
    if any(lim is not None for lim in limits):
        handles += [
            Patch(color=RED, label="FAIL (drop beyond --fail)"),
            Patch(color=BAND, label="allowed drop (--fail tolerance)"),
            Line2D([], [], color=RED, linestyle=(0, (2, 1.5)), label="--fail limit"),
        ]
    _legend(fig, handles, [h.get_label() for h in handles], 10.5)
    return fig


def compare_report(comparison: Any, path: str | Path) -> HtmlReport:
    """``zsbench compare --html``: the settings that differ, then per task a difference chart and the table."""
    from zsbench.engine import compare as text  # the text report's pieces: the HTML says exactly what it says

    c = comparison
    page = _Page(Path(path), "zsbench compare")
    page.add("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in text._header_lines(c)) + "</ul>")
    summary = text._summary(c)
    cls = "fail" if c.failed else "ok" if c.thresholds else ""
    page.add(f'<p class="summary {cls}">{esc(summary)}</p>')
    if c.settings:
        page.add("<h2>Settings that differ between the runs</h2>", "<p>They can explain the differences below.</p>")
        listed = "".join(
            f"<li><b>{esc(d.setting)}</b>: <code>{esc(text._value(d.base))}</code> &rarr; "
            f"<code>{esc(text._value(d.new))}</code> ({esc(text._scope(d, c.n_shared))})</li>"
            for d in c.settings
        )
        page.add(f"<ul>{listed}</ul>")
    notes = text._notes(c)
    if notes:
        page.add("<h2>Notes</h2>", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    for task, rows in c.tasks().items():
        page.add(f'<h2 id="{_anchor(task)}">{esc(task)}</h2>')
        several = len({(r.model, r.pretrained) for r in rows}) > 1
        png, shown = _diff_chart(task, rows, several)
        caption = f"{task}: NEW - BASE for each metric"
        if c.thresholds:
            caption += "; the shaded band is the drop --fail allows, the dashed line its limit"
        if shown < len(rows):
            caption += f"; the {shown} largest drops of {len(rows)} rows are shown, the table has all"
        page.figure(_Chart(f"compare-{task}", png, f"Difference chart of {len(rows)} metrics ({task})", caption + "."))
        head, body = text._table_cells(c, rows)
        classes = []
        for r in rows:
            row_cls = ["num" if h in ("base", "new", "diff") else "" for h in head]
            if "verdict" in head:
                row_cls[head.index("verdict")] = {"FAIL": "fail", "ok": "ok"}.get(r.verdict, "")
            classes.append(row_cls)
        page.add(_table(head, body, classes))
    for side, items in (("BASE", c.only_base), ("NEW", c.only_new)):
        if items:
            page.add(f"<h2>Only in {side} (not compared)</h2>")
            page.add(_table([*text.KEY_FIELDS, "metrics"], text._one_sided_cells(items)))
    return page.report()


# --------------------------------------------------------------------------------------------------------------
# the regression report (pytest --zs-report PATH.html)

_RECORDED = ("NEW", "created", "updated")


def _cell_state(outcome: dict[str, Any], row: dict[str, Any]) -> str:
    if outcome.get("status") in _RECORDED:
        return "new"
    return "ok" if row.get("ok") else "fail"


def _grid_figure(cases: list[dict[str, Any]], metrics: list[str]) -> Any:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    states = ["ok", "fail", "new", "none"]
    grid, texts = [], []
    for o in cases:
        by_metric = {r.get("metric"): r for r in o.get("rows") or []}
        line, words = [], []
        for m in metrics:
            r = by_metric.get(m)
            if r is None:
                line.append(states.index("none"))
                words.append("")
                continue
            line.append(states.index(_cell_state(o, r)))
            value = r.get("measured")
            words.append(f"{value:.3f}" if isinstance(value, float) else _cell_text(value))
        grid.append(line)
        texts.append(words)
    n_rows, n_cols = len(cases), len(metrics)
    longest = max(len(str(o["id"])) for o in cases)
    fig = _figure(min(MAX_WIDTH, 1.0 + 0.075 * longest + 0.95 * n_cols), 1.9 + 0.3 * n_rows)
    ax = fig.add_subplot()
    ax.imshow(grid, cmap=ListedColormap([CELL[s] for s in states]), vmin=0, vmax=len(states) - 1, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            if texts[i][j]:
                bold = grid[i][j] == states.index("fail")
                ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=8, weight="bold" if bold else "normal")
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels(metrics, rotation=35, ha="right")
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels([_short(str(o["id"]), 60) for o in cases])
    ax.xaxis.tick_top()
    plt_setp = ax.get_xticklabels()
    for label in plt_setp:
        label.set_rotation_mode("anchor")
        label.set_ha("left")
    ax.set_xticks([x - 0.5 for x in range(1, n_cols)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, n_rows)], minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    _titles(fig, ax, "Regression cases", "each row a case, each column a metric; cell: the measured value")
    handles = [
        Patch(color=CELL["ok"], label="within tolerance"),
        Patch(color=CELL["fail"], label="FAIL"),
        Patch(color=CELL["new"], label="no expected numbers yet / recorded"),
        Patch(facecolor=CELL["none"], edgecolor="#bdbdbd", label="not measured for this case"),
    ]
    _legend(fig, handles, [h.get_label() for h in handles], fig.get_figwidth())
    return fig


def regression_report(outcomes: list[dict[str, Any]], path: str | Path) -> HtmlReport:
    """The plugin's report as HTML: counts, a pass/fail grid of cases x metrics, then one table per model."""
    from zsbench.engine.compare import _metric_sort

    page = _Page(Path(path), "zsbench regression report")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[str(o.get("status"))] = counts.get(str(o.get("status")), 0) + 1
    failed = any(o.get("status") in ("FAIL", "INVALID", "NEW") for o in outcomes)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    page.add(f'<p class="summary {"fail" if failed else "ok"}">{len(outcomes)} cases: {esc(summary)}</p>')
    ran = [o for o in outcomes if o.get("rows")]
    if ran:
        metrics = sorted({str(r.get("metric")) for o in ran for r in o["rows"]}, key=_metric_sort)
        png = _draw(_grid_figure, ran, metrics)
        others = len(outcomes) - len(ran)
        caption = "Each row a case, each column a metric; the colour is the verdict, the text the measured value."
        if others:
            caption += f" {others} case(s) without numbers (skipped, invalid) are in the tables below."
        page.figure(_Chart("regression-grid", png, f"Pass/fail grid of {len(ran)} cases", caption))
    by_model: dict[str, list[dict[str, Any]]] = {}
    for o in outcomes:
        by_model.setdefault(str(o.get("model")), []).append(o)
    head = ["case", "status", "metric", "expected", "measured", "diff", "tolerance"]
    for model, items in by_model.items():
        page.add(f"<h2>{esc(model)}</h2>")
        rows, classes = [], []
        for o in items:
            status = str(o.get("status"))
            status_cls = {"pass": "ok", "FAIL": "fail", "INVALID": "fail", "skipped": "skip"}.get(status, "new")
            case_rows = o.get("rows") or []
            if not case_rows:
                rows.append([o.get("id"), status, o.get("reason", ""), "", "", "", ""])
                classes.append(["", status_cls, "", "", "", "", ""])
            for i, r in enumerate(case_rows):
                tolerance = "equal" if r.get("kind") == "setting" else _cell_text(r.get("tolerance"))
                diff = r.get("diff")
                rows.append([o.get("id") if i == 0 else "", status if i == 0 else "", r.get("metric"),
                             _cell_text(r.get("expected")), _cell_text(r.get("measured")),
                             "" if diff is None else f"{diff:+.4f}", tolerance])  # fmt: skip
                metric_cls = _cell_state(o, r).replace("new", "")
                classes.append(["", status_cls if i == 0 else "", metric_cls, "num", "num", "num", "num"])
        page.add(_table(head, rows, classes))
    return page.report()


def write_regression_html(path: str | Path, outcomes: list[dict[str, Any]]) -> None:
    """The plugin's ``--zs-report PATH.html``: :func:`regression_report` written (images, then HTML)."""
    regression_report(outcomes, path).write()
