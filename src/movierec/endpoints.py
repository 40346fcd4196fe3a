"""The API's route paths, spelled once: the routes, the request log's `endpoint` values, the
frontend's client, monitoring and the benchmarks all name an endpoint through these."""

HEALTH = "/health"
RECOMMEND = "/recommend"
SIMILAR = "/similar"
POPULAR = "/popular"
MOVIES = "/movies"
MODEL = "/model"
ADMIN_RELOAD = "/admin/reload"
FEEDBACK = "/feedback"
FEEDBACK_BATCH = "/feedback/batch"
USERS = "/users"
USER_FEEDBACK = "/users/{user_id}/feedback"
METRICS = "/metrics"

# Every route of the API's own (the metrics label any other path "other").
ROUTES = (
    HEALTH,
    RECOMMEND,
    SIMILAR,
    POPULAR,
    MOVIES,
    MODEL,
    ADMIN_RELOAD,
    METRICS,
    FEEDBACK,
    FEEDBACK_BATCH,
    USERS,
    USER_FEEDBACK,
)

# The endpoints that answer a ranking of movies: one request-log row per answer.
RANKED = (RECOMMEND, SIMILAR, POPULAR)

# Accounts: sign-up, the OAuth2 password flow, refresh, sign-out and the signed-in account.
AUTH_SIGNUP = "/auth/signup"
AUTH_TOKEN = "/auth/token"
AUTH_REFRESH = "/auth/refresh"
AUTH_LOGOUT = "/auth/logout"
ME = "/me"
