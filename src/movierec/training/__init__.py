"""Training in stages, each a module: `data` (the processed splits as matrices), `search`
(grid search on validation per candidate), `bundle` (the production bundle of a fitted
model), `registry` (MLflow), `gate` (the production alias), `report` (the summary and
metrics.json); `train` runs them in order, `export` serves the production version and
`pipeline` runs every offline stage.

This module holds `TrainingError`, which the CLI turns into a one-line message.
"""


class TrainingError(RuntimeError):
    """Training cannot go on; the message says what to change."""
