"""Pieces shared by the pages: the API client of the session, status badge and movie cards.

Cards are plain HTML (`st.html`), each in a cell of a wrapping horizontal container with its
controls (rating) below, so they flow from several columns on a laptop to one column in a
narrow window; every piece of text is HTML-escaped. A card's title links to the movie's page
(IMDb, TMDB) where the served catalogue has one.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import streamlit as st

from movierec.config import ConfigError, load_settings
from movierec.frontend.api_client import (
    ApiClient,
    ApiError,
    Health,
    ModelDescription,
    Movie,
    RecommendedMovie,
)
from movierec.frontend.catalogue import Catalogue, load_catalogue, load_model_description

# Per genre: a Material Symbols ligature (the icon font Streamlit ships, so icons render
# without emoji fonts) and a colour hue for the card banner and chip.
GENRE_STYLES = {
    "Action": ("bolt", 15),
    "Adventure": ("explore", 32),
    "Animation": ("palette", 305),
    "Children's": ("toys", 80),
    "Children": ("toys", 80),
    "Comedy": ("sentiment_very_satisfied", 45),
    "Crime": ("local_police", 215),
    "Documentary": ("videocam", 175),
    "Drama": ("theater_comedy", 255),
    "Fantasy": ("auto_awesome", 290),
    "Film-Noir": ("nightlife", 230),
    "Horror": ("skull", 275),
    "IMAX": ("panorama", 190),
    "Musical": ("music_note", 320),
    "Mystery": ("search", 240),
    "Romance": ("favorite", 340),
    "Sci-Fi": ("rocket_launch", 195),
    "Thriller": ("visibility", 160),
    "War": ("military_tech", 100),
    "Western": ("landscape", 25),
}
DEFAULT_STYLE = ("movie", 210)
_TRAILING_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|La|Le|Les|Il|Das|Der|Die)$")

STYLES = """
<style>
[data-testid="stMainBlockContainer"] {padding-top: 2.5rem;}
[class*="st-key-mr-grid-"] {margin: 0.5rem 0 1.5rem 0;}
[data-testid="stLayoutWrapper"]:has(> [class*="st-key-mr-cell-"]) {flex: 1 1 15rem;
  min-width: min(100%, 15rem); align-self: stretch;}
@media (min-width: 641px) {
  [data-testid="stLayoutWrapper"]:has(> [class*="st-key-mr-cell-"]) {max-width: 22rem;}
}
[class*="st-key-mr-cell-"] {height: 100%;}
[class*="st-key-mr-cell-"] > [data-testid="stElementContainer"]:first-child {flex: 1;}
[class*="st-key-mr-cell-"] [data-testid="stHtml"], [class*="st-key-mr-cell-"] .mr-card {
  height: 100%;}
.mr-card {border: 1px solid rgba(128, 128, 128, 0.25); border-radius: 0.9rem; overflow: hidden;
  background: rgba(128, 128, 128, 0.05); display: flex; flex-direction: column;
  transition: transform 0.12s ease, box-shadow 0.12s ease;}
.mr-card:hover {transform: translateY(-2px); box-shadow: 0 6px 18px rgba(0, 0, 0, 0.12);}
.mr-banner {height: 4.2rem; display: flex; align-items: center; justify-content: space-between;
  padding: 0 0.9rem; font-size: 2rem;
  background: linear-gradient(135deg, hsl(var(--hue) 75% 55%), hsl(calc(var(--hue) + 40) 75% 40%));}
.mr-icon {font-family: "Material Symbols Rounded"; font-size: 2.2rem; color: #fff;
  font-weight: normal; font-style: normal; line-height: 1; letter-spacing: normal;
  -webkit-font-feature-settings: "liga"; font-feature-settings: "liga"; opacity: 0.92;
  text-transform: none; white-space: nowrap; direction: ltr; overflow: hidden;}
.mr-rank {font-size: 0.85rem; font-weight: 700; color: #fff; background: rgba(0, 0, 0, 0.28);
  border-radius: 999px; padding: 0.1rem 0.55rem;}
.mr-body {padding: 0.7rem 0.9rem 0.85rem 0.9rem; display: flex; flex-direction: column;
  gap: 0.45rem; flex: 1;}
.mr-title {font-weight: 700; font-size: 1.02rem; line-height: 1.3;}
.mr-title a {color: inherit; text-decoration: none;}
.mr-title a:hover {text-decoration: underline;}
.mr-link {font-size: 0.78rem; font-weight: 600; text-decoration: none; opacity: 0.8;}
.mr-link:hover {text-decoration: underline; opacity: 1;}
.mr-year {opacity: 0.65; font-weight: 500;}
.mr-chips {display: flex; flex-wrap: wrap; gap: 0.3rem;}
.mr-chip {font-size: 0.74rem; padding: 0.12rem 0.5rem; border-radius: 999px;
  background: hsl(var(--hue) 70% 50% / 0.16); border: 1px solid hsl(var(--hue) 70% 45% / 0.35);}
