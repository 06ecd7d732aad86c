"""Compiled loop of the label scorer (see :meth:`.features.FeatureRows.logits`).

Gathering a weight row per non-zero feature into one ``(nnz, n_labels)``
array and summing it per row moves every gathered row through memory twice;
this loop adds each weight row straight into its row's logits (see
:mod:`.kernels` for when it is compiled, and why both ways give the same bits).
"""
from __future__ import annotations

import math

import numpy as np

from .kernels import kernel


def _row_logits_numpy(starts, cols, vals, W, b):
    """:func:`row_logits` with NumPy: ``cumsum`` adds a row's terms one after
    another, in order, as the loop does (``add.reduceat`` would not: it sums
    in blocks)."""
    Z = np.zeros((len(starts) - 1, W.shape[1]), np.float32)
    for r in np.flatnonzero(starts[1:] > starts[:-1]).tolist():
        lo, hi = starts[r], starts[r + 1]
        Z[r] = np.cumsum(vals[lo:hi, None] * W[cols[lo:hi]], axis=0)[-1]
    return Z + b


@kernel(python=_row_logits_numpy)
def row_logits(starts, cols, vals, W, b):
    """``(n_rows, n_labels)`` float32: row ``r`` is ``b`` + the sum, in order, of
    ``vals[k] * W[cols[k]]`` for ``k`` in ``starts[r]:starts[r + 1]``.

    Each row is summed on its own and term by term, so its logits do not
    depend on the other rows of the batch (no BLAS blocking, no reassociation).
    """
    n_rows, n_labels = len(starts) - 1, W.shape[1]
    Z = np.empty((n_rows, n_labels), np.float32)
    acc = np.empty(n_labels, np.float32)
    for r in range(n_rows):
        acc[:] = 0.0
        for k in range(starts[r], starts[r + 1]):
            v, c = vals[k], cols[k]
            for j in range(n_labels):
                acc[j] += v * W[c, j]
        for j in range(n_labels):
            Z[r, j] = acc[j] + b[j]
    return Z


@kernel
def pooled_probabilities(Z, first, blend):
    """``(n_docs, n_labels)`` float32 label probabilities from the rows' logits ``Z``.

    Document ``i`` owns rows ``first[i]:first[i + 1]``: its whole-article row,
    then its passages' (if any). With ``blend`` a label's logit is the larger
    of the whole article's and its mean with the best passage's; without,
    the larger of the whole article's and the best passage's. Probability =
    sigmoid of the logit clipped to [-30, 30], element by element (the same
    bits in any batch).
    """
    n_docs, n_labels = len(first) - 1, Z.shape[1]
    P = np.empty((n_docs, n_labels), np.float32)
    half, lo, hi = np.float32(0.5), np.float32(-30.0), np.float32(30.0)
    for i in range(n_docs):
        a, e = first[i], first[i + 1]
        for j in range(n_labels):
            z = Z[a, j]
            if e - a > 1:
                part = Z[a + 1, j]
                for r in range(a + 2, e):
                    part = max(part, Z[r, j])
                z = max(z, half * (z + part)) if blend else max(z, part)
            z = min(max(z, lo), hi)
            # in double precision with math.exp: compiled and interpreted
            # code call the same C library (NumPy's own vectorised exp rounds
            # otherwise); np.float64, as numba's float() keeps a float32 one
            P[i, j] = 1.0 / (1.0 + math.exp(-np.float64(z)))
    return P
