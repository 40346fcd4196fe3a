"""The production artifact contract shared by export (writer) and serving (reader).

A bundle is a directory (`models/production/`) holding:

| file                  | content                                                          |
|-----------------------|------------------------------------------------------------------|
| model_metadata.json   | `ModelMetadata` below                                            |
| user_embeddings.npy   | float32 (n_users, d): user vectors in the item-embedding space   |
| item_embeddings.npy   | float32 (n_items, d): item vectors of the model                  |
| item_index.faiss      | FAISS inner-product index over the item embeddings (index.py)   |
| user_mapping.json     | {"<user_id>": row}                                               |
| item_mapping.json     | {"<movie_id>": column}                                           |
| item_features.json    | [{movie_id, title, year, genres, url?}] in column order          |
| user_items.npz        | scipy CSR (n_users, n_items), uncompressed: interactions seen    |
| popularity.json       | [{movie_id, score}] for every item, most popular first           |
| item_weights.npz      | scipy CSR (n_items, n_items), only for scorer "item_weights"     |
| similar_items.npz     | `SimilarItems`: each item's most similar items, for /similar     |
| metrics.json          | the full offline evaluation of every candidate (informational)   |
| manifest.json         | {"files": {name: {"size", "sha256"}}} of every other file        |

Scorers: "embeddings" scores user u as `user_embeddings[u] @ item_embeddings.T` (ALS);
"item_weights" scores as `user_items[u] @ item_weights` (item-item cosine, EASE). /similar
reads `similar_items.npz`, whatever the scorer; `metadata.similarity` says how it was built.

`ArtifactBundle.write` lays a bundle out; `read_bundle` validates and reads one back. Both
sides use the reader: export before it switches production, serving before it swaps a model.

Integrity: `read_bundle` resolves the directory once (a `production` symlink swapped during a
read cannot pair one release's files with another's) and checks every file against the
manifest's size and SHA-256, so a file edited in place since export is refused. Files up to
`copy_below_bytes` are read into memory and parsed from the bytes that were hashed, so a later
edit or truncation of the file cannot reach the loaded model; larger arrays, dense and sparse
(`.npz` of CSR written uncompressed), are memory-mapped (shared by worker processes) after
their size and hash are checked; a compressed `.npz` (an older export) is read into memory.
Values are bounded (`MAX_MAGNITUDE`) so that every score is a finite float32 that ranks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field, ValidationError

MODEL_METADATA = "model_metadata.json"
USER_EMBEDDINGS = "user_embeddings.npy"
ITEM_EMBEDDINGS = "item_embeddings.npy"
ITEM_INDEX = "item_index.faiss"
USER_MAPPING = "user_mapping.json"
ITEM_MAPPING = "item_mapping.json"
ITEM_FEATURES = "item_features.json"
USER_ITEMS = "user_items.npz"
POPULARITY = "popularity.json"
ITEM_WEIGHTS = "item_weights.npz"
SIMILAR_ITEMS = "similar_items.npz"
METRICS = "metrics.json"
MANIFEST = "manifest.json"

# Bound on embedding norms and on the entries of the sparse matrices: trained models stay
# far below it, and under it every score (a dot product of at most a few thousand terms) is
# a finite float32. A bundle beyond it (a broken export, values x1e20) cannot rank.
MAX_MAGNITUDE = 1e4
# Files up to this size are copied into memory at load; larger dense arrays are mapped.
COPY_BELOW_BYTES = 64 * 2**20

Scorer = Literal["embeddings", "item_weights"]

REBUILD = "run `make train` (or `movierec train`) to rebuild models/production"
RESEAL = "re-export it with `movierec export` (released files are never edited in place)"

COMMON_FILES = (
    MODEL_METADATA,
    USER_EMBEDDINGS,
    ITEM_EMBEDDINGS,
    ITEM_INDEX,
    USER_MAPPING,
    ITEM_MAPPING,
    ITEM_FEATURES,
    USER_ITEMS,
    POPULARITY,
    SIMILAR_ITEMS,
)


def required_files(scorer: Scorer) -> tuple[str, ...]:
    """The files a bundle with this scorer must hold."""
    return (*COMMON_FILES, ITEM_WEIGHTS) if scorer == "item_weights" else COMMON_FILES


class ModelMetadata(BaseModel):
    """What `model_metadata.json` says about the exported model."""

    version: str
    model_name: str
    model_kind: str
    scorer: Scorer
    trained_at: str
    dataset: str
    split_strategy: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    n_users: int
    n_items: int
    embedding_dim: int
    similarity: dict[str, Any] = Field(default_factory=dict)
    run_id: str = ""
    data_fingerprint: str = ""
    git_commit: str = ""


@dataclass
class ItemRecord:
    """Catalogue entry of one movie; `url` is a page about it (IMDb, TMDB) when the dataset
    links one, and is left out of item_features.json otherwise."""

    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The item_features.json entry."""
        entry: dict[str, Any] = {
            "movie_id": self.movie_id,
            "title": self.title,
            "year": self.year,
            "genres": self.genres,
        }
        if self.url is not None:
            entry["url"] = self.url
        return entry


