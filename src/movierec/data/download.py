"""Fetch a MovieLens archive, extract it and verify it: `raw_dir/<dataset>/`.

The archive `<base_url>/<dataset>.zip` comes from an https URL (streamed with a progress bar,
timeout and retries with exponential backoff), a `file://` URL or a plain directory (a local
mirror, read in place). Nothing is ever half-written: a download goes to a temporary file
renamed when complete, and extraction goes to a temporary directory renamed into place only
after the SHA-256 of every data file matched `data.checksums[<dataset>]`. A verified copy
already in place is not fetched again.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
import zlib
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from movierec.config import DataSettings
from movierec.data import DataError, replace_directory, staging_path
from movierec.data.loaders import DATASET_NAMES, data_files, unknown_dataset_message

CHUNK_BYTES = 1 << 20
BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


class DownloadError(DataError):
    """The dataset could not be fetched, extracted or verified."""


class _TransientError(Exception):
    """A failure worth retrying: connection, timeout, 5xx, body cut short."""


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verification_problem(
    directory: Path, dataset: str, checksums: dict[str, str] | None
) -> str | None:
    """Why `directory` is not a verified copy of `dataset`, or None when it is."""
    for name in data_files(dataset):
        if not (directory / name).is_file():
            return f"{name} is missing"
    for name, expected in (checksums or {}).items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        actual = sha256_of(path)
        if actual != expected.lower():
            return f"SHA-256 of {name} is {actual}, expected {expected.lower()}"
    return None


def _is_http(base_url: str) -> bool:
    return base_url.startswith(("http://", "https://"))


def _mirror_archive(base_url: str, dataset: str) -> Path:
    """`<dataset>.zip` in a local mirror given as a file:// URL or a plain directory."""
    folder = Path(unquote(urlparse(base_url).path)) if base_url.startswith("file://") else None
    archive = (folder or Path(base_url)) / f"{dataset}.zip"
    if not archive.is_file():
        raise DownloadError(
            f"{archive} not found: the mirror {base_url!r} holds no {dataset}.zip. Point "
            "MOVIELENS_BASE_URL (or data.base_url) at a folder holding it, or at "
            "https://files.grouplens.org/datasets/movielens"
        )
    return archive


def _stream(url: str, destination: Path, timeout_s: float, console: Console) -> None:
    """One attempt: stream `url` into a temporary file renamed to `destination` when complete."""
    partial = staging_path(destination)
    try:
        with (
            partial.open("xb") as out,
            httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as response,
        ):
            if response.status_code == 429 or response.status_code >= 500:
                raise _TransientError(f"HTTP {response.status_code} {response.reason_phrase}")
            if response.status_code != 200:
                raise DownloadError(
                    f"{url}: HTTP {response.status_code} {response.reason_phrase}. Check "
                    "data.base_url / MOVIELENS_BASE_URL and data.dataset"
                )
            total = int(response.headers.get("content-length", 0)) or None
            with _progress(console) as progress:
                task = progress.add_task(f"download {destination.name}", total=total)
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    out.write(chunk)
                    progress.update(task, completed=response.num_bytes_downloaded)
            if total is not None and response.num_bytes_downloaded != total:
                raise _TransientError(f"received {response.num_bytes_downloaded} of {total} bytes")
        partial.replace(destination)
    except httpx.HTTPError as exc:
        raise _TransientError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def _fetch(url: str, destination: Path, settings: DataSettings, console: Console) -> None:
    """Download with `download_retries` retries, backing off exponentially."""
    attempts = settings.download_retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _stream(url, destination, settings.download_timeout_s, console)
            return
        except _TransientError as exc:
            if attempt == attempts:
                raise DownloadError(
                    f"could not download {url} ({exc}) after {attempts} attempt(s). Check the "
                    "network, or set MOVIELENS_BASE_URL to a local mirror folder"
                ) from exc
            delay = min(BACKOFF_S * 2 ** (attempt - 1), MAX_BACKOFF_S)
            console.print(f"[yellow]{url}: {exc}; retry {attempt}/{attempts - 1} in {delay:g} s")
            time.sleep(delay)


def _extract(archive: Path, staging: Path, remedy: str, console: Console) -> Path:
    """Extract `archive` into `staging`; return the dataset folder inside it."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            with _progress(console) as progress:
                task = progress.add_task(
                    f"extract {archive.name}", total=sum(m.file_size for m in members)
                )
                for member in members:
                    bundle.extract(member, staging)  # zipfile drops "..", absolute paths
                    progress.advance(task, member.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise DownloadError(
            f"{archive} is not a valid zip archive ({exc}): it is truncated or corrupt; {remedy}"
        ) from exc
    entries = list(staging.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else staging


def _say_done(console: Console, dataset: str, target: Path, verified: bool, extra: str) -> None:
    state = "verified" if verified else "not verified: no checksums configured"
    console.print(f"{dataset}: {target} ({state}){extra}")


def download_dataset(settings: DataSettings, *, quiet_if_present: bool = False) -> Path:
    """Make `raw_dir/<dataset>/` hold the verified, extracted dataset and return it.

    `quiet_if_present` is for the later stages, which only need the data in place: they say
    nothing when it already is, so "nothing to do" appears under the download stage only.
    """
    dataset = settings.dataset
    if dataset not in DATASET_NAMES:
        raise DownloadError(unknown_dataset_message(dataset))
    console = Console(stderr=True, soft_wrap=True)
    checksums = settings.checksums.get(dataset)
    raw_dir = settings.raw_dir
    target = raw_dir / dataset
    if target.is_dir():
        problem = verification_problem(target, dataset, checksums)
        if problem is None:
            if not quiet_if_present:
                _say_done(
                    console, dataset, target, bool(checksums), "; already there, nothing to do"
                )
            return target
        console.print(f"[yellow]{target}: {problem}; fetching {dataset} again")
    raw_dir.mkdir(parents=True, exist_ok=True)
    if _is_http(settings.base_url):
        source = f"{settings.base_url.rstrip('/')}/{dataset}.zip"
        archive = raw_dir / f"{dataset}.zip"
        remedy = "the download was deleted; re-run `movierec download`"
        if not archive.is_file():
            _fetch(source, archive, settings, console)
    else:
        archive = _mirror_archive(settings.base_url, dataset)
        source = str(archive)
        remedy = f"replace the mirror's {archive.name} with a good copy"
    staging = staging_path(target)
    staging.mkdir()
    try:
        extracted = _extract(archive, staging, remedy, console)
        problem = verification_problem(extracted, dataset, checksums)
        if problem is not None:
            raise DownloadError(
                f"{source}: {problem}. The extracted files were deleted; re-run "
                "`movierec download`. If it fails again the archive is damaged or "
                f"data.checksums[{dataset!r}] is wrong"
            )
        replace_directory(extracted, target)
    except DownloadError:
        if _is_http(settings.base_url):
            archive.unlink(missing_ok=True)  # a damaged download must not be reused
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _say_done(console, dataset, target, bool(checksums), f" from {source}")
    if not checksums:
        console.print(
            f"[yellow]warning: no SHA-256 checksums for {dataset} in data.checksums; "
            "its files were not verified"
        )
    return target
