"""The ``conda`` solver backend: conda's own configured solver and transaction machinery.

Solving uses ``context.plugin_manager.get_cached_solver_backend()`` (libmamba,
rattler or classic, whatever the condarc says) and installing uses conda's
``UnlinkLinkTransaction``, so conda's channels, channel alias, custom
channels, package caches (``pkgs_dirs``), proxies, SSL settings and
authentication all apply.  ce passes the channels it resolved (URLs; see
``ce.condarc``), so ``ce`` and ``conda exec`` build the same environment.

conda links for the prefix it installs into and has no "alternative target
prefix": ce builds in a hidden directory beside the final one and renames it
into place when complete.  So after conda's transaction :func:`relocate`
rewrites the build path to the final path in every file conda wrote with the
prefix in it (text files: plain replacement; binary files: conda's own
NUL-padded replacement, possible because the final path is shorter;
``.pyc`` files are left alone: Python fixes their paths on load).  Files
conda hard-linked from its package cache are never touched.

This module imports conda only inside functions: it is importable (and its
pure parts testable) without conda.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from ce.errors import ChannelError, ConfigurationError, InstallError, SolveError, UsageError
from ce.records import LockedPackage, SolveRequest
from ce.relocate import relocate

_CHANNEL_ERRORS = frozenset({"CondaHTTPError", "UnavailableInvalidChannel", "ChannelError", "ProxyError"})
_SPEC_ERRORS = frozenset({"InvalidMatchSpec", "InvalidSpec", "InvalidVersionSpec"})


def _summary(error: BaseException, lines: int = 4) -> str:
    meaningful = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(meaningful[:lines]) or type(error).__name__


def _error_kinds(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def create_conda_solver() -> CondaSolver:
    """The backend, or a setup error (before anything is created) when conda cannot provide one."""
    try:
        from conda.base.context import context  # type: ignore[import-not-found,unused-ignore]
    except Exception as error:
        raise ConfigurationError(
            f"the conda solver needs conda, which cannot be imported here ({type(error).__name__}: {error}); "
            "run it as 'conda exec', or use --solver rattler"
        ) from error
    try:
        backend = context.plugin_manager.get_cached_solver_backend()
    except Exception as error:
        raise ConfigurationError(f"conda cannot provide a solver backend: {_summary(error, 2)}") from error
    if backend is None:
        raise ConfigurationError("conda cannot provide a solver backend: check the 'solver' setting in your condarc")
    return CondaSolver(backend)


@contextlib.contextmanager
def _conda_settings(request: SolveRequest) -> Iterator[None]:
    """conda's context for *request*: its platform, ``--offline``, quiet without progress display."""
    from conda.base.context import context, reset_context  # type: ignore[import-not-found,unused-ignore]
    from conda.common.io import env_vars  # type: ignore[import-not-found,unused-ignore]

    overrides: dict[str, str] = {}
    if request.platform != context.subdir:
        overrides["CONDA_SUBDIR"] = request.platform
    if request.offline and not context.offline:
        overrides["CONDA_OFFLINE"] = "true"
    if not request.show_progress and not context.quiet:
        overrides["CONDA_QUIET"] = "true"
    if not overrides:
        yield
        return
    with env_vars(overrides, callback=reset_context):
        yield


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """conda reports on stdout; the tool's stdout must carry nothing of conda's."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    try:
        os.dup2(2, 1)  # C-level writes, and streams conda bound to the original sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _optional(record: Any, name: str) -> Any:
    try:
        return getattr(record, name)
    except (AttributeError, KeyError):
        return None


def to_locked(record: Any) -> LockedPackage:
    """A conda ``PackageRecord`` as a backend-neutral :class:`LockedPackage` (every lock field filled)."""
    channel = _optional(record, "channel")
    channel_url = _optional(channel, "base_url") if channel is not None else None
    timestamp = _optional(record, "timestamp")
    if timestamp:  # conda keeps seconds; locks carry milliseconds
        timestamp = int(timestamp if timestamp > 1e11 else timestamp * 1000)
    noarch = _optional(record, "noarch")
    noarch_kind = str(getattr(noarch, "value", noarch)) if noarch else None
    return LockedPackage(
        name=str(record.name),
        version=str(record.version),
        build=str(record.build),
        build_number=int(record.build_number),
        subdir=str(record.subdir),
        url=str(record.url),
        channel=str(channel_url or channel or ""),
        sha256=_optional(record, "sha256") or None,
        md5=_optional(record, "md5") or None,
        depends=tuple(_optional(record, "depends") or ()),
        constrains=tuple(_optional(record, "constrains") or ()),
        license=_optional(record, "license") or None,
        size=_optional(record, "size") or None,
        timestamp=timestamp or None,
        noarch=noarch_kind if noarch_kind not in (None, "", "None") else None,
        native=record,
    )


def to_conda_record(package: LockedPackage) -> Any:
    """A :class:`LockedPackage` (from a lock, or another backend) as a conda ``PackageRecord``."""
    from conda.models.channel import Channel  # type: ignore[import-not-found,unused-ignore]
    from conda.models.records import PackageRecord  # type: ignore[import-not-found,unused-ignore]

    if isinstance(package.native, PackageRecord):
        return package.native
    fields: dict[str, Any] = {
        "name": package.name,
        "version": package.version,
        "build": package.build,
        "build_number": package.build_number,
        "subdir": package.subdir,
        "fn": package.filename,
        "url": package.url,
        "channel": Channel(package.channel or package.url.rsplit("/", 2)[0]),
        "depends": package.depends,
        "constrains": package.constrains,
    }
    optional = {
        "md5": package.md5,
        "sha256": package.sha256,
        "license": package.license,
        "size": package.size,
        "timestamp": package.timestamp,
        "noarch": package.noarch,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    try:
        return PackageRecord(**fields)
    except Exception as error:
        raise InstallError(f"invalid lock entry for {package}: {_summary(error, 1)}") from error


class CondaSolver:
    """Solve with conda's configured solver backend; install with conda's transaction."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def solve(self, request: SolveRequest) -> list[LockedPackage]:
        """Solve *request* against its channels for its platform (plus noarch)."""
        from conda.models.channel import Channel  # type: ignore[import-not-found,unused-ignore]
        from conda.models.match_spec import MatchSpec  # type: ignore[import-not-found,unused-ignore]

        try:
            specs = [MatchSpec(spec) for spec in request.specs]
        except Exception as error:
            raise UsageError(f"invalid package spec: {_summary(error, 1)}") from error
        channels = [Channel(url) for url in request.channels]
        subdirs = (request.platform, "noarch")
        # A prefix that does not exist: conda solves for a new, empty environment.
        prefix = os.path.join(tempfile.gettempdir(), f"ce-conda-solve-{os.getpid()}-does-not-exist")
        try:
            with _conda_settings(request), _stdout_to_stderr():
                try:
                    solver = self.backend(prefix, channels, subdirs, specs_to_add=specs, command="create")
                except TypeError:  # solver backends that predate the ``command`` argument
                    solver = self.backend(prefix, channels, subdirs, specs_to_add=specs)
                records = solver.solve_final_state()
        except Exception as error:
            kinds = _error_kinds(error)
            if kinds & _SPEC_ERRORS:
                raise UsageError(f"invalid package spec: {_summary(error, 1)}") from error
            if kinds & _CHANNEL_ERRORS:
                hint = " (offline: only cached repodata is used)" if request.offline else ""
                raise ChannelError(f"cannot read channel repodata{hint}: {_summary(error)}") from error
            raise SolveError(f"cannot solve {', '.join(request.specs)}: {_summary(error)}") from error
        return [to_locked(record) for record in records]

    def install(self, packages: Sequence[LockedPackage], prefix: str, final_prefix: str, request: SolveRequest) -> None:
        """Download (verifying hashes), extract and link *packages* into *prefix* with conda's
        transaction, then relocate the files for *final_prefix*."""
        from conda.core.link import PrefixSetup, UnlinkLinkTransaction  # type: ignore[import-not-found,unused-ignore]
        from conda.models.match_spec import MatchSpec  # type: ignore[import-not-found,unused-ignore]

        records = tuple(to_conda_record(package) for package in packages)
        try:
            with _conda_settings(request), _stdout_to_stderr():
                setup = PrefixSetup(
                    target_prefix=prefix,
                    unlink_precs=(),
                    link_precs=records,
                    remove_specs=(),
                    update_specs=tuple(MatchSpec(spec) for spec in request.specs),
                    neutered_specs=(),
                )
                transaction = UnlinkLinkTransaction(setup)
                transaction.download_and_extract()
                transaction.execute()
        except Exception as error:
            hint = " (offline: only cached packages are used)" if request.offline else ""
            raise InstallError(f"cannot install the environment{hint}: {_summary(error)}") from error
        finally:
            forget_environment(prefix)
        relocate(prefix, final_prefix)


def forget_environment(prefix: str) -> None:
    """Drop *prefix* (a build directory) from conda's ``environments.txt``, where the transaction put it."""
    try:
        from conda.core.envs_manager import get_user_environments_txt_file  # type: ignore[import-not-found,unused-ignore]

        path = get_user_environments_txt_file()
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except Exception:
        return
    kept = [line for line in lines if os.path.normpath(line.strip() or ".") != os.path.normpath(prefix)]
    if len(kept) != len(lines):
        with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in kept))
