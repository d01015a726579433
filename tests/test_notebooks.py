"""Notebook hygiene: committed without outputs, a `parameters` cell with plain typed defaults, thin."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before commit"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_first_and_plain(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell must be tagged parameters"
    lines = [ln for ln in code[0].source.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines == ['run_dir: str = ""  # run folder with the canonical tables (empty: ingest config_path into a scratch folder)',
                     'config_path: str = ""  # path to the client audit.yaml (empty: the bundled demo clinic)']
    # papermill reads the same cell for --help-notebook and to inject values
    from papermill.translators import PythonTranslator

    assert [p.name for p in PythonTranslator.inspect(code[0])] == ["run_dir", "config_path"]
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_thin(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(nb.cells) <= 40, f"{path.name} has {len(nb.cells)} cells; move logic into audit_kit"
    assert all(len(c.source.splitlines()) <= 25 for c in code), f"{path.name}: a cell over 25 lines belongs in the package"
    assert not any("def " in c.source or "class " in c.source for c in code), f"{path.name}: functions belong in audit_kit"


def _bound_names(source: str) -> list[tuple[str, str]]:
    """(kind, name) of every name a cell binds at statement level: assignments, for-loop targets,
    import aliases; kind "lambda" for an assignment of a lambda."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value, ast.Lambda):
                found += [("lambda", t.id) for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.For):
            targets = [node.target]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [("name", alias.asname) for alias in node.names if alias.asname]
        for target in targets:
            found += [("name", n.id) for n in ast.walk(target) if isinstance(n, ast.Name)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_names_say_what_they_hold(path):
    """No helper lambdas (they belong in `Module` or the module layer) and no one-letter names."""
    nb = nbformat.read(path, as_version=4)
    bound = [item for c in nb.cells if c.cell_type == "code" for item in _bound_names(c.source)]
    assert [name for kind, name in bound if kind == "lambda"] == [], f"{path.name}: lambda assigned to a name"
    assert sorted({name for _, name in bound if len(name) == 1}) == [], f"{path.name}: one-letter names"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_questions_are_headings_for_the_analyst(path):
    """Markdown cells (the questions, as headings) are tagged `analyst`, so the report drops them; so
    are the cells that show the analyst a section's DataFrame."""
    nb = nbformat.read(path, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert all("analyst" in c.metadata.get("tags", []) for c in markdown)
    assert sum(c.source.startswith("## ") for c in markdown) >= 3, f"{path.name}: each question wants a heading"
    from audit_kit.report.html import HIDE_TAGS

    assert "analyst" in HIDE_TAGS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom_with_its_defaults(path):
    """As an analyst opens it in JupyterLab: no injected parameters, cwd = notebooks/, the demo clinic."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "text/html" in o.get("data", {})]
    assert len(shown) >= 3, f"{path.name} showed almost nothing"
