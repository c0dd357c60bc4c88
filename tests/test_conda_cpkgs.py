"""conda's package cache after an install from ce's verified store (issue 22, item 3).

ce hands conda's transaction each archive it fetched and verified as a
``file://`` URL into its store (``ce-verified/<sha256>/<file>``); conda
records that URL in ``pkgs/urls.txt`` and in the entry's
``info/repodata_record.json``, and a later, unrelated ``conda create`` that
reuses the entry copies it into its environment (``conda list --explicit``).
The cache must name where the archive came from instead, as a conda install
from there would.  CI runs these against :data:`fake_conda.PACKAGE_CACHE_API`;
the test marked ``conda`` runs real conda.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ce.platforms import current_subdir
from ce.records import LockedPackage, SolveRequest

STORE = "ce-verified"


@pytest.fixture
def fake_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    """The conda solver backend over the fake conda with its package cache; and that cache (``pkgs_dirs``)."""
    import textwrap

    from ce.backends import conda_solver
    from fake_conda import PACKAGE_CACHE_API, forget_conda_modules, write_fake_conda
    from test_conda_solver import FAKE_SOLVER_API

    forget_conda_modules()
    root = write_fake_conda(tmp_path / "fake-conda", base=True)
    for relative, text in {**FAKE_SOLVER_API, **PACKAGE_CACHE_API}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(textwrap.dedent(text).lstrip("\n"))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("CONDA_ROOT", raising=False)
    for name, value in (("loaded", False), ("conda_root", None), ("from_conda_cli", False)):
        monkeypatch.setattr(conda_solver._State, name, value)
    solver = conda_solver.create_conda_solver()
    import conda.base.context  # type: ignore[import-not-found]

    pkgs = tmp_path / "pkgs"
    conda.base.context.context.pkgs_dirs = (str(pkgs),)
    yield solver, pkgs
    forget_conda_modules()


def _from_channel(channel: Path, channel_url: str, filename: str, url: str | None = None) -> LockedPackage:
    """The lock entry of *filename* in the test channel's ``noarch`` (its URL *url* when given)."""
    record = json.loads((channel / "noarch" / "repodata.json").read_text())["packages.conda"][filename]
    return LockedPackage(
        name=record["name"], version=record["version"], build=record["build"], build_number=record["build_number"],
        subdir="noarch", url=url or f"{channel_url}/noarch/{filename}", channel=channel_url, sha256=record["sha256"],
        md5=record["md5"], depends=tuple(record["depends"]), size=record["size"], noarch=record.get("noarch"),
    )  # fmt: skip


def _install(solver: Any, packages: list[LockedPackage], tmp_path: Path, name: str) -> None:
    request = SolveRequest(specs=tuple(p.name for p in packages), channels=(), platform=current_subdir())
    build = tmp_path / "envs" / f".build-{name}.x"
    build.parent.mkdir(exist_ok=True)
    solver.install(packages, str(build), str(tmp_path / "envs" / name), request)


def _conda_create(prefix: Path, package: LockedPackage) -> str:
    """A later, unrelated ``conda create -p PREFIX`` of the channel's record: the URL its ``conda-meta`` gets."""
    from conda.core.link import PrefixSetup, UnlinkLinkTransaction  # type: ignore[import-not-found]

    from ce.backends.conda_solver import to_conda_record

    transaction = UnlinkLinkTransaction(PrefixSetup(str(prefix), (), (to_conda_record(package),), (), (), ()))
    transaction.download_and_extract()
    transaction.execute()
    return str(json.loads((prefix / "conda-meta" / f"{package}.json").read_text())["url"])


def _naming_the_store(pkgs: Path) -> list[str]:
    """conda's bookkeeping files in *pkgs* that name ce's store (``grep -l ce-verified``)."""
    files = [pkgs / "urls.txt", *pkgs.glob("*/info/repodata_record.json")]
    return [str(path.relative_to(pkgs)) for path in files if STORE in path.read_text()]


def _urls(pkgs: Path) -> list[str]:
    return (pkgs / "urls.txt").read_text().splitlines()


