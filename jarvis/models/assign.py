"""Solve one block of reduced costs with scipy's rectangular assignment solver.

Workers with more than one free slot get one column per slot, but never more columns
than tasks they could usefully take; rows and columns without a single useful pair
(reduced cost below zero) are dropped before solving when that shrinks the matrix
noticeably. Both steps are exact: they only remove choices worth nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from jarvis.errors import DispatchError
from jarvis.models.problem import BoolArray, FloatArray, IntArray

__all__ = ["Prepared", "prepare", "solve_block", "solve_prepared"]

#: Compact the matrix only when it loses at least this share of its rows or columns.
COMPACT_BELOW = 0.9


@dataclass(frozen=True)
class Prepared:
    """The matrix handed to ``linear_sum_assignment`` and how to map it back."""

    matrix: FloatArray
    rows: IntArray  # matrix row -> block row
    columns: IntArray  # matrix column -> block column (repeated per slot)
    useful_any: BoolArray  # per block row: some pair beats leaving the task


def prepare(reduced: FloatArray, slots: IntArray) -> Prepared:
    """Drop useless rows and columns of ``reduced`` and repeat columns per usable slot."""
    n_rows, n_cols = reduced.shape
    useful = reduced < 0.0
    useful_any: BoolArray = np.asarray(useful.any(axis=1))
    rows = np.flatnonzero(useful_any)
    # a worker never needs more slots than tasks it is useful for (a boolean
    # reduction is enough, and cheaper, when nobody has more than one slot)
    multi = bool((slots > 1).any())
    per_column = useful.sum(axis=0) if multi else useful.any(axis=0)
    usable = np.minimum(np.minimum(slots, per_column), len(rows))
    cols = np.flatnonzero(usable > 0)
    if len(rows) == 0:
        return Prepared(np.zeros((0, 0)), rows, cols, useful_any)
    compact = (
        len(rows) < COMPACT_BELOW * n_rows
        or len(cols) < COMPACT_BELOW * n_cols
        or bool((slots <= 0).any())
    )
    if not compact:
        rows, cols = np.arange(n_rows), np.arange(n_cols)
        usable = np.maximum(usable, 1)
    if (usable[cols] > 1).any():
        cols = np.repeat(cols, usable[cols])
        matrix = reduced[np.ix_(rows, cols)]
    elif compact:
        matrix = reduced[np.ix_(rows, cols)]
    else:
        matrix = reduced
    return Prepared(matrix, rows, cols, useful_any)


def solve_prepared(prepared: Prepared) -> tuple[IntArray, IntArray]:
    """Optimal (block row, block column) pairs with a reduced cost below zero."""
    if prepared.matrix.size == 0:
        empty = np.zeros(0, np.intp)
        return empty, empty
    try:
        r, c = linear_sum_assignment(prepared.matrix)
    except ValueError as exc:  # only on NaN/inf, which Problem.block never produces
        raise DispatchError(f"assignment solver refused the cost matrix: {exc}") from exc
    keep = prepared.matrix[r, c] < 0.0
    return prepared.rows[r[keep]], prepared.columns[c[keep]]


def solve_block(reduced: FloatArray, slots: IntArray) -> tuple[IntArray, IntArray]:
    """:func:`prepare` then :func:`solve_prepared`."""
    return solve_prepared(prepare(reduced, slots))
