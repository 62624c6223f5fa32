"""Matrix products cut into pieces small enough that the BLAS runs each on the calling thread.

OpenBLAS spreads a GEMM over its threads once ``M * N * K`` exceeds 65536 x 4; for the thin products of the
bootstraps (a chunk of replicates times a few columns per case) that brings no speed, and on a busy machine its
spinning threads cost several times the product itself, worse when the bootstrap's own worker threads call the BLAS
concurrently. Below the threshold the BLAS computes on the caller's thread, so the bootstrap's threads do the
parallel work. The pieces are summed in a fixed order, so the result depends only on the operands' shapes.
"""

from __future__ import annotations

import numpy as np

#: Largest M * N * K that OpenBLAS keeps on one thread (SMP_THRESHOLD_MIN 65536 x GEMM_MULTITHREAD_THRESHOLD 4).
SERIAL_MNK = 262_144


def serial_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-d float64 ``a`` (m, k) and ``b`` (k, n), as products of at most ``SERIAL_MNK`` each."""
    m, k = a.shape
    n = b.shape[1]
    if m * k * n <= SERIAL_MNK:
        return a @ b
    out = np.empty((m, n))
    kb = min(k, max(64, SERIAL_MNK // max(1, m * n)))
    rb = min(m, max(1, SERIAL_MNK // (kb * n)))
    for r in range(0, m, rb):
        acc = a[r:r + rb, :kb] @ b[:kb]
        for c in range(kb, k, kb):
            acc += a[r:r + rb, c:c + kb] @ b[c:c + kb]
        out[r:r + rb] = acc
    return out
