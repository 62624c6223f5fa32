"""Command lines that start the harness under bubblewrap, or under the weaker fallbacks.

Only argument vectors are built here; :mod:`validation.sandbox.channel` runs them.

Layout inside the bubblewrap sandbox::

    /usr, /bin, /lib*      host system, read-only (for the dynamic loader and setpriv)
    <python prefixes>      the interpreter, its stdlib and the venv, read-only, at their host paths
    /model                 the model directory, read-only
    /input                 the input root, read-only; or, for a session over several input roots,
    /input/<name>          each of them, read-only
    /job                   the session config and harness script, read-only (cases come by pipe)
    /out, /tmp, /dev/shm   private tmpfs of bounded size (gone when the sandbox ends)
    /proc, /dev            a new procfs (new pid namespace) and a minimal /dev

Nothing else of the host is mounted: no /etc, no home, no project directory, no labels.

As root, bubblewrap runs privileged (no user namespace, so that the sandbox uid is a real,
unprivileged kernel uid and ``RLIMIT_NPROC`` applies); it keeps only CAP_SETUID, CAP_SETGID and
CAP_SETPCAP for ``setpriv``, which switches to the sandbox uid, clears the groups, the bounding
and inheritable capability sets, and sets no_new_privs before the interpreter starts. As a
non-root user, bubblewrap runs in a new user namespace instead (``--unshare-user``). In both
cases a seccomp filter (:mod:`validation.sandbox.seccomp`) is installed where one is available.

``--unshare-all`` is not used: as root it would also create a user namespace, in which the
sandbox uid would map back to root on the host and ``RLIMIT_NPROC`` would not apply. The
namespaces it stands for are listed one by one instead (ipc, pid, net, uts, cgroup).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from validation.sandbox.limits import SandboxLimits

__all__ = [
    "SandboxPaths",
    "input_mount",
    "bwrap_executable",
    "bwrap_problem",
    "python_roots",
    "sandbox_environment",
    "rlimit_prefix",
    "bwrap_command",
    "process_command",
]

MODEL_DIR = "/model"
INPUT_DIR = "/input"
JOB_DIR = "/job"
OUT_DIR = "/out"
TMP_DIR = "/tmp"


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxPaths:
    """Host directories mounted into the sandbox (all absolute, all existing).

    ``inputs`` maps a name to an input root: the name ``""`` (alone) is mounted at ``/input``,
    any other name at ``/input/<name>``.
    """

    model_dir: Path
    inputs: dict[str, Path]
    job_dir: Path


def input_mount(name: str) -> str:
    """Where the input root called ``name`` appears inside the sandbox."""
    return INPUT_DIR if name == "" else f"{INPUT_DIR}/{name}"


def bwrap_executable() -> str | None:
    """Path of a working ``bwrap`` on ``PATH``, or None if it is not installed."""
    return shutil.which("bwrap")


_MIN_VERSION = (0, 8, 0)  # --size for tmpfs and --disable-userns


@functools.lru_cache(maxsize=4)
def bwrap_problem(bwrap: str) -> str | None:
    """Why ``bwrap`` cannot run the sandbox here, or None if a trial sandbox starts.

    Checks the version (0.8 or newer) and starts ``true`` with the namespaces, mounts and
    capability set of a real run, once per process and executable.
    """
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
        version = tuple(int(x) for x in re.findall(r"\d+", out.stdout)[:3])
    except (OSError, subprocess.SubprocessError, ValueError):
        return f"{bwrap} --version failed"
    if version < _MIN_VERSION:
        found = ".".join(map(str, version)) or "unknown"
        return f"bubblewrap {found} is too old; 0.8 or newer is needed"
    for tool in ("prlimit", "setpriv") if os.geteuid() == 0 else ("prlimit",):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    true = shutil.which("true") or "/bin/true"
    trial = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp",
             "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        trial += ["--cap-drop", "ALL"]
    else:
        trial += ["--unshare-user", "--disable-userns"]
    try:
        done = subprocess.run(trial + ["--", true], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not be started ({type(exc).__name__})"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0][:200]
        return f"bubblewrap cannot create the sandbox here: {first}"
    return None


def python_roots() -> list[Path]:
    """Directories that must be visible for this interpreter and its venv to run.

    Computed from ``sys.executable``, ``sys.prefix`` and ``sys.base_prefix`` (never from the
    project location), with directories already covered by ``/usr`` or by another root dropped.

    Returns
    -------
    list of Path
        Absolute, resolved directories, outermost first.
    """
    candidates = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(sys.executable).resolve().parent.parent,
    }
    roots: list[Path] = []
    for path in sorted(candidates, key=lambda p: len(p.parts)):
        if path == Path("/") or _under(path, Path("/usr")):
            continue
        if any(_under(path, root) for root in roots):
            continue
        roots.append(path)
    return roots


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def sandbox_environment() -> dict[str, str]:
    """The whole environment of the harness: nothing is inherited from the host."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": TMP_DIR,
        "TMPDIR": TMP_DIR,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MLFLOW_TRACKING_URI": f"file://{TMP_DIR}/mlruns",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "ARROW_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def rlimit_prefix(limits: SandboxLimits) -> list[str]:
    """``prlimit`` arguments that set every rlimit of :class:`SandboxLimits` on the command.

    Soft and hard limits are equal, except CPU time, whose hard limit is one second above the
    soft one so that the kernel sends SIGXCPU before SIGKILL.
    """
    prlimit = shutil.which("prlimit") or "prlimit"
    return [
        prlimit,
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--nproc={limits.max_processes}",
        f"--nofile={limits.max_open_files}",
        f"--fsize={limits.max_output_bytes}",
        "--core=0",
        "--",
    ]


