"""Compare two runs of the demo audit: do metrics.json, findings.json, every module table and the
report text agree?  Prints "identical" or each difference; exit 0 when identical, 1 otherwise.

    python benchmarks/compare_runs.py RUN_A RUN_B               # two existing run folders
    python benchmarks/compare_runs.py --run /tmp/base_ru          # run the demo (ru) into a folder
    python benchmarks/compare_runs.py --run /tmp/base_en --language en
    python benchmarks/compare_runs.py --against /tmp/base_ru      # run the current code, compare
    python benchmarks/compare_runs.py --against /tmp/base_en --language en

What is compared:
- metrics.json and findings.json as parsed JSON (every key, value and the findings' order);
- every modules/*/tables/*.parquet: the same files, columns, dtypes and values (NaN equal to NaN);
- the text of report.html with tags, styles, scripts and inline images removed, after blanking
  what differs between any two runs (run folders and other paths, timestamps, the run id,
  package versions, seconds).
A run in English uses a copy of the demo's audit.yaml with `language: en` (data paths and the salt
file made absolute, so both languages pseudonymise alike).
"""
from __future__ import annotations

import argparse
import html
import json
import math
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "sample_data" / "demo_clinic" / "audit.yaml"
AUDIT_KIT = Path(sys.executable).parent / "audit-kit"


