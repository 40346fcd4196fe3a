"""Typed HTTP client of the recommendation API, used by every frontend page.

Every failure becomes an `ApiError` whose message tells a person what happened and what to
do, so a page only has to show `str(error)`; nothing here imports Streamlit.

Usage:
    >>> client = ApiClient("http://localhost:8000", timeout_s=5.0)
    >>> client.recommend(42, k=5).recommendations[0].title  # doctest: +SKIP
    'Star Wars (1977)'
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from movierec.endpoints import (
    AUTH_LOGOUT,
    AUTH_REFRESH,
    AUTH_SIGNUP,
    AUTH_TOKEN,
    FEEDBACK,
    FEEDBACK_BATCH,
    HEALTH,
    ME,
    MODEL,
    MOVIES,
    POPULAR,
    RECOMMEND,
    SIMILAR,
    USER_FEEDBACK,
    USERS,
)


class ApiError(Exception):
    """A call to the API failed; `str(error)` is the message to show a person."""


class ApiUnreachableError(ApiError):
    """Nothing answers at the API address (connection refused, unknown host)."""


class ApiTimeoutError(ApiError):
    """The API accepted the connection but did not answer in time."""


class ApiRequestError(ApiError):
    """The API refused the request (4xx); the message is the API's own explanation."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ApiNotFoundError(ApiRequestError):
    """The requested movie (or route) does not exist (404)."""


class ModelNotReadyError(ApiError):
    """The API runs but has no model loaded (503)."""


class ApiServerError(ApiError):
    """The API failed on its side (5xx other than 503) or answered something unreadable."""


class _Schema(BaseModel):
    """Response schemas ignore fields they do not know, so the API can grow compatibly."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class Movie(_Schema):
    """One movie, as the API describes it; `url` is its page (IMDb, TMDB) where the catalogue
    links one (`GET /movies`)."""

    movie_id: int
    title: str
    score: float | None = None
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    url: str | None = None


class Reason(_Schema):
    """A movie of the user's history that a recommendation comes from (`explain`)."""

    movie_id: int
    title: str


