"""The package's import graph: no module borrows another's `_private` name; config imports no metrics."""
from __future__ import annotations

import ast
from pathlib import Path

import audit_kit

PACKAGE = Path(audit_kit.__file__).resolve().parent


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of audit_kit."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name imported from it or None, line) for every import in a file, at any depth,
    with relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.extend((source, alias.name, node.lineno) for alias in node.names)
    return found


def test_the_walk_sees_the_package():
    names = modules()
    assert "audit_kit.config" in names and "audit_kit.metrics.rfm" in names and "audit_kit.ingest.load" in names
    found = {(source, what) for source, what, _ in imports("audit_kit.metrics.rfm", names["audit_kit.metrics.rfm"])}
    assert ("audit_kit.options", "load_segments") in found and ("numpy", None) in found   # relative and plain


def test_no_module_imports_a_private_name_of_another():
    names = modules()
    borrowed = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {what} from {source}"
                for name, path in names.items() for source, what, line in imports(name, path)
                if what and what.startswith("_") and not what.startswith("__") and source.startswith("audit_kit")
                and source != name]
    assert borrowed == []


def test_config_imports_no_metrics_module():
    names = modules()
    sources = [source for source, what, _ in imports("audit_kit.config", names["audit_kit.config"])]
    sources += [f"{source}.{what}" for source, what, _ in imports("audit_kit.config", names["audit_kit.config"]) if what]
    assert [s for s in sources if s.startswith("audit_kit.metrics")] == []
