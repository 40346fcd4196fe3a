"""The whole offline pipeline, timed stage by stage: download, process, features, train, export.

The dataset is fetched and verified by the download stage only; the process stage reads the
directory it returns. Training registers and gates the winner; the export stage then puts
the version holding the `production` alias in `training.export_dir` (when the gate refused
the first model ever trained, no version holds it and export says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from movierec.config import Settings
from movierec.data.download import download_dataset
from movierec.data.preprocess import run_preprocess
from movierec.features.build import run_build_features
from movierec.training.export import export_production
from movierec.training.report import TrainingReport
from movierec.training.train import train

STAGES = ("download", "process", "features", "train", "export")


@dataclass
class PipelineReport:
    """Seconds per stage, the training report and where the production bundle is."""

    stage_seconds: dict[str, float] = field(default_factory=dict)
    training: TrainingReport | None = None
    export_dir: Path | None = None

    @property
    def total_seconds(self) -> float:
        return sum(self.stage_seconds.values())


def run_pipeline(settings: Settings, console: Console | None = None) -> PipelineReport:
    """Run every offline stage in order; an error stops the pipeline with the stage's message."""
    console = console or Console(stderr=True)
    report = PipelineReport()

    def timed(stage: str, work: Callable[[], Any]) -> Any:
        console.rule(f"[bold]{stage}")
        start = time.perf_counter()
        result = work()
        report.stage_seconds[stage] = time.perf_counter() - start
        console.print(f"{stage}: {report.stage_seconds[stage]:.1f} s")
        return result

    dataset_dir = timed("download", lambda: download_dataset(settings.data))
    timed("process", lambda: run_preprocess(settings.data, dataset_dir))
    timed("features", lambda: run_build_features(settings.data))
    report.training = timed("train", lambda: train(settings, console))
    report.export_dir = timed("export", lambda: export_production(settings))
    return report