def _harness_argv(python: str) -> list[str]:
    return [python, "-I", "-B", f"{JOB_DIR}/harness.py", JOB_DIR]


def bwrap_command(
    paths: SandboxPaths,
    limits: SandboxLimits,
    *,
    bwrap: str,
    sandbox_uid: int,
    seccomp_fd: int | None = None,
) -> list[str]:
    """Full argument vector that runs the harness under bubblewrap with rlimits.

    Parameters
    ----------
    paths : SandboxPaths
        Host directories to mount.
    limits : SandboxLimits
        Resource limits; ``tmp_bytes`` and ``max_output_bytes`` size the tmpfs mounts.
    bwrap : str
        Path of the bubblewrap executable.
    sandbox_uid : int
        Unprivileged uid and gid the harness runs as when the caller is root.
    seccomp_fd : int, optional
        Inherited descriptor holding a compiled seccomp BPF program.

    Returns
    -------
    list of str
    """
    is_root = os.geteuid() == 0
    args: list[str] = [bwrap]
    # Scratch file systems first, so that a python root under /tmp is not hidden by them.
    args += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", TMP_DIR,
        "--perms", "1777", "--size", str(limits.max_output_bytes), "--tmpfs", OUT_DIR,
        "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm",
    ]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    made: set[Path] = {Path("/"), Path(TMP_DIR)}
    for root in python_roots():
        for parent in reversed(root.parents):
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(root), str(root)]
        made.add(root)
    args += ["--ro-bind", str(paths.model_dir), MODEL_DIR]
    if any(name != "" for name in paths.inputs):
        # bubblewrap would make the parent of /input/<name> mode 0700, closed to the sandbox uid.
        args += ["--perms", "0755", "--dir", INPUT_DIR]
    for name, root in sorted(paths.inputs.items()):
        args += ["--ro-bind", str(root), input_mount(name)]
    args += [
        "--ro-bind", str(paths.job_dir), JOB_DIR,
        "--remount-ro", "/",
        "--chdir", TMP_DIR,
        "--hostname", "sandbox",
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for key, value in sandbox_environment().items():
        args += ["--setenv", key, value]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    python = str(Path(sys.executable).absolute())
    if is_root:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        args += [
            "--cap-drop", "ALL",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP",
            "--",
            setpriv,
            f"--reuid={sandbox_uid}", f"--regid={sandbox_uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
            "--",
        ]
    else:
        args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--"]
    return rlimit_prefix(limits) + args + _harness_argv(python)


def process_command(
    paths: SandboxPaths, limits: SandboxLimits, *, network_namespace: bool
) -> list[str]:
    """Argument vector of the weak fallback: rlimits, optionally new network and pid namespaces.

    The harness then sees the host file system under the host paths; ``paths`` are passed to
    it so that it finds the model, inputs and job there. With ``network_namespace`` (root
    only), ``unshare`` also starts a pid namespace whose processes all die with it.
    """
    args = rlimit_prefix(limits)
    if network_namespace:
        unshare = shutil.which("unshare") or "unshare"
        args += [unshare, "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--"]
    python = str(Path(sys.executable).absolute())
    return args + [python, "-I", "-B", str(paths.job_dir / "harness.py"), str(paths.job_dir)]
