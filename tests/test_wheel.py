"""The kit works installed as a plain wheel: notebooks, templates and catalogs ship inside it."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the sources: two test workers building in the checkout at once
    would share (and race on) its build/ folder, and a stale build/ would leak removed modules."""
    import shutil

    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("audit_kit", "notebooks", "templates"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
                   check=True, capture_output=True)
    return next(out.glob("audit_kit-*.whl"))


def test_wheel_contains_notebooks_templates_and_catalogs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        assert f"audit_kit/notebooks/{nb.name}" in names
    assert "audit_kit/templates/audit_report/index.html.j2" in names
    assert "audit_kit/templates/audit_report/report.css" in names
    assert "audit_kit/report/i18n/ru/common.yaml" in names and "audit_kit/report/i18n/en/common.yaml" in names
    assert "audit_kit/metrics/rfm_segments.yaml" in names                 # the RFM code -> segment map
    assert not any(n.startswith(("tests/", "sample_data/")) for n in names)


def test_installed_wheel_runs_an_audit(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "from audit_kit.modules import resource_dir; print(resource_dir('notebooks'))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()) == site / "audit_kit" / "notebooks"
    cli = [sys.executable, "-m", "audit_kit.cli"]
    subprocess.run(cli + ["sample", str(tmp_path / "demo")], cwd=tmp_path, env=env, check=True, capture_output=True)
    run = subprocess.run(cli + ["run", str(tmp_path / "demo" / "audit.yaml"), "--out", str(tmp_path / "out"),
                                "--modules", "quality"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "out" / "report.html").is_file()
    # the notebook the kernel ran came from the wheel, not from the checkout
    assert str(REPO) not in (tmp_path / "out" / "notebooks" / "01_data_quality.ipynb").read_text(encoding="utf-8")
