"""The compiled build of the de-identification modules: which one runs, that it equals pure Python, never stale.

* which implementation this process uses, checked against the modules' actual files (under ``CI=true`` the
  compiled one is required, so a build that silently fell back to pure Python fails CI);
* the compiled modules give exactly the pure modules' output (whole results as text, key order, quarantine
  reasons and details) on the Synthea bundles, the synthetic export, hostile and randomly mutated input; the
  pure side runs in a subprocess with ``CLINVAL_PURE_PYTHON=1``;
* a binary whose source changed after the build is never imported: the decision logic on a fabricated build
  record, and end to end on a copy of the package whose ``fhir.py`` was edited;
* the base32 helper that replaced :func:`base64.b32encode` in pseudonyms gives the standard library's text.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.machinery
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.datasets._deid_differential import outputs
from tests.datasets._fhir_golden import SYNTH_CASES, SYNTH_SEED
from tests.datasets._synth_fixtures import build

ROOT = Path(__file__).resolve().parents[2]
DEID = ROOT / "datasets" / "deid"
SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _module_files() -> dict[str, str]:
    from datasets.deid import implementation

    return {m: importlib.import_module(f"datasets.deid.{m}").__file__ for m in implementation().modules}


def test_which_implementation_is_in_use():
    from datasets.deid import implementation

    impl = implementation()
    files = _module_files()
    assert set(impl.modules) >= {"fhir", "fhir_json", "freetext", "pseudonym", "dates"}
    compiled = {m: f.endswith(SUFFIXES) for m, f in files.items()}
    print(f"de-identification modules: {impl.name} ({impl.reason})")
    assert all(v == impl.compiled for v in compiled.values()), (impl, files)
    if os.environ.get("CI", "").lower() == "true":
        assert impl.compiled, f"CI must run the compiled modules, but they are pure Python: {impl.reason}"


def test_compiled_and_pure_give_identical_outputs(tmp_path_factory):
    from datasets.deid import implementation

    if not implementation().compiled:
        pytest.skip(f"the compiled modules are not in use ({implementation().reason}); nothing to compare")
    export, _ = build(tmp_path_factory, "golden-fhir", sites="all", cases=SYNTH_CASES, seed=SYNTH_SEED,
                      image_size=64)
    env = {**os.environ, "CLINVAL_PURE_PYTHON": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "datasets" / "_deid_differential.py"), str(export)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pure = json.loads(proc.stdout)
    assert pure["implementation"] == "pure"
    ours = outputs(export)
    assert ours.keys() == pure["outputs"].keys()
    differ = [name for name, text in ours.items() if text != pure["outputs"][name]]
    assert not differ, f"{len(differ)} of {len(ours)} cases differ, e.g. {differ[:5]}"
    # the comparison saw what it had to: real outputs, every quarantine family, caller errors
    texts = "\n".join(ours.values())
    assert sum(1 for n in ours if n.startswith("synthea")) >= 13 and any(n.startswith("synthetic") for n in ours)
    for reason in ("duplicate_key", "nesting_too_deep", "fhir_bad_reference", "fhir_unknown_resource_type",
                   "fhir_unknown_modifier_extension", "fhir_validation_failed", "internal_error", "unreadable"):
        assert f'["{reason}"' in texts, reason
    assert "raised OptionsError" in texts


def _fake_build(directory: Path) -> Path:
    """A package directory with one compiled-capable module, a stand-in binary and its build record."""
    directory.mkdir()
    (directory / "mod.py").write_text("X = 1\n")
    (directory / "mod.pxd").write_text("cdef int X\n")
    binary = directory / f"mod{SUFFIXES[0]}"
    binary.write_bytes(b"\x7fELF not really")
    sources = {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in ("mod.py", "mod.pxd")}
    record = {"modules": {"mod": {"binary": binary.name, "size": binary.stat().st_size, "sources": sources}}}
    (directory / "_compiled.json").write_text(json.dumps(record))
    return directory


def test_decision_refuses_stale_or_foreign_binaries(tmp_path):
    from datasets.deid._accel import _decide

    pkg = _fake_build(tmp_path / "pkg")
    ok = _decide(pkg, environ={})
    assert ok.compiled and not ok.degraded and ok.modules == ("mod",)
    assert not _decide(pkg, environ={"CLINVAL_PURE_PYTHON": "1"}).compiled
    assert _decide(pkg, environ={"CLINVAL_PURE_PYTHON": "0"}).compiled
    (pkg / "mod.py").write_text("X = 2\n")
    stale = _decide(pkg, environ={})
    assert not stale.compiled and stale.degraded and "mod.py changed since the build" in stale.reason
    pkg = _fake_build(tmp_path / "pkg2")
    (pkg / "mod.pxd").write_text("cdef long X\n")
    assert "mod.pxd changed" in _decide(pkg, environ={}).reason
    pkg = _fake_build(tmp_path / "pkg3")
    (pkg / f"mod{SUFFIXES[0]}").write_bytes(b"another binary, another size")
    assert "not the one built" in _decide(pkg, environ={}).reason
    pkg = _fake_build(tmp_path / "pkg4")
    (pkg / "_compiled.json").unlink()
    lost = _decide(pkg, environ={})
    assert not lost.compiled and lost.degraded and "without the build record" in lost.reason
    pkg = _fake_build(tmp_path / "pkg5")
    (pkg / f"mod{SUFFIXES[0]}").unlink()
    (pkg / "_compiled.json").unlink()
    nothing = _decide(pkg, environ={})
    assert not nothing.compiled and not nothing.degraded
    pkg = _fake_build(tmp_path / "pkg7")
    (pkg / "_compiled.json").write_text(json.dumps({"failed": "compilation failed (CompileError)", "modules": {}}))
    failed = _decide(pkg, environ={})
    assert not failed.compiled and failed.degraded and "could not compile" in failed.reason
    pkg = _fake_build(tmp_path / "pkg6")
    (pkg / "other.py").write_text("Y = 1\n")
    (pkg / "other.pxd").write_text("")
    assert "other.py was not compiled" in _decide(pkg, environ={}).reason


def _import_in(copy_root: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CLINVAL_PURE_PYTHON"}
    env["PYTHONPATH"] = str(copy_root)
    return subprocess.run([sys.executable, "-W", "always", "-c", code], cwd=copy_root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_edited_source_is_imported_instead_of_its_stale_binary(tmp_path):
    if not (DEID / "_compiled.json").exists():
        pytest.skip("no compiled build in this checkout (pip install --editable . builds it)")
    copy_root = tmp_path / "copy"
    shutil.copytree(ROOT / "datasets", copy_root / "datasets", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import datasets.deid as d, datasets.deid.fhir as f, datasets.deid.pseudonym as p; "
            "print(d.implementation().name, f.__file__.rsplit('/', 1)[1], p.__file__.rsplit('/', 1)[1])")
    fresh = _import_in(copy_root, code)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split()[0] == "compiled" and fresh.stdout.split()[1].endswith(SUFFIXES)
    assert "RuntimeWarning" not in fresh.stderr
    fhir_py = copy_root / "datasets" / "deid" / "fhir.py"
    fhir_py.write_text(fhir_py.read_text() + "\nEDITED_AFTER_THE_BUILD = True\n")
    code += "; print(f.EDITED_AFTER_THE_BUILD)"
    stale = _import_in(copy_root, code)
    assert stale.returncode == 0, stale.stderr
    assert stale.stdout.split() == ["pure", "fhir.py", "pseudonym.py", "True"]
    assert "RuntimeWarning" in stale.stderr and "fhir.py changed since the build" in stale.stderr


def test_base32_helper_equals_the_standard_library():
    from datasets.deid.pseudonym import _b32_lower

    rng = random.Random(5)
    for n in (0, 5, 10, 15, 40):
        for _ in range(200):
            raw = rng.randbytes(n)
            assert _b32_lower(raw) == base64.b32encode(raw).decode("ascii").lower()


def test_max_depth_is_bounded():
    from datasets.deid import FhirOptions, OptionsError
    from datasets.deid.fhir import MAX_DEPTH_LIMIT

    assert FhirOptions(max_depth=MAX_DEPTH_LIMIT).max_depth == MAX_DEPTH_LIMIT
    with pytest.raises(OptionsError, match="max_depth"):
        FhirOptions(max_depth=MAX_DEPTH_LIMIT + 1)
