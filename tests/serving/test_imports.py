"""The engine stands alone: importing all of `movierec.serving` loads no web framework, no API
code and nothing of training, the models or the data pipeline (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "fastapi",
    "starlette",
    "uvicorn",
    "movierec.api",
    "movierec.models",
    "movierec.training",
    "movierec.data",
    "movierec.features",
)

PROBE = f"""
import pkgutil, sys
import movierec.serving
for module in pkgutil.iter_modules(movierec.serving.__path__):
    __import__(f"movierec.serving.{{module.name}}")
forbidden = {FORBIDDEN!r}
loaded = [n for n in sys.modules if any(n == f or n.startswith(f + ".") for f in forbidden)]
print(",".join(sorted(loaded)))
"""


def test_serving_imports_no_http_and_no_training_side() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"movierec.serving loads {result.stdout.strip()}"
