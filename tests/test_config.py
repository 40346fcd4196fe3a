"""Typed settings: configs/*.yaml, MOVIEREC_* overrides, and errors that name the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from movierec.config import ConfigError, load_settings
from movierec.models import MODEL_CLASSES, AlsParams
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True)
def repo_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(REPO_ROOT / "configs"))
    for name in ("MOVIELENS_BASE_URL", "MOVIEREC_ADMIN_TOKEN", "MOVIEREC_API_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_committed_configs_load_with_their_values() -> None:
    settings = load_settings()
    assert settings.data.dataset == "ml-100k"
    assert settings.data.split.strategy == "global_time"
    assert settings.data.checksums["ml-100k"]["u.data"].startswith("06416e59")
    assert settings.training.models.kinds() == ["popularity", "item_item", "als", "ease"]
    assert settings.training.mlflow.tracking_uri == "sqlite:///mlflow.db"
    assert (settings.serving.port, settings.frontend.port) == (8000, 8502)
    assert settings.monitoring.dashboard_port == 8501
    assert (settings.training.engine, settings.training.spark.master) == ("local", "local[*]")


def test_environment_overrides_fields_and_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOVIEREC_SERVING__PORT", "9001")
    monkeypatch.setenv("MOVIEREC_DATA__SPLIT__STRATEGY", "leave_last_n")
    monkeypatch.setenv("MOVIEREC_TRAINING__MODELS", '["popularity", "als"]')
    monkeypatch.setenv("MOVIEREC_MONITORING__THRESHOLDS__P99_LATENCY_MS", "12.5")
    settings = load_settings()
    assert settings.serving.port == 9001
    assert settings.data.split.strategy == "leave_last_n"
    assert settings.data.split.seed == 42  # the rest of the YAML section stays
    assert settings.training.models.kinds() == ["popularity", "als"]
    assert settings.monitoring.thresholds.p99_latency_ms == 12.5


def test_the_models_parameters_come_from_their_params_classes() -> None:
    models = load_settings().training.models
    for kind, cls in MODEL_CLASSES.items():
        assert models.params(kind) == cls.params_type()
        assert models.grid(kind) == cls.search_type().points(cls.params_type())


def test_environment_changes_one_model_parameter_or_leaves_a_kind_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOVIEREC_TRAINING__MODELS__ALS__ITERATIONS", "3")
    monkeypatch.setenv("MOVIEREC_TRAINING__MODELS__ALS__WEIGHTING", "bm25")
    monkeypatch.setenv("MOVIEREC_TRAINING__MODELS__ALS__SEARCH__REGULARIZATION", "[5.0]")
    monkeypatch.setenv("MOVIEREC_TRAINING__MODELS__EASE", "null")
    models = load_settings().training.models
    assert models.kinds() == ["popularity", "item_item", "als"]
    assert models.params("als") == AlsParams(iterations=3, weighting="bm25")
    assert [(p.factors, p.regularization) for p in models.grid("als")] == [(32, 5.0), (64, 5.0)]


def test_short_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOVIELENS_BASE_URL", "/srv/mirror")
    monkeypatch.setenv("MOVIEREC_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("MOVIEREC_API_URL", "http://api:8000")
    settings = load_settings()
    assert settings.data.base_url == "/srv/mirror"
    assert settings.serving.admin_token == "s3cret"
    assert settings.frontend.api_url == "http://api:8000"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MOVIEREC_SERVING__PORT", "eighty", "serving.port"),
        ("MOVIEREC_DATA__DATASET", "ml-5m", "data.dataset"),
        ("MOVIEREC_DATA__SPLIT__STRATEGY", "random", "data.split.strategy"),
        ("MOVIEREC_TRAINING__SELECTION_METRIC", "ndcg", "training.selection_metric"),
        ("MOVIEREC_TRAINING__BOOTSTRAP_SAMPLES", "-1", "training.bootstrap_samples"),
        ("MOVIEREC_TRAINING__MODELS__BPR__FACTORS", "64", "training.models.bpr"),
        ("MOVIEREC_TRAINING__MODELS__ALS__FACTORZ", "64", "training.models.als.factorz"),
        ("MOVIEREC_TRAINING__MODELS__ALS__FACTORS", "0", "training.models.als.factors"),
        ("MOVIEREC_TRAINING__MODELS__ALS__WEIGHTING", "tfidf", "training.models.als.weighting"),
        ("MOVIEREC_TRAINING__ALS__FACTORS", "64", "training.als"),
        ("MOVIEREC_TRAINING__ENGINE", "dask", "training.engine"),
        ("MOVIEREC_TRAINING__SPARK__BLOCKS", "0", "training.spark.blocks"),
    ],
)
def test_a_wrong_value_names_its_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert named in str(error.value)
    assert f"got {value!r} from {variable}" in str(error.value)


def test_an_unknown_key_in_a_yaml_file_is_a_typo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "serving.yaml").write_text("serving:\n  prot: 9000\n")
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"serving\.prot") as error:
        load_settings()
    assert f"from {tmp_path}/*.yaml" in str(error.value)


@pytest.mark.parametrize(
    ("variable", "value", "form"),
    [
        ("MOVIEREC_TRAINING__MODELS", "popularity,als", "a JSON list or object"),
        ("MOVIEREC_TRAINING__K_VALUES", "ten", "a JSON list"),
        ("MOVIEREC_TRAINING__MODELS__ALS__SEARCH__FACTORS", "32, 64", "a JSON list"),
        ("MOVIEREC_DATA__SPLIT", "strategy=leave_last_n", "a JSON object"),
        ("MOVIEREC_TRAINING", "models=als", "a JSON object"),
    ],
)
def test_a_list_or_mapping_that_is_not_json_names_its_variable_and_form(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, form: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"{variable} must be {form}, e.g. '")
    assert repr(value) in message and "\n" not in message
    example = re.search(r"e\.g\. '(.+?)'", message)
    assert example is not None
    monkeypatch.setenv(variable, example.group(1))  # the example shown is itself accepted
    load_settings()


@pytest.mark.parametrize(
    ("models", "named"),
    [
        ("{popularity: {}, bpr: {}}", r"training\.models\.bpr"),
        ("[popularity, bpr]", r"training\.models\.bpr"),
        ("{als: {factorz: 64}}", r"training\.models\.als\.factorz"),
        ("{ease: {search: {lambda: [1.0]}}}", r"training\.models\.ease\.search\.lambda"),
        ("{ease: {search: {l2: [100.0, 0]}}}", r"training\.models\.ease\.search\.l2\.1"),
        ("{}", r"training\.models: .*no model configured"),
    ],
)
def test_a_wrong_model_in_yaml_names_its_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: str, named: str
) -> None:
    (tmp_path / "training.yaml").write_text(f"training:\n  models: {models}\n")
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_invalid_yaml_names_the_file_and_line_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data.yaml").write_text("data:\n  dataset: ml-100k\n  splits: [1,\n")
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'data.yaml'}: not valid YAML at line 4, column 1: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("- data\n", "expected a mapping of sections such as 'data:', got ['data']"),
        ("serving: 9000\n", "section 'serving' must be a mapping of fields, got 9000"),
    ],
)
def test_a_yaml_file_of_the_wrong_shape_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, complaint: str
) -> None:
    (tmp_path / "serving.yaml").write_text(text)
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value) == f"{tmp_path / 'serving.yaml'}: {complaint}"


def test_a_config_dir_that_does_not_exist_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=r"^MOVIEREC_CONFIG_DIR=.*absent is not a folder"):
        load_settings()


def test_without_a_configs_folder_the_defaults_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOVIEREC_CONFIG_DIR")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.serving.port == 8000
    assert settings.data.checksums == {}
    assert settings.training.models.kinds() == list(MODEL_CLASSES)
    assert settings.training.models.params("als") == AlsParams()
