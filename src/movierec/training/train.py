"""The training stage: every candidate searched, the winner registered and gated.

The stages run in order, inside one MLflow run: `data` reads the processed splits and the
catalogue, `plan` checks every candidate of `training.models` against the data before
anything is fitted (and settles grids, threads and the users of the search), `search` fits
and evaluates each candidate, recording it as soon as it is done, and picks the winner on
validation, `bundle` builds the winner's production bundle, `registry` logs it
with its metrics.json and registers it as a new version, and `gate` moves the `production`
alias when it passes. Exporting that version to `training.export_dir` is the next stage
(`movierec export`, `movierec.training.export`). The models are fitted by the engine of
`training.engine` (`movierec.training.engines`: in this process, or ALS on Spark MLlib).
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient
from rich.console import Console

from movierec.config import Settings
from movierec.models.registry import BASELINE
from movierec.training import registry
from movierec.training.bundle import build_bundle
from movierec.training.champion import champion_scores, recipe_tags
from movierec.training.data import load_catalogue, load_training_data
from movierec.training.engines import open_engine
from movierec.training.gate import (
    GateDecision,
    PairedDifference,
    apply_gate,
    decide,
    decision_tags,
    paired_difference,
    score_tag,
)
from movierec.training.plan import fit_options, plan_candidates, search_users
from movierec.training.progress import training_progress
from movierec.training.report import TrainingReport, candidate_summary, evaluation_report
from movierec.training.search import CandidateResult, CandidateSearch, select_winner


def paired_gate(
    settings: Settings,
    client: MlflowClient,
    search: CandidateSearch,
    candidates: dict[str, CandidateResult],
    winner: str,
) -> GateDecision:
    """The winner against popularity and the champion, per user over the same validation
    users (`movierec.training.gate`)."""
    metric, seed = settings.training.selection_metric, settings.training.seed
    samples, gate = settings.training.bootstrap_samples, settings.retrain.gate

    def difference(other: np.ndarray | None) -> PairedDifference:
        ours = candidates[winner].validation.per_user
        assert ours is not None and other is not None  # validation keeps them
        return paired_difference(ours, other, samples, seed, gate.level)

    vs_popularity = difference(candidates[BASELINE].validation.per_user)
    champion = champion_scores(client, settings.training.mlflow, search, candidates)
    if champion is None:
        return decide(metric, vs_popularity, None, gate.champion_tolerance)
    if champion.per_user is None:
        return decide(metric, vs_popularity, None, gate.champion_tolerance, champion.note)
    return decide(
        metric,
        vs_popularity,
        difference(champion.per_user),
        gate.champion_tolerance,
        champion.version,
    )


def train(
    settings: Settings,
    console: Console | None = None,
    alias: str | None = None,
    resume: bool = False,
) -> TrainingReport:
    """Plan, search, select, build, register and gate; see the module docstring. The gate
    moves `alias` (default: the production alias; retraining passes the challenger's).

    With `resume`, candidates already trained on the same data with the same settings (a
    finished candidate run in the experiment) are taken over instead of trained again.
    """
    console = console or Console(stderr=True)
    training = settings.training
    names = training.mlflow
    alias = alias or names.production_alias
    metric = training.selection_metric
    data = load_training_data(settings)
    catalogue = load_catalogue(settings, data.items)
    skipped: list[str] = []

    def warn(line: str) -> None:
        skipped.append(line)
        console.print(f"[yellow]warning: {line}", soft_wrap=True)

    configured = training.models.kinds()
    kinds = list(dict.fromkeys([BASELINE, *configured]))
    plans = plan_candidates(training, kinds, data.train_val.shape, data.train_val.nnz, warn)
    options = fit_options(training, data.train_val.nnz)
    client = registry.tracking_client(names)
    experiment_id = registry.ensure_experiment(client, names)
    commit = registry.git_commit()
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name="train") as run,
        training_progress(console) as progress,
        open_engine(settings, data) as engine,
    ):
        mlflow.set_tags(
            {
                "dataset": data.dataset,
                "split_strategy": data.split_strategy,
                registry.TAG_FINGERPRINT: data.fingerprint,
                "git_commit": commit,
                "training_engine": training.engine,
                "threads": str(options.threads),
            }
        )
        if skipped:
            mlflow.set_tag("skipped_candidates", "; ".join(skipped))
        registry.log_params(
            {"models": ",".join(configured), "selection_metric": metric, "seed": training.seed}
        )
        search = CandidateSearch(
            training,
            data,
            experiment_id,
            progress,
            engine,
            options=options,
            search_users=search_users(training, data.train.shape[0]),
            resume_from=client if resume else None,
            warn=warn,
        )
        try:
            candidates, models = search.run(plans)
        finally:
            if search.failed:
                mlflow.set_tag(
                    "failed_candidates",
                    "; ".join(f"{kind}: {why}" for kind, why in search.failed.items()),
                )
            mlflow.set_tags({f"resumed.{kind}": run_id for kind, run_id in search.resumed.items()})
        winner = select_winner(
            candidates, {k: models[k] for k in configured if k in models}, metric
        )
        mlflow.set_tag("winner", winner)
        registry.log_params(candidates[winner].params, prefix=f"{winner}.")
        evaluation = evaluation_report(
            data, metric, search.ks, training.bootstrap_samples, winner, candidates
        )
        bundle, index_bytes = build_bundle(
            models[winner],
            data.train_val,
            data.users,
            data.items,
            catalogue,
            training,
            dataset=data.dataset,
            split_strategy=data.split_strategy,
            metrics={
                **candidate_summary(candidates[winner]),
                "baseline": {"model_kind": BASELINE, **candidate_summary(candidates[BASELINE])},
            },
            run_id=run.info.run_id,
            data_fingerprint=data.fingerprint,
            git_commit=commit,
            options=options,
        )
        registry.log_bundle(bundle, index_bytes, evaluation)
        score = candidates[winner].validation.mean(metric)
        version = registry.register_bundle(
            client,
            names.registered_model_name,
            run.info.run_id,
            {
                registry.TAG_DATASET: data.dataset,
                registry.TAG_SPLIT: data.split_strategy,
                **recipe_tags(winner, candidates[winner].params),
                registry.TAG_FINGERPRINT: data.fingerprint,
                score_tag(metric): repr(score),
            },
        )
        gate = paired_gate(settings, client, search, candidates, winner)
        apply_gate(client, names.registered_model_name, alias, version, gate)
        mlflow.set_tags(decision_tags(gate))
    production = registry.aliased_version(
        client, names.registered_model_name, names.production_alias
    )
    return TrainingReport(
        run_id=run.info.run_id,
        winner=winner,
        selection_metric=metric,
        candidates=candidates,
        model_version=str(version.version),
        gate=gate,
        production_version=str(production.version) if production is not None else None,
        evaluation=evaluation,
        alias=alias,
        warnings=skipped,
        resumed=search.resumed,
    )
