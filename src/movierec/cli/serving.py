"""`movierec serve` and `frontend`: the API and the Streamlit frontend."""

from __future__ import annotations

import typer

from movierec.cli import _error_exit, app


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default: serving.host)."),
    port: int | None = typer.Option(None, help="Port (default: serving.port, 8000)."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: serving.workers)."
    ),
    model_dir: str | None = typer.Option(
        None, help="Production bundle directory (default: serving.model_dir)."
    ),
    log_db: str | None = typer.Option(
        None, help="Request-log SQLite file (default: store.url, else serving.log_db)."
    ),
) -> None:
    """The recommendation API (uvicorn); starts without a model and reloads on SIGHUP."""
    from pydantic import ValidationError

    from movierec.api.access import signing_secret
    from movierec.api.launch import run_server
    from movierec.config import ConfigError, ServingSettings, get_settings

    given = dict(host=host, port=port, workers=workers, model_dir=model_dir, log_db=log_db)
    try:
        configured = get_settings()
        settings = ServingSettings.model_validate(
            {
                **configured.serving.model_dump(),
                **{key: value for key, value in given.items() if value is not None},
            }
        )
        signing_secret(configured.auth)
    except (ConfigError, ValidationError) as exc:
        raise _error_exit(exc) from None
    # A --log-db given here is the request log, whatever store.url says.
    run_server(
        settings,
        "" if log_db else configured.store.url,
        configured.monitoring.retention,
        configured.auth,
    )


@app.command()
def frontend(
    port: int | None = typer.Option(None, help="Port to serve on (default: frontend.port, 8502)."),
    api_url: str | None = typer.Option(
        None, help="Address of the API (default: MOVIEREC_API_URL or frontend.api_url)."
    ),
) -> None:
    """Streamlit frontend on port 8502, talking to the recommendation API."""
    from movierec.config import ConfigError, get_settings
    from movierec.streamlit_app import FRONTEND_APP, exec_streamlit

    try:
        settings = get_settings().frontend
    except ConfigError as exc:
        raise _error_exit(exc) from None
    exec_streamlit(
        FRONTEND_APP, port or settings.port, {"MOVIEREC_API_URL": api_url or settings.api_url}
    )
