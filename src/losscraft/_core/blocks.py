"""The block planner shared by the blocked softmax kernels (softmax focal, overlap sums).

A blocked kernel walks an ``(N, C, P)`` tensor (samples, classes, spatial positions) in
``(sample slice, position slice)`` blocks, so that its temporaries stay a small fraction of the
input while each op stays large enough that per-op overhead is negligible.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["BLOCK_MAX", "BLOCK_MIN", "blocks"]

# Values per (samples, C, positions) block: 1/32 of the input, within [2**16, 2**20]. Large
# enough that the loop's per-op overhead is negligible (few, big kernels), small enough that
# the block temporaries add a few percent to the peak memory (the gradient itself is 100%).
# Read at each call (tests shrink them to exercise many blocks on small inputs).
BLOCK_MIN = 1 << 16
BLOCK_MAX = 1 << 20


def blocks(n: int, c: int, npos: int, *, whole_samples: bool = False) -> Iterator[tuple[slice, slice]]:
    """(sample slice, position slice) pairs tiling ``(N, P)``, ~1/32 of the values each.

    Whole samples are grouped while ``C * P`` fits the block (contiguous blocks); larger samples
    are cut along the positions, one sample at a time. ``whole_samples=True`` never cuts a
    sample of up to ``BLOCK_MAX`` values (used by the softmax-focal kernel, where fewer, longer
    ops on contiguous memory measured faster); otherwise a sample is cut as soon as it exceeds
    the block (the overlap sums, where whole-image blocks measured a higher peak memory).
    """
    budget = min(BLOCK_MAX, max(BLOCK_MIN, n * c * npos // 32))
    row = max(c, 1) * npos
    whole = max(budget, BLOCK_MAX) if whole_samples else budget
    if row <= whole:
        step = max(1, budget // max(row, 1))
        for n0 in range(0, n, step):
            yield slice(n0, min(n0 + step, n)), slice(0, npos)
        return
    step = max(1, budget // max(c, 1))
    for n0 in range(n):
        for p0 in range(0, npos, step):
            yield slice(n0, n0 + 1), slice(p0, min(p0 + step, npos))
