"""The pipelines over the stages: feedback merged into the interactions, and retraining."""
