"""Where a run comes from: input file checksums, package versions, and the folders runs live in.

One home for these, imported by the runner (run.json), the report (appendix, summary) and the
notebooks (scratch runs); it imports nothing else of the kit.
"""
from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("audit-kit", "pandas", "numpy", "pyarrow", "papermill", "nbconvert", "matplotlib", "seaborn",
            "openpyxl", "weasyprint")
SCRATCH = "_notebook"     # <client>/reports/_notebook/<module>: a notebook's own run, never an audit run


def sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def input_hashes(config) -> dict[str, list[str]]:
    """SHA-256 of every input file, per table in the config's order (a table's files in their order)."""
    return {name: [sha256(p) for p in src.paths] for name, src in config.sources.items()}


def versions() -> dict[str, str]:
    """Python's version and those of the installed `PACKAGES` (absent ones left out)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def scratch_dir(client_dir: Path, module: str) -> Path:
    """The scratch run a notebook opened without a run folder ingests into (one per module:
    notebooks may run at once)."""
    return Path(client_dir) / "reports" / SCRATCH / module


def demo_config_path() -> Path:
    """The bundled demo clinic: the checkout's sample_data, else generated once into ~/.cache."""
    checkout = Path(__file__).resolve().parent.parent / "sample_data" / "demo_clinic" / "audit.yaml"
    if checkout.is_file():
        return checkout
    from .sample import generate

    cache = Path.home() / ".cache" / "audit-kit" / "demo_clinic"
    return cache / "audit.yaml" if (cache / "audit.yaml").is_file() else generate(cache)
