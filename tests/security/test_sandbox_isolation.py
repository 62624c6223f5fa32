"""Hostile models that try to leave the sandbox: network, file reads, file writes, pickles.

Every attack model returns valid predictions when its attack works and raises when it fails, so
``status == 'failed'`` with the model's own error means the sandbox held; the host-side evidence
(listeners, files, hashes) is checked as well. Each attack is also run once with
``isolation='none'`` against harmless targets, to prove the test can see a success.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from validation.sandbox import SandboxLimits, run_model
from validation.sandbox.seccomp import seccomp_program

LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=20, max_output_bytes=4 * 1024 * 1024)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _run(models, name, host, out_dir, *, isolation="bwrap", **arg):
    return run_model(
        models[name], host.cases(**arg), input_root=host.input_root, out_dir=out_dir,
        limits=LIMITS, path_columns=["path"], isolation=isolation,
    )


@pytest.mark.usefixtures("needs_bwrap")
def test_network_is_unreachable(models, host, out_dir, leftover_processes):
    host.pending_connections()
    result = _run(
        models, "network", host, out_dir, host_ip=host.host_ip, tcp_port=host.tcp_port,
        udp_port=host.udp_port, abstract_name=host.abstract_name,
    )
    assert result.status == "failed", result
    assert (result.stage, result.error) == ("predict", "ConnectionError"), result
    assert "NET REACHED" not in result.stderr_tail
    assert result.stderr_tail.count("blocked") == 5, result.stderr_tail
    assert host.pending_connections() == []
    assert result.uid is None or leftover_processes(result.uid) == []


def test_network_positive_control_without_isolation(models, host, out_dir):
    host.pending_connections()
    result = _run(
        models, "network", host, out_dir, isolation="none", host_ip="127.0.0.1",
        tcp_port=host.tcp_port, udp_port=host.udp_port, abstract_name=host.abstract_name,
    )
    assert result.status == "ok", result
    assert sorted(host.pending_connections()) == ["abstract", "tcp", "tcp", "udp"]


def _secret_targets(models, host):
    """(path, names that must not be listed) pairs; files have no names."""
    home = Path.home()
    # Parents of the interpreter's mount points exist inside as empty skeletons; what they
    # hold on the host must not show.
    home_names = sorted(set(os.listdir(home)) - {".pyenv", ".local", ".venv"}) if home.is_dir() else []
    return [
        ("/etc/shadow", []),
        ("/etc/passwd", []),
        (str(home), home_names),
        (str(PROJECT_ROOT / "pyproject.toml"), []),
        (str(PROJECT_ROOT), ["pyproject.toml", "validation", "tests"]),
        (str(host.labels), []),
        ("/input/../labels.parquet", []),
        (str(models["constant"] / "MLmodel"), []),
        (str(host.root), ["site", "marker"]),
        ("/proc/1/environ", []),
        ("/proc/1/root/etc/hostname", []),
        ("/", ["etc", "home", "var", "boot"]),
    ]


@pytest.mark.usefixtures("needs_bwrap")
def test_files_outside_model_and_input_are_unreadable(models, host, out_dir, monkeypatch):
    monkeypatch.setenv("CLINVAL_TEST_SECRET", "s3cret")
    paths = _secret_targets(models, host)
    result = _run(models, "reader", host, out_dir, paths=paths, env=["CLINVAL_TEST_SECRET"])
    assert result.status == "failed", result
    assert (result.stage, result.error) == ("predict", "PermissionError"), result
    assert result.stderr_tail.count(" denied ") == len(paths), result.stderr_tail
    assert "ENV leaked" not in result.stderr_tail


def test_reader_positive_control_without_isolation(models, host, out_dir, monkeypatch):
    monkeypatch.setenv("CLINVAL_TEST_SECRET", "s3cret")
    result = _run(
        models, "reader", host, out_dir, isolation="none",
        paths=[(str(host.labels), []), (str(host.root), ["site"])], env=["CLINVAL_TEST_SECRET"],
    )
    # The weak mode clears the environment too, but the host file system is open.
    assert result.status == "ok", result
    assert "READ 0 ok" in result.stderr_tail
    assert "READ 1 ok" in result.stderr_tail
    assert "ENV leaked" not in result.stderr_tail


@pytest.mark.usefixtures("needs_bwrap")
def test_writes_outside_scratch_are_refused_and_scratch_is_private(models, host, out_dir, digest):
    before = digest(models["writer"]), digest(host.input_root)
    forbidden = [
        "/model/evil", "/input/evil", "/job/evil", "/evil", "/etc/evil", "/usr/evil",
        "/proc/evil", str(host.marker_dir / "evil"), str(PROJECT_ROOT / "evil"),
    ]
    private = [
        f"/tmp/clinval-escape-{host.token}",
        f"/out/clinval-escape-{host.token}",
        f"/dev/shm/clinval-escape-{host.token}",
    ]
    result = _run(models, "writer", host, out_dir, forbidden=forbidden, private=private)
    assert result.status == "failed", result
    assert (result.stage, result.error) == ("predict", "PermissionError"), result
    assert result.stderr_tail.count(" denied ") == len(forbidden) + 1, result.stderr_tail
    assert result.stderr_tail.count("PRIVATE") == len(private)
    assert (digest(models["writer"]), digest(host.input_root)) == before
    assert list(host.marker_dir.iterdir()) == []
    assert not (PROJECT_ROOT / "evil").exists()
    assert not Path(private[0]).exists()
    assert not Path(private[2]).exists()
    assert list(out_dir.iterdir()) == []


def test_writer_positive_control_without_isolation(models, host, out_dir):
    target = host.marker_dir / f"control-{host.token}"
    result = _run(models, "writer", host, out_dir, isolation="none", forbidden=[str(target)], private=[])
    assert result.status == "ok", result
    assert target.read_bytes() == b"escaped"
    target.unlink()


@pytest.mark.usefixtures("needs_bwrap")
def test_pickle_that_runs_code_on_load_is_contained(models, host, out_dir):
    host.pending_connections()
    result = _run(models, "pickle_bomb", host, out_dir)
    assert result.status == "failed", result
    assert result.stage == "load", result
    assert result.reason == f"loading the model raised {result.error}"
    assert result.error == "RuntimeError", result
    assert list(host.marker_dir.iterdir()) == []
    assert host.pending_connections() == []


def test_sandbox_sees_no_host_environment(models, host, out_dir, monkeypatch):
    # Even the weak modes start the harness with a cleared environment.
    monkeypatch.setenv("CLINVAL_TEST_SECRET", "s3cret")
    result = _run(models, "reader", host, out_dir, isolation="process", paths=[], env=["CLINVAL_TEST_SECRET"])
    assert result.status == "failed", result
    assert result.error == "PermissionError"
    assert "ENV leaked" not in result.stderr_tail
    assert os.environ["CLINVAL_TEST_SECRET"] == "s3cret"


SECCOMP_EXPECTED = {
    "bpf": "EPERM",
    "io_uring_setup": "EPERM",
    "keyctl": "EPERM",
    "socket_inet": "EAFNOSUPPORT",
    "socket_inet6": "EAFNOSUPPORT",
    "socket_netlink": "EAFNOSUPPORT",
    "unix_socket": "ok",
    "unshare_mount": "EPERM",
    "unshare_user": "EPERM",
}


@pytest.mark.usefixtures("needs_bwrap")
@pytest.mark.skipif(seccomp_program() is None, reason="the seccomp filter is only written for x86-64")
def test_seccomp_filter_refuses_namespaces_sockets_and_rare_syscalls(models, host, out_dir):
    result = _run(models, "syscalls", host, out_dir)
    assert result.status == "failed", result
    assert (result.stage, result.error) == ("predict", "PermissionError"), result
    seen = dict(
        line.split()[1:3] for line in result.stderr_tail.splitlines() if line.startswith("SYSCALL ")
    )
    assert seen == SECCOMP_EXPECTED
    # fork and threads (clone3 refused with ENOSYS, so libc falls back to clone) still work.


def test_syscalls_positive_control_without_isolation(models, host, out_dir):
    result = _run(models, "syscalls", host, out_dir, isolation="none")
    assert result.status == "ok", result
    assert "SYSCALL socket_inet ok" in result.stderr_tail