def test_a_locked_install_leaves_the_lock_urls_in_condas_package_cache(
    fake_conda: tuple[Any, Path], channel: Path, channel_url: str, tmp_path: Path
) -> None:
    from ce.backends.conda_solver import check_package_caches, to_conda_record
    from ce.envs.fetch import verified_packages

    solver, pkgs = fake_conda
    locked = _from_channel(channel, channel_url, "hello-tool-1.0-0.conda")
    packages = verified_packages([locked])
    assert f"/{STORE}/" in packages[0].url  # conda is given the verified copy
    _install(solver, packages, tmp_path, "one")

    assert _naming_the_store(pkgs) == []
    assert _urls(pkgs) == [locked.url]
    record = json.loads((pkgs / "hello-tool-1.0-0" / "info" / "repodata_record.json").read_text())
    assert (record["url"], record["sha256"], record["md5"]) == (locked.url, locked.sha256, locked.md5)
    assert record["channel"] == channel_url and record["fn"] == "hello-tool-1.0-0.conda"
    # a later, unrelated conda create reuses the entry (nothing fetched again) and records the lock's URL
    assert _conda_create(tmp_path / "X", locked) == locked.url
    assert _urls(pkgs) == [locked.url]
    # ce's own check still trusts the entry; a second install from the lock reuses it as it is
    assert check_package_caches([str(pkgs)], [to_conda_record(p) for p in packages]) == []
    _install(solver, verified_packages([locked]), tmp_path, "two")
    assert _urls(pkgs) == [locked.url] and _naming_the_store(pkgs) == []


@pytest.mark.parametrize("hashes", ["none", "md5"])
def test_a_solved_package_without_sha256_leaves_its_channel_url(
    fake_conda: tuple[Any, Path], channel: Path, channel_url: str, tmp_path: Path, hashes: str
) -> None:
    """The solve path: a record without a sha256 (a channel without hashes) is installed from ce's store too."""
    from dataclasses import replace

    from ce.envs.fetch import content_addressed

    solver, pkgs = fake_conda
    solved = replace(_from_channel(channel, channel_url, "six-1.17.0-pyh_0.conda"), sha256=None)
    if hashes == "none":
        solved = replace(solved, md5=None)
    packages = content_addressed([solved])
    assert f"/{STORE}/" in packages[0].url and packages[0].sha256
    _install(solver, packages, tmp_path, "six")

    assert _naming_the_store(pkgs) == []
    assert _urls(pkgs) == [solved.url]
    record = json.loads((pkgs / "six-1.17.0-pyh_0" / "info" / "repodata_record.json").read_text())
    assert (record["url"], record["sha256"]) == (solved.url, packages[0].sha256)
    assert _conda_create(tmp_path / "X", solved) == solved.url


def test_the_package_cache_never_records_credentials(
    fake_conda: tuple[Any, Path], channel: Path, channel_url: str, tmp_path: Path
) -> None:
    from ce.envs.fetch import verified_packages

    solver, pkgs = fake_conda
    clean = f"{channel_url}/noarch/hello-tool-1.0-0.conda"
    secret = clean.replace("file://", "file://user:s3cret@", 1)
    locked = _from_channel(channel, channel_url, "hello-tool-1.0-0.conda", url=secret)
    _install(solver, verified_packages([locked]), tmp_path, "one")
    assert _urls(pkgs) == [clean]
    record = (pkgs / "hello-tool-1.0-0" / "info" / "repodata_record.json").read_text()
    assert "s3cret" not in record and json.loads(record)["url"] == clean


