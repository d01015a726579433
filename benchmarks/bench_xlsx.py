"""Benchmark: the workbook (tables.xlsx) of a run folder, its sheets written three ways, on the same
sheets (each table's first `SHEET_ROWS_MAX` rows, cells made alike by `xlsx.sheet_cells`):
  rows      the kit's way: XlsxWriter (constant memory) writes each sheet but its data rows, which are
            made as sheet XML a column at a time and put into the closed package (`xlsx.insert_rows`);
  cells     XlsxWriter writing every cell itself (the kit's way until then, its fallback now);
  openpyxl  openpyxl's write-only mode (the kit's writer until issue 21).
Each runs in its own process (its peak RSS is its own); the runs alternate. Also times the kit's whole
`build_workbook` (README, capped sheets and the complete csv files).

    .venv/bin/python benchmarks/bench_xlsx.py RUN_DIR [RUN_DIR ...] [--repeat 3]

RUN_DIR: a finished `audit-kit run` folder (e.g. of the M or L network of bench_audit.py; without
one, the demo clinic is run into a temporary folder first, as `make bench` does). Prints
per run folder: the tables and rows, each writer's seconds (median of the repeats), peak RSS and
workbook size, the ratios, and build_workbook's seconds, peak RSS and the csv files it wrote.

With --libreoffice, also opens the kit's workbook in LibreOffice headless (`soffice --headless
--convert-to csv`, which converts the first sheet, README) and prints whether it succeeded, its
seconds and the README's first lines. LibreOffice is not a dependency of the kit (Debian:
`apt-get install --no-install-recommends libreoffice-calc`).
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audit_kit.config import load_config
from audit_kit.report import xlsx
from audit_kit.report.appendix import build_appendix
from audit_kit.report.i18n import Translator


def run_tables(run_dir: Path):
    """The run's config, the modules that ran, and every table the workbook holds (modules + appendix)."""
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    config = load_config(info["parameters"]["config"])
    modules = [m["name"] for m in json.loads((run_dir / "modules.json").read_text(encoding="utf-8"))
               if m["status"] == "ok"]
    t = Translator(config.language)
    hashes = {n: [f["sha256"] for f in v["files"]] for n, v in info["inputs"].items()}
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    appendix = build_appendix(run_dir, config, list(metrics), "bench", info["timings_seconds"], hashes)
    tables = [tb for m in modules for tb in xlsx.module_tables(run_dir, m, t)]
    tables += [xlsx.SheetTable(tb.name, tb.section, tb.title, tb.df, tb.formats, tb.labels) for tb in appendix.tables]
    return config, modules, appendix, tables


