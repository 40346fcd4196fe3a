"""Online serving over HTTP: the FastAPI service in front of `movierec.serving`'s engine.

`main.create_app` builds the app; `routes/` holds one module per resource, `schemas` the
request and response models, `render` the pre-encoded JSON of answers, `middleware` the body
guards and request timing, `errors` the one mapping of errors to HTTP answers, `state` the
current model (engine and movie JSON) and `logger` the request log.
"""
