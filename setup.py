"""Optional compiled build of the hot de-identification modules (the metadata lives in pyproject.toml).

Every ``datasets/deid/<module>.py`` that has a Cython ``<module>.pxd`` beside it is compiled with Cython (a
build requirement in ``[build-system]``) into an extension module next to its source: in the wheel, and in
the source tree for an editable install (setuptools copies extensions in place). The ``.py`` stays the source
of truth; the ``.pxd`` only adds static types. The build records the sha256 of each compiled source in
``datasets/deid/_compiled.json`` so that an import never runs a binary built from other sources
(``datasets/deid/_accel.py`` falls back to the pure modules, with a warning).

If Cython is missing or compilation fails (no C compiler, no Python headers), the install still succeeds
with the pure-Python modules and says so: in the build output, and (the record then says the build failed)
with a warning at every import.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = Path("datasets") / "deid"
MANIFEST = "_compiled.json"  # datasets.deid._accel.MANIFEST
DIRECTIVES = {
    "language_level": 3,
    "annotation_typing": False,  # types come from the .pxd only; annotations stay documentation
    "binding": True,
}


def _banner(message: str) -> None:
    line = "=" * 78
    sys.stderr.write(f"\n{line}\nclinval: {message}\n{line}\n\n")


def _modules() -> list[str]:
    """Names of the modules that have a ``.pxd`` beside their ``.py`` (sorted)."""
    return sorted(p.stem for p in (ROOT / PACKAGE_DIR).glob("*.pxd") if p.with_suffix(".py").exists())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_failure(directory: Path, why: str) -> None:
    """Write a build record that says compilation failed: each import then warns that pure Python is used."""
    record = {"failed": why, "python": sys.version.split()[0], "modules": {}}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        _banner("Cython is not installed: the FHIR de-identification modules stay pure Python (slower). "
                "Install with build isolation (the default) to compile them.")
        _record_failure(ROOT / PACKAGE_DIR, "Cython was not installed")
        return []
    from setuptools import Extension

    exts = [
        Extension(".".join((*PACKAGE_DIR.parts, m)), [str(PACKAGE_DIR / f"{m}.py")]) for m in _modules()
    ]
    try:
        return cythonize(exts, build_dir="build/cython", compiler_directives=DIRECTIVES, quiet=True)
    except Exception as exc:  # a Cython error must not make the package uninstallable
        _banner(f"Cython could not translate the modules ({type(exc).__name__}: {exc}); pure Python is used.")
        _record_failure(ROOT / PACKAGE_DIR, f"Cython failed ({type(exc).__name__})")
        return []


class BuildCompiledOrPure(build_ext):
    """``build_ext`` that records what it compiled, and degrades to pure Python instead of failing."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = max(1, min(4, os.cpu_count() or 1))

    def run(self) -> None:
        if not self.extensions:
            return
        inplace = self.inplace
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers, a compiler error: keep the pure modules
            self.inplace = inplace  # setuptools clears it while building and restores it only on success
            self._forget_binaries()
            _banner(f"compiling the de-identification modules failed ({type(exc).__name__}: {exc}); "
                    "the pure-Python modules are used (correct, about 1.35x slower).")
            for _, built, in_tree in self._outputs()[:1]:
                for where in (built, in_tree):
                    if where is not None:
                        _record_failure(where.parent, f"compilation failed ({type(exc).__name__})")
            return
        self._write_manifests()

    def _outputs(self) -> list[tuple[str, Path, Path]]:
        """(module, built binary, binary in the source tree or None) for every extension."""
        rows = []
        inplace = self.inplace
        try:
            for ext in self.extensions:
                self.inplace = False
                built = Path(self.get_ext_fullpath(ext.name))
                self.inplace = True
                in_tree = Path(self.get_ext_fullpath(ext.name)) if inplace else None
                rows.append((ext.name.rpartition(".")[2], built, in_tree))
        finally:
            self.inplace = inplace
        return rows

    def _forget_binaries(self) -> None:
        """Remove partial outputs: binaries without a record are never imported, but are not kept either."""
        for _, built, _ in self._outputs():
            built.unlink(missing_ok=True)

    def _write_manifests(self) -> None:
        rows = self._outputs()
        for where in (1, 2):
            binaries = {m: (b if where == 1 else t) for m, b, t in rows}
            if any(p is None for p in binaries.values()):
                continue
            modules = {}
            for m, binary in binaries.items():
                sources = [PACKAGE_DIR / f"{m}.py", PACKAGE_DIR / f"{m}.pxd"]
                modules[m] = {
                    "binary": binary.name,
                    "size": binary.stat().st_size,
                    "sources": {s.name: _sha256(ROOT / s) for s in sources},
                }
            record = {"cython_directives": DIRECTIVES, "python": sys.version.split()[0], "modules": modules}
            target = next(iter(binaries.values())).parent / MANIFEST
            target.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildCompiledOrPure})
