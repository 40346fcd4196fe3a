"""download_dataset: local mirrors, a real HTTP server, idempotence and every failure mode."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from movierec.config import DataSettings
from movierec.data import DataError, download
from movierec.data.download import DownloadError, download_dataset
from tests.data.conftest import MirrorServer, data_settings_for, write_zip


def _leftovers(raw_dir: Path) -> list[str]:
    return sorted(p.name for p in raw_dir.iterdir()) if raw_dir.exists() else []


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plain_directory_mirror_extracts_and_verifies(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    mirror, checksums = synthetic_mirror
    settings = data_settings_for(tmp_path, mirror, checksums)

    target = download_dataset(settings)

    assert target == settings.raw_dir / "ml-100k"
    assert {p.name for p in target.iterdir()} == {"u.data", "u.item", "u.genre", "README"}
    assert _sha(target / "u.data") == checksums["u.data"]
    assert _leftovers(settings.raw_dir) == ["ml-100k"]  # the mirror's zip is read in place


def test_file_url_mirror(tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]) -> None:
    mirror, checksums = synthetic_mirror
    settings = data_settings_for(tmp_path, mirror.as_uri(), checksums)

    target = download_dataset(settings)

    assert _sha(target / "u.item") == checksums["u.item"]


def test_second_call_does_no_work(
    data_settings: DataSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    target = download_dataset(data_settings)
    before = (target / "u.data").stat()
    capsys.readouterr()

    again = download_dataset(data_settings)

    after = (again / "u.data").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "nothing to do" in capsys.readouterr().err


def test_damaged_copy_in_place_is_fetched_again(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    mirror, checksums = synthetic_mirror
    settings = data_settings_for(tmp_path, mirror, checksums)
    target = download_dataset(settings)
    (target / "u.data").write_text("1\t1\t5\t1\n")

    download_dataset(settings)

    assert _sha(target / "u.data") == checksums["u.data"]
    assert _leftovers(settings.raw_dir) == ["ml-100k"]


def test_without_checksums_warns_unverified(
    tmp_path: Path,
    synthetic_mirror: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = data_settings_for(tmp_path, synthetic_mirror[0], None)

    download_dataset(settings)

    assert "not verified" in capsys.readouterr().err


def _broken_mirror(tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]], how: str) -> Path:
    """A copy of the synthetic mirror whose zip is truncated or has a corrupted member."""
    content = bytearray((synthetic_mirror[0] / "ml-100k.zip").read_bytes())
    if how == "truncated":
        content = content[: len(content) // 2]
    else:  # overwrite compressed bytes of the first member; the central directory stays intact
        content[200:1200] = bytes(1000)
    mirror = tmp_path / f"mirror-{how}"
    mirror.mkdir()
    (mirror / "ml-100k.zip").write_bytes(bytes(content))
    return mirror


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_broken_zip_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]], how: str
) -> None:
    mirror = _broken_mirror(tmp_path, synthetic_mirror, how)
    settings = data_settings_for(tmp_path / "root", mirror, synthetic_mirror[1])

    with pytest.raises(DownloadError, match="truncated or corrupt") as caught:
        download_dataset(settings)

    assert str(mirror / "ml-100k.zip") in str(caught.value)
    assert _leftovers(settings.raw_dir) == []


def test_checksum_mismatch_deletes_and_says_rerun(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    mirror, checksums = synthetic_mirror
    settings = data_settings_for(tmp_path, mirror, {**checksums, "u.item": "0" * 64})

    with pytest.raises(DownloadError, match=r"SHA-256 of u\.item") as caught:
        download_dataset(settings)

    assert "re-run `movierec download`" in str(caught.value)
    assert _leftovers(settings.raw_dir) == []


def test_missing_mirror_file_names_it(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    settings = data_settings_for(tmp_path, synthetic_mirror[0], None, dataset="ml-1m")

    with pytest.raises(DownloadError, match=r"ml-1m\.zip not found") as caught:
        download_dataset(settings)

    assert "MOVIELENS_BASE_URL" in str(caught.value)


def test_unknown_dataset_lists_the_valid_ones(data_settings: DataSettings) -> None:
    settings = data_settings.model_copy(update={"dataset": "ml-7m"})

    with pytest.raises(DataError, match=r"unknown dataset 'ml-7m'.*ml-100k, ml-1m"):
        download_dataset(settings)


def test_archive_folder_is_renamed_to_the_dataset_name(tmp_path: Path) -> None:
    """ml-10m unpacks to `ml-10M100K/`; callers always get raw_dir/<dataset>/."""
    mirror = tmp_path / "mirror"
    write_zip(
        mirror / "ml-10m.zip",
        {
            "ml-10M100K/ratings.dat": b"1::122::5::838985046\n",
            "ml-10M100K/movies.dat": b"122::Boomerang (1992)::Comedy|Romance\n",
        },
    )
    settings = data_settings_for(tmp_path, mirror, None, dataset="ml-10m")

    target = download_dataset(settings)

    assert target == settings.raw_dir / "ml-10m"
    assert (target / "ratings.dat").read_bytes() == b"1::122::5::838985046\n"


# --- over HTTP, against a real server ---------------------------------------------------


@pytest.fixture(autouse=True)
def _short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries still happen, without the production backoff of 0.5 s and more."""
    monkeypatch.setattr(download, "BACKOFF_S", 0.01)


def test_http_download_streams_with_progress(
    tmp_path: Path,
    mirror_server: MirrorServer,
    synthetic_mirror: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = data_settings_for(tmp_path, mirror_server.url, synthetic_mirror[1])

    target = download_dataset(settings)

    assert _sha(target / "u.data") == synthetic_mirror[1]["u.data"]
    assert mirror_server.requests == ["/ml-100k.zip"]
    assert "download ml-100k.zip" in capsys.readouterr().err
    assert _leftovers(settings.raw_dir) == ["ml-100k", "ml-100k.zip"]  # no partial file


def test_http_retries_a_server_error(
    tmp_path: Path, mirror_server: MirrorServer, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    mirror_server.failures = ["500"]
    settings = data_settings_for(
        tmp_path, mirror_server.url, synthetic_mirror[1], download_retries=1
    )

    download_dataset(settings)

    assert len(mirror_server.requests) == 2


def test_http_not_found_is_not_retried(tmp_path: Path, mirror_server: MirrorServer) -> None:
    settings = data_settings_for(tmp_path, mirror_server.url, None, dataset="ml-1m")

    with pytest.raises(DownloadError, match=r"ml-1m\.zip: HTTP 404"):
        download_dataset(settings)

    assert len(mirror_server.requests) == 1
    assert _leftovers(settings.raw_dir) == []


def test_http_body_cut_short_fails_after_retries_leaving_nothing(
    tmp_path: Path, mirror_server: MirrorServer, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    mirror_server.failures = ["truncate", "truncate"]
    settings = data_settings_for(
        tmp_path, mirror_server.url, synthetic_mirror[1], download_retries=1
    )

    with pytest.raises(DownloadError, match="after 2 attempt") as caught:
        download_dataset(settings)

    assert mirror_server.url in str(caught.value)
    assert _leftovers(settings.raw_dir) == []


def test_http_timeout_is_retried(
    tmp_path: Path, mirror_server: MirrorServer, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    mirror_server.failures = ["slow"]
    settings = data_settings_for(
        tmp_path,
        mirror_server.url,
        synthetic_mirror[1],
        download_retries=1,
        download_timeout_s=0.3,
    )

    target = download_dataset(settings)

    assert (target / "u.data").is_file()
    assert len(mirror_server.requests) == 2
