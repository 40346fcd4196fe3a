"""The quality gate: beat popularity, and be no worse than production on the same data."""

from __future__ import annotations

from movierec.training.gate import GateInput, decide


def candidate(score: float, split: str = "global_time") -> GateInput:
    return GateInput(score=score, dataset="ml-100k", split_strategy=split, version="7")


def test_first_model_that_beats_popularity_is_promoted() -> None:
    decision = decide("ndcg@10", candidate(0.30), popularity_score=0.20, current=None)
    assert decision.promote
    assert "no production version yet" in decision.reason


def test_model_not_better_than_popularity_is_refused() -> None:
    decision = decide("ndcg@10", candidate(0.20), popularity_score=0.20, current=None)
    assert not decision.promote
    assert "does not beat popularity" in decision.reason


def test_model_worse_than_production_on_the_same_data_is_refused() -> None:
    current = GateInput(0.35, "ml-100k", "global_time", version="3")
    decision = decide("ndcg@10", candidate(0.30), popularity_score=0.20, current=current)
    assert not decision.promote
    assert "worse than production version 3 (0.3500)" in decision.reason


def test_equal_to_production_is_promoted() -> None:
    current = GateInput(0.30, "ml-100k", "global_time", version="3")
    assert decide("ndcg@10", candidate(0.30), popularity_score=0.2, current=current).promote


def test_production_validated_on_another_split_is_not_compared() -> None:
    current = GateInput(0.90, "ml-100k", "stratified_random", version="3")
    decision = decide("ndcg@10", candidate(0.30), popularity_score=0.2, current=current)
    assert decision.promote
    assert "not comparable" in decision.reason
