"""Progress of a training run: a bar per candidate and one per step inside it, with time left.

The candidate's bar counts its grid points and the final refit; the step bar under it shows
the work in hand (a grid point's fit, sweep by sweep or block by block, then its evaluation,
batch by batch) and disappears when that step is done. At MovieLens-25M size this is where a
user sees where the minutes go.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from movierec.models.compute import StepProgress


class TrainingProgress:
    """Bars on a rich `Progress`: `candidate` bars and transient `step` bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def candidate(self, kind: str, total: int) -> TaskID:
        """A candidate's bar over its grid points and the final refit."""
        return self.progress.add_task(f"{kind}", total=total)

    def advance(self, task: TaskID, description: str | None = None) -> None:
        """One more step of a candidate done; `description` says what it does now."""
        self.progress.advance(task)
        if description is not None:
            self.progress.update(task, description=description)

    def describe(self, task: TaskID, description: str) -> None:
        """Say what a candidate does now."""
        self.progress.update(task, description=description)

    @contextmanager
    def step(self, description: str) -> Iterator[StepProgress]:
        """A bar for one step; the callback it yields moves it (steps done, in all)."""
        task = self.progress.add_task(f"  {description}", total=None)

        def report(done: int, total: int) -> None:
            self.progress.update(task, completed=done, total=total)

        try:
            yield report
        finally:
            self.progress.remove_task(task)


@contextmanager
def training_progress(console: Console) -> Iterator[TrainingProgress]:
    """The bars of one training run, on `console`."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        yield TrainingProgress(progress)
