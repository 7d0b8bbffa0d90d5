"""Parse the "Expected results" of InternVL's CLIP-benchmark README into ``expected/`` snapshot files.

    python scripts/expected_from_readme.py ../shared/seed/internvl_clip_benchmark_README.md expected/

Each result becomes ``expected/<model>/<dataset>__<language>.json`` holding the command's settings, the
published metrics (the README's ``NaN`` becomes null) and the tolerance. Run with ``--check`` to verify that
the committed files still hold exactly the published numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from zsbench.engine.snapshots import marker_name

PRETRAINED_DIR_PREFIX = "./pretrained/"
DATA_ROOT_PREFIX = "./data/"
# Where the README says to get each checkpoint (its "Model Preparation" table).
PRETRAINED_SOURCES = {
    "internvl_c_13b_224px.pth": "https://huggingface.co/OpenGVLab/InternVL/resolve/main/internvl_c_13b_224px.pth (25.4 GB)",
    "internvl_14b_224px": "huggingface-cli download OpenGVLab/InternVL-14B-224px --local-dir pretrained/internvl_14b_224px"
    " (27.7 GB)",
}
FAMILY = {"internvl_c_classification": "internvl_c", "internvl_c_retrieval": "internvl_c",
          "internvl_g_retrieval_hf": "internvl_g"}  # fmt: skip


def _flags(command: str) -> dict[str, str]:
    tokens = shlex.split(command.replace("\\\n", " "))
    out: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--"):
            if "=" in tok:
                key, value = tok[2:].split("=", 1)
                out[key] = value
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                out[tok[2:]] = tokens[i + 1]
                i += 1
        i += 1
    return out


def parse_readme(text: str) -> list[dict[str, Any]]:
    """Every (command, expected result) pair of the README, in order."""
    cases: list[dict[str, Any]] = []
    for block in re.split(r"<details>", text)[1:]:
        block = block.split("</details>")[0]
        title = re.search(r"<summary>(.*?)</summary>", block).group(1).strip()
        commands = re.findall(r"```bash\n(.*?)```", block, flags=re.S)
        results = re.findall(r"Expected results:\s*```\n(.*?)```", block, flags=re.S)
        if not commands or not results:
            continue
        command_lines = [c.strip() for c in re.split(r"\n\s*\n", commands[0]) if "cli.py eval" in c]
        result_lines = [r for r in re.split(r"\n(?=\{)", results[0].strip()) if r.strip()]
        if len(command_lines) != len(result_lines):
            raise SystemExit(f"{title}: {len(command_lines)} commands but {len(result_lines)} results")
        for command, result in zip(command_lines, result_lines):
            published = json.loads(result.replace("\n", " "), parse_constant=lambda _: None)
            flags = _flags(command)
            command = " ".join(command.replace("\\\n", " ").split())
            cases.append({"title": title, "command": command, "flags": flags, "result": published})
    return cases


def to_snapshot(case: dict[str, Any]) -> dict[str, Any]:
    flags, result = case["flags"], case["result"]
    pretrained = flags["pretrained"]
    root = flags["dataset_root"].rstrip("/")
    language = flags.get("language", "en")
    task = result["task"]
    model = flags["model"]
    metrics = result["metrics"]
    recall_k = sorted({int(k.rsplit("@", 1)[1]) for k in metrics if "@" in k}) or None
    return {
        "id": f"{model}-{result['dataset'].replace('/', '_')}-{language}",
        "source": f"InternVL clip_benchmark README: {case['title']}",
        "command": case["command"]
        .replace("python3 clip_benchmark/cli.py", "zsbench")
        .replace("CUDA_VISIBLE_DEVICES=0 ", ""),
        "model_type": flags["model_type"],
        "model": model,
        "pretrained": pretrained.removeprefix(PRETRAINED_DIR_PREFIX),
        "pretrained_source": PRETRAINED_SOURCES.get(pretrained.removeprefix(PRETRAINED_DIR_PREFIX), ""),
        "dataset": result["dataset"],
        "dataset_root": root.removeprefix(DATA_ROOT_PREFIX.rstrip("/")).lstrip("/") or ".",
        "language": language,
        "task": task,
        "recall_k": recall_k,
        "markers": ["gpu", FAMILY.get(model, model), task.removeprefix("zeroshot_"), marker_name(result["dataset"])],
        "tolerance": 0.002,
        "published": metrics,
        "expected": metrics,
        "provenance": None,
    }


def snapshot_path(out_dir: Path, snap: dict[str, Any]) -> Path:
    return out_dir / snap["model"] / f"{snap['dataset'].replace('/', '-')}__{snap['language']}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    snaps = [to_snapshot(c) for c in parse_readme(args.readme.read_text(encoding="utf-8"))]
    problems = 0
    for snap in snaps:
        path = snapshot_path(args.out_dir, snap)
        if args.check:
            have = json.loads(path.read_text()) if path.exists() else None
            if have is None or have["published"] != snap["published"]:
                print(f"differs from the README: {path}")
                problems += 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(snap, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(snaps)} results {'checked' if args.check else 'written'}; {problems} differ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
