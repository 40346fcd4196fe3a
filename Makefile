# movie-recommender: every target runs inside the locked uv environment.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
MOVIEREC := $(RUN) movierec

.DEFAULT_GOAL := help
.PHONY: help setup up download-data process-data build-features train export pipeline serve \
	frontend dashboard mlflow-ui simulate kpis replay test test-fast lint requirements format typecheck \
	check benchmark-pipeline benchmark-serving benchmark-serving-scale benchmark-dashboard benchmark-similar \
	benchmark-spark benchmark-retrain benchmark-soak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

# Bytecode is written once here (as in the Docker image): without it every process, each API
# worker included, compiles its imports from source (2-3 s of a start at ml-25m size).
setup: ## Install uv (if missing) and the locked environment
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode

up: setup ## The whole system: data, training if no production model, API, frontend, dashboard, MLflow UI
	$(MOVIEREC) up

# The stages' output files, at the default paths of configs/data.yaml and training.yaml. A
# stage target first runs the earlier stages whose outputs are missing or older than their
# inputs, and does nothing when its own output is current (`movierec <stage>` always runs).
DATASET := $(or $(MOVIEREC_DATA__DATASET),ml-100k)
RAW_DATA := data/raw/$(DATASET)
PROCESSED := data/processed/interactions.parquet
FEATURES := data/features/item_features.parquet
MODEL := models/production/model_metadata.json
# Every stage writes its output atomically: an interrupted make must not delete a finished one.
.PRECIOUS: $(RAW_DATA) $(PROCESSED) $(FEATURES) $(MODEL)

download-data: setup ## Download (or copy from MOVIELENS_BASE_URL) and verify the dataset
	$(MOVIEREC) download

process-data: setup $(PROCESSED) ## Clean, filter, convert to implicit and split (downloads first)

build-features: setup $(FEATURES) ## Item features (genres, year, popularity)

train: setup $(MODEL) ## Train, evaluate, register, gate, export: when the model is missing or older than its data or config

export: setup $(MODEL) ## Export the production model version to models/production/ again (trains first if none)
	$(MOVIEREC) export

$(RAW_DATA): | setup
	$(MOVIEREC) download

$(PROCESSED): $(RAW_DATA) configs/data.yaml | setup
	$(MOVIEREC) process

$(FEATURES): $(PROCESSED) | setup
	$(MOVIEREC) features

$(MODEL): $(PROCESSED) $(FEATURES) configs/training.yaml | setup
	$(MOVIEREC) train
	$(MOVIEREC) export

pipeline: setup ## All offline stages, from download to exported artifacts
	$(MOVIEREC) pipeline

serve: setup $(MODEL) ## API on port 8000 (trains first when there is no current model)
	$(MOVIEREC) serve

frontend: setup ## Streamlit frontend on port 8502
	$(MOVIEREC) frontend

dashboard: setup ## Monitoring dashboard on port 8501
	$(MOVIEREC) dashboard

mlflow-ui: setup ## MLflow UI on port 5000 over the local SQLite store (one worker, no job runner)
	$(MOVIEREC) mlflow-ui

simulate: setup ## Replay held-out users against the running API
	$(MOVIEREC) simulate

kpis: setup ## KPI report from the request log
	$(MOVIEREC) monitor kpis

replay: setup ## Replay evaluation of logged recommendations
	$(MOVIEREC) monitor replay

test: setup ## Run the whole test suite (with the `postgres` and `spark` extras: PostgreSQL driver, pyspark)
	$(RUN) --extra postgres --extra spark pytest

test-fast: setup ## Tests without the end-to-end and browser tiers
	$(RUN) --extra postgres --extra spark pytest -m "not e2e and not browser"

lint: setup ## ruff, black --check, import layers (import-linter), hadolint, and compose config (no Docker engine needed)
	$(RUN) ruff check src tests benchmarks
	$(RUN) black --check src tests benchmarks
	$(RUN) lint-imports
	$(RUN) hadolint Dockerfile
	@if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	elif command -v docker-compose >/dev/null 2>&1; then docker-compose -f docker-compose.yml config -q; \
	else echo "compose check skipped: neither 'docker compose' nor 'docker-compose' is installed" \
		"(Debian: apt-get install --no-install-recommends docker-compose)"; exit 0; fi; \
	echo "docker-compose.yml: valid"

requirements: setup ## Re-export requirements.txt from uv.lock (runtime dependencies)
	$(UV) export --frozen --no-dev --no-emit-project --no-hashes -q -o requirements.txt

format: setup ## Apply ruff fixes and black
	$(RUN) ruff check --fix src tests benchmarks
	$(RUN) black src tests benchmarks

typecheck: setup ## mypy on src/
	$(RUN) mypy

check: lint typecheck test ## lint + type-check + tests

benchmark-pipeline: setup ## Time each offline stage on ml-100k; JSON in benchmarks/results/
	$(RUN) python -m benchmarks.pipeline

benchmark-serving: setup ## Load-test the API on ml-100k artifacts; JSON in benchmarks/results/
	$(RUN) python -m benchmarks.serving

benchmark-dashboard: setup $(MODEL) ## Time the dashboard's first load in headless Chromium; JSON in benchmarks/results/
	$(RUN) python -m benchmarks.dashboard

benchmark-serving-scale: setup ## Serving at ml-25m size on a synthetic bundle: start-up, memory, exact vs HNSW; JSON in benchmarks/results/
	$(RUN) python -m benchmarks.serving_scale

benchmark-similar: setup ## Compare the /similar sources on ml-100k; JSON in benchmarks/results/
	$(RUN) python -m benchmarks.similar

benchmark-spark: setup ## ALS on the Spark engine beside the local one (DATASET=ml-1m, mirror MOVIELENS_BASE_URL); JSON in benchmarks/results/
	$(RUN) --extra spark python -m benchmarks.spark_engine --dataset $(DATASET)

benchmark-retrain: setup ## Retrain on ml-100k + 10k feedback events, switch 2 workers under wrk
	$(RUN) python -m benchmarks.retrain

benchmark-soak: setup $(MODEL) ## 60 s at saturation with reloads, hostile connections, stops and kill -9; JSON in benchmarks/results/
	$(RUN) python -m benchmarks.soak

clean: ## Remove generated data, models, logs and tracking stores
	rm -rf data models mlartifacts mlruns mlflow.db benchmarks/results
