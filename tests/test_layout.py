"""The house rules of ARCHITECTURE.md, checked by reading the source."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("validation", "datasets", "evaluators", "dashboards")
# Who may import whom (one direction of dependency).
ALLOWED = {
    "evaluators": set(),
    "datasets": set(),
    "validation": {"datasets", "evaluators"},
    "dashboards": {"validation"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_one_direction_of_dependency(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = (_imports(path) & set(PACKAGES)) - ALLOWED[package] - {package}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders


def test_the_checker_sees_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom validation.config import x\ndef f():\n    import dashboards.app\n")
    assert _imports(probe) >= {"validation", "dashboards"}


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_declare_purpose_and_public_surface(package):
    module = importlib.import_module(package)
    assert module.__doc__ and len(module.__doc__.strip()) > 20, f"{package} needs a docstring saying what it is for"
    assert isinstance(getattr(module, "__all__", None), list), f"{package} needs __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which does not exist"


def test_a_run_worker_imports_no_database_layer():
    """validation and validation.runs import their public names on first use: the per-site worker module must not
    drag SQLAlchemy and the services into every worker process (and the names still resolve)."""
    import subprocess
    import sys

    code = ("import sys, validation.runs.work; assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'; "
            "from validation import Principal, open_platform; from validation.runs import evaluate, SiteJob; "
            "import validation; assert sorted(dir(validation)) == sorted(validation.__all__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_test_modules_have_unique_basenames():
    """pytest's default import mode imports test modules by basename: two test_x.py in different folders break
    collection of the whole suite."""
    from collections import Counter

    names = Counter(p.name for p in (ROOT / "tests").rglob("*.py") if p.name != "__init__.py"
                    and p.name != "conftest.py")
    assert [n for n, c in names.items() if c > 1] == []
