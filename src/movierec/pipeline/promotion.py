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

`decide_challenger` is the same gate without a person (the retrainer runs it when
`retrain.auto_promote`): a challenger whose online result is in and no worse is promoted, one
clearly worse is withdrawn (tag `withdrawn_reason`) and the champion stays, and one with too
few impressions waits (the decision then says how many it has and since when it is
registered, which the retrainer needs to hold new runs back).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from movierec.config import Settings
from movierec.monitoring.engagement import EngagementRow, Rate, compute_engagement
from movierec.training import registry
from movierec.training.export import export_production, withdraw

TAG_PREVIOUS = "previous_production"
TAG_MOVED_AT = "moved_at"
TAG_WITHDRAWN = "withdrawn_reason"
AUTOMATIC = "automatic"

Decision = Literal["promoted", "withdrawn", "waiting"]


class PromotionError(RuntimeError):
    """The alias cannot move as asked; the message says what to do."""


class TooFewImpressionsError(PromotionError):
    """The challenger's online result is not in yet; `finding` says how far it is."""

    def __init__(self, finding: str, impressions: int) -> None:
        super().__init__(f"{finding}: let it serve longer, or --force")
        self.finding = finding
        self.impressions = impressions


class WorseOnlineError(PromotionError):
    """The challenger did clearly worse online than the champion; `finding` says where."""

    def __init__(self, finding: str) -> None:
        super().__init__(f"{finding}: not promoted (--force to override)")
        self.finding = finding


@dataclass(frozen=True)
class PromotionDecision:
    """What `decide_challenger` did with challenger `version`, when and why; a waiting one
    also holds the challenger's `impressions` so far and its registration time `since`."""

    decision: Decision
    version: str
    reason: str
    time: float
    impressions: int | None = None
    since: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


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
    """The online comparison in words; TooFewImpressionsError before `min_impressions`,
    WorseOnlineError when a rate is clearly below the champion's."""
    by_version = {row.group: row for row in rows}
    ours = by_version.get(challenger)
    shown = ours.impressions if ours is not None else 0
    if ours is None or shown < min_impressions:
        raise TooFewImpressionsError(
            f"challenger version {challenger} has {shown} impressions online, fewer than "
            f"retrain.min_impressions={min_impressions}",
            shown,
        )
    theirs = by_version.get(champion or "")
    if theirs is None:
        return f"online: {shown} impressions, no champion answers to compare with"
    for name in ("ctr", "rating_rate"):
        mine, other = getattr(ours, name), getattr(theirs, name)
        if _worse(mine, other):
            raise WorseOnlineError(
                f"challenger version {challenger}'s {name} {mine.value:.2%} "
                f"[{mine.low:.2%}, {mine.high:.2%}] is below the champion's {other.value:.2%} "
                f"[{other.low:.2%}, {other.high:.2%}]"
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
        tags["promotion_online"] = _online(settings, client, target)
    return _promote(settings, client, target, tags)


def _online(settings: Settings, client: MlflowClient, challenger: ModelVersion) -> str:
    """`online_verdict` of `challenger` against production, from the logged engagement."""
    names = settings.training.mlflow
    champion = registry.aliased_version(client, names.registered_model_name, names.production_alias)
    store = settings.store.url or settings.monitoring.log_db
    return online_verdict(
        compute_engagement(store).by_version,
        str(champion.version) if champion is not None else None,
        str(challenger.version),
        settings.retrain.min_impressions,
    )


def _promote(
    settings: Settings, client: MlflowClient, target: ModelVersion, tags: dict[str, str]
) -> AliasMove:
    """Move production to `target`; a challenger that is now production stops being one."""
    held = registry.aliased_version(
        client, settings.training.mlflow.registered_model_name, settings.retrain.challenger_alias
    )
    move = _move(settings, target, tags)
    if held is not None and str(held.version) == move.version:
        _drop_challenger(settings, client)
    return move


def _drop_challenger(settings: Settings, client: MlflowClient) -> None:
    """Remove the challenger alias and its export, so serving stops splitting traffic."""
    name = settings.training.mlflow.registered_model_name
    client.delete_registered_model_alias(name, settings.retrain.challenger_alias)
    withdraw(settings.retrain.challenger_export_dir)


def decide_challenger(settings: Settings) -> PromotionDecision | None:
    """Promote, withdraw or keep waiting for the challenger by its online result (module
    docstring); None when there is no challenger."""
    names = settings.training.mlflow
    client = registry.tracking_client(names)
    name = names.registered_model_name
    challenger = registry.aliased_version(client, name, settings.retrain.challenger_alias)
    if challenger is None:
        return None
    version = str(challenger.version)
    try:
        online = _online(settings, client, challenger)
    except TooFewImpressionsError as exc:
        since = challenger.creation_timestamp / 1000
        return PromotionDecision(
            "waiting", version, exc.finding, time.time(), exc.impressions, since
        )
    except WorseOnlineError as exc:
        reason = f"{AUTOMATIC}: {exc.finding}"
        _drop_challenger(settings, client)
        registry.tag_version(client, challenger, {TAG_WITHDRAWN: reason})
        return PromotionDecision("withdrawn", version, reason, time.time())
    reason = f"{AUTOMATIC}: {online}"
    _promote(settings, client, challenger, {"promotion_reason": reason, "promotion_online": online})
    return PromotionDecision("promoted", version, reason, time.time())


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
