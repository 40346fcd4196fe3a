"""`movierec promote` and `movierec rollback`: move the `production` alias by hand, with a
reason, then export the new production version so that every worker follows it.

Promotion takes the challenger (or a given version) and withdraws the challenger's export,
so serving stops splitting traffic. The challenger needs `retrain.min_impressions` online
and click-through and rating rates not clearly below the champion's (the engagement KPIs
per model version of `movierec.monitoring.engagement`), unless forced. Rollback takes the
version that was in production before the current one (recorded at promotion), or a given
one. Each move is recorded as version tags: `promotion_reason` / `rollback_reason`, who it
replaced (`previous_production`), when (`moved_at`) and the online result
(`promotion_online`). The move is undone when the export fails, so the alias and
`models/production` never disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from movierec.config import Settings
from movierec.monitoring.engagement import EngagementRow, Rate, compute_engagement
from movierec.training import registry
from movierec.training.export import export_production, withdraw

TAG_PREVIOUS = "previous_production"
TAG_MOVED_AT = "moved_at"


class PromotionError(RuntimeError):
    """The alias cannot move as asked; the message says what to do."""


@dataclass(frozen=True)
class AliasMove:
    """What `promote` or `rollback` did."""

    version: str
    previous: str | None
    export_dir: Path


def _version(client: MlflowClient, name: str, number: str) -> ModelVersion:
    versions = client.search_model_versions(f"name = '{name}'")
    for version in versions:
        if str(version.version) == number:
            return version
    known = ", ".join(sorted((str(v.version) for v in versions), key=int)) or "none"
    raise PromotionError(f"model {name!r} has no version {number} (versions: {known})")


def _move(settings: Settings, target: ModelVersion, tags: dict[str, str]) -> AliasMove:
    """Point production at `target`, tag it, export; put the alias back if export fails."""
    names = settings.training.mlflow
    client = registry.tracking_client(names)
    name, alias = names.registered_model_name, names.production_alias
    current = registry.aliased_version(client, name, alias)
    previous = str(current.version) if current is not None else None
    registry.set_alias(client, name, alias, str(target.version))
    try:
        exported = export_production(settings)
    except Exception:
        if previous is not None:
            registry.set_alias(client, name, alias, previous)
        else:
            client.delete_registered_model_alias(name, alias)
        raise
    registry.tag_version(
        client, target, {**tags, TAG_PREVIOUS: previous or "", TAG_MOVED_AT: repr(time.time())}
    )
    return AliasMove(str(target.version), previous, exported)


def _worse(challenger: Rate, champion: Rate) -> bool:
    """True when the challenger's rate is clearly below the champion's (intervals apart)."""
    return (
        challenger.high is not None and champion.low is not None and challenger.high < champion.low
    )


def online_verdict(
    rows: list[EngagementRow], champion: str | None, challenger: str, min_impressions: int
) -> str:
    """The online comparison in words; PromotionError when it does not allow promotion."""
    by_version = {row.group: row for row in rows}
    ours = by_version.get(challenger)
    shown = ours.impressions if ours is not None else 0
    if ours is None or shown < min_impressions:
        raise PromotionError(
            f"challenger version {challenger} has {shown} impressions online, fewer than "
            f"retrain.min_impressions={min_impressions}: let it serve longer, or --force"
        )
    theirs = by_version.get(champion or "")
    if theirs is None:
        return f"online: {shown} impressions, no champion answers to compare with"
    for name in ("ctr", "rating_rate"):
        mine, other = getattr(ours, name), getattr(theirs, name)
        if _worse(mine, other):
            raise PromotionError(
                f"challenger version {challenger}'s {name} {mine.value:.2%} "
                f"[{mine.low:.2%}, {mine.high:.2%}] is below the champion's {other.value:.2%} "
                f"[{other.low:.2%}, {other.high:.2%}]: not promoted (--force to override)"
            )
    return (
        f"online over {shown} impressions: ctr {ours.ctr.value:.2%} vs {theirs.ctr.value:.2%}, "
        f"rating rate {ours.rating_rate.value:.2%} vs {theirs.rating_rate.value:.2%}"
    )


def promote(
    settings: Settings, reason: str, version: str | None = None, force: bool = False
) -> AliasMove:
    """Make `version` (default: the challenger) production, recording `reason`. The
    challenger must have done no worse online than the champion (`online_verdict`) unless
    `force` or a `version` is named."""
    names = settings.training.mlflow
    client = registry.tracking_client(names)
    name, challenger = names.registered_model_name, settings.retrain.challenger_alias
    if version is None:
        target = registry.aliased_version(client, name, challenger)
        if target is None:
            raise PromotionError(
                f"no version of {name!r} has the alias {challenger!r}: run `movierec retrain` "
                "first, or name a version with --version"
            )
    else:
        target = _version(client, name, version)
    tags = {"promotion_reason": reason}
    if version is None and not force:
        champion = registry.aliased_version(client, name, names.production_alias)
        store = settings.store.url or settings.monitoring.log_db
        tags["promotion_online"] = online_verdict(
            compute_engagement(store).by_version,
            str(champion.version) if champion is not None else None,
            str(target.version),
            settings.retrain.min_impressions,
        )
    held = registry.aliased_version(client, name, challenger)
    move = _move(settings, target, tags)
    if held is not None and str(held.version) == move.version:
        client.delete_registered_model_alias(name, challenger)
        withdraw(settings.retrain.challenger_export_dir)  # serving drops it: now production
    return move


def rollback(settings: Settings, reason: str, version: str | None = None) -> AliasMove:
    """Put back the version production replaced (or `version`), recording `reason`."""
    names = settings.training.mlflow
    client = registry.tracking_client(names)
    name = names.registered_model_name
    current = registry.aliased_version(client, name, names.production_alias)
    if current is None:
        raise PromotionError(f"no version of {name!r} is in production: nothing to roll back")
    number = version or current.tags.get(TAG_PREVIOUS)
    if not number:
        raise PromotionError(
            f"production version {current.version} records no earlier production version: "
            "name the version to roll back to with --version"
        )
    move = _move(settings, _version(client, name, number), {"rollback_reason": reason})
    registry.tag_version(client, current, {"rolled_back_reason": reason})
    return move
