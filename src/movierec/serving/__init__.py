"""The serving engine: loads a production bundle and answers recommend, similar and popular.

It knows nothing of HTTP (no FastAPI, Starlette or API schemas) and never imports training,
models or data code: `loader` validates and loads a bundle, `scorers` score a known user or
any interaction history (fold-in), `kernels` holds the compiled top-k of the common request,
`ranking` the one top-k, exclusion and filters (models use it too), `fallback` the popularity
answers and every `FallbackReason`, `errors` the domain errors, and `engine.Engine` puts them
together into typed results that `movierec.api` turns into HTTP answers.
"""
