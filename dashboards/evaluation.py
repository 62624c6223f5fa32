"""Running an evaluation from a page: the same service calls as ``clinval evaluate`` (create the run bound to
exact versions, then execute it site by site in the sandbox), made from the Streamlit server process.

Streamlit runs every page as a stand-in ``__main__`` module whose ``__file__`` is the app script, and the
runner's local workers are *spawned* processes, which re-import the parent's ``__main__`` from that file: each
worker would run the dashboard script before it starts work. While a run executes, :func:`execute` puts a bare
``__main__`` (no file) in its place, so workers start clean.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from validation import Principal

__all__ = ["execute"]


@contextmanager
def _bare_main() -> Iterator[None]:
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def execute(platform, principal: Principal, run_id: str, *, progress: Callable[[str, object], None] | None = None):
    """Execute (or resume) a run with :func:`validation.runs.execute_run` as ``principal``; returns its RunInfo.

    Raises whatever the service raises (:class:`validation.ClinvalError` for refusals and conflicts).
    """
    from validation.runs import execute_run

    with _bare_main():
        return execute_run(platform, principal, run_id, progress=progress)
