"""MovieLens-shaped synthetic data in the real file formats, at the real sizes.

Run: `python -m benchmarks.generate --dataset ml-25m --out DIR` writes `DIR/ml-25m.zip`, laid
out as the GroupLens download (so DIR serves as MOVIELENS_BASE_URL and `movierec download`
reads it), and `DIR/generation.json` (shape, seed, SHA-256 of the data files, time taken and
the planted margin below). `--layout dir` writes the extracted folder `DIR/ml-25m/` instead,
as `data.raw_dir` holds it. `--scale 0.01` shrinks users, movies and ratings alike.

The data: users with log-normal activity (at least the release's minimum per user), movies
with Zipf-like popularity, each user and each movie in one of a few latent taste groups. A
user draws `own_share` of their movies from their group's movies (by popularity), the rest
from the whole catalogue, and rates their group's movies higher. Timestamps fall in the
release's span: each user rates within an active window (log-normal length, most in days),
never before a movie's release year. `planted_margin` in generation.json is NDCG@10 on each
sampled user's last fifth by time for global popularity and for the planted groups'
popularity (what a model that recovers the groups can reach): a good model beats
popularity by about that much.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from movierec.data.loaders import ML100K_GENRES, data_files

# Genres of the releases after ml-100k (ml-1m spells "Children's"; ml-10m adds IMAX).
GENRES = [g for g in ML100K_GENRES if g != "unknown"]
NO_GENRES = "(no genres listed)"
CHUNK_ROWS = 1 << 20
DAY = 86_400
HALF_STARS_FROM = 1_045_526_400  # 2003-02-18


@dataclass(frozen=True)
class Shape:
    """The size and look of one MovieLens release (figures from its README)."""

    users: int
    movies: int  # listed in the items file
    rated_movies: int  # of those, rated at least once
    ratings: int
    max_movie_id: int
    first_day: str
    last_day: str
    half_stars: bool
    min_per_user: int = 20

    def scaled(self, factor: float) -> Shape:
        """The same release with users, movies and ratings multiplied by `factor`."""
        if factor == 1:
            return self
        users = max(10, round(self.users * factor))
        rated = max(4 * self.min_per_user, round(self.rated_movies * factor))
        ratings = round(self.ratings * factor)
        ratings = min(max(ratings, users * self.min_per_user), users * (rated // 2))
        movies = max(rated, round(self.movies * factor))
        return replace(
            self,
            users=users,
            movies=movies,
            rated_movies=rated,
            ratings=ratings,
            max_movie_id=max(movies, round(self.max_movie_id * factor)),
        )


SHAPES: dict[str, Shape] = {
    "ml-100k": Shape(943, 1682, 1682, 100_000, 1682, "1997-09-20", "1998-04-22", False),
    "ml-1m": Shape(6040, 3883, 3706, 1_000_209, 3952, "2000-04-25", "2003-02-28", False),
    "ml-10m": Shape(69_878, 10_681, 10_677, 10_000_054, 65_133, "1995-01-09", "2009-01-05", True),
    "ml-20m": Shape(138_493, 27_278, 26_744, 20_000_263, 131_262, "1995-01-09", "2015-03-31", True),
    "ml-25m": Shape(162_541, 62_423, 59_047, 25_000_095, 209_171, "1995-01-09", "2019-11-21", True),
    "ml-32m": Shape(200_948, 87_585, 84_432, 32_000_204, 292_757, "1995-01-09", "2023-10-12", True),
    # ml-latest's README gives no rated-movie count; ml-25m's share is assumed.
    "ml-latest": Shape(
        330_975, 86_537, 81_856, 33_832_162, 288_983, "1995-01-09", "2023-07-20", True, 1
    ),
    "ml-latest-small": Shape(610, 9742, 9724, 100_836, 193_609, "1996-03-29", "2018-09-24", True),
}
# The top folder inside each archive, where it is not the dataset's name; the README's name.
ARCHIVE_FOLDER = {"ml-10m": "ml-10M100K"}
README = {"ml-100k": "README", "ml-1m": "README", "ml-10m": "README.html"}


@dataclass(frozen=True)
class Taste:
    """The planted structure: groups, how much users keep to theirs, popularity skew."""

    groups: int = 8
    own_share: float = 0.5
    zipf_exponent: float = 1.0
    zipf_offset: float = 30.0
    activity_sigma: float = 1.3


@dataclass
class Synthetic:
    """ratings: user_id, movie_id, rating, timestamp (sorted by user, movie).
    items: movie_id, title, year, genres (list), rated (bool), group."""

    ratings: pd.DataFrame
    items: pd.DataFrame
    user_group: np.ndarray  # by user_id - 1


def zipf_weights(n: int, taste: Taste, rng: np.random.Generator) -> np.ndarray:
    """Popularity weights of `n` movies, Zipf-like by a random rank."""
    rank = rng.permutation(n)
    return 1.0 / (rank + taste.zipf_offset) ** taste.zipf_exponent


def activity(shape: Shape, taste: Taste, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: the minimum plus a log-normal share of the rest, summing exactly to
    `shape.ratings`, none above half the rated movies."""
    cap = max(shape.min_per_user, shape.rated_movies // 2)
    if not shape.users * shape.min_per_user <= shape.ratings <= shape.users * cap:
        raise ValueError(f"{shape.ratings} ratings do not fit {shape.users} users of {cap}")
    extra_total = shape.ratings - shape.users * shape.min_per_user
    weight = rng.lognormal(0.0, taste.activity_sigma, shape.users)
    extra = np.zeros(shape.users, dtype=np.int64)
    room = cap - shape.min_per_user
    while (left := extra_total - int(extra.sum())) > 0:
        open_ = extra < room
        share = np.where(open_, weight, 0.0)
        add = np.floor(left * share / share.sum()).astype(np.int64)
        if add.sum() == 0:  # the last few: one each to the heaviest open users
            add[np.argsort(-share)[:left]] = 1
        extra = np.minimum(extra + add, room)
    return shape.min_per_user + extra


def sample_pairs(
    counts: np.ndarray,
    user_group: np.ndarray,
    item_group: np.ndarray,
    item_weight: np.ndarray,
    own_share: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs, `counts[u]` per user (0-based indices, sorted by user then
    item). A draw comes from the user's group with probability `own_share`, else from all
    items, by `item_weight`. Repeats are drawn again: from all items after a few rounds (a
    heavy user may want more than their group holds), uniformly at last, until none is missing.
    """
    n_items = len(item_weight)
    groups = [np.flatnonzero(item_group == g) for g in range(int(item_group.max()) + 1)]
    group_cdf = [np.cumsum(item_weight[idx]) for idx in groups]
    all_cdf = np.cumsum(item_weight)
    keys = np.empty(0, dtype=np.int64)
    missing = counts.astype(np.int64)
    for round_ in range(30):
        # Draw more than is missing (repeats are likely for heavy users), keep what is needed.
        extra = np.ceil(missing * 0.2) if round_ == 0 else missing + 2
        users = np.repeat(np.arange(len(counts)), missing + extra.astype(np.int64))
        if round_ < 10:
            own = rng.random(len(users)) < (own_share if round_ < 3 else 0.0)
            items = np.empty(len(users), dtype=np.int64)
            items[~own] = _draw(all_cdf, rng.random(int((~own).sum())))
            own_group = user_group[users[own]]
            own_items = np.empty(len(own_group), dtype=np.int64)
            for g, (idx, cdf) in enumerate(zip(groups, group_cdf, strict=True)):
                pick = own_group == g
                if len(idx) and pick.any():
                    own_items[pick] = idx[_draw(cdf, rng.random(int(pick.sum())))]
            items[own] = own_items
        else:
            items = rng.integers(0, n_items, len(users))
        new = _distinct(users * n_items + items)
        new = new[~_contains(keys, new)]
        # Keep `missing[u]` of a user's new pairs, a random subset (`new` is sorted).
        new = new[rng.permutation(len(new))]
        new = new[np.argsort(new // n_items, kind="stable")]
        new_users = new // n_items
        starts = np.searchsorted(new_users, np.arange(len(counts)))
        rank = np.arange(len(new)) - starts[new_users]
        keys = np.sort(np.concatenate([keys, new[rank < missing[new_users]]]), kind="stable")
        missing = counts - np.bincount(keys // n_items, minlength=len(counts))
        if not missing.any():
            return keys // n_items, keys % n_items
    raise RuntimeError("could not draw distinct pairs; a user wants more items than exist")


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sorting beats numpy's hash-based unique on int64 keys)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])]


def _draw(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, uniform * cdf[-1], side="right"), len(cdf) - 1)


def _contains(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[at] == values


def rate(
    users: np.ndarray,
    items: np.ndarray,
    user_group: np.ndarray,
    item_group: np.ndarray,
    item_weight: np.ndarray,
    half_stars: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Ratings around 3.5: user and movie biases, popular movies a little better, a user's
    own group's movies a good deal better, and noise; whole or half stars from 0.5/1 to 5."""
    user_bias = rng.normal(0.0, 0.4, len(user_group))
    log_pop = np.log(item_weight)
    item_bias = rng.normal(0.0, 0.4, len(item_weight)) + 0.25 * (log_pop - log_pop.mean())
    match = user_group[users] == item_group[items]
    score = 3.05 + user_bias[users] + item_bias[items] + 0.9 * match
    score += rng.normal(0.0, 0.85, len(users))
    step, low = (0.5, 0.5) if half_stars else (1.0, 1.0)
    return np.clip(np.round(score / step) * step, low, 5.0)


def timestamps(
    users: np.ndarray,
    release: np.ndarray,
    start: int,
    end: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Unix seconds in [start, end]: each user active in one window (log-normal length, a few
    days typically, years for some), never before the movie's release (`release[item]`)."""
    n_users = int(users.max()) + 1
    span = end - start
    length = np.minimum(rng.lognormal(np.log(5 * DAY), 2.0, n_users), span)
    first = start + rng.random(n_users) * (span - length)
    stamp = first[users] + rng.random(len(users)) * length[users]
    stamp = np.maximum(stamp, release + rng.random(len(users)) * DAY * 30)
    return np.minimum(stamp, end).astype(np.int64)


def _unix(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def generate(shape: Shape, seed: int = 42, taste: Taste | None = None) -> Synthetic:
    """A release of `shape` with the planted `taste` structure."""
    taste = taste or Taste()
    rng = np.random.default_rng(seed)
    start, end = _unix(shape.first_day), _unix(shape.last_day)
    others = rng.choice(np.arange(2, shape.max_movie_id + 1), shape.movies - 1, replace=False)
    movie_ids = np.concatenate([[1], np.sort(others)])
    rated = np.zeros(shape.movies, dtype=bool)
    rated[rng.choice(shape.movies, shape.rated_movies, replace=False)] = True
    item_group = rng.integers(0, taste.groups, shape.movies)
    year = _release_years(shape, rng)
    items = _catalogue(movie_ids, year, item_group, rated, rng)

    rated_idx = np.flatnonzero(rated)
    weight = zipf_weights(len(rated_idx), taste, rng)
    user_group = rng.integers(0, taste.groups, shape.users)
    counts = activity(shape, taste, rng)
    users, items_ = sample_pairs(
        counts, user_group, item_group[rated_idx], weight, taste.own_share, rng
    )
    stars = rate(users, items_, user_group, item_group[rated_idx], weight, shape.half_stars, rng)
    release = np.array(
        [_unix(f"{y}-01-01") for y in year[rated_idx]], dtype=np.float64
    )  # one per movie, not per rating
    stamp = timestamps(users, release[items_], start, end, rng)
    whole = stamp < HALF_STARS_FROM  # MovieLens offered half stars from February 2003
    stars[whole] = np.clip(np.floor(stars[whole] + 0.5), 1.0, 5.0)
    ratings = pd.DataFrame(
        {
            "user_id": (users + 1).astype(np.int64),
            "movie_id": movie_ids[rated_idx][items_],
            "rating": stars,
            "timestamp": stamp,
        }
    )
    return Synthetic(ratings, items, user_group)


def _release_years(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Years by movie id: the first 40% of ids an old back catalogue, later ids ever newer."""
    first, last = int(shape.first_day[:4]), int(shape.last_day[:4])
    position = np.arange(shape.movies) / max(1, shape.movies - 1)
    backlog = rng.integers(1920, first + 1, shape.movies)
    recent = first + (position - 0.4) / 0.6 * (last - first) + rng.normal(0, 2, shape.movies)
    year = np.where(position < 0.4, backlog, np.round(recent))
    return np.clip(year, 1902, last).astype(np.int64)


def _catalogue(
    movie_ids: np.ndarray,
    year: np.ndarray,
    group: np.ndarray,
    rated: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Titles (some with a comma or quotes, as real ones have) and 1-3 genres, the first
    one set by the movie's taste group."""
    n = len(movie_ids)
    titles = np.array([f"Synthetic Movie {i}" for i in movie_ids], dtype=object)
    titles[movie_ids % 11 == 0] = [f"Movie {i}, The" for i in movie_ids[movie_ids % 11 == 0]]
    titles[movie_ids % 29 == 0] = [f'"Quoted" Movie {i}' for i in movie_ids[movie_ids % 29 == 0]]
    extra = rng.integers(0, len(GENRES), (n, 2))
    keep = rng.random((n, 2)) < [0.5, 0.2]
    first = np.array(GENRES)[group % len(GENRES)]
    genres = [
        list(dict.fromkeys([g, *(GENRES[e] for e, k in zip(es, ks, strict=True) if k)]))
        for g, es, ks in zip(first, extra, keep, strict=True)
    ]
    return pd.DataFrame(
        {
            "movie_id": movie_ids,
            "title": titles,
            "year": year,
            "genres": genres,
            "rated": rated,
            "group": group,
        }
    )


def planted_margin(data: Synthetic, n_users: int = 2000, k: int = 10) -> dict[str, float]:
    """NDCG@k of global and of group popularity on sampled users' last fifth by time."""
    ratings = data.ratings.sort_values(["user_id", "timestamp"], kind="stable")
    position = ratings.groupby("user_id").cumcount().to_numpy()
    size = ratings.groupby("user_id")["movie_id"].transform("size").to_numpy()
    test = position >= np.ceil(size * 0.8)
    train = ratings[~test]
    group = data.user_group[train["user_id"].to_numpy() - 1]
    global_rank = train["movie_id"].value_counts().index.to_numpy()
    group_rank = {
        g: train["movie_id"][group == g].value_counts().index.to_numpy()
        for g in range(int(data.user_group.max()) + 1)
    }
    rng = np.random.default_rng(0)
    held_users = np.unique(ratings["user_id"].to_numpy()[test])
    sample = rng.choice(held_users, min(n_users, len(held_users)), replace=False)
    sampled = ratings["user_id"].isin(sample).to_numpy()
    seen = ratings[sampled & ~test].groupby("user_id")["movie_id"].apply(set)
    held = ratings[sampled & test].groupby("user_id")["movie_id"].apply(set)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    scores: dict[str, list[float]] = {"popularity": [], "planted_groups": []}
    for user in sample:
        own = seen.get(user, set())
        relevant = held[user]
        ideal = discount[: min(k, len(relevant))].sum()
        for name, ranked in (
            ("popularity", global_rank),
            ("planted_groups", group_rank[int(data.user_group[user - 1])]),
        ):
            top = [m for m in ranked[: k + len(own)] if m not in own][:k]
            gains = np.array([m in relevant for m in top], dtype=float)
            scores[name].append(float((gains * discount[: len(gains)]).sum() / ideal))
    return {f"{name}_ndcg@{k}": round(float(np.mean(v)), 4) for name, v in scores.items()}


def _csv_rows(columns: dict[str, np.ndarray | pa.Array], sep: str) -> Iterator[bytes]:
    """Rows as delimited text in chunks, no header, no quoting (the columns need none)."""
    table = pa.table(columns)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    single = "\t" if len(sep) > 1 else sep
    options.delimiter = single
    for offset in range(0, table.num_rows, CHUNK_ROWS):
        sink = io.BytesIO()
        pacsv.write_csv(table.slice(offset, CHUNK_ROWS), sink, options)
        text = sink.getvalue()
        yield text.replace(single.encode(), sep.encode()) if single != sep else text


def _rating_text(stars: np.ndarray, csv_style: bool) -> pa.Array:
    """Ratings as the releases write them: "4.0"/"3.5" in CSV, "4"/"3.5" in .dat/u.data."""
    values = np.arange(1, 11) / 2
    text = [f"{v:.1f}" if csv_style or v % 1 else f"{v:.0f}" for v in values]
    codes = np.round(stars * 2).astype(np.int32) - 1
    return pa.DictionaryArray.from_arrays(codes, text).cast(pa.string())


def u_item_link(movie_id: int, title: str) -> str:
    """An IMDb link as ml-100k's u.item writes it, for odd movie ids only."""
    return "" if movie_id % 2 == 0 else f"http://us.imdb.com/M/title-exact?{quote(title)}"


def _u_item(items: pd.DataFrame) -> bytes:
    lines = []
    for movie, name, year, genres in zip(
        items.movie_id, items.title, items.year, items.genres, strict=True
    ):
        title = f"{name} ({year})"
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
        link = u_item_link(movie, title)
        lines.append(f"{movie}|{title}|01-Jan-{year}||{link}|{flags}\n")
    return "".join(lines).encode("latin-1")


def _genre_text(genres: list[str], spelling: str) -> str:
    if not genres:
        return NO_GENRES
    renamed = ["Children" if g == "Children's" and spelling == "csv" else g for g in genres]
    return "|".join(renamed)


def _movies_text(items: pd.DataFrame, sep: str, spelling: str) -> list[str]:
    return [
        sep.join([str(m), f"{t} ({y})", _genre_text(g, spelling)])
        for m, t, y, g in zip(items.movie_id, items.title, items.year, items.genres, strict=True)
    ]


def _files(
    name: str, r: pd.DataFrame, items: pd.DataFrame
) -> Iterator[tuple[str, Iterator[bytes] | bytes]]:
    """(file name, content) of every file of release `name`."""
    if name == "ml-100k":
        shuffled = r.sample(frac=1.0, random_state=0)  # u.data is in no particular order
        yield "u.data", _csv_rows(
            {
                "u": shuffled.user_id.to_numpy(),
                "m": shuffled.movie_id.to_numpy(),
                "r": _rating_text(shuffled.rating.to_numpy(), csv_style=False),
                "t": shuffled.timestamp.to_numpy(),
            },
            "\t",
        )
        yield "u.item", _u_item(items)
        yield "u.genre", "".join(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES)).encode()
        return
    csv_style = name not in ("ml-1m", "ml-10m")
    sep = "," if csv_style else "::"
    columns = {
        "u": r.user_id.to_numpy(),
        "m": r.movie_id.to_numpy(),
        "r": _rating_text(r.rating.to_numpy(), csv_style),
        "t": r.timestamp.to_numpy(),
    }
    ratings_file, movies_file = data_files(name)
    if not csv_style:
        encoding = "latin-1" if name == "ml-1m" else "utf-8"
        yield ratings_file, _csv_rows(columns, sep)
        lines = _movies_text(items, sep, spelling="dat")
        yield movies_file, ("\n".join(lines) + "\n").encode(encoding)
        return
    header = b"userId,movieId,rating,timestamp\n"
    yield ratings_file, _with_header(header, _csv_rows(columns, sep))
    movies = pd.DataFrame(
        {
            "movieId": items.movie_id,
            "title": [f"{t} ({y})" for t, y in zip(items.title, items.year, strict=True)],
            "genres": [_genre_text(g, "csv") for g in items.genres],
        }
    )
    yield movies_file, movies.to_csv(index=False, lineterminator="\n").encode()
    tmdb = pd.Series(items.movie_id.to_numpy() * 7 + 11, dtype="Int64")
    tmdb[items.movie_id.to_numpy() % 13 == 0] = pd.NA  # some movies have no TMDB id
    links = pd.DataFrame(
        {
            "movieId": items.movie_id,
            "imdbId": [f"{m * 3 + 100_000:07d}" for m in items.movie_id],
            "tmdbId": tmdb,
        }
    )
    yield "links.csv", links.to_csv(index=False, lineterminator="\n").encode()


def _with_header(header: bytes, rows: Iterator[bytes]) -> Iterator[bytes]:
    yield header
    yield from rows


def write(
    name: str, ratings: pd.DataFrame, items: pd.DataFrame, out: Path, layout: str = "zip"
) -> dict[str, str]:
    """Write release `name` into `out` as `<name>.zip` (the download) or `<name>/` (the
    extracted folder); return the SHA-256 of each data file written.

    ratings: user_id, movie_id, rating, timestamp; items: movie_id, title, year, genres.
    """
    out.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if layout == "zip":
            archive = zipfile.ZipFile(
                out / f"{name}.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1
            )
            stack.enter_context(archive)
            folder = ARCHIVE_FOLDER.get(name, name)
            readme = README.get(name, "README.txt")
            archive.writestr(f"{folder}/{readme}", b"Synthetic MovieLens-shaped data.\n")

            def open_file(file: str) -> IO[bytes]:
                return archive.open(f"{folder}/{file}", "w", force_zip64=True)

        else:
            (out / name).mkdir(exist_ok=True)

            def open_file(file: str) -> IO[bytes]:
                return (out / name / file).open("wb")

        for file, content in _files(name, ratings, items):
            digest = hashlib.sha256()
            with open_file(file) as handle:
                for chunk in [content] if isinstance(content, bytes) else content:
                    digest.update(chunk)
                    handle.write(chunk)
            digests[file] = digest.hexdigest()
    return digests


def generate_release(
    dataset: str, out: Path, layout: str = "zip", scale: float = 1.0, seed: int = 42
) -> dict[str, Any]:
    """Generate `dataset` into `out` (see the module docstring); return what generation.json
    records."""
    shape = SHAPES[dataset].scaled(scale)
    started = time.perf_counter()
    data = generate(shape, seed)
    generated = time.perf_counter() - started
    digests = write(dataset, data.ratings, data.items, out, layout)
    written = time.perf_counter() - started - generated
    record: dict[str, Any] = {
        "dataset": dataset,
        "layout": layout,
        "seed": seed,
        "scale": scale,
        "shape": asdict(shape),
        "taste": asdict(Taste()),
        "sha256": digests,
        "generate_seconds": round(generated, 1),
        "write_seconds": round(written, 1),
        "planted_margin": planted_margin(data),
    }
    (out / "generation.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(SHAPES), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--layout", choices=["zip", "dir"], default="zip")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    record = generate_release(args.dataset, args.out, args.layout, args.scale, args.seed)
    shape = record["shape"]
    print(
        f"{args.dataset}: {shape['ratings']:,} ratings, {shape['users']:,} users, "
        f"{shape['movies']:,} movies in {args.out} (generated in {record['generate_seconds']} s, "
        f"written in {record['write_seconds']} s); planted margin {record['planted_margin']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