def demo_config(language: str, folder: Path) -> Path:
    """The demo's audit.yaml in `language` (the demo itself for ru; a copy with absolute paths otherwise)."""
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    if raw.get("language", "ru") == language:
        return DEMO
    raw["language"] = language
    for table, spec in raw["data"].items():
        if isinstance(spec, str):
            raw["data"][table] = str(DEMO.parent / spec)
        else:
            spec["path"] = str(DEMO.parent / spec["path"])
    raw["salt_file"] = str(DEMO.parent / raw.get("salt_file", ".audit_salt"))
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_demo(out: Path, language: str) -> Path:
    """Run the whole demo audit into `out` (replaced); return it."""
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_config(language, Path(tmp))
        done = subprocess.run([str(AUDIT_KIT), "run", str(config), "--out", str(out)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"audit-kit run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return out


class _Text(HTMLParser):
    """The visible text of an HTML page: one line per block, no styles, scripts or images."""

    SKIP = {"style", "script", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


# What legitimately differs between two runs of the same code on the same data: the provenance
# appendix's run folder, build time, kit version, package versions and stage timings.
VOLATILE = [
    (re.compile(r"(?<![\w)])/(tmp|home|work|usr|opt|var|root)(/[\w.+-]+)+/?"), "<path>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d\.\d\d\.\d{4},? \d\d:\d\d(:\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d/\d\d/\d{4},? \d\d:\d\d(:\d\d)?"), "<time>"),
    (re.compile(r"\b\d{8}-\d{6}\b"), "<run-id>"),
]
VALUE_AFTER = {"Папка отчёта", "Report folder", "Отчёт собран", "Report built", "Версия audit-kit",
               "audit-kit version"}                    # the next line is that item's value
BLOCK = (("Версии программ", "Software versions"),    # from this heading up to the next line
         ("Время сборки самого отчёта", "The time taken"))   # starting so: versions and timings


def report_text(path: Path) -> list[str]:
    """The visible lines of a report, volatile provenance blanked (`VOLATILE`, `VALUE_AFTER`, `BLOCK`)."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    lines: list[str] = []
    blank_next = in_block = False
    for line in "".join(parser.parts).splitlines():
        line = " ".join(html.unescape(line).split())
        if not line:
            continue
        if in_block and not line.startswith(BLOCK[1]):
            continue
        if line.startswith(BLOCK[0]):
            in_block = True
            lines.append("<versions and timings>")
            continue
        in_block = False
        if blank_next:
            line, blank_next = "<value>", False
        blank_next = line in VALUE_AFTER
        for pattern, repl in VOLATILE:
            line = pattern.sub(repl, line)
        lines.append(line)
    return lines


def _same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def compare_json(a, b, where: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a:
                out.append(f"{where}.{key}: only in B = {json.dumps(b[key], ensure_ascii=False)[:200]}")
            elif key not in b:
                out.append(f"{where}.{key}: only in A = {json.dumps(a[key], ensure_ascii=False)[:200]}")
            else:
                compare_json(a[key], b[key], f"{where}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items in A, {len(b)} in B")
        for i, (x, y) in enumerate(zip(a, b)):
            compare_json(x, y, f"{where}[{i}]", out)
    elif not _same_value(a, b):
        out.append(f"{where}: A = {json.dumps(a, ensure_ascii=False)[:300]} | B = {json.dumps(b, ensure_ascii=False)[:300]}")


def compare_tables(a: Path, b: Path, out: list[str]) -> None:
    files_a = {p.relative_to(a) for p in a.glob("modules/*/tables/*.parquet")}
    files_b = {p.relative_to(b) for p in b.glob("modules/*/tables/*.parquet")}
    for name in sorted(files_a - files_b):
        out.append(f"{name}: only in A")
    for name in sorted(files_b - files_a):
        out.append(f"{name}: only in B")
    for name in sorted(files_a & files_b):
        left, right = pd.read_parquet(a / name), pd.read_parquet(b / name)
        if list(left.columns) != list(right.columns):
            out.append(f"{name}: columns A {list(left.columns)} | B {list(right.columns)}")
            continue
        if len(left) != len(right):
            out.append(f"{name}: {len(left)} rows in A, {len(right)} in B")
            continue
        for column in left.columns:
            if left[column].dtype != right[column].dtype:
                out.append(f"{name}: column {column} dtype A {left[column].dtype} | B {right[column].dtype}")
                continue
            x, y = left[column].reset_index(drop=True), right[column].reset_index(drop=True)
            differs = ~((x == y) | (x.isna() & y.isna())).to_numpy(bool)
            if differs.any():
                row = int(differs.nonzero()[0][0])
                out.append(f"{name}: column {column} differs in {int(differs.sum())} rows, first row {row}: "
                           f"A {x.iloc[row]!r} | B {y.iloc[row]!r}")
        if not left.index.equals(right.index):
            out.append(f"{name}: index differs")


def compare_text(a: Path, b: Path, out: list[str]) -> None:
    import difflib

    left, right = report_text(a / "report.html"), report_text(b / "report.html")
    diff = list(difflib.unified_diff(left, right, "A/report.html", "B/report.html", n=1, lineterm=""))
    out.extend(f"report text: {line}" for line in diff)
    if diff and sorted(left) == sorted(right):
        out.append("report text: the same lines, only in another order")


def compare(a: Path, b: Path) -> list[str]:
    out: list[str] = []
    for name in ("metrics.json", "findings.json"):
        compare_json(json.loads((a / name).read_text(encoding="utf-8")),
                     json.loads((b / name).read_text(encoding="utf-8")), name, out)
    compare_tables(a, b, out)
    compare_text(a, b, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="two run folders to compare")
    parser.add_argument("--run", type=Path, help="run the demo audit into this folder (and compare nothing)")
    parser.add_argument("--against", type=Path, help="run the demo into a temporary folder and compare with this one")
    parser.add_argument("--language", default="ru", choices=("ru", "en"))
    args = parser.parse_args(argv)
    if args.run:
        run_demo(args.run, args.language)
        print(f"wrote {args.run}")
        return 0
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = run_demo(Path(tmp) / "run", args.language)
            differences = compare(args.against, fresh)
    elif len(args.runs) == 2:
        differences = compare(*args.runs)
    else:
        parser.error("give two run folders, --run DIR or --against DIR")
    for line in differences:
        print(line)
    print("identical" if not differences else f"{len(differences)} differences")
    return 0 if not differences else 1


if __name__ == "__main__":
    sys.exit(main())
