"""Durable, content-addressed writes into a corpus version being built."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["write_durable", "store_input", "fsync_dir", "sync_filesystem"]


def sync_filesystem(path: Path) -> None:
    """Flush every written file of the filesystem holding ``path`` to disk, in one call.

    Uses Linux ``syncfs(2)`` (one journal commit for thousands of files, instead of one ``fsync`` each); elsewhere
    falls back to ``os.sync()``.
    """
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def fsync_dir(path: Path) -> None:
    """fsync a directory so that the names created in it survive a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes, *, fsync: bool = False) -> tuple[str, int]:
    """Write ``data`` to a new file ``path`` and return ``(sha256 hex, size)``.

    With ``fsync`` the file is flushed at once; otherwise the caller flushes the whole version with
    :func:`sync_filesystem` before renaming it into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return hashlib.sha256(data).hexdigest(), len(data)


def store_input(root: Path, site: str, data: bytes, suffix: str) -> tuple[str, str, int]:
    """Store an input file by content hash under ``sites/<site>/inputs/<aa>/<sha256><suffix>``.

    Returns
    -------
    tuple of (str, str, int)
        Path relative to the corpus version directory (POSIX), sha256 hex, size in bytes. Identical content is
        written once.
    """
    digest = hashlib.sha256(data).hexdigest()
    rel = f"sites/{site}/inputs/{digest[:2]}/{digest}{suffix}"
    target = root / rel
    if not target.exists():
        write_durable(target, data)
    return rel, digest, len(data)
