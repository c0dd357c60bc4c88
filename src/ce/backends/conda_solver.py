"""The ``conda`` solver backend: conda's own configured solver and transaction machinery.

Solving uses ``context.plugin_manager.get_solver_backend()`` (libmamba,
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
conda hard-linked from its package cache are never touched.  Archives ce
fetched and verified reach conda as ``file://`` URLs into ce's store; conda's
package cache is then made to record where they came from (:func:`record_origins`).

This module imports conda only inside functions: it is importable (and its
pure parts testable) without conda.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from ce.errors import ChannelError, ConfigurationError, InstallError, SolveError, UsageError
from ce.records import LockedPackage, SolveRequest
from ce.relocate import relocate

_CHANNEL_ERRORS = frozenset({"CondaHTTPError", "UnavailableInvalidChannel", "ChannelError", "ProxyError"})
_SPEC_ERRORS = frozenset({"InvalidMatchSpec", "InvalidSpec", "InvalidVersionSpec"})
_NOT_FOUND_ERRORS = frozenset({"ResolvePackageNotFound", "PackagesNotFoundError"})


class _State:
    """How this process uses conda's context."""

    #: Set by ``conda exec``: conda's command line already loaded the context (search path and arguments).
    from_conda_cli = False
    #: The ``$CONDA_ROOT`` conda's search path expands, while ce is not exporting it (see :func:`_load_context`).
    conda_root: str | None = None
    loaded = False


def _message(error: BaseException) -> str:
    """*error*'s whole message on one line (conda's messages span several)."""
    return " ".join(str(error).split()) or type(error).__name__