.mr-score {margin-top: auto; display: flex; align-items: center; gap: 0.5rem;
  font-size: 0.78rem; opacity: 0.85;}
.mr-bar {flex: 1; height: 0.38rem; border-radius: 999px; background: rgba(128, 128, 128, 0.2);
  overflow: hidden;}
.mr-bar > span {display: block; height: 100%; border-radius: 999px;
  background: linear-gradient(90deg, #f59e0b, #ef4444);}
.mr-why {font-size: 0.78rem; line-height: 1.35; opacity: 0.8;}
.mr-seed {border-width: 2px; border-color: hsl(var(--hue) 70% 50% / 0.7);}
@media (max-width: 640px) {
  .mr-card {flex-direction: row;}
  .mr-banner {height: auto; width: 4.2rem; flex-direction: column; justify-content: center;
    gap: 0.35rem; padding: 0.6rem 0.3rem; flex-shrink: 0;}
  .mr-icon {font-size: 1.8rem;}
}
</style>
"""


def current_client() -> ApiClient:
    """The API client for the configured address (MOVIEREC_API_URL), shared across reruns."""
    frontend = load_settings().frontend
    return _client(frontend.api_url, frontend.timeout_s)


@st.cache_resource(show_spinner=False)
def _client(api_url: str, timeout_s: float) -> ApiClient:
    return ApiClient(api_url, timeout_s)


def current_catalogue() -> Catalogue:
    """The served catalogue, cached for a minute; raises `ApiError` when it cannot be read."""
    frontend = load_settings().frontend
    return _catalogue(frontend.api_url, frontend.timeout_s)


@st.cache_resource(show_spinner=False, ttl=60)
def _catalogue(api_url: str, timeout_s: float) -> Catalogue:
    return load_catalogue(_client(api_url, timeout_s))


def current_model_description() -> ModelDescription | None:
    """The served model's description and offline metrics, when they can be read."""
    return load_model_description(current_client())


def inject_styles() -> None:
    """Add the card styles to the page (once per run)."""
    st.html(STYLES)


def status_badge() -> Health | None:
    """Show in the sidebar whether the API answers and which model it serves."""
    sidebar = st.sidebar
    try:
        client = current_client()
    except ConfigError as exc:
        sidebar.error(str(exc), icon=":material/error:")
        return None
    try:
        health = client.health()
    except ApiError as exc:
        sidebar.error("**API offline**", icon=":material/error:")
        sidebar.caption(str(exc))
        return None
    if health.ready:
        sidebar.success(
            f"**API online** · model `{health.model_version}`", icon=":material/check_circle:"
        )
        sidebar.caption(f"{health.n_items:,} movies · {health.n_users:,} users · {client.base_url}")
    else:
        sidebar.warning("**API up, no model loaded**", icon=":material/warning:")
        sidebar.caption(health.reason or "Run `make train`, then restart the API.")
    return health


def display_title(title: str) -> str:
    """MovieLens title without its trailing year, article in front: 'The Usual Suspects'."""
    bare = _TRAILING_YEAR.sub("", title).strip()
    match = _TRAILING_ARTICLE.match(bare)
    return f"{match['article']} {match['rest']}" if match else bare


def movie_label(movie: Movie) -> str:
    """One line naming a movie, as in the search box: 'Star Wars (1977)'."""
    year = f" ({movie.year})" if movie.year else ""
    return f"{display_title(movie.title)}{year}"


def joined(names: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def because_lines(movie: RecommendedMovie) -> list[str]:
    """'Because you watched Alien and Aliens': the movies of the user's history a
    recommendation comes from (none when the answer has no explanation)."""
    if not movie.because:
        return []
    return [f"Because you watched {joined([display_title(r.title) for r in movie.because])}"]


def _style(genre: str | None) -> tuple[str, int]:
    """Icon and hue of a genre; unknown genres get a stable hue of their own."""
    if genre is None:
        return DEFAULT_STYLE
    return GENRE_STYLES.get(genre, (DEFAULT_STYLE[0], zlib.crc32(genre.encode()) % 360))


def link_label(url: str) -> str | None:
    """What a movie page link leads to ("IMDb", "Find on IMDb", "TMDB", "Movie page"); None
    for anything but an http(s) address, which a card never links."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.hostname.endswith("imdb.com"):
        return "Find on IMDb" if parts.path.startswith("/find") else "IMDb"
    if parts.hostname.endswith("themoviedb.org"):
        return "TMDB"
    return "Movie page"


def _card(
    movie: Movie,
    rank: int | None,
    top_score: float,
    seed: bool = False,
    label: str = "match",
    notes: Sequence[str] = (),
) -> str:
    icon, hue = _style(movie.genres[0] if movie.genres else None)
    badge = f'<span class="mr-rank">#{rank}</span>' if rank is not None else ""
    if seed:
        badge = '<span class="mr-rank">Your pick</span>'
    year = f' <span class="mr-year">({movie.year})</span>' if movie.year else ""
    chips = "".join(
        f'<span class="mr-chip" style="--hue: {_style(g)[1]}">{html.escape(g)}</span>'
        for g in movie.genres
    )
    title = html.escape(display_title(movie.title))
    site = link_label(movie.url) if movie.url else None
    page = ""
    if movie.url and site:
        href = f'href="{html.escape(movie.url)}" target="_blank" rel="noopener noreferrer"'
        title = f'<a {href} title="{site}">{title}</a>'
        page = f'<a class="mr-link" {href}>{site} ↗</a>'
    score = ""
    if movie.score is not None:
        width = 100.0 * movie.score / top_score if top_score > 0 else 0.0
        width = max(4.0, min(100.0, width))
        score = (
            f'<div class="mr-score" title="{label} {movie.score:.3g}">{label}'
            f'<div class="mr-bar"><span style="width: {width:.0f}%"></span></div></div>'
        )
    why = "".join(f'<div class="mr-why">{html.escape(note)}</div>' for note in notes)
    classes = "mr-card mr-seed" if seed else "mr-card"
    return (
        f'<div class="{classes}" style="--hue: {hue}" data-movie-id="{movie.movie_id}">'
        f'<div class="mr-banner">{badge}<span class="mr-icon">{icon}</span></div>'
        f'<div class="mr-body"><div class="mr-title">{title}{year}</div>'
        f'<div class="mr-chips">{chips}</div>{why}{page}{score}</div></div>'
    )


def _catalogue_links() -> Mapping[int, str]:
    """movie_id -> page of the served catalogue; empty when the catalogue cannot be read."""
    try:
        return current_catalogue().links
    except (ApiError, ConfigError):
        return {}


def _linked(movies: Sequence[Movie]) -> list[Movie]:
    """The movies with their page from the catalogue where the answer did not carry one."""
    links = _catalogue_links()
    return [
        (
            movie.model_copy(update={"url": links[movie.movie_id]})
            if movie.url is None and movie.movie_id in links
            else movie
        )
        for movie in movies
    ]


def movie_cards(
    movies: Sequence[Movie],
    ranked: bool = True,
    label: str = "match",
    notes: Sequence[Sequence[str]] | None = None,
    controls: Callable[[Movie], None] | None = None,
    key: str = "movies",
) -> None:
    """Show movies as a wrapping grid of cards: title (linked to the movie's page), year,
    genre chips, a bar of the `label`led score relative to the best one ("match" for the
    model's ranking, "popularity" where the ranking is by popularity) and, when given, lines
    of `notes` per movie (such as why it is there) and `controls` under each card (rating).
    `key` names the grid, unique on its page."""
    scores = [m.score for m in movies if m.score is not None]
    top = max(scores) if scores else 0.0
    lines = notes if notes is not None else [()] * len(movies)
    with st.container(horizontal=True, gap="medium", key=f"mr-grid-{key}"):
        for rank, (movie, movie_notes) in enumerate(zip(_linked(movies), lines, strict=True), 1):
            card = _card(movie, rank if ranked else None, top, label=label, notes=movie_notes)
            _cell(card, movie, controls, key)


def seed_card(movie: Movie, controls: Callable[[Movie], None] | None = None) -> None:
    """Show the movie the similar movies were found for, highlighted."""
    with st.container(horizontal=True, key="mr-grid-seed"):
        _cell(_card(_linked([movie])[0], None, 0.0, seed=True), movie, controls, "seed")


def _cell(card: str, movie: Movie, controls: Callable[[Movie], None] | None, grid: str) -> None:
    """One card of a grid, with its controls below it."""
    with st.container(key=f"mr-cell-{grid}-{movie.movie_id}", gap="small"):
        st.html(card)
        if controls is not None:
            controls(movie)


def show_error(error: ApiError) -> None:
    """Show an API failure as a message, never a traceback."""
    st.error(str(error), icon=":material/error:")