class RecommendedMovie(Movie):
    """A recommended movie; `because` (asked with `explain`) names the movies of the user's
    history it comes from, the strongest first."""

    because: list[Reason] = Field(default_factory=list)

    @field_validator("because", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class Health(_Schema):
    """`GET /health`: whether a model is served, which one and since when."""

    status: str
    model_version: str | None = None
    model_name: str | None = None
    model_loaded_at: str | None = None
    uptime_seconds: float | None = None
    n_users: int | None = None
    n_items: int | None = None
    reason: str | None = None

    @property
    def ready(self) -> bool:
        """True when the API serves a model."""
        return self.status == "ok"


class Recommendations(_Schema):
    """`POST /recommend`: the top movies for a user, possibly from the cold-start fallback."""

    user_id: int | None
    recommendations: list[RecommendedMovie]
    model_version: str | None = None
    is_fallback: bool = False
    fallback_reason: str | None = None
    request_id: str | None = None


class SimilarMovie(Movie):
    """A similar movie and why: the people who rated both it and the seed (how many, and as
    a share of the seed's audience) and the genres the two have in common."""

    shared_audience: int | None = None
    audience_share: float | None = None
    shared_genres: list[str] = Field(default_factory=list)


class SimilarMovies(_Schema):
    """`POST /similar`: the seed movie and the movies most similar to it."""

    movie_id: int
    title: str
    similar_items: list[SimilarMovie]
    model_version: str | None = None
    request_id: str | None = None


class PopularMovies(_Schema):
    """`GET /popular`: the most popular movies, optionally of one genre."""

    recommendations: list[Movie]
    source: str | None = None
    request_id: str | None = None


class MovieList(_Schema):
    """`GET /movies`: the catalogue the model recommends from."""

    movies: list[Movie]


class ModelDescription(_Schema):
    """`GET /model`: what the served model is (its `model_metadata.json`)."""

    version: str
    model_name: str = ""
    model_kind: str = ""
    trained_at: str = ""
    dataset: str = ""
    split_strategy: str = ""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


class FeedbackAccepted(_Schema):
    """`POST /feedback`: the stored event's id."""

    event_id: int


class FeedbackBatchAccepted(_Schema):
    """`POST /feedback/batch`: the stored events' ids, in the order sent."""

    event_ids: list[int]


class UserCreated(_Schema):
    """`POST /users`: the new user's id."""

    user_id: int


class StoredFeedback(_Schema):
    """One of a user's stored events (`GET /users/{id}/feedback`)."""

    event_id: int
    movie_id: int
    event: str
    value: float | None = None


class UserFeedback(_Schema):
    """`GET /users/{id}/feedback`: the user's events, newest first."""

    user_id: int
    events: list[StoredFeedback]


class FeedbackDeleted(_Schema):
    """`DELETE /users/{id}/feedback`: how many events were deleted."""

    user_id: int
    deleted: int


class Tokens(_Schema):
    """`POST /auth/token` and `/auth/refresh`: the tokens and the user they act for."""

    access_token: str
    refresh_token: str
    user_id: int


class Account(_Schema):
    """`GET /me`: the signed-in account."""

    account_id: int
    email: str
    user_id: int
    claimed: bool = False


class SignedUp(_Schema):
    detail: str


SchemaT = TypeVar("SchemaT", bound=_Schema)


def bearer(access_token: str | None) -> dict[str, str]:
    """The headers that send `access_token`; none without one."""
    return {"Authorization": f"Bearer {access_token}"} if access_token else {}


def describe_detail(detail: Any) -> str:
    """Turn a FastAPI `detail` (a string or a list of validation errors) into one sentence."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for error in detail:
            if isinstance(error, dict):
                location = [str(p) for p in error.get("loc", []) if p not in ("body", "query")]
                field = ".".join(location)
                message = str(error.get("msg", error))
                parts.append(f"{field}: {message}" if field else message)
            else:
                parts.append(str(error))
        return "; ".join(parts)
    return str(detail)


class ApiClient:
    """Calls the API at `base_url` with a timeout and one retry when the connection fails."""

    def __init__(self, base_url: str, timeout_s: float = 5.0, retries: int = 1) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self._http = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout_s))

    def close(self) -> None:
        """Release the pooled connections."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def health(self) -> Health:
        """The API's health; a server without a model answers `status="not_ready"`."""
        return self._call("GET", HEALTH, Health, allow_not_ready=True)

    def recommend(
        self,
        user_id: int,
        k: int = 10,
        exclude_seen: bool = True,
        genres: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        explain: bool = False,
        access_token: str | None = None,
    ) -> Recommendations:
        """Personalised recommendations for `user_id`, filtered by genres and year range (as
        the signed-in user of `access_token` when given); with `explain`, each movie says
        which movies of the user's history it comes from."""
        filters: dict[str, Any] = {}
        if genres:
            filters["genres"] = genres
        if year_min is not None:
            filters["year_min"] = year_min
        if year_max is not None:
            filters["year_max"] = year_max
        body = {
            "user_id": user_id,
            "k": k,
            "exclude_seen": exclude_seen,
            "filters": filters,
            "explain": explain,
        }
        return self._call(
            "POST", RECOMMEND, Recommendations, json=body, headers=bearer(access_token)
        )

    def sign_up(self, email: str, password: str) -> str:
        """Create an account; the API's answer (the same whether or not the email was new)."""
        body = {"email": email, "password": password}
        return self._call("POST", AUTH_SIGNUP, SignedUp, json=body).detail

    def sign_in(self, email: str, password: str) -> Tokens:
        """Tokens for the account (OAuth2 password flow); 401 as `ApiRequestError`."""
        form = {"username": email, "password": password}
        return self._call("POST", AUTH_TOKEN, Tokens, data=form)

    def refresh(self, refresh_token: str) -> Tokens:
        """New tokens for a refresh token (which is used up)."""
        return self._call("POST", AUTH_REFRESH, Tokens, json={"refresh_token": refresh_token})

    def sign_out(self, refresh_token: str) -> None:
        """End the session of `refresh_token`."""
        response = self._send("POST", AUTH_LOGOUT, json={"refresh_token": refresh_token})
        if response.status_code >= 400:
            raise self._error_for(response)

    def me(self, access_token: str) -> Account:
        """The account `access_token` was issued to."""
        return self._call("GET", ME, Account, headers=bearer(access_token))

    def feedback(
        self,
        user_id: int,
        movie_id: int,
        event: str,
        value: float | None = None,
        request_id: str | None = None,
        access_token: str | None = None,
    ) -> FeedbackAccepted:
        """Tell the API what `user_id` did with `movie_id`: `rating` (with `value` 0.5..5),
        `click`, `watch` or `dislike`, naming the answer that showed it by `request_id` (as
        the signed-in user of `access_token` when given)."""
        body: dict[str, Any] = {"user_id": user_id, "movie_id": movie_id, "event": event}
        if value is not None:
            body["value"] = value
        if request_id is not None:
            body["request_id"] = request_id
        return self._call(
            "POST", FEEDBACK, FeedbackAccepted, json=body, headers=bearer(access_token)
        )

    def rate_all(
        self, user_id: int, ratings: dict[int, float], access_token: str | None = None
    ) -> list[int]:
        """Rate several movies (movie id -> 0.5..5) for `user_id` at once, all or none (as
        the signed-in user of `access_token` when given); the stored events' ids."""
        events = [
            {"user_id": user_id, "movie_id": movie, "event": "rating", "value": value}
            for movie, value in ratings.items()
        ]
        return self._call(
            "POST",
            FEEDBACK_BATCH,
            FeedbackBatchAccepted,
            json={"events": events},
            headers=bearer(access_token),
        ).event_ids

    def create_user(self, ratings: dict[int, float] | None = None) -> UserCreated:
        """A new user, starting from `ratings` (movie id -> 0.5..5) when given."""
        seeds = [{"movie_id": movie, "value": value} for movie, value in (ratings or {}).items()]
        return self._call("POST", USERS, UserCreated, json={"ratings": seeds})

    def feedback_history(
        self, user_id: int, access_token: str | None = None
    ) -> list[StoredFeedback]:
        """The stored events of `user_id`, newest first (as the signed-in user of
        `access_token` when given)."""
        path = USER_FEEDBACK.format(user_id=user_id)
        answer = self._call("GET", path, UserFeedback, headers=bearer(access_token))
        return answer.events

    def delete_feedback(self, user_id: int, access_token: str | None = None) -> int:
        """Delete every feedback event of `user_id` (as the signed-in user of `access_token`
        when given); the number deleted."""
        path = USER_FEEDBACK.format(user_id=user_id)
        return self._call("DELETE", path, FeedbackDeleted, headers=bearer(access_token)).deleted

    def similar(self, movie_id: int, k: int = 10) -> SimilarMovies:
        """The `k` movies most similar to `movie_id`."""
        return self._call("POST", SIMILAR, SimilarMovies, json={"movie_id": movie_id, "k": k})

    def popular(self, k: int = 10, genre: str | None = None) -> PopularMovies:
        """The `k` most popular movies, of `genre` when given."""
        params: dict[str, Any] = {"k": k}
        if genre:
            params["genre"] = genre
        return self._call("GET", POPULAR, PopularMovies, params=params)

    def movies(self) -> list[Movie]:
        """Every movie of the served catalogue (`GET /movies`)."""
        return self._call("GET", MOVIES, MovieList).movies

    def model(self) -> ModelDescription:
        """The served model's description and offline metrics (`GET /model`)."""
        return self._call("GET", MODEL, ModelDescription)

    def _call(
        self,
        method: str,
        path: str,
        schema: type[SchemaT],
        allow_not_ready: bool = False,
        **kwargs: Any,
    ) -> SchemaT:
        response = self._send(method, path, **kwargs)
        if response.status_code == 503 and not allow_not_ready:
            raise ModelNotReadyError(self._not_ready_message(response))
        if response.status_code >= 400 and not (allow_not_ready and response.status_code == 503):
            raise self._error_for(response)
        try:
            return schema.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise ApiServerError(
                f"The API at {self.base_url} answered {method} {path} with something this "
                f"frontend cannot read ({type(exc).__name__}). Check that the frontend and the "
                "API come from the same version of movierec."
            ) from exc

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        refused: httpx.ConnectError | None = None
        for _ in range(self.retries + 1):
            try:
                return self._http.request(method, path, **kwargs)
            except httpx.ConnectError as exc:
                refused = exc
            except httpx.TimeoutException as exc:
                raise ApiTimeoutError(
                    f"The recommendation API at {self.base_url} did not answer {method} {path} "
                    f"within {self.timeout_s:g} s. It may be overloaded or stuck: check its logs, "
                    "try again, or raise MOVIEREC_FRONTEND__TIMEOUT_S."
                ) from exc
            except httpx.HTTPError as exc:
                raise ApiUnreachableError(
                    f"The connection to the recommendation API at {self.base_url} failed "
                    f"({type(exc).__name__}: {exc}). Check that the API is running and try again."
                ) from exc
        raise ApiUnreachableError(
            f"The recommendation API at {self.base_url} is not reachable. Start it with "
            "`make serve` (or `movierec serve`), or point the frontend at it with MOVIEREC_API_URL."
        ) from refused

    def _detail(self, response: httpx.Response) -> str:
        try:
            payload = response.json()
        except ValueError:
            return response.text.strip() or response.reason_phrase
        if isinstance(payload, dict) and "detail" in payload:
            return describe_detail(payload["detail"])
        return str(payload)

    def _not_ready_message(self, response: httpx.Response) -> str:
        return (
            "No model is loaded yet: run `make train` (or `movierec pipeline`) to build one, "
            f"then restart the API. The API says: {self._detail(response)}"
        )

    def _error_for(self, response: httpx.Response) -> ApiError:
        detail = self._detail(response)
        status = response.status_code
        if status == 404:
            return ApiNotFoundError(detail, status)
        if status < 500:
            return ApiRequestError(detail, status)
        return ApiServerError(
            f"The recommendation API failed with HTTP {status}: {detail}. "
            "Check the API's logs; trying again may help."
        )
