"""Compiled or pure Python: which implementation of the hot de-identification modules gets imported.

Every module of this package that has a Cython ``.pxd`` beside its ``.py`` (the FHIR walk, strict JSON,
free text, pseudonyms, dates) may be compiled by the project's ``setup.py`` into an extension module placed
next to the source. The ``.py`` files stay the source of truth and run unchanged without a compiler; the
``.pxd`` files only add static types for the compiled build.

The build writes :data:`MANIFEST` (the sha256 of every ``.py`` and ``.pxd`` it compiled, and the name and
size of each binary). At the first import of one of these modules, :class:`_Finder` decides once, for all of
them together (the compiled modules share C-level types, so they are never mixed with pure ones):

* **compiled** when every such module has its binary for this interpreter, of the recorded size, and every
  source still has the hash it was built from;
* **pure Python** otherwise: silently when nothing was built or ``CLINVAL_PURE_PYTHON=1`` is set, and with
  a :class:`RuntimeWarning` when binaries exist but do not match the sources (a ``.py`` changed after the
  build: importing the binary would run old code) or when the record says compilation failed at install.

:func:`implementation` says which one is in use and why.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "_compiled.json"
PURE_ENV = "CLINVAL_PURE_PYTHON"
_PACKAGE = __name__.rpartition(".")[0]
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True, kw_only=True)
class Implementation:
    """Which implementation of the compiled-capable modules is imported.

    Attributes
    ----------
    compiled : bool
        True when the extension modules are used.
    reason : str
        Why (for example ``"compiled"``, ``"not compiled (no build record)"`` or
        ``"fhir.py changed since the build"``).
    degraded : bool
        True when a build was made but cannot be used (binaries stale or incomplete, or compilation failed
        at install): the pure modules are used and a :class:`RuntimeWarning` says why.
    modules : tuple of str
        The modules concerned (those with a ``.pxd``), e.g. ``("dates", "fhir", ...)``.
    """

    compiled: bool
    reason: str
    degraded: bool = False
    modules: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``"compiled"`` or ``"pure"``."""
        return "compiled" if self.compiled else "pure"


_decision: Implementation | None = None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _decide(directory: Path = _HERE, environ: dict | None = None) -> Implementation:
    """Choose compiled or pure for the modules of ``directory`` (no import, no warning)."""
    env = os.environ if environ is None else environ
    modules = tuple(sorted(p.stem for p in directory.glob("*.pxd") if (directory / f"{p.stem}.py").exists()))
    if not modules:
        return Implementation(compiled=False, reason="no module to compile (no .pxd found)", modules=modules)
    if env.get(PURE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return Implementation(compiled=False, reason=f"pure Python requested ({PURE_ENV})", modules=modules)
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    binaries = [p for m in modules for p in directory.glob(f"{m}.*") if p.name.endswith(suffixes)]
    record = directory / MANIFEST
    if not record.exists():
        if binaries:
            return Implementation(compiled=False, reason=f"binaries without the build record {MANIFEST}",
                                  degraded=True, modules=modules)
        return Implementation(compiled=False, reason="not compiled (no build record)", modules=modules)
    try:
        doc = json.loads(record.read_text("utf-8"))
        built = doc["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        return Implementation(compiled=False, reason=f"unreadable build record {MANIFEST}", degraded=True,
                              modules=modules)
    if doc.get("failed"):
        return Implementation(compiled=False, reason=f"the install could not compile them: {doc['failed']}",
                              degraded=True, modules=modules)
    problems: list[str] = []
    for m in modules:
        entry = built.get(m)
        if not isinstance(entry, dict):
            problems.append(f"{m}.py was not compiled")
            continue
        binary = directory / str(entry.get("binary", ""))
        if not binary.name.endswith(suffixes):
            problems.append(f"{m} was compiled for another interpreter")
        elif not binary.is_file() or binary.stat().st_size != entry.get("size"):
            problems.append(f"the binary of {m} is missing or not the one built")
        for src, digest in sorted((entry.get("sources") or {}).items()):
            path = directory / src
            if not path.is_file() or _sha256(path) != digest:
                problems.append(f"{src} changed since the build")
    if problems:
        return Implementation(compiled=False, reason="; ".join(problems), degraded=True, modules=modules)
    return Implementation(compiled=True, reason="compiled", modules=modules)


def implementation() -> Implementation:
    """Which implementation the modules of ``datasets.deid`` use in this process (decided once).

    Returns
    -------
    Implementation
        ``compiled`` and the reason; stale binaries also raise a :class:`RuntimeWarning` once.

    Examples
    --------
    >>> implementation().name in ("compiled", "pure")
    True
    """
    global _decision
    if _decision is None:
        decision = _decide()
        if decision.degraded:
            warnings.warn(
                f"datasets.deid: the compiled modules cannot be used ({decision.reason}); "
                "using the pure-Python modules (correct but slower). Rebuild them with "
                "`pip install --no-deps --editable .` (or `make setup`).",
                RuntimeWarning,
                stacklevel=2,
            )
        _decision = decision
    return _decision


class _Finder:
    """Meta path finder: when the pure implementation is chosen, import these modules from their ``.py``."""

    @classmethod
    def find_spec(cls, fullname: str, path: object = None, target: object = None) -> object:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or not (_HERE / f"{name}.pxd").exists():
            return None
        if implementation().compiled:
            return None  # the path finder prefers the extension module beside the source
        return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")


def install() -> None:
    """Put the finder first on :data:`sys.meta_path` (idempotent); called by the package ``__init__``."""
    if _Finder not in sys.meta_path:
        sys.meta_path.insert(0, _Finder)
