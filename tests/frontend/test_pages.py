"""Every page through Streamlit's `AppTest`, against a real API process on synthetic data."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from movierec.frontend.api_client import ApiClient

pytestmark = pytest.mark.timeout(180)

MakeApp = Callable[[str], AppTest]
# Each card is an HTML block of its own.
CARD = re.compile(r'^<div class="mr-card[^"]*"[^>]*data-movie-id="(\d+)"(.*)</div>$')


def cards(at: AppTest) -> list[tuple[int, str]]:
    """The (movie id, html) of every movie card rendered, in page order."""
    return [
        (int(movie_id), body) for block in at.html for movie_id, body in CARD.findall(block.value)
    ]


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_page(make_app: MakeApp, url: str, page: str) -> AppTest:
    at = make_app(url).run()
    if page != "personalized":
        at.switch_page(f"views/{page}.py").run()
    no_exception(at)
    return at


def submit_user(at: AppTest, user_id: str) -> AppTest:
    at.text_input[0].input(user_id)
    at.button[0].click().run()
    no_exception(at)
    return at


def test_status_badge_names_the_model(frontend_app: MakeApp, api_url: str) -> None:
    # AppTest (1.67) keeps sidebar elements of the first run only (not after a rerun or
    # switch_page), so the badge is checked here once and on every page by the browser test.
    at = open_page(frontend_app, api_url, "personalized")
    assert "API online" in at.sidebar.success[0].value
    assert "synthetic-embeddings-0" in at.sidebar.success[0].value
    assert at.sidebar.caption[0].value.startswith("90 movies · 120 users")


def test_personalized_shows_cards_of_the_catalogue(
    frontend_app: MakeApp, api_url: str, catalogue_records: list[dict]
) -> None:
    titles = {r["movie_id"]: r["title"] for r in catalogue_records}
    at = open_page(frontend_app, api_url, "personalized")
    assert not cards(at) and "Recommend" in at.info[0].value
    at.slider[0].set_value(8)
    submit_user(at, "3")
    shown = cards(at)
    assert len(shown) == 8
    links = {r["movie_id"]: r.get("url") for r in catalogue_records}
    for movie_id, body in shown:
        assert titles[movie_id] in body
        # /recommend answers carry no url: the card takes the catalogue's (odd ids have one).
        page = links[movie_id]
        assert (f'href="{html.escape(page)}"' in body) if page else ("<a " not in body)
    assert not at.warning and "Picked for user 3" in at.subheader[0].value
    assert "Model" not in at.caption[-1].value  # no internal words such as a model version


def test_personalized_filters_by_genre_and_year(frontend_app: MakeApp, api_url: str) -> None:
    at = open_page(frontend_app, api_url, "personalized")
    at.multiselect[0].select("Horror")
    at.slider[1].set_value((1990, 1999))
    submit_user(at, "5")
    shown = cards(at)
    assert shown
    for _, body in shown:
        assert ">Horror</span>" in body
        year = int(re.search(r'mr-year">\((\d{4})\)', body).group(1))
        assert 1990 <= year <= 1999


def test_unknown_user_shows_the_fallback_notice(frontend_app: MakeApp, api_url: str) -> None:
    at = submit_user(open_page(frontend_app, api_url, "personalized"), "99999")
    assert "We have no ratings from user 99999 yet" in at.warning[0].value
    assert "most popular" in at.warning[0].value
    assert len(cards(at)) == 12
    assert all("popularity" in body for _, body in cards(at))


@pytest.mark.parametrize("typed", ["abc", "0", "-4", "4.5", ""])
def test_invalid_user_id_is_explained_not_sent(
    frontend_app: MakeApp, api_url: str, typed: str
) -> None:
    at = submit_user(open_page(frontend_app, api_url, "personalized"), typed)
    assert [e.value for e in at.error] == [at.error[0].value]
    assert "is not a user id" in at.error[0].value
    assert not at.info and not at.warning, "one message, not the results hint beside it"
    assert not cards(at)


def test_similar_shows_the_seed_and_its_neighbours(
    frontend_app: MakeApp, api_url: str, catalogue_records: list[dict]
) -> None:
    seed = catalogue_records[10]
    at = open_page(frontend_app, api_url, "similar")
    box = at.selectbox[0]
    assert box.value is None and len(box.options) == 90
    box.select(seed["movie_id"])
    at.slider[0].set_value(6)
    at.run()
    no_exception(at)
    shown = cards(at)
    assert shown[0][0] == seed["movie_id"] and "Your pick" in shown[0][1]
    assert len(shown) == 1 + 6
    assert seed["movie_id"] not in {movie_id for movie_id, _ in shown[1:]}


def test_similar_cards_say_why(
    frontend_app: MakeApp, api_url: str, catalogue_records: list[dict]
) -> None:
    seed = catalogue_records[10]
    at = open_page(frontend_app, api_url, "similar")
    at.selectbox[0].select(seed["movie_id"])
    at.slider[0].set_value(4)
    at.run()
    no_exception(at)
    with ApiClient(api_url) as client:
        answer = {m.movie_id: m for m in client.similar(seed["movie_id"], k=4).similar_items}
    shown = cards(at)[1:]
    assert [movie_id for movie_id, _ in shown] == list(answer)
    for movie_id, body in shown:
        movie = answer[movie_id]
        assert (
            f"{movie.shared_audience} people rated both: {movie.audience_share:.0%} "
            f"of those who rated {seed['title']}" in body
        )
        genres = ", ".join(movie.shared_genres)
        assert (f"Shared genres: {genres}" in body) == bool(movie.shared_genres)


def test_popular_by_genre(frontend_app: MakeApp, api_url: str) -> None:
    at = open_page(frontend_app, api_url, "popular")
    genre_box = at.selectbox[0]
    assert genre_box.value == "All" and "Comedy" in genre_box.options
    assert len(cards(at)) == 12
    genre_box.select("Comedy")
    at.slider[0].set_value(5)
    at.run()
    no_exception(at)
    shown = cards(at)
    assert len(shown) == 5
    assert all(">Comedy</span>" in body for _, body in shown)
    assert "Most popular in Comedy" in at.subheader[0].value
    assert not any("Source" in caption.value for caption in at.caption)


def test_about_shows_health_model_and_docs(
    frontend_app: MakeApp, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The docs links are for the browser: its address for the API, not the frontend's.
    monkeypatch.setenv("MOVIEREC_FRONTEND__PUBLIC_API_URL", "http://movies.example:8080")
    monkeypatch.setenv("MOVIEREC_FRONTEND__MLFLOW_URL", "http://mlflow.test:5000/")
    at = open_page(frontend_app, api_url, "about")
    figures = {metric.label: metric.value for metric in at.metric}
    assert figures["Users"] == "120" and figures["Movies"] == "90"
    assert figures["Status"] == "Ready"
    assert figures["Uptime"] != "—"
    text = " ".join(md.value for md in at.markdown)
    assert "(http://movies.example:8080/docs)" in text
    assert "(http://movies.example:8080/redoc)" in text
    assert f"{api_url}/docs" not in text
    version = "synthetic-embeddings-0"
    mlflow = f"http://mlflow.test:5000/#/models/movie-recommender/versions/{version}"
    assert f"[open it in MLflow]({mlflow})" in text
    assert "Algorithm:** ALS matrix factorisation" in text and "als" not in text.split()
    assert "We held some ratings of 98 users back" in text and "**Ratings:** synthetic" in text
    comparison = at.dataframe[0].value
    assert list(comparison.columns) == ["ALS matrix factorisation", "most popular movies"]
    assert comparison.loc["NDCG@10"].tolist() == [
        "0.312 (0.250 to 0.370)",
        "0.151 (0.100 to 0.200)",
    ]
    assert comparison.loc["Recall@10", "most popular movies"] == "0.061 (0.040 to 0.080)"
    assert len(at.get("vega_lite_chart")) == 1
    every = at.dataframe[1].value  # the full table, in the expander
    assert every.loc["ndcg@10", "test"] == pytest.approx(0.312)


@pytest.mark.parametrize("page", ["personalized", "onboarding", "similar", "popular", "about"])
def test_api_down_is_a_message_on_every_page(
    frontend_app: MakeApp, closed_url: str, page: str
) -> None:
    at = open_page(frontend_app, closed_url, page)
    if page == "personalized":
        assert "API offline" in at.sidebar.error[0].value
        submit_user(at, "1")
    messages = [e.value for e in at.error]
    assert any(f"API at {closed_url} is not reachable" in m and "make serve" in m for m in messages)
    assert not cards(at)


def test_no_model_loaded_says_to_train(frontend_app: MakeApp, not_ready_url: str) -> None:
    at = open_page(frontend_app, not_ready_url, "personalized")
    assert "no model loaded" in at.sidebar.warning[0].value
    submit_user(at, "1")
    assert "No model is loaded yet: run `make train`" in at.error[0].value


def test_a_stuck_api_times_out_with_a_message(
    frontend_app: MakeApp, silent_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOVIEREC_FRONTEND__TIMEOUT_S", "0.3")
    at = open_page(frontend_app, silent_url, "popular")
    assert any("did not answer" in e.value for e in at.error)
