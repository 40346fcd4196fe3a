"""Training: evaluation, model selection, MLflow tracking and registry, production export."""