def _error_kinds(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def use_context_of_conda_cli() -> None:
    """Under ``conda exec``: keep the context conda's command line loaded instead of reloading it.

    Called before ce's command line (and its warm path) reads the environment, so the
    ``CONDA_ROOT`` conda exported for itself (not the user's) is taken out first; ce's own
    condarc reading still expands ``$CONDA_ROOT`` to it (:func:`ce.config.condarc.use_root_of_conda`),
    as conda's search path did, with or without the shell hook's variables.
    """
    from ce.config.condarc import use_root_of_conda

    _State.from_conda_cli = True
    # What conda's own search path expanded: CONDA_ROOT as inherited, else conda's prefix (set on import).
    root = os.environ.get("CONDA_ROOT") or os.path.abspath(sys.prefix)
    if "CONDA_ROOT" in os.environ and not _inherited_conda_root():  # conda's import set it, for itself
        _State.conda_root = os.environ.pop("CONDA_ROOT")
    use_root_of_conda(root)


def _inherited_conda_root() -> bool:
    """Whether ``CONDA_ROOT`` was in this process's environment before conda set it on import."""
    try:
        with open("/proc/self/environ", "rb") as handle:  # the environment the process started with
            return any(entry.startswith(b"CONDA_ROOT=") for entry in handle.read().split(b"\0"))
    except OSError:  # no procfs: conda sets CONDA_ROOT to its own prefix, so only another value was inherited
        return os.environ.get("CONDA_ROOT") not in (None, sys.prefix)


def _reset_context(overrides: dict[str, str]) -> None:
    """Reload conda's context from conda's own search path with *overrides* (``CONDA_*``) in effect."""
    from conda.base.context import context, reset_context  # type: ignore[import-not-found,unused-ignore]

    if _State.conda_root is not None:
        overrides = {"CONDA_ROOT": _State.conda_root, **overrides}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        reset_context(argparse_args=getattr(context, "_argparse_args", None))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _load_context() -> Any:
    """conda's context with the user's configuration loaded, as conda's own commands see it.

    conda creates its context with an empty search path when imported, so
    standalone ``ce`` reloads it from conda's ``SEARCH_PATH`` once, with
    ``$CONDA_ROOT`` the base install ce reads too (:func:`ce.config.condarc.conda_root`).
    Under ``conda exec`` conda's command line has done that (with its
    arguments): that context is kept.  ``import conda`` exports ``CONDA_ROOT``;
    unless the user's environment had it, it is taken out again, so the tool
    does not inherit it.
    """
    if not _State.loaded:
        # Whether the user's environment has CONDA_ROOT (conda's import sets it when it does not).
        inherited = "CONDA_ROOT" in os.environ if "conda.base.context" not in sys.modules else _inherited_conda_root()
        root = os.environ.get("CONDA_ROOT") if inherited else None
        if root is None and not _State.from_conda_cli:
            from ce.config.condarc import conda_root

            root = conda_root(os.environ)
        try:
            import conda.base.context  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
        except Exception as error:
            if not inherited:
                os.environ.pop("CONDA_ROOT", None)
            raise ConfigurationError(
                f"the conda solver needs conda, which cannot be imported here ({type(error).__name__}: {error}); "
                "run it as 'conda exec', or use --solver rattler"
            ) from error
        _State.loaded = True
        if not inherited:
            _State.conda_root = _State.conda_root or root or os.environ.get("CONDA_ROOT") or sys.prefix
            os.environ.pop("CONDA_ROOT", None)
        if not _State.from_conda_cli:
            try:
                _reset_context({})
            except Exception as error:
                raise ConfigurationError(f"conda cannot load its configuration: {_message(error)}") from error
    from conda.base.context import context  # type: ignore[import-not-found,unused-ignore]

    return context


def create_conda_solver() -> CondaSolver:
    """The backend, or a setup error (before anything is created) when conda cannot provide one."""
    context = _load_context()
    try:
        # Not the cached lookup: it keeps whatever solver was configured when first asked.
        backend = context.plugin_manager.get_solver_backend()
    except Exception as error:
        raise ConfigurationError(f"conda cannot provide a solver backend: {_message(error)}") from error
    return CondaSolver(backend)


@contextlib.contextmanager
def _conda_settings(request: SolveRequest) -> Iterator[None]:
    """conda's context for *request*: its platform and ``--offline``."""
    context = _load_context()
    overrides: dict[str, str] = {}
    if request.platform != context.subdir:
        overrides["CONDA_SUBDIR"] = request.platform
    if request.offline and not context.offline:
        overrides["CONDA_OFFLINE"] = "true"
    if not overrides:
        yield
        return
    _reset_context(overrides)
    try:
        yield
    finally:
        _reset_context({})


class _Output(io.TextIOBase):
    """conda's report stream: dropped when silent, else forwarded line by line without *hidden* lines."""

    def __init__(self, target: TextIO, silent: bool, hidden: str) -> None:
        self.target, self.silent, self.hidden, self.pending = target, silent, hidden, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not self.silent:
            *lines, self.pending = (self.pending + text).split("\n")
            for line in lines:
                if self.hidden not in line:
                    self.target.write(line + "\n")
            self.target.flush()
        return len(text)

    def flush(self) -> None:
        if self.pending and not self.silent and self.hidden not in self.pending:
            self.target.write(self.pending)
            self.target.flush()
        self.pending = ""


@contextlib.contextmanager
def _conda_output(silent: bool, hidden: str) -> Iterator[None]:
    """conda reports on stdout; the tool's stdout must carry nothing of conda's.

    Silent (``-q``, or no progress display): nothing of conda's report is
    shown.  Otherwise it goes to stderr, without the lines that name *hidden*
    (ce's placeholder prefix, which conda-rattler-solver reports).  conda's
    errors are raised, not printed: they reach the user through ce.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    sink = os.open(os.devnull, os.O_WRONLY) if silent else os.dup(2)
    output = _Output(sys.stderr, silent, hidden)
    try:
        os.dup2(sink, 1)  # C-level writes, and streams conda bound to the original sys.stdout
        with contextlib.redirect_stdout(output):
            yield
    finally:
        output.flush()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)


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
        return PackageRecord(**fields)  # type: ignore[no-untyped-call,unused-ignore]
    except Exception as error:
        raise InstallError(f"invalid lock entry for {package}: {_message(error)}") from error


class CondaSolver:
    """Solve with conda's configured solver backend; install with conda's transaction."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def solve(self, request: SolveRequest) -> list[LockedPackage]:
        """Solve *request* against its channels for its platform (plus noarch)."""
        from conda.models.channel import Channel  # type: ignore[import-not-found,unused-ignore]
        from conda.models.match_spec import MatchSpec  # type: ignore[import-not-found,unused-ignore]

        try:
            specs = [MatchSpec(spec) for spec in request.specs]  # type: ignore[no-untyped-call,unused-ignore]
        except Exception as error:
            raise UsageError(f"invalid package spec: {_message(error)}") from error
        channels = [Channel(url) for url in request.channels]
        subdirs = (request.platform, "noarch")
        # A prefix that does not exist: conda solves for a new, empty environment.
        prefix = os.path.join(tempfile.gettempdir(), f"ce-conda-solve-{os.getpid()}-does-not-exist")
        try:
            with _conda_settings(request), _conda_output(not request.show_progress, prefix):
                solver = self.backend(prefix, channels, subdirs, specs_to_add=specs, command="create")
                records = solver.solve_final_state()
        except Exception as error:
            kinds = _error_kinds(error)
            if kinds & _SPEC_ERRORS:
                raise UsageError(f"invalid package spec: {_message(error)}") from error
            if kinds & _CHANNEL_ERRORS:
                hint = " (offline: only cached repodata is used)" if request.offline else ""
                raise ChannelError(f"cannot read channel repodata{hint}: {_message(error)}") from error
            if kinds & _NOT_FOUND_ERRORS:
                missing = [line.strip().lstrip("- ").strip() for line in str(error).splitlines()]
                if "ResolvePackageNotFound" in kinds:  # classic's bare list of specs
                    listed = ", ".join(filter(None, missing)) or ", ".join(request.specs)
                    where = ", ".join(request.channels) or "the configured channels"
                    message = f"cannot solve {', '.join(request.specs)}: not found in {where}: {listed}"
                    raise SolveError(message) from error
            raise SolveError(f"cannot solve {', '.join(request.specs)}: {_message(error)}") from error
        return [to_locked(record) for record in records]

    def install(self, packages: Sequence[LockedPackage], prefix: str, final_prefix: str, request: SolveRequest) -> None:
        """Download (verifying hashes), extract and link *packages* into *prefix* with conda's
        transaction, then relocate the files for *final_prefix*."""
        from conda.core.link import PrefixSetup, UnlinkLinkTransaction  # type: ignore[import-not-found,unused-ignore]
        from conda.models.match_spec import MatchSpec  # type: ignore[import-not-found,unused-ignore]

        records = tuple(to_conda_record(package) for package in packages)
        pkgs_dirs: Sequence[str] = ()
        try:
            with _conda_settings(request), _conda_output(not request.show_progress, prefix):
                pkgs_dirs = tuple(_load_context().pkgs_dirs)
                check_package_caches(pkgs_dirs, records)
                setup = PrefixSetup(
                    target_prefix=prefix,
                    unlink_precs=(),
                    link_precs=records,
                    remove_specs=(),
                    update_specs=tuple(MatchSpec(spec) for spec in request.specs),  # type: ignore[no-untyped-call,unused-ignore]
                    neutered_specs=(),
                )
                transaction = UnlinkLinkTransaction(setup)  # type: ignore[no-untyped-call,unused-ignore]
                transaction.download_and_extract()  # type: ignore[no-untyped-call,unused-ignore]
                transaction.execute()  # type: ignore[no-untyped-call,unused-ignore]
        except InstallError:
            raise
        except Exception as error:
            hint = " (offline: only cached packages are used)" if request.offline else ""
            raise InstallError(f"cannot install the environment{hint}: {_message(error)}") from error
        finally:
            # conda recorded the store's file:// URLs of what it fetched: it gets the archives' own
            record_origins(pkgs_dirs, packages)
            forget_environment(prefix)
        relocate(prefix, final_prefix)


def check_package_caches(pkgs_dirs: Sequence[str], records: Sequence[Any]) -> list[str]:
    """Remove from conda's package caches the extracted entries of *records* that another archive filled; their paths.

    conda matches an extracted entry to a record by name, version and build
    (and the md5 its ``repodata_record.json`` claims, when both have one); ce
    checks the entry's recorded sha256, else md5, against the record first,
    so conda downloads and extracts the record's own archive instead.
    """
    from ce.backends.package_cache import ExpectedEntry, evict_mismatched

    expected = [
        ExpectedEntry(
            dirname=f"{record.name}-{record.version}-{record.build}",
            sha256=(str(_optional(record, "sha256") or "").lower() or None),
            md5=(str(_optional(record, "md5") or "").lower() or None),
        )
        for record in records
    ]
    evicted: list[str] = []
    for pkgs_dir in pkgs_dirs:
        if os.path.isdir(pkgs_dir):
            evicted += [os.path.join(pkgs_dir, name) for name in evict_mismatched(pkgs_dir, expected)]
    return evicted


def record_origins(pkgs_dirs: Sequence[str], packages: Sequence[LockedPackage]) -> list[str]:
    """Make conda's package caches name the origin of each of *packages* installed from ce's store; what changed.

    conda fetched those archives from their ``file://`` URL in ce's store and
    recorded that URL in ``urls.txt`` and the entry's ``repodata_record.json``;
    a later ``conda create`` reusing the entry would copy it into its
    environment.  They get the URL the package came from, without
    credentials, as if conda had downloaded it from there.  conda's records of
    its caches held in this process are dropped, so they are read again.
    """
    from ce.backends.package_cache import record_origin_urls

    origins = {package.url: package.origin_url for package in packages if package.origin_url}
    changed: list[str] = []
    for pkgs_dir in pkgs_dirs if origins else ():
        changed += [os.path.join(pkgs_dir, name) for name in record_origin_urls(pkgs_dir, origins)]
    if changed:
        # conda keeps each cache's records in memory: whatever else runs in this process reads them anew
        with contextlib.suppress(Exception):
            from conda.core.package_cache_data import PackageCacheData  # type: ignore[import-not-found,unused-ignore]

            PackageCacheData.clear()
    return changed


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
