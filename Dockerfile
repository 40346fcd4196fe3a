# syntax=docker/dockerfile:1
# Multi-stage image for every service of movie-recommender (trainer, api, frontend,
# dashboard, mlflow). The builder resolves the locked environment with uv; the final stage
# holds only the virtual environment, the source and the configs, and runs as a non-root user.

FROM python:3.11-slim-bookworm AS builder
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /build
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
# libgomp1: the OpenMP runtime that implicit's compiled ALS links against. Not pinned to a
# Debian revision (hadolint DL3008): the archive keeps only the newest revision of a package in
# bookworm, so a pin breaks the build as soon as a point release updates it; the bookworm base
# image already fixes the release, and with it the library's ABI.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 movierec \
    && useradd --system --uid 10001 --gid movierec --home-dir /app --shell /usr/sbin/nologin movierec
# NUMBA_CACHE_DIR: the compiled kernels are cached where the user may write (/opt/venv is root's).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/app/.cache/numba \
    MOVIEREC_CONFIG_DIR=/app/configs \
    MOVIEREC_SERVING__HOST=0.0.0.0
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY configs ./configs
RUN mkdir -p data models mlflow && chown -R 10001:10001 /app
USER 10001:10001
EXPOSE 8000 8501 8502 5000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]
CMD ["movierec", "serve", "--host", "0.0.0.0", "--port", "8000"]