def test_only_the_entries_naming_the_store_are_rewritten_and_never_through_links(tmp_path: Path) -> None:
    from ce.backends.package_cache import record_origin_urls

    pkgs = tmp_path / "pkgs"
    store = f"file://{tmp_path}/rattler/{STORE}/{'ab' * 32}"
    origins = {f"{store}/{name}.conda": f"https://example.invalid/c/noarch/{name}.conda" for name in "abcd"}

    def entry(name: str, url: str) -> Path:
        info = pkgs / name / "info"
        info.mkdir(parents=True)
        (info / "repodata_record.json").write_text(json.dumps({"name": name, "url": url, "sha256": "ab" * 32}))
        return info / "repodata_record.json"

    mine = entry("a", f"{store}/a.conda")
    mine.chmod(0o640)
    theirs = entry("b", "https://elsewhere.invalid/noarch/b.conda")  # conda fetched it from elsewhere
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"url": f"{store}/c.conda"}))
    (pkgs / "c" / "info").mkdir(parents=True)
    (pkgs / "c" / "info" / "repodata_record.json").symlink_to(outside)
    (tmp_path / "elsewhere" / "info").mkdir(parents=True)
    (tmp_path / "elsewhere" / "info" / "repodata_record.json").write_text(json.dumps({"url": f"{store}/d.conda"}))
    (pkgs / "d").symlink_to(tmp_path / "elsewhere")
    (pkgs / "urls.txt").write_bytes(
        f"https://other.invalid/x.conda\r\n{store}/a.conda\r\n{store}/zzz.conda\n{store}/b.conda".encode()
    )
    before_theirs = theirs.read_text()

    changed = record_origin_urls(str(pkgs), origins)

    assert sorted(changed) == ["a", "urls.txt"]
    assert json.loads(mine.read_text()) == {"name": "a", "url": origins[f"{store}/a.conda"], "sha256": "ab" * 32}
    assert mine.stat().st_mode & 0o777 == 0o640  # conda's file keeps its mode
    assert theirs.read_text() == before_theirs
    assert json.loads(outside.read_text()) == {"url": f"{store}/c.conda"}  # never written through a link
    assert json.loads((tmp_path / "elsewhere" / "info" / "repodata_record.json").read_text())["url"].endswith("d.conda")
    assert STORE in (tmp_path / "elsewhere" / "info" / "repodata_record.json").read_text()
    assert (pkgs / "urls.txt").read_bytes() == (
        f"https://other.invalid/x.conda\r\n{origins[f'{store}/a.conda']}\r\n{store}/zzz.conda\n"
        f"{origins[f'{store}/b.conda']}"
    ).encode()
    # a urls.txt that is a link is not conda's file here: left alone
    os.replace(pkgs / "urls.txt", tmp_path / "urls-elsewhere.txt")
    (tmp_path / "urls-elsewhere.txt").write_text(f"{store}/a.conda\n")
    (pkgs / "urls.txt").symlink_to(tmp_path / "urls-elsewhere.txt")
    assert record_origin_urls(str(pkgs), origins) == []
    assert (tmp_path / "urls-elsewhere.txt").read_text() == f"{store}/a.conda\n"


@pytest.mark.conda
def test_real_conda_create_after_a_locked_run_records_the_channel_url(channel_url: str, tmp_path: Path) -> None:
    from test_conda_solver import _conda, _conda_config

    env = _conda_config(tmp_path)
    script = tmp_path / "work" / "s.py"
    script.parent.mkdir()
    script.write_text(
        "# /// script\n# dependencies = []\n# [tool.conda]\n"
        f'# channels = ["{channel_url}"]\n# dependencies = ["python", "six"]\n# ///\n'
        "import six\nprint('six', six.__version__)\n"
    )
    locked = _conda("exec", "--lock", str(script), env=env)
    assert (locked.returncode, locked.stdout) == (0, "six 1.17.0\n"), locked.stderr
    pkgs = tmp_path / "conda-pkgs"
    shutil.rmtree(pkgs, ignore_errors=True)  # the locked run fetches everything through ce's store
    shutil.rmtree(Path(env["CONDA_EXEC_HOME"]), ignore_errors=True)
    again = _conda("exec", "--locked", str(script), env=env)
    assert (again.returncode, again.stdout) == (0, "six 1.17.0\n"), again.stderr
    assert _naming_the_store(pkgs) == []
    prefix = tmp_path / "X"
    created = _conda("create", "-q", "-y", "-p", str(prefix), "-c", channel_url, "--override-channels", "--offline",
                     "six", env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    listed = _conda("list", "--explicit", "-p", str(prefix), env=env)
    urls = [line for line in listed.stdout.splitlines() if "://" in line]
    assert f"{channel_url}/noarch/six-1.17.0-pyh_0.conda" in [url.split("#")[0] for url in urls], listed.stdout
    assert not any(STORE in url for url in urls), listed.stdout
    assert _naming_the_store(pkgs) == []
