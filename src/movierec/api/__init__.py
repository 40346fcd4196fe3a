"""Online serving: the FastAPI recommendation service over the production bundle.

`main.create_app` builds the app; `model_loader` validates and loads `models/production/`,
`recommender` scores, filters and ranks, `fallback` answers when the model cannot, `logger`
writes one row per served request to the request log.
"""
