"""Request and response models of the API (DESIGN.md section 5).

Ids and counts are strict integers (no "5", no 5.5, no true); unknown fields are rejected so a
typo such as `exlude_seen` is a 422 rather than silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from movierec.api.emails import normalise_email
from movierec.serving.fallback import FallbackReason
from movierec.serving.profiles import EventKind

MAX_K = 100
MAX_ID = 2**63 - 1

Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID, description="MovieLens id (a positive integer)")]
K = Annotated[StrictInt, Field(ge=1, le=MAX_K, description="Number of items to return (1..100)")]
Year = Annotated[StrictInt, Field(ge=1800, le=2200)]
Genre = Annotated[str, Field(min_length=1, max_length=64)]
Rating = Annotated[
    StrictFloat, Field(ge=0.5, le=5.0, multiple_of=0.5, description="0.5..5 in steps of 0.5")
]
MAX_HISTORY = 500
MAX_BATCH = 1000
REQUEST_ID = "The id of this answer: send it with feedback on its movies (POST /feedback)"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(Request):
    """Items must have at least one of `genres` and a known year within [year_min, year_max]."""

    genres: list[Genre] | None = Field(None, max_length=32)
    year_min: Year | None = None
    year_max: Year | None = None

    @model_validator(mode="after")
    def _year_range(self) -> Filters:
        low, high = self.year_min, self.year_max
        if low is not None and high is not None and low > high:
            raise ValueError(f"year_min ({low}) must not be greater than year_max ({high})")
        return self


class HistoryItem(Request):
    """A movie of an anonymous session's history; without a rating it counts as watched."""

    movie_id: Id
    rating: Rating | None = None


def _distinct_movies(items: list[Any] | None, name: str) -> None:
    movie_ids = [item.movie_id for item in items or []]
    if len(set(movie_ids)) < len(movie_ids):
        raise ValueError(f"each movie may appear once in {name}")


class RecommendRequest(Request):
    """`user_id`, an inline `history` (an anonymous session), or both (the history is laid
    over what the service knows of the user); `explain` adds `because` to each movie."""

    user_id: Id | None = None
    k: K = 10
    exclude_seen: StrictBool = True
    filters: Filters | None = None
    history: list[HistoryItem] | None = Field(None, max_length=MAX_HISTORY)
    explain: StrictBool = False

    @model_validator(mode="after")
    def _someone(self) -> RecommendRequest:
        if self.user_id is None and self.history is None:
            message = "give a user_id, or a history of movie ids for an anonymous session"
            error = InitErrorDetails(
                type=PydanticCustomError("missing", message), loc=("user_id",), input=None
            )
            raise ValidationError.from_exception_data(type(self).__name__, [error])
        _distinct_movies(self.history, "history")
        return self


class FeedbackRequest(Request):
    """One event: a `rating` needs a `value`; `click`, `watch` and `dislike` take none."""

    user_id: Id
    movie_id: Id
    event: EventKind
    value: Rating | None = Field(None, validate_default=True)
    request_id: str | None = Field(
        None, max_length=64, description="The request_id of the answer that showed the movie"
    )

    @field_validator("value")
    @classmethod
    def _value_fits_event(cls, value: float | None, info: ValidationInfo) -> float | None:
        event = info.data.get("event")
        if event == EventKind.RATING and value is None:
            raise ValueError("a rating needs a value from 0.5 to 5 in steps of 0.5")
        if event is not None and event != EventKind.RATING and value is not None:
            raise ValueError(f"a {event} event takes no value; only ratings have one")
        return value


class FeedbackBatchRequest(Request):
    events: list[FeedbackRequest] = Field(min_length=1, max_length=MAX_BATCH)


class FeedbackAccepted(BaseModel):
    event_id: int
    request_known: bool | None = Field(
        description="Whether this service issued the request_id; null when none was given"
    )


class FeedbackBatchAccepted(BaseModel):
    event_ids: list[int] = Field(description="In the order of the events sent")


class SeedRating(Request):
    movie_id: Id
    value: Rating


class CreateUserRequest(Request):
    """Optional ratings to start from: with one of 3 or more, /recommend is personal at once."""

    ratings: list[SeedRating] = Field(default_factory=list, max_length=MAX_HISTORY)

    @model_validator(mode="after")
    def _distinct(self) -> CreateUserRequest:
        _distinct_movies(self.ratings, "ratings")
        return self


class UserCreated(BaseModel):
    user_id: int = Field(description="A new id, above every id of the dataset")
    event_ids: list[int] = Field(description="The events of the seed ratings, in their order")


class FeedbackDeleted(BaseModel):
    user_id: int
    deleted: int = Field(description="How many of the user's events were deleted")


class StoredFeedback(BaseModel):
    event_id: int
    movie_id: int
    event: EventKind
    value: float | None
    created_at: float = Field(description="Unix seconds")
    model_version: str | None = Field(description="The version that served the user then")


class UserFeedback(BaseModel):
    user_id: int
    events: list[StoredFeedback] = Field(description="Newest first")


class SimilarRequest(Request):
    movie_id: Id
    k: K = 10


