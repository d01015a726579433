"""`audit-kit init | validate | run | sample`: exit 0 ok, 1 a module failed, 2 bad input or config."""
from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

from .errors import AuditKitError


def _print_ledger(summary: dict) -> None:
    from .ingest.presets import all_presets

    for name, t in summary["tables"].items():     # what each table was read as
        files = t.get("files") or {}
        for file, f in (files.items() if files else [(None, t)]):
            preset = all_presets().get(f.get("preset") or "")
            what = preset.label("en") if preset else "columns by name (built-in aliases and columns:)"
            print(f"{name}: {what}, {f['read']:,} rows" + (f" ({file})" if file else ""))
    rows = [("table", "read", "used", "fixed", "rejected", "reasons")]
    for name, t in summary["tables"].items():
        reasons = ", ".join(f"{k}: {v}" for k, v in t["reasons"].items())
        rows.append((name, str(t["read"]), str(t["used"]), str(t["fixed"]), str(t["rejected"]), reasons))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(5)) + "  " + r[5])


def cmd_init(args) -> int:
    from .request import init_client

    for path in init_client(Path(args.folder), args.client):
        print(f"wrote {path}")
    print(f"next: send {Path(args.folder) / 'data_request.xlsx'} to the clinic, put the exports in "
          f"{Path(args.folder) / 'data'}, list them in audit.yaml, then: audit-kit validate {Path(args.folder) / 'audit.yaml'}")
    return 0


def cmd_validate(args) -> int:
    from .config import load_config
    from .ingest import ingest

    result = ingest(load_config(args.config))
    if args.json:
        print(json.dumps(result.ledger.summary(), ensure_ascii=False, indent=2))
    else:
        _print_ledger(result.ledger.summary())
        for name, t in result.ledger.tables.items():      # what was corrected in the rows kept
            if t.fixes:
                print(f"fixed in {name}: " + ", ".join(f"{k}: {v}" for k, v in t.fixes.items()))
            if t.notes:
                print(f"read by default in {name} (no value shows the format): "
                      + ", ".join(f"{k}: {v}" for k, v in t.notes.items()))
        totals = result.ledger.totals()
        print(f"total: {totals['read']} rows read, {totals['used']} used ({totals['fixed']} fixed), "
              f"{totals['rejected']} rejected")
    for warning in result.ledger.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    if not any(t.used for t in result.ledger.tables.values()):
        print("error: no usable rows in any table; nothing to audit", file=sys.stderr)
        return 2
    return 0


def cmd_run(args) -> int:
    from .progress import for_stream
    from .runner import run_audit

    result = run_audit(args.config, out=args.out, modules=args.modules, progress=for_stream(sys.stdout))
    print(f"report folder: {result.run_dir}")
    for kind in ("html", "pdf", "xlsx"):
        if kind in result.outputs:
            print(f"  {kind}: {result.outputs[kind]}")
    failed = [m.name for m in result.modules if m.status == "failed"]
    if failed:
        print(f"modules failed: {', '.join(failed)} (see notebooks/ in the report folder)", file=sys.stderr)
    print(f"done in {result.timings['total']} s")
    return result.exit_code


def cmd_sample(args) -> int:
    from .sample import generate, generate_network

    if args.branches is None:
        config = generate(Path(args.folder))
        print(f"wrote the demo clinic to {config.parent}; run: audit-kit run {config}")
        return 0
    config = generate_network(Path(args.folder), args.branches)
    print(f"wrote a network of {args.branches} copies of the demo clinic to {config.parent}; run: audit-kit run {config}")
    return 0


def _branches(text: str) -> int:
    from .sample.network import MAX_BRANCHES

    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_BRANCHES:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_BRANCHES}, not {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audit-kit", description="Audit a private clinic from its raw exports.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create a client folder with audit.yaml and a data-request workbook")
    p.add_argument("folder")
    p.add_argument("--client", help="clinic name for the report cover (default: the folder name)")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("validate", help="ingest only: print the row ledger; exit 2 when the data cannot be audited")
    p.add_argument("config", help="path to audit.yaml (or its folder)")
    p.add_argument("--json", action="store_true", help="print the ledger as JSON")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("run", help="the whole audit: ingest, modules, report")
    p.add_argument("config", help="path to audit.yaml (or its folder)")
    p.add_argument("--out", help="report folder (default: <client>/reports/<run-id>)")
    p.add_argument("--modules", nargs="+", help="run only these modules")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("sample", help="write the synthetic demo clinic (raw exports + audit.yaml)")
    p.add_argument("folder", nargs="?", default="demo_clinic")
    p.add_argument("--branches", type=_branches, metavar="N",
                   help="a network of N copies of the demo clinic as branches (all csv; for benchmarks)")
    p.set_defaults(func=cmd_sample)
    return parser


# jsonschema, which nbformat imports (and so papermill in each module worker, nbconvert in the report), loads the
# optional rfc3987_syntax when it is installed (JupyterLab's jupyter-events pulls it in), and that package compiles a
# Lark grammar at import: 1.7–2.0 s of CPU in every process that imports nbformat (0.3 s without), three per run.
# It backs only jsonschema's "iri" and "iri-reference" format checks, which nbformat's validation never makes.
SKIPPED_IMPORTS = ("rfc3987_syntax",)


def skip_unused_imports() -> None:
    """Mark `SKIPPED_IMPORTS` as not installed in this process and the processes it forks (unless already imported):
    an import of them raises ImportError, which jsonschema expects of an optional package."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)


def main(argv: list[str] | None = None) -> int:
    skip_unused_imports()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AuditKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def entry() -> int:
    """The `audit-kit` command: `main`, then the process's objects frozen (`gc.freeze`), so that the interpreter's
    last collections at exit skip them — ≈ 0.8 s of one core after "done" on the demo, more on a network; the
    objects go with the process. Tests call `main`, which leaves the heap as it is."""
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(entry())
