"""Accounts: sign-up, sign-in, tokens, API keys and who may act for whom, on both store backends.

One API per backend and mode serves the module (its lifespan starts a writer process, so a
client per test would cost seconds each); tests use their own emails, so they do not meet.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from movierec.api import tokens
from movierec.api.main import create_app
from movierec.config import AuthSettings, ConfigError, ServingSettings
from movierec.store.api_keys import create_key, revoke_key
from movierec.store.database import Database
from movierec.store.tables import accounts, api_keys, refresh_tokens
from tests.databases import PostgresServer, table_rows

SECRET = "a-test-secret-of-at-least-thirty-two-characters"
PASSWORD = "correct horse battery"
MOVIELENS_USER = 3
_emails = itertools.count()


def new_email() -> str:
    return f"person{next(_emails)}@example.org"


def auth_settings(mode: str, **overrides: Any) -> AuthSettings:
    fields = {
        "mode": mode,
        "secret": SecretStr(SECRET),
        "failed_logins_per_account": "3/minute",
        "failed_logins_per_address": "1000/minute",
        **overrides,
    }
    return AuthSettings.model_validate(fields)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The store of this module's APIs: a SQLite file, or a database of a real PostgreSQL."""
    if request.param == "sqlite":
        yield tmp_path_factory.mktemp("auth") / "store.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    server.execute("CREATE DATABASE auth_tests")
    yield server.url("auth_tests")
    server.execute("DROP DATABASE auth_tests WITH (FORCE)")


def client_for(
    store: Database, bundles: dict[str, Path], tmp: Path, auth: AuthSettings
) -> TestClient:
    settings = ServingSettings(model_dir=bundles["embeddings"], log_db=tmp / "requests.db")
    if isinstance(store, Path):
        settings = settings.model_copy(update={"log_db": store})
    return TestClient(
        create_app(settings, store if isinstance(store, str) else "", auth_settings=auth)
    )