class Movie(BaseModel):
    movie_id: int
    title: str
    score: float
    year: int | None = Field(description="Release year; null when unknown")
    genres: list[str]


class Reason(BaseModel):
    movie_id: int
    title: str


class RecommendedMovie(Movie):
    because: list[Reason] | None = Field(
        None,
        description="With explain: the one to three movies of the user's history that "
        "contributed most to this one (may be empty)",
    )


class RecommendResponse(BaseModel):
    user_id: int | None = Field(description="null for an anonymous session")
    recommendations: list[RecommendedMovie]
    model_version: str
    is_fallback: bool
    fallback_reason: FallbackReason | None
    request_id: str = Field(description=REQUEST_ID)


class SimilarMovie(Movie):
    """A similar movie and why it is there: the audience it shares with the seed movie (the
    people who rated both) and the genres they have in common."""

    shared_audience: int | None = Field(
        None, description="How many people rated both this movie and the seed movie"
    )
    audience_share: float | None = Field(
        None, description="shared_audience as a share of the seed movie's audience (0..1)"
    )
    shared_genres: list[str] | None = Field(
        None, description="The seed movie's genres that this movie has too"
    )


class SimilarResponse(BaseModel):
    movie_id: int
    title: str
    similar_items: list[SimilarMovie]
    model_version: str
    request_id: str = Field(description=REQUEST_ID)


class CatalogueMovie(BaseModel):
    movie_id: int
    title: str
    year: int | None = Field(description="Release year; null when unknown")
    genres: list[str]
    url: str | None = Field(
        None, description="A page about the movie (IMDb or TMDB); null when the dataset has none"
    )


class MoviesResponse(BaseModel):
    """The movies the served model knows, in catalogue order (for search boxes and filters):
    `limit` of them (all when null) from `offset`, of `total`."""

    movies: list[CatalogueMovie]
    total: int
    offset: int
    limit: int | None


class PopularResponse(BaseModel):
    recommendations: list[Movie]
    source: Literal["popularity"]
    model_version: str
    request_id: str = Field(description=REQUEST_ID)


class LogCounters(BaseModel):
    """Request-log counters of this worker process since it started."""

    queued: int
    written: int
    dropped: int
    failed: int


class LastReload(BaseModel):
    """The last load or reload of the bundle: when, whether it swapped a model in, and why not
    (a refused reload keeps the previous model serving)."""

    time: datetime
    result: Literal["loaded", "refused"]
    error: str | None


class HealthResponse(BaseModel):
    """`status` is "ok" (HTTP 200) or "not_ready" (HTTP 503, `reason` says why and the fix)."""

    status: Literal["ok", "not_ready"]
    reason: str | None
    model_version: str | None
    model_name: str | None
    scorer: str | None
    dataset: str | None = Field(description="The dataset the served model was trained on")
    model_loaded_at: datetime | None
    uptime_seconds: float
    n_users: int | None
    n_items: int | None
    log: LogCounters
    last_reload: LastReload | None


class ReloadResponse(BaseModel):
    status: Literal["reloaded"]
    model_version: str
    model_loaded_at: datetime
    previous_version: str | None


class SignupRequest(Request):
    """A new account: the email is normalised (lower case); in demo mode it may claim a
    MovieLens user of the served data instead of getting a fresh user id."""

    email: Annotated[str, Field(max_length=254), AfterValidator(normalise_email)]
    password: Annotated[str, Field(min_length=8, max_length=128)]
    movielens_user_id: Id | None = None


class SignupResponse(BaseModel):
    """The same answer whether or not the email already had an account."""

    detail: str


class TokenResponse(BaseModel):
    """OAuth2's token answer, with the refresh token and the user the tokens act for."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str
    user_id: int


class RefreshRequest(Request):
    refresh_token: Annotated[str, Field(min_length=1, max_length=128)]


class AccountResponse(BaseModel):
    """`GET /me`: the signed-in account."""

    account_id: int
    email: str
    user_id: int = Field(description="The recommender user this account acts for")
    claimed: bool = Field(description="Whether user_id is a MovieLens user it claimed")
    created_at: datetime


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: a message, or FastAPI's list of field errors for a 422."""

    detail: str | list[dict[str, object]]


RequestModel = TypeVar("RequestModel", bound=Request)


def parse_body(model: type[RequestModel], raw: bytes) -> RequestModel:
    """Validate a JSON body straight from its bytes (pydantic-core, no `json.loads`).

    Errors become the `RequestValidationError` FastAPI raises for a typed body parameter
    (locations under "body"), so the one error mapping answers them with the same 422.
    """
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = []
        for error in exc.errors(include_url=False):
            if error["type"] == "json_invalid":
                error = {**error, "msg": "JSON decode error", "ctx": {"error": error["msg"]}}
            errors.append({**error, "loc": ("body", *error["loc"])})
        raise RequestValidationError(errors) from None


def openapi_body(model: type[Request]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that parses `model` itself with `parse_body`.

    Nested models are inlined: their `#/$defs/...` references would not resolve in the
    OpenAPI document."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return inline(definitions[reference.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}