@dataclass(frozen=True)
class SimilarItems:
    """Each item's most similar items, best first: row i of every (n_items, size) array is item i.

    `columns` are item columns (-1 pads a row with fewer similar items), `scores` the
    similarity, `shared` how many users interacted with both items; `audience` (n_items,) is
    how many users interacted with each item, so `shared / audience[i]` is the share of item
    i's audience that also has the similar item.
    """

    columns: np.ndarray
    scores: np.ndarray
    shared: np.ndarray
    audience: np.ndarray

    def write(self, path: Path) -> None:
        """Save the four arrays as one `.npz` (no pickle)."""
        np.savez(
            path,
            columns=self.columns.astype(np.int32),
            scores=self.scores.astype(np.float32),
            shared=self.shared.astype(np.int32),
            audience=self.audience.astype(np.int32),
        )


def write_json(path: Path, payload: Any) -> None:
    """Write JSON compactly with a trailing newline."""
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text())


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def write_manifest(directory: Path) -> None:
    """Record the size and SHA-256 of every file of the bundle in `directory` (manifest.json)."""
    files = {
        path.name: {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    write_json(directory / MANIFEST, {"files": files})


def seal(directory: Path) -> None:
    """Write the manifest, then make every file of the bundle read-only (a release is final)."""
    write_manifest(directory)
    read_only = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    for path in directory.iterdir():
        if path.is_file():
            path.chmod(read_only)


@dataclass
class ArtifactBundle:
    """Everything serving needs, in memory; `write` lays it out as the table above."""

    metadata: ModelMetadata
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    items: list[ItemRecord]
    user_items: sp.csr_matrix
    popularity: np.ndarray
    similar_items: SimilarItems
    item_weights: sp.csr_matrix | None = None

    def write(self, directory: Path, index_bytes: bytes) -> None:
        """Write every file into the existing `directory`; `index_bytes` is the FAISS index."""
        np.save(directory / USER_EMBEDDINGS, self.user_embeddings.astype(np.float32))
        np.save(directory / ITEM_EMBEDDINGS, self.item_embeddings.astype(np.float32))
        (directory / ITEM_INDEX).write_bytes(index_bytes)
        write_json(directory / USER_MAPPING, {str(int(u)): i for i, u in enumerate(self.user_ids)})
        write_json(directory / ITEM_MAPPING, {str(int(m)): i for i, m in enumerate(self.item_ids)})
        write_json(directory / ITEM_FEATURES, [record.to_json() for record in self.items])
        _save_csr(directory / USER_ITEMS, self.user_items)
        order = np.argsort(-self.popularity, kind="stable")
        write_json(
            directory / POPULARITY,
            [
                {"movie_id": int(self.item_ids[i]), "score": float(self.popularity[i])}
                for i in order
            ],
        )
        if self.item_weights is not None:
            _save_csr(directory / ITEM_WEIGHTS, self.item_weights)
        self.similar_items.write(directory / SIMILAR_ITEMS)
        write_json(directory / MODEL_METADATA, self.metadata.model_dump())
        write_manifest(directory)


def _save_csr(path: Path, matrix: sp.spmatrix) -> None:
    """Save as float32 CSR with sorted indices, uncompressed: a reader can then map the
    arrays where they lie in the file instead of inflating a private copy."""
    csr = matrix.astype(np.float32).tocsr()
    csr.sort_indices()
    sp.save_npz(path, csr, compressed=False)


class BundleError(Exception):
    """A bundle is missing, incomplete or inconsistent; the message names the file and the fix."""


@dataclass(frozen=True)
class BundleContents:
    """A validated bundle, read back from its release `directory` (symlinks resolved); dense
    arrays are read-only (memory maps above the copy threshold)."""

    directory: Path
    metadata: ModelMetadata
    user_rows: dict[int, int]
    item_columns: dict[int, int]
    item_ids: np.ndarray
    items: list[ItemRecord]
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    user_items: sp.csr_matrix
    popularity: np.ndarray
    item_weights: sp.csr_matrix | None
    similar_items: SimilarItems
    index: Any

    @property
    def n_users(self) -> int:
        return len(self.user_rows)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _fail(path: Path, problem: str) -> BundleError:
    return BundleError(f"{path}: {problem}; {REBUILD}")


class _VerifiedFiles:
    """The files of one release directory, each checked against the manifest as it is read."""

    def __init__(self, directory: Path, copy_below_bytes: int) -> None:
        self.directory = directory
        self.copy_below_bytes = copy_below_bytes
        path = directory / MANIFEST
        if not path.is_file():
            raise BundleError(
                f"{directory}: no {MANIFEST} (sizes and SHA-256 of its files); {RESEAL}"
            )
        try:
            raw = json.loads(path.read_bytes())
            self.expected = {
                str(name): (int(entry["size"]), str(entry["sha256"]))
                for name, entry in raw["files"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleError(
                f"{path}: not a manifest of sizes and SHA-256 ({exc}); {RESEAL}"
            ) from exc

    def path(self, name: str) -> Path:
        return self.directory / name

    def _expected(self, name: str) -> tuple[int, str]:
        if name not in self.expected:
            raise BundleError(f"{self.path(name)}: not listed in {MANIFEST}; {RESEAL}")
        return self.expected[name]

    def _mismatch(self, name: str, what: str) -> BundleError:
        return BundleError(
            f"{self.path(name)}: {what} differs from {MANIFEST}: the file changed after "
            f"export; {RESEAL}"
        )

    def read(self, name: str) -> bytes:
        """The file's bytes, once their size and SHA-256 match the manifest."""
        size, digest = self._expected(name)
        try:
            data = self.path(name).read_bytes()
        except OSError as exc:
            raise _fail(self.path(name), f"cannot be read ({exc})") from exc
        if len(data) != size:
            raise self._mismatch(name, f"size {len(data)} (expected {size})")
        if hashlib.sha256(data).hexdigest() != digest:
            raise self._mismatch(name, "SHA-256")
        return data

    def is_large(self, name: str) -> bool:
        return self._expected(name)[0] > self.copy_below_bytes

    def check_in_place(self, name: str) -> Path:
        """The path of a file to map, once its size and SHA-256 on disk match the manifest."""
        size, digest = self._expected(name)
        path = self.path(name)
        try:
            actual = path.stat().st_size
            if actual != size:
                raise self._mismatch(name, f"size {actual} (expected {size})")
            if _sha256(path) != digest:
                raise self._mismatch(name, "SHA-256")
        except OSError as exc:
            raise _fail(path, f"cannot be read ({exc})") from exc
        return path

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _fail(self.path(name), f"cannot be read as JSON ({exc})") from exc


def _check_magnitude(path: Path, largest: float, what: str) -> None:
    if not largest <= MAX_MAGNITUDE:  # also refuses NaN and an overflow to infinity
        raise _fail(path, f"has {what} {largest:.3g}, beyond {MAX_MAGNITUDE:g}: it cannot rank")


def _load_dense(files: _VerifiedFiles, name: str, shape: tuple[int, int]) -> np.ndarray:
    path = files.path(name)
    try:
        if files.is_large(name):
            array = np.load(files.check_in_place(name), mmap_mode="r", allow_pickle=False)
        else:
            array = np.load(io.BytesIO(files.read(name)), allow_pickle=False)
            array.flags.writeable = False
    except ValueError as exc:
        raise _fail(path, f"is not a readable .npy array ({exc})") from exc
    if array.shape != shape:
        raise _fail(path, f"has shape {array.shape}, expected {shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise _fail(path, f"has dtype {array.dtype}, expected float32")
    if not np.isfinite(array).all():
        raise _fail(path, "contains NaN or infinite values")
    if len(array):
        squared = np.einsum("ij,ij->i", array, array)
        _check_magnitude(path, float(np.sqrt(squared.max())), "a vector of norm")
    # A plain ndarray view of a mapping: np.memmap's per-slice bookkeeping would cost more
    # than the dot product of a request.
    return np.asarray(array)


# The fixed part of a zip member's local header; its name and extra field follow, then the data.
_ZIP_LOCAL_HEADER = 30
_NPY_HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _mapped_npz(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of an uncompressed `.npz`, each a read-only map of the bytes where it lies
    in the file; None when a member is compressed or not a plain `.npy` array."""
    arrays = {}
    with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                return None
            # The member's data follows its local header, whose name and extra field lengths
            # may differ from the central directory's.
            raw.seek(info.header_offset)
            local = raw.read(_ZIP_LOCAL_HEADER)
            name_length, extra_length = struct.unpack("<2H", local[26:30])
            raw.seek(info.header_offset + _ZIP_LOCAL_HEADER + name_length + extra_length)
            header = _NPY_HEADERS.get(np.lib.format.read_magic(raw))
            if header is None:
                return None
            shape, fortran, dtype = header(raw)
            if dtype.hasobject:
                return None
            order: Literal["C", "F"] = "F" if fortran else "C"
            array = (
                np.memmap(path, dtype=dtype, mode="r", offset=raw.tell(), shape=shape, order=order)
                if np.prod(shape) * dtype.itemsize
                else np.zeros(shape, dtype=dtype, order=order)
            )
            arrays[info.filename.removesuffix(".npy")] = np.asarray(array)
    return arrays


def _mapped_csr(files: _VerifiedFiles, name: str) -> sp.csr_matrix | None:
    """The CSR matrix of a large uncompressed `.npz` (as `_save_csr` writes), its arrays
    mapped once the file matches the manifest; None for any other layout."""
    if not files.is_large(name):
        return None
    arrays = _mapped_npz(files.check_in_place(name))
    if arrays is None or set(arrays) - {"_is_array"} != {
        "data",
        "indices",
        "indptr",
        "format",
        "shape",
    }:
        return None
    if arrays["format"].item() not in ("csr", b"csr"):
        return None
    matrix = sp.csr_matrix(
        (arrays["data"], arrays["indices"], arrays["indptr"]),
        shape=tuple(int(size) for size in arrays["shape"]),
    )
    if not matrix.has_sorted_indices:
        matrix = matrix.copy()  # the mapped pages are read-only; sorting needs its own copy
    return matrix


def _load_sparse(files: _VerifiedFiles, name: str, shape: tuple[int, int]) -> sp.csr_matrix:
    path = files.path(name)
    try:
        matrix = _mapped_csr(files, name)
        if matrix is None:
            matrix = sp.load_npz(io.BytesIO(files.read(name))).tocsr()
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"is not a readable scipy sparse .npz ({exc})") from exc
    if matrix.shape != shape:
        raise _fail(path, f"has shape {matrix.shape}, expected {shape}")
    if not np.isfinite(matrix.data).all():
        raise _fail(path, "contains NaN or infinite values")
    _check_magnitude(path, float(np.abs(matrix.data).max(initial=0.0)), "an entry of size")
    matrix.sort_indices()
    return matrix


def _load_mapping(files: _VerifiedFiles, name: str, size: int) -> dict[int, int]:
    raw = files.json(name)
    path = files.path(name)
    try:
        mapping = {int(key): int(value) for key, value in raw.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise _fail(path, 'expected {"<id>": index} with integer ids and indices') from exc
    if sorted(mapping.values()) != list(range(size)):
        raise _fail(path, f"indices must be exactly 0..{size - 1} (one per row), got {len(raw)}")
    return mapping


def _ids_in_order(mapping: dict[int, int]) -> np.ndarray:
    ids = np.empty(len(mapping), dtype=np.int64)
    for movie_id, column in mapping.items():
        ids[column] = movie_id
    return ids


def _load_items(files: _VerifiedFiles, item_ids: np.ndarray) -> list[ItemRecord]:
    raw = files.json(ITEM_FEATURES)
    path = files.path(ITEM_FEATURES)
    if not isinstance(raw, list) or len(raw) != len(item_ids):
        raise _fail(path, f"expected a list of {len(item_ids)} items in column order")
    try:
        items = [
            ItemRecord(
                movie_id=int(entry["movie_id"]),
                title=str(entry["title"]),
                year=None if entry.get("year") is None else int(entry["year"]),
                genres=[str(genre) for genre in entry.get("genres") or []],
                url=None if entry.get("url") is None else str(entry["url"]),
            )
            for entry in raw
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"an item lacks movie_id/title or has a bad field ({exc})") from exc
    if any(item.movie_id != movie_id for item, movie_id in zip(items, item_ids, strict=True)):
        raise _fail(path, f"items are not in the column order of {ITEM_MAPPING}")
    return items


def _load_popularity(files: _VerifiedFiles, item_columns: dict[int, int]) -> np.ndarray:
    raw = files.json(POPULARITY)
    path = files.path(POPULARITY)
    scores = np.full(len(item_columns), np.nan)
    try:
        for entry in raw:
            scores[item_columns[int(entry["movie_id"])]] = float(entry["score"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"entries must be {{movie_id, score}} of known movies ({exc})") from exc
    if not np.isfinite(scores).all():
        raise _fail(path, f"must give a finite score to every item of {ITEM_MAPPING}")
    return scores


def _load_similar_items(files: _VerifiedFiles, n_items: int) -> SimilarItems:
    path = files.path(SIMILAR_ITEMS)
    try:
        with np.load(io.BytesIO(files.read(SIMILAR_ITEMS)), allow_pickle=False) as arrays:
            table = SimilarItems(
                columns=arrays["columns"],
                scores=arrays["scores"],
                shared=arrays["shared"],
                audience=arrays["audience"],
            )
    except (OSError, ValueError, KeyError) as exc:
        raise _fail(path, f"is not a .npz of columns, scores, shared, audience ({exc})") from exc
    shape = table.columns.shape
    if len(shape) != 2 or shape[0] != n_items or table.audience.shape != (n_items,):
        raise _fail(path, f"columns must be ({n_items}, size) and audience ({n_items},)")
    if table.scores.shape != shape or table.shared.shape != shape:
        raise _fail(path, f"scores and shared must have the shape of columns, {shape}")
    listed = table.columns >= 0
    if table.columns.max(initial=-1) >= n_items or table.columns.min(initial=-1) < -1:
        raise _fail(path, f"columns must lie in [0, {n_items}) or be -1 (no item)")
    if (listed[:, 1:] & ~listed[:, :-1]).any():
        raise _fail(path, "a row lists an item after a -1 (padding belongs at the end of a row)")
    if (table.columns == np.arange(n_items)[:, None]).any():
        raise _fail(path, "an item is listed as similar to itself")
    if not np.isfinite(table.scores[listed]).all():
        raise _fail(path, "contains NaN or infinite scores")
    return table


def _load_index(files: _VerifiedFiles, n_items: int, dim: int) -> Any:
    # Imported here: the file names and metadata of this module are also read by the
    # dashboard and `movierec up`, which never load an index.
    import faiss

    path = files.path(ITEM_INDEX)
    try:
        index = faiss.deserialize_index(np.frombuffer(files.read(ITEM_INDEX), dtype=np.uint8))
    except RuntimeError as exc:
        raise _fail(path, f"is not a readable FAISS index ({exc})") from exc
    if index.ntotal != n_items or index.d != dim:
        raise _fail(
            path, f"holds {index.ntotal} vectors of dim {index.d}, expected {n_items}x{dim}"
        )
    return index


def read_bundle(directory: Path, copy_below_bytes: int = COPY_BELOW_BYTES) -> BundleContents:
    """Validate and read the bundle in `directory`; raise `BundleError` on any problem.

    Checked: every file its scorer needs, each file's size and SHA-256 against the manifest,
    array shapes that agree with the metadata and the mappings, ids one-to-one onto rows and
    columns, no NaN or infinite number, vector norms and matrix entries within
    `MAX_MAGNITUDE`. A symlinked `directory` is resolved once, and every file is read from
    that release.
    """
    directory = Path(os.path.realpath(directory))
    meta_path = directory / MODEL_METADATA
    if not meta_path.is_file():
        raise BundleError(f"no production model in {directory} (no {MODEL_METADATA}); {REBUILD}")
    files = _VerifiedFiles(directory, copy_below_bytes)
    try:
        metadata = ModelMetadata.model_validate(files.json(MODEL_METADATA))
    except ValidationError as exc:
        raise _fail(meta_path, f"does not match ModelMetadata ({exc})") from exc
    missing = [name for name in required_files(metadata.scorer) if not (directory / name).is_file()]
    if missing:
        raise BundleError(
            f"{directory}: missing {', '.join(missing)} for scorer {metadata.scorer!r}; {REBUILD}"
        )
    n_users, n_items, dim = metadata.n_users, metadata.n_items, metadata.embedding_dim
    user_rows = _load_mapping(files, USER_MAPPING, n_users)
    item_columns = _load_mapping(files, ITEM_MAPPING, n_items)
    item_ids = _ids_in_order(item_columns)
    weights = None
    if metadata.scorer == "item_weights":
        weights = _load_sparse(files, ITEM_WEIGHTS, (n_items, n_items))
    return BundleContents(
        directory=directory,
        metadata=metadata,
        user_rows=user_rows,
        item_columns=item_columns,
        item_ids=item_ids,
        items=_load_items(files, item_ids),
        user_embeddings=_load_dense(files, USER_EMBEDDINGS, (n_users, dim)),
        item_embeddings=_load_dense(files, ITEM_EMBEDDINGS, (n_items, dim)),
        user_items=_load_sparse(files, USER_ITEMS, (n_users, n_items)),
        popularity=_load_popularity(files, item_columns),
        item_weights=weights,
        similar_items=_load_similar_items(files, n_items),
        index=_load_index(files, n_items, dim),
    )
