"""How a fit may use the machine: threads, a bound on dense blocks, and a progress callback.

Work over a large catalogue is done a block of rows at a time (`map_blocks`), so that no
dense array is larger than the budget, and the blocks run on several threads: the compiled
sparse products (`sparse_product`, not scipy's, which hold the GIL), the compiled top-k and
numpy's array operations release the GIL, so threads share the work without copying the
matrices.

Usage:
    >>> options = FitOptions(threads=2, block_bytes=1 << 20)
    >>> rows = block_rows(1000, bytes_per_entry=4, options=options)
    >>> rows, [stop - start for start, stop, _ in map_blocks(lambda a, b: None, 300, rows, options)]
    (131, [131, 131, 38])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

StepProgress = Callable[[int, int], None]
"""Called with (steps done, steps in all) as a long fit or evaluation advances."""


@dataclass(frozen=True)
class FitOptions:
    """Threads a fit may use, the bytes its dense blocks in flight may take, its progress."""

    threads: int = 1
    block_bytes: int = 256 << 20
    progress: StepProgress | None = None

    def report(self, done: int, total: int) -> None:
        """Tell the progress callback, if any, that `done` of `total` steps are finished."""
        if self.progress is not None:
            self.progress(done, total)


def block_rows(n_columns: int, bytes_per_entry: int, options: FitOptions) -> int:
    """Rows per block such that one block per thread, of `bytes_per_entry` per dense entry
    over `n_columns` columns, fits in `options.block_bytes` (at least one row)."""
    per_row = max(n_columns, 1) * bytes_per_entry * max(options.threads, 1)
    return max(1, options.block_bytes // per_row)


def map_blocks(
    work: Callable[[int, int], T], n_rows: int, rows_per_block: int, options: FitOptions
) -> Iterator[tuple[int, int, T]]:
    """`(start, stop, work(start, stop))` for consecutive row blocks, in order, computed on
    `options.threads` threads; progress is reported block by block."""
    bounds = [
        (start, min(start + rows_per_block, n_rows)) for start in range(0, n_rows, rows_per_block)
    ]
    if options.threads <= 1 or len(bounds) <= 1:
        results: Iterator[T] = (work(start, stop) for start, stop in bounds)
        for done, ((start, stop), result) in enumerate(zip(bounds, results, strict=True), start=1):
            yield start, stop, result
            options.report(done, len(bounds))
        return
    with ThreadPoolExecutor(options.threads, thread_name_prefix="movierec-block") as pool:
        futures = pool.map(lambda bound: work(*bound), bounds)
        for done, ((start, stop), result) in enumerate(zip(bounds, futures, strict=True), start=1):
            yield start, stop, result
            options.report(done, len(bounds))
