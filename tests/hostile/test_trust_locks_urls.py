"""Credentials in URLs, unit by unit: what a lock, a record or a message may show, and what goes back at install."""

from __future__ import annotations

import pytest

from ce import urls
from ce.lockfiles import LockData, LockError, make_package
from ce.lockfiles.explicit import Explicit
from ce.urls import without_credentials

PLAIN = "https://host.example/chan/noarch/x-1.0-0.conda"


@pytest.mark.parametrize(
    "url",
    [
        "https://host.example/t/tk-123_ABC/chan/noarch/x-1.0-0.conda",
        "https://host.example/t/********/chan/noarch/x-1.0-0.conda",  # as rattler shows a channel's token
        "https://user:pw@host.example/chan/noarch/x-1.0-0.conda",
        "https://user:p#w?d@host.example/chan/noarch/x-1.0-0.conda",  # unencoded, as typed
        "https://user:pw@host.example/t/tk/chan/noarch/x-1.0-0.conda",
    ],
)
def test_every_credential_form_is_removed(url: str) -> None:
    assert without_credentials(url) == PLAIN
    assert urls.masked(f"cannot fetch {url}: refused") == f"cannot fetch {PLAIN}: refused"
    local = "file:///srv/t/chan/noarch/x-1.0-0.conda"  # a t/ directory of a local channel is a directory
    assert urls.masked(local) == without_credentials(local) == local


def test_a_configured_channel_puts_its_credentials_back() -> None:
    configured = ["https://host.example/t/tk-1/chan/", "https://other.example/c"]
    assert urls.with_credentials_of(PLAIN, configured) == "https://host.example/t/tk-1/chan/noarch/x-1.0-0.conda"
    assert urls.with_credentials_of("https://host.example/chan", configured) == "https://host.example/t/tk-1/chan"
    assert urls.with_credentials_of("https://host.example/chan2/noarch/x-1.0-0.conda", configured).count("/t/") == 0
    assert urls.with_credentials_of(PLAIN, ["https://host.example/chan"]) == PLAIN


def test_an_explicit_password_with_a_hash_mark_reads_as_its_url() -> None:
    url = "https://user:p#w@host.example/chan/noarch/x-1.0-0.conda"
    data = Explicit().loads(f"# platform: linux-64\n@EXPLICIT\n{url}#{'a' * 32}\n")
    (package,) = data.packages["linux-64"]
    assert package.url == "https://user:p%23w@host.example/chan/noarch/x-1.0-0.conda"
    assert (package.name, package.md5) == ("x", "a" * 32)
    assert without_credentials(package.url) == PLAIN


def test_lock_data_from_any_format_lists_a_name_once_per_platform() -> None:
    first, second = make_package(PLAIN, md5="a" * 32), make_package(PLAIN.replace("-0.conda", "-1.conda"), md5="b" * 32)
    LockData((), {"linux-64": (first,), "osx-arm64": (first,)})
    with pytest.raises(LockError, match=r"'x' twice for linux-64: .*x-1\.0-0\.conda and .*x-1\.0-1\.conda"):
        LockData((), {"linux-64": (first, second)})


def _v6(extra_ref: str = "") -> str:
    entry = "- conda: https://h.example/c/noarch/x-1.0-0.conda\n  sha256: " + "a" * 64 + "\n"
    other = entry.replace("a" * 64, "b" * 64) + "  subdir: linux-64\n"
    return (
        "version: 6\nenvironments:\n  default:\n    channels: []\n    packages:\n      linux-64:\n"
        f"      - conda: https://h.example/c/noarch/x-1.0-0.conda{extra_ref}\npackages:\n{entry}{other}"
    )


def test_a_v6_reference_matching_two_entries_is_refused_and_a_selector_picks_one() -> None:
    from ce.lockfiles.rattler_v6 import RattlerLockV6

    with pytest.raises(LockError, match=r"matches two entries, packages\[0\] and packages\[1\]"):
        RattlerLockV6().loads(_v6())
    (package,) = RattlerLockV6().loads(_v6("\n        subdir: linux-64")).packages["linux-64"]
    assert package.sha256 == "b" * 64
