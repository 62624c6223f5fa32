"""Resource limits of one sandboxed model run."""

from __future__ import annotations

import math
from dataclasses import dataclass

from validation.sandbox.exceptions import InvalidLimitsError

__all__ = ["SandboxLimits"]

_MIB = 1024 * 1024
_GIB = 1024 * _MIB


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxLimits:
    """Resource limits applied to the sandboxed harness and everything the model starts.

    Parameters
    ----------
    memory_bytes : int, default 4 GiB
        Address-space limit (``RLIMIT_AS``) of each process in the sandbox. The harness with
        mlflow, pandas and pyarrow loaded runs in 1 GiB (glibc malloc arenas are capped at
        two inside the sandbox); give a real model its weights and working memory on top.
    cpu_seconds : int, default 600
        CPU-time limit (``RLIMIT_CPU``) of each process; the kernel sends SIGXCPU, then
        SIGKILL one second later.
    wall_seconds : float, default 900
        Wall-clock timeout of the whole run, start-up included; the sandbox is then killed.
    max_processes : int, default 64
        Maximum number of tasks (processes and threads, ``RLIMIT_NPROC``) of the sandbox uid.
    max_open_files : int, default 256
        Maximum number of open file descriptors (``RLIMIT_NOFILE``) per process.
    max_output_bytes : int, default 256 MiB
        Maximum size of the predictions the harness may send back, of any single file the
        sandbox may write (``RLIMIT_FSIZE``), of the private ``/out``, and of the model's
        captured stdout and stderr together.
    tmp_bytes : int, default 512 MiB
        Size of the private ``/tmp`` (tmpfs, counted against host memory).

    Raises
    ------
    InvalidLimitsError
        If a field is not a positive number or is below the floor a run needs.

    Examples
    --------
    >>> SandboxLimits(wall_seconds=20).wall_seconds
    20
    """

    memory_bytes: int = 4 * _GIB
    cpu_seconds: int = 600
    wall_seconds: float = 900
    max_processes: int = 64
    max_open_files: int = 256
    max_output_bytes: int = 256 * _MIB
    tmp_bytes: int = 512 * _MIB

    def __post_init__(self) -> None:
        floors = {
            "memory_bytes": (256 * _MIB, "the interpreter alone needs more"),
            "cpu_seconds": (1, "the kernel counts whole seconds"),
            "max_processes": (4, "the interpreter and bubblewrap need a few tasks"),
            "max_open_files": (32, "the interpreter needs a few dozen descriptors"),
            "max_output_bytes": (64 * 1024, "a small predictions file needs more"),
            "tmp_bytes": (1 * _MIB, "tmpfs needs at least a page per file"),
        }
        for name, (floor, why) in floors.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidLimitsError(
                    f"SandboxLimits.{name} must be an int, got {type(value).__name__} {value!r}."
                )
            if value < floor:
                raise InvalidLimitsError(
                    f"SandboxLimits.{name}={value} is below the minimum {floor} ({why}); "
                    f"pass a value >= {floor}."
                )
        wall = self.wall_seconds
        if isinstance(wall, bool) or not isinstance(wall, int | float) or not math.isfinite(wall) or wall <= 0:
            raise InvalidLimitsError(
                f"SandboxLimits.wall_seconds must be a finite number > 0, got {wall!r}."
            )
