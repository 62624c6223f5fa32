"""Fixtures of the sandbox security suite: saved models, a host with listeners and secrets.

All MLflow saving happens once per session. Hostile models are saved from files under
``tests/security/models`` (their module-level code is harmless; MLflow runs it when saving) and
are only ever loaded through ``validation.sandbox`` (``run_model`` or a ``SandboxSession``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODELS_SRC = Path(__file__).resolve().parent / "models"
CONSTANT_SRC = PROJECT_ROOT / "examples" / "models" / "constant" / "model.py"
HOSTILE = (
    "network", "reader", "writer", "forkbomb", "memory", "cpu", "sleeper", "chatter",
    "data_flood", "disk_fill", "wrong_output", "crash_load", "crash_predict", "syscalls",
    "forger", "switch",
)
SANDBOX_UID_MIN = 1_500_000_000



@pytest.fixture(scope="session")
def needs_bwrap() -> str:
    """Path of bwrap; skips the test, loudly, when bubblewrap is not installed."""
    from validation.sandbox.bwrap import bwrap_problem

    path = shutil.which("bwrap")
    if path is None:
        pytest.skip(
            "bubblewrap (bwrap) is not installed; the sandbox security tests need it "
            "(Debian/Ubuntu: apt-get install bubblewrap)"
        )
    problem = bwrap_problem(path)
    if problem is not None:
        pytest.skip(f"the sandbox security tests need a working bubblewrap: {problem}")
    return path


@dataclass
class Host:
    """The host side of the tests: files the sandbox must not see, and listeners."""

    root: Path
    input_root: Path
    labels: Path
    marker_dir: Path
    tcp: socket.socket
    udp: socket.socket
    abstract: socket.socket
    abstract_name: str
    host_ip: str
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def tcp_port(self) -> int:
        return self.tcp.getsockname()[1]

    @property
    def udp_port(self) -> int:
        return self.udp.getsockname()[1]

    def cases(self, n: int = 5, **arg) -> pd.DataFrame:
        """A case table whose ``arg`` column carries ``arg`` as JSON to the model."""
        return pd.DataFrame(
            {
                "case_id": [f"P-{self.token[:4]}-{i:03d}" for i in range(n)],
                "path": [f"case{i % 2}.bin" for i in range(n)],
                "arg": json.dumps(arg),
            }
        )

    def pending_connections(self) -> list[str]:
        """Anything that reached a listener since the last call (non-blocking)."""
        seen = []
        for name, sock in (("tcp", self.tcp), ("abstract", self.abstract)):
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                seen.append(name)
        while True:
            try:
                self.udp.recvfrom(65536)
            except BlockingIOError:
                break
            seen.append("udp")
        return seen


def _host_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1; a UDP connect sends nothing
        except OSError:
            return None
        ip = s.getsockname()[0]
    return None if ip.startswith("127.") else ip


@pytest.fixture(scope="session")
def host(tmp_path_factory) -> Host:
    root = tmp_path_factory.mktemp("host")
    site = root / "site"
    input_root = site / "inputs"
    input_root.mkdir(parents=True)
    for i in range(2):
        (input_root / f"case{i}.bin").write_bytes(bytes([i]) * 256)
    _readable_by_others(input_root)
    labels = site / "labels.parquet"
    pd.DataFrame({"case_id": ["P-1"], "label": [1]}).to_parquet(labels)
    marker_dir = root / "marker"
    marker_dir.mkdir()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("0.0.0.0", 0))
    tcp.listen(16)
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    udp.setblocking(False)
    abstract_name = f"clinval-test-{secrets.token_hex(6)}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + abstract_name)
    abstract.listen(16)
    abstract.setblocking(False)
    h = Host(
        root=root, input_root=input_root, labels=labels, marker_dir=marker_dir, tcp=tcp,
        udp=udp, abstract=abstract, abstract_name=abstract_name, host_ip=_host_ip() or "127.0.0.1",
    )
    yield h
    for s in (tcp, udp, abstract):
        s.close()


def _save(path: Path, python_model, code_paths=None) -> Path:
    import mlflow.pyfunc

    # MLflow warns (once per model, past any filter) that predict has no type hints; the test
    # models do without on purpose, so that MLflow does not convert what they return.
    mlflow.pyfunc.save_model(
        path,
        python_model=python_model,
        code_paths=code_paths,
        # Explicit requirements: inferring them would load the model on the host.
        pip_requirements=["mlflow==3.17.2", "pandas"],
    )
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory, host) -> dict[str, Path]:
    """Every test model, saved once: name -> MLflow model directory."""
    # Saving models needs no tracking server; set the URI only while saving, and put back what was there, so that
    # no later test (or platform) inherits a tracking URI pointing into this session's temporary folders.
    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = (tmp_path_factory.mktemp("mlruns")).as_uri()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    try:
        return _save_all(tmp_path_factory, host)
    finally:
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def _save_all(tmp_path_factory, host) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("models")
    saved = {"constant": _save(base / "constant", str(CONSTANT_SRC))}
    common = [str(MODELS_SRC / "_common.py")]
    for name in HOSTILE:
        saved[name] = _save(base / name, str(MODELS_SRC / f"{name}.py"), code_paths=common)
    import importlib.util

    spec = importlib.util.spec_from_file_location("clinval_test_pickle_bomb", MODELS_SRC / "pickle_bomb.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    arg = json.dumps(
        {"marker": str(host.marker_dir / "pickle"), "labels": str(host.labels), "tcp_port": host.tcp_port}
    )
    saved["pickle_bomb"] = _save(base / "pickle_bomb", module.PickleBomb(arg))
    for path in saved.values():
        _readable_by_others(path)
    return saved


def _readable_by_others(root: Path) -> None:
    """chmod -R o+rX: as root the sandbox runs as a throw-away uid (a umask of 077 would hide files)."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | (0o005 if path.is_dir() else 0o004))


@pytest.fixture
def out_dir(tmp_path) -> Path:
    return tmp_path / "out"


def tree_digest(root: Path) -> str:
    """sha256 over the relative paths, modes and contents of every file under ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        h.update(oct(path.stat().st_mode).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def sandbox_processes(uid: int | None = None) -> list[int]:
    """Pids of live processes running as ``uid``, or as any sandbox uid if None."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                real = int(line.split()[1])
                if real == uid or (uid is None and real >= SANDBOX_UID_MIN):
                    pids.append(int(entry.name))
                break
    return pids


@pytest.fixture
def digest():
    """``tree_digest`` as a fixture."""
    return tree_digest


@pytest.fixture
def leftover_processes():
    """``sandbox_processes`` as a fixture."""
    return sandbox_processes