def openpyxl_sheet(wb, name: str, table: xlsx.SheetTable, formats: dict[str, str]) -> None:
    """The sheet as the kit wrote it with openpyxl (write-only: WriteOnlyCell for formatted cells)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = wb.create_sheet(name)
    df = table.df.iloc[:xlsx.SHEET_ROWS_MAX]
    columns = [str(c) for c in df.columns]
    cells = [(column.kind, column.head(len(df))) for column in xlsx.sheet_cells(table)]
    headers = [table.labels.get(c, c) for c in df.columns]
    units = [str(u) for u in df["unit"]] if "unit" in df.columns else None
    kinds = [table.formats.get(c) or ("date" if k == "date" else None) for c, (k, _) in zip(columns, cells)]
    for j, (header, (_, values), kind) in enumerate(zip(headers, cells, kinds)):
        from openpyxl.utils import get_column_letter
        ws.column_dimensions[get_column_letter(j + 1)].width = xlsx._width(str(header), values, kind)
    ws.freeze_panes = "A2"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
    head = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=xlsx.neutralise(str(header)))
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(vertical="top")
        head.append(cell)
    ws.append(head)
    scale = [100.0 if k == "pp" else 1.0 for k in kinds]
    for r in range(len(df)):
        row = []
        for j, (value_kind, values) in enumerate(cells):
            value, kind = values[r], kinds[j]
            if kind == "by_unit" and units is not None:
                kind = units[r]
            if value is None or isinstance(value, str) or kind not in formats:
                row.append(value)
                continue
            cell = WriteOnlyCell(ws, value=value * scale[j])
            cell.number_format = formats[kind]
            row.append(cell)
        ws.append(row)


def write_with(writer: str, run_dir: Path, out: Path) -> dict:
    config, modules, appendix, tables = run_tables(run_dir)
    formats = xlsx.number_formats(config.language, "₽")
    started = time.perf_counter()
    if writer == "openpyxl":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        taken: set[str] = set()
        for table in tables:
            openpyxl_sheet(wb, xlsx.sheet_name(table.name, taken), table, formats)
        wb.save(out)
    elif writer in ("rows", "cells"):
        package = io.BytesIO()
        wb = xlsx._new_workbook(package)
        styles = xlsx._Styles(wb, formats)
        if writer == "cells":
            styles.xf = None                    # XlsxWriter writes every cell (the fallback)
        taken = set()
        sheets = [xlsx.write_sheet(wb, styles, xlsx.sheet_name(table.name, taken), table) for table in tables]
        xlsx._save(wb, package, styles, sheets, out)
    else:   # the kit's whole build_workbook
        xlsx.build_workbook(run_dir, config, modules, appendix.tables, out)
    seconds = time.perf_counter() - started
    full = xlsx.full_folder(out)
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "bytes": out.stat().st_size, "csv": sorted(p.name for p in full.glob("*.csv")) if full.is_dir() else [],
            "csv_bytes": sum(p.stat().st_size for p in full.glob("*.csv")) if full.is_dir() else 0}


def one(writer: str, run_dir: Path) -> dict:
    """`writer` on `run_dir` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, __file__, "--child", writer, str(run_dir), str(Path(tmp) / "tables.xlsx")],
                             check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def libreoffice(run_dir: Path) -> None:
    """build_workbook into a temporary folder, then its README sheet converted to csv by LibreOffice."""
    soffice = shutil.which("soffice")
    if soffice is None:
        print("  LibreOffice: soffice not found (apt-get install --no-install-recommends libreoffice-calc)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "tables.xlsx"
        subprocess.run([sys.executable, __file__, "--child", "build_workbook", str(run_dir), str(book)], check=True,
                       capture_output=True)
        started = time.perf_counter()
        done = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp}/lo", "--convert-to",
                               "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", tmp, str(book)],
                              capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - started
        out = Path(tmp) / "tables.csv"
        ok = done.returncode == 0 and out.is_file() and out.stat().st_size > 0
        print(f"  LibreOffice: {'README converted' if ok else 'FAILED'} in {seconds:.1f} s (exit {done.returncode})")
        if ok:
            for line in out.read_text(encoding="utf-8").splitlines()[:2] + ["…"]:
                print(f"    {line[:110]}")
        else:
            print(done.stdout[-500:], done.stderr[-500:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--libreoffice", action="store_true", help="open the workbook in LibreOffice headless")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        writer, run_dir, out = args.child
        print(json.dumps(write_with(writer, Path(run_dir), Path(out))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or [demo_run(Path(tmp))]
        for run_dir in runs:
            measure(run_dir, args)


def demo_run(folder: Path) -> Path:
    """The demo clinic run into `folder`/run."""
    from audit_kit.provenance import demo_config_path

    subprocess.run([sys.executable, "-m", "audit_kit.cli", "run", str(demo_config_path()), "--out", str(folder / "run")],
                   check=True, capture_output=True)
    return folder / "run"


def measure(run_dir: Path, args) -> None:
    """Both writers and build_workbook on one run folder, printed."""
    _, _, _, tables = run_tables(run_dir)
    rows = sum(min(len(tb.df), xlsx.SHEET_ROWS_MAX) for tb in tables)
    longest = max(tables, key=lambda tb: len(tb.df))
    print(f"{run_dir}: {len(tables)} tables, {rows:,} rows on sheets (cap {xlsx.SHEET_ROWS_MAX:,}); "
          f"longest {longest.name} {len(longest.df):,} rows")
    results: dict[str, list[dict]] = {"openpyxl": [], "cells": [], "rows": [], "build_workbook": []}
    for _ in range(max(1, args.repeat)):
        for writer in results:
            results[writer].append(one(writer, run_dir))
    med = {w: statistics.median(r["seconds"] for r in rs) for w, rs in results.items()}
    for writer, rs in results.items():
        last = rs[-1]
        print(f"  {writer:15s} {med[writer]:7.2f} s (median of {len(rs)}: "
              f"{', '.join(format(r['seconds'], '.2f') for r in rs)})  peak RSS {max(r['peak_rss_mb'] for r in rs):,.0f} MB  "
              f"xlsx {last['bytes'] / 1e6:.1f} MB" + (f"  csv {', '.join(last['csv'])} {last['csv_bytes'] / 1e6:.1f} MB"
                                                     if last["csv"] else ""))
    print(f"  openpyxl ÷ cells: {med['openpyxl'] / med['cells']:.2f}×   cells ÷ rows: {med['cells'] / med['rows']:.2f}×")
    if args.libreoffice:
        libreoffice(run_dir)


if __name__ == "__main__":
    main()