@pytest.fixture(scope="module")
def demo(
    store: Database, bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with client_for(store, bundles, tmp_path_factory.mktemp("demo"), auth_settings("demo")) as c:
        yield c


@pytest.fixture(scope="module")
def required(
    store: Database, bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    auth = auth_settings("required")
    with client_for(store, bundles, tmp_path_factory.mktemp("required"), auth) as c:
        yield c


def sign_up(client: TestClient, email: str, **extra: Any) -> None:
    response = client.post("/auth/signup", json={"email": email, "password": PASSWORD, **extra})
    assert response.status_code == 202, response.text


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def recommend(client: TestClient, user_id: int, headers: dict[str, str] | None = None) -> int:
    return client.post("/recommend", json={"user_id": user_id, "k": 3}, headers=headers).status_code


def test_a_new_account_signs_in_and_acts_for_a_fresh_user(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email.upper())
    signed_in = sign_in(demo, f"  {email.title()} ")  # the email is normalised both times
    assert signed_in["token_type"] == "bearer" and signed_in["expires_in"] == 900
    me = demo.get("/me", headers=bearer(signed_in["access_token"])).json()
    assert me["email"] == email and me["user_id"] == signed_in["user_id"]
    largest = max(demo.app.state.serving.served.engine.model.user_rows)  # type: ignore[attr-defined]
    assert me["user_id"] > largest and me["claimed"] is False
    assert recommend(demo, me["user_id"], bearer(signed_in["access_token"])) == 200


def test_signing_up_twice_answers_alike_and_keeps_the_first_password(demo: TestClient) -> None:
    email = new_email()
    first = demo.post("/auth/signup", json={"email": email, "password": PASSWORD})
    again = demo.post("/auth/signup", json={"email": email, "password": "another password"})
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    sign_in(demo, email)
    second = demo.post("/auth/token", data={"username": email, "password": "another password"})
    assert second.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.org", "password": "short"}, "password"),
        ({"email": "a@example.org", "password": PASSWORD, "extra": 1}, "extra"),
    ],
)
def test_a_bad_sign_up_is_a_422_naming_the_field(
    demo: TestClient, body: dict[str, Any], field: str
) -> None:
    response = demo.post("/auth/signup", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_a_body_that_is_not_text_is_a_422_not_a_400(demo: TestClient) -> None:
    """FastAPI's own body parsing answers such a body 400; it is a 422, as on every route."""
    answer = demo.post(
        "/auth/signup", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body"]


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email)
    wrong = demo.post("/auth/token", data={"username": email, "password": "wrong password"})
    unknown = demo.post("/auth/token", data={"username": new_email(), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong email or password"}
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_wrong_passwords_are_limited_per_account(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email)
    for _ in range(3):
        wrong = demo.post("/auth/token", data={"username": email, "password": "nope"})
        assert wrong.status_code == 401
    limited = demo.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    unknown = new_email()  # an email without an account is limited alike
    for _ in range(3):
        demo.post("/auth/token", data={"username": unknown, "password": "nope"})
    assert demo.post("/auth/token", data={"username": unknown, "password": "x"}).status_code == 429
    other = new_email()
    sign_up(demo, other)
    sign_in(demo, other)  # other accounts are not affected


def test_wrong_passwords_are_limited_per_client_address(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    auth = auth_settings("demo", failed_logins_per_address="2/minute")
    with client_for(tmp_path / "store.db", bundles, tmp_path, auth) as client:
        for _ in range(2):
            response = client.post("/auth/token", data={"username": new_email(), "password": "x"})
            assert response.status_code == 401
        response = client.post("/auth/token", data={"username": new_email(), "password": "x"})
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1


def test_the_limit_holds_across_api_processes_over_one_store(
    demo: TestClient, required: TestClient
) -> None:
    """`demo` and `required` are two APIs (two workers, or replicas) over one store: the
    failures through either count on both, and a success through either clears both."""
    email = new_email()
    sign_up(demo, email)

    def wrong(client: TestClient) -> int:
        answer = client.post("/auth/token", data={"username": email, "password": "nope"})
        return answer.status_code

    started = time.time()
    assert [wrong(demo), wrong(required)] == [401, 401]
    sign_in(required, email)  # clears the account's failures for every process
    assert [wrong(demo), wrong(required), wrong(demo)] == [401, 401, 401]
    limited = required.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert limited.status_code == 429, limited.text
    elapsed = math.ceil(time.time() - started)
    assert 60 - elapsed <= int(limited.headers["retry-after"]) <= 60
    assert wrong(demo) == 429


def test_a_login_takes_as_long_for_an_unknown_email_as_for_a_wrong_password(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    auth = auth_settings(
        "demo", failed_logins_per_account="100/minute", failed_logins_per_address="100/minute"
    )
    with client_for(tmp_path / "store.db", bundles, tmp_path, auth) as client:
        email = new_email()
        sign_up(client, email)
        times: dict[str, list[float]] = {"wrong": [], "unknown": []}
        for _ in range(7):  # interleaved, so that load on the machine hits both alike
            for kind, username in (("wrong", email), ("unknown", new_email())):
                started = time.perf_counter()
                client.post("/auth/token", data={"username": username, "password": "nope"})
                times[kind].append(time.perf_counter() - started)
    wrong, unknown = (statistics.median(times[kind]) for kind in ("wrong", "unknown"))
    # Without the stand-in hash an unknown email answers in well under a tenth of the time.
    assert 0.6 < unknown / wrong < 1.67, times


def test_a_user_token_acts_for_its_own_user_only(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email)
    signed_in = sign_in(demo, email)
    headers = bearer(signed_in["access_token"])
    assert recommend(demo, signed_in["user_id"], headers) == 200
    other = demo.post("/recommend", json={"user_id": MOVIELENS_USER}, headers=headers)
    assert other.status_code == 403
    assert f"signed in as user {signed_in['user_id']}" in other.json()["detail"]


def test_an_account_user_is_closed_to_anonymous_callers_even_in_demo_mode(
    demo: TestClient,
) -> None:
    email = new_email()
    sign_up(demo, email)
    user_id = sign_in(demo, email)["user_id"]
    refused = demo.post("/recommend", json={"user_id": user_id})
    assert refused.status_code == 401 and "belongs to an account" in refused.json()["detail"]
    assert recommend(demo, MOVIELENS_USER) == 200  # MovieLens users stay open in demo mode
    nobody = demo.post("/recommend", json={"user_id": 10**9}).json()  # nor owned: the fallback
    assert nobody["fallback_reason"] == "unknown_user"


def test_demo_mode_lets_an_account_claim_a_movielens_user_once(demo: TestClient) -> None:
    email = new_email()
    claim = {"movielens_user_id": MOVIELENS_USER + 1}
    sign_up(demo, email, **claim)
    signed_in = sign_in(demo, email)
    assert signed_in["user_id"] == MOVIELENS_USER + 1
    taken = demo.post("/auth/signup", json={"email": new_email(), "password": PASSWORD, **claim})
    assert taken.status_code == 409
    unknown = demo.post(
        "/auth/signup",
        json={"email": new_email(), "password": PASSWORD, "movielens_user_id": 10**9},
    )
    assert unknown.status_code == 403 and "not a MovieLens user" in unknown.json()["detail"]


def test_required_mode_needs_credentials_for_every_personal_route(required: TestClient) -> None:
    anonymous = required.post("/recommend", json={"user_id": MOVIELENS_USER})
    assert anonymous.status_code == 401
    assert "sign in" in anonymous.json()["detail"]
    assert required.get("/me").status_code == 401
    for path in ("/health", "/movies", "/popular", "/docs", "/openapi.json"):
        assert required.get(path).status_code == 200, path
    assert required.post("/similar", json={"movie_id": 1}).status_code == 200
    claim = {"email": new_email(), "password": PASSWORD, "movielens_user_id": MOVIELENS_USER}
    assert required.post("/auth/signup", json=claim).status_code == 403
    email = new_email()
    sign_up(required, email)
    signed_in = sign_in(required, email)
    assert recommend(required, signed_in["user_id"], bearer(signed_in["access_token"])) == 200


def test_an_expired_or_tampered_token_is_refused(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email)
    signed_in = sign_in(demo, email)
    me = demo.get("/me", headers=bearer(signed_in["access_token"])).json()
    claims = tokens.decode(SECRET, signed_in["access_token"])
    expired = tokens.issue(
        SECRET, me["account_id"], me["user_id"], claims.session_id, time.time() - 3600, 900
    )
    answer = demo.get("/me", headers=bearer(expired))
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    header, payload, signature = signed_in["access_token"].split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for token in (f"{header}.{payload}.{flipped}", "not-a-token"):
        assert demo.get("/me", headers=bearer(token)).status_code == 401
    forged = tokens.issue("x" * 40, me["account_id"], MOVIELENS_USER, claims.session_id, 0, 10**10)
    assert recommend(demo, MOVIELENS_USER, bearer(forged)) == 401


def test_a_refresh_token_is_used_once_and_sign_out_ends_the_session(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email)
    first = sign_in(demo, email)
    second = demo.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert demo.get("/me", headers=bearer(second["access_token"])).status_code == 200
    replay = demo.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401  # a used token again: the whole session ends
    assert demo.get("/me", headers=bearer(second["access_token"])).status_code == 401
    third = sign_in(demo, email)
    out = demo.post("/auth/logout", json={"refresh_token": third["refresh_token"]})
    assert out.status_code == 204
    assert demo.get("/me", headers=bearer(third["access_token"])).status_code == 401
    revoked = demo.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert revoked.status_code == 401 and "sign in again" in revoked.json()["detail"]


def test_api_keys_act_within_their_scopes(demo: TestClient) -> None:
    engine = demo.app.state.accounts.engine  # type: ignore[attr-defined]
    now = time.time()
    _, recommender = create_key(engine, "recommender", {"recommend:any"}, now)
    _, feedback = create_key(engine, "feedback", {"feedback:any"}, now)
    admin_key, admin = create_key(engine, "ops", {"admin"}, now)
    assert recommend(demo, MOVIELENS_USER, {"X-API-Key": recommender}) == 200
    email = new_email()
    sign_up(demo, email)
    account_user = sign_in(demo, email)["user_id"]
    assert recommend(demo, account_user, {"X-API-Key": recommender}) == 200  # any user
    assert recommend(demo, MOVIELENS_USER, {"X-API-Key": feedback}) == 403
    assert demo.post("/admin/reload", headers={"X-API-Key": recommender}).status_code == 403
    assert demo.post("/admin/reload", headers={"X-API-Key": admin}).status_code == 200
    assert demo.get("/me", headers={"X-API-Key": admin}).status_code == 403
    revoke_key(engine, admin_key.key_id, time.time())
    assert demo.post("/admin/reload", headers={"X-API-Key": admin}).status_code == 401
    assert recommend(demo, MOVIELENS_USER, {"X-API-Key": recommender[:-1] + "x"}) == 401


def test_secrets_are_never_stored_in_clear(demo: TestClient, store: Database) -> None:
    email = new_email()
    sign_up(demo, email)
    signed_in = sign_in(demo, email)
    engine = demo.app.state.accounts.engine  # type: ignore[attr-defined]
    _, key = create_key(engine, "stored", {"recommend:any"}, time.time())
    stored = repr([table_rows(store, table) for table in (accounts, refresh_tokens, api_keys)])
    secret_part = key.split("_", 2)[2]  # mrk_<id>_<secret>; the secret may hold "_" itself
    for secret in (PASSWORD, signed_in["refresh_token"], secret_part):
        assert secret not in stored
    assert "$argon2id$" in stored


def test_the_openapi_document_declares_the_security_schemes(required: TestClient) -> None:
    document = required.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["UserToken"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    securities = document["paths"]["/recommend"]["post"]["security"]
    assert {"UserToken": []} in securities and {"ApiKey": []} in securities
    assert {} in securities  # anonymous callers too (demo mode)
    me = document["paths"]["/me"]["get"]["security"]
    assert {} not in me and {"UserToken": []} in me
    assert "security" not in document["paths"]["/popular"]["get"]


def test_required_mode_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    settings = ServingSettings(model_dir=tmp_path, log_db=tmp_path / "store.db")
    for secret in ("", "too-short"):
        auth = AuthSettings(mode="required", secret=SecretStr(secret))
        with pytest.raises(ConfigError, match="MOVIEREC_AUTH__SECRET"):
            create_app(settings, "", auth_settings=auth)


def click(user_id: int) -> dict[str, Any]:
    return {"user_id": user_id, "movie_id": 1, "event": "click"}


def test_a_user_token_writes_and_deletes_its_own_feedback_only(demo: TestClient) -> None:
    email = new_email()
    sign_up(demo, email)
    signed_in = sign_in(demo, email)
    own, headers = signed_in["user_id"], bearer(signed_in["access_token"])
    assert demo.post("/feedback", json=click(own), headers=headers).status_code == 202
    assert demo.post("/feedback", json=click(MOVIELENS_USER), headers=headers).status_code == 403
    mixed = {"events": [click(own), click(MOVIELENS_USER)]}
    assert demo.post("/feedback/batch", json=mixed, headers=headers).status_code == 403
    assert demo.delete(f"/users/{MOVIELENS_USER}/feedback", headers=headers).status_code == 403
    assert demo.get(f"/users/{MOVIELENS_USER}/feedback", headers=headers).status_code == 403
    history = demo.get(f"/users/{own}/feedback", headers=headers)
    assert [event["movie_id"] for event in history.json()["events"]] == [1]
    assert demo.get(f"/users/{own}/feedback").status_code == 401
    deleted = demo.delete(f"/users/{own}/feedback", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == 1  # not the batch's
    assert demo.post("/feedback", json=click(own)).status_code == 401  # anonymous: an account's
    assert demo.delete(f"/users/{own}/feedback").status_code == 401
    assert demo.post("/feedback", json=click(MOVIELENS_USER)).status_code == 202  # demo user
    assert demo.post("/users", json={}).status_code == 201  # demo mode: anyone may


def test_feedback_keys_and_required_mode(required: TestClient) -> None:
    engine = required.app.state.accounts.engine  # type: ignore[attr-defined]
    _, writer = create_key(engine, "events", {"feedback:any"}, time.time())
    _, reader = create_key(engine, "ranker", {"recommend:any"}, time.time())
    assert required.post("/feedback", json=click(MOVIELENS_USER)).status_code == 401
    assert required.post("/users", json={}).status_code == 401
    assert required.delete(f"/users/{MOVIELENS_USER}/feedback").status_code == 401
    assert required.get(f"/users/{MOVIELENS_USER}/feedback").status_code == 401
    key = {"X-API-Key": writer}
    assert required.post("/feedback", json=click(MOVIELENS_USER), headers=key).status_code == 202
    created = required.post("/users", json={}, headers=key)
    assert created.status_code == 201
    batch = {"events": [click(MOVIELENS_USER), click(created.json()["user_id"])]}
    assert required.post("/feedback/batch", json=batch, headers=key).status_code == 202
    wrong = {"X-API-Key": reader}
    assert required.post("/feedback", json=click(MOVIELENS_USER), headers=wrong).status_code == 403
    assert required.post("/users", json={}, headers=wrong).status_code == 403
    assert required.get(f"/users/{MOVIELENS_USER}/feedback", headers=wrong).status_code == 403
    assert required.get(f"/users/{MOVIELENS_USER}/feedback", headers=key).status_code == 200


def test_serve_refuses_required_mode_without_a_secret_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from movierec.cli import app
    from movierec.config import get_settings

    monkeypatch.setenv("MOVIEREC_AUTH__MODE", "required")
    monkeypatch.delenv("MOVIEREC_AUTH__SECRET", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "auth.secret must hold at least 32 characters in required mode" in result.output
    assert "Traceback" not in result.output
