"""Static checks of a submitted model directory, done without ever loading the model.

The platform hashes every file it will run (a sha256 manifest), refuses anything that could reach outside the
directory (symlinks, special files, archive members with absolute paths or ``..``), refuses oversized artifacts,
reads the MLmodel file as data to check the pyfunc flavour and the signature against the protocol's input view,
and checks that the model's pip requirements are satisfied by the evaluation environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from validation.exceptions import InvalidInput

__all__ = ["ModelLimits", "StaticReport", "check_model_dir", "INPUT_COLUMNS"]

#: Columns a model receives for each protocol input view (besides ``case_id``).
INPUT_COLUMNS = {"dicom": ("path",), "fhir": ("path",)}
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".whl")
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(;.*)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLimits:
    """Size limits of a submission."""

    max_file_bytes: int = 512 * 1024**2
    max_total_bytes: int = 2 * 1024**3
    max_files: int = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticReport:
    """Outcome of the static checks.

    Attributes
    ----------
    sha256 : str
        SHA-256 of the canonical JSON manifest: the identity of exactly what will run.
    manifest : dict
        ``{relative path: {"sha256": ..., "size": ...}}``.
    problems : tuple of str
        Reasons to refuse the submission (empty when it passes).
    unmet_requirements : tuple of str
        Requirements the evaluation environment does not satisfy.
    """

    sha256: str
    manifest: dict = field(default_factory=dict)
    total_bytes: int = 0
    problems: tuple[str, ...] = ()
    unmet_requirements: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unmet_requirements


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unsafe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)


def _check_archive(path: Path, rel: str) -> list[str]:
    problems = []
    try:
        if path.name.endswith((".zip", ".whl")):
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if _unsafe_member(info.filename):
                        problems.append(f"{rel}: archive member {info.filename!r} would extract outside the model")
                    elif (info.external_attr >> 16) & 0o170000 == 0o120000:
                        problems.append(f"{rel}: archive member {info.filename!r} is a symlink")
        else:
            with tarfile.open(path) as t:
                for member in t.getmembers():
                    if _unsafe_member(member.name):
                        problems.append(f"{rel}: archive member {member.name!r} would extract outside the model")
                    elif member.issym() or member.islnk() or member.isdev():
                        problems.append(f"{rel}: archive member {member.name!r} is a link or device")
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError):
        problems.append(f"{rel}: archive cannot be read")
    return problems


def _walk(root: Path, limits: ModelLimits) -> tuple[dict, int, list[str]]:
    manifest: dict[str, dict] = {}
    problems: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                problems.append(f"{(here / name).relative_to(root)}: symbolic link (links are refused)")
        dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{rel}: symbolic link (links are refused)")
                continue
            if not stat.S_ISREG(mode):
                problems.append(f"{rel}: not a regular file")
                continue
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                problems.append(f"{rel}: {size} bytes, over the {limits.max_file_bytes}-byte limit per file")
                continue
            total += size
            if len(manifest) >= limits.max_files:
                problems.append(f"more than {limits.max_files} files")
                return manifest, total, problems
            manifest[rel] = {"sha256": _hash_file(path), "size": size}
            if name.endswith(_ARCHIVE_SUFFIXES):
                problems.extend(_check_archive(path, rel))
    if total > limits.max_total_bytes:
        problems.append(f"model is {total} bytes, over the {limits.max_total_bytes}-byte limit")
    return manifest, total, problems


def _columns(spec: object) -> list[str]:
    if not spec:
        return []
    items = json.loads(spec) if isinstance(spec, str) else spec
    return [c.get("name") for c in items if isinstance(c, dict)]


def _check_mlmodel(root: Path, view: str) -> list[str]:
    import yaml

    path = root / "MLmodel"
    if not path.is_file():
        return ["MLmodel file missing: submit an MLflow model directory (mlflow.pyfunc.save_model)"]
    try:
        mlmodel = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return ["MLmodel is not valid YAML"]
    if not isinstance(mlmodel, dict):
        return ["MLmodel is not a mapping"]
    problems = []
    pyfunc = (mlmodel.get("flavors") or {}).get("python_function")
    if not isinstance(pyfunc, dict):
        return ["MLmodel has no python_function flavour: save the model with mlflow.pyfunc"]
    code_path = pyfunc.get("model_code_path")
    if code_path and not (root / PurePosixPath(str(code_path)).name).is_file():
        problems.append("MLmodel names model code that is not inside the model directory")
    for code in pyfunc.get("code") or []:
        if _unsafe_member(str(code)):
            problems.append(f"MLmodel code path {code!r} points outside the model directory")
    for key in ("data", "artifacts"):
        value = pyfunc.get(key)
        if isinstance(value, str) and _unsafe_member(value):
            problems.append(f"MLmodel {key} path points outside the model directory")
    signature = mlmodel.get("signature") or {}
    try:
        inputs, outputs = _columns(signature.get("inputs")), _columns(signature.get("outputs"))
    except (ValueError, TypeError, AttributeError):
        return [*problems, "MLmodel signature is not readable"]
    wanted = ["case_id", *INPUT_COLUMNS[view]]
    if not inputs:
        problems.append(f"model has no input signature; declare inputs {wanted} (string columns)")
    elif sorted(inputs) != sorted(wanted):
        problems.append(f"model inputs {inputs} do not fit the protocol's {view!r} view, which gives {wanted}")
    if outputs and not {"case_id", "score"} <= set(outputs):
        problems.append(f"model outputs {outputs} must include case_id and score")
    return problems


def _requirements(root: Path) -> list[str]:
    path = root / "requirements.txt"
    if not path.is_file():
        return []
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _unmet(requirements: list[str]) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    unmet = []
    for line in requirements:
        if line.startswith(("-", "git+", "http:", "https:", "file:")) or "@" in line.split(";")[0]:
            unmet.append(f"{line} (only named packages from the evaluation environment are allowed)")
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            unmet.append(f"{line} (not a valid requirement)")
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{req.name} (not installed in the evaluation environment)")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{line} (the evaluation environment has {req.name} {installed})")
    return unmet


def check_model_dir(model_dir: str | Path, *, view: str, limits: ModelLimits | None = None) -> StaticReport:
    """Run every static check on a model directory.

    Parameters
    ----------
    model_dir : path-like
        The MLflow pyfunc model directory as submitted.
    view : {'dicom', 'fhir'}
        The protocol's input view, which fixes the input columns the model must declare.

    Raises
    ------
    InvalidInput
        ``model_dir`` is not a directory (or is itself a link).
    """
    root = Path(model_dir)
    if root.is_symlink() or not root.is_dir():
        raise InvalidInput(f"{model_dir} is not a model directory", hint="pass the folder written by save_model")
    if view not in INPUT_COLUMNS:
        raise InvalidInput(f"unknown input view {view!r}")
    manifest, total, problems = _walk(root, limits or ModelLimits())
    problems.extend(_check_mlmodel(root, view))
    unmet = _unmet(_requirements(root))
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return StaticReport(
        sha256=hashlib.sha256(canonical).hexdigest(),
        manifest=manifest,
        total_bytes=total,
        problems=tuple(problems),
        unmet_requirements=tuple(unmet),
    )
