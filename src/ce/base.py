"""The foundation of every run, and everything a cache hit needs below its command line, in one module.

A warm ``ce TOOL`` must start within 3 ms of ``python -c pass``, and Python spends about 0.3 million
instructions (0.1-0.2 ms here) on every module it imports, whatever the module holds
(``benchmarks/warm_instructions.py``).  So a tool hit imports ``ce``, :mod:`ce.fastpath` (its
command line and the tool index) and this module, nothing else of ce's; and the rest of ce takes
these mechanisms from here too: one helper for each, and one module on the warm path.  Each
section below has one job:

**Where things are** (:class:`CachePaths`, :func:`cache_home`, :func:`rattler_cache_root`): the one
place that knows the paths.  Under the cache home (``~/.conda/exec`` or ``$CONDA_EXEC_HOME``)::

    run-count                       automatic-cleanup counter
    envs/<name>--<hash16>/          environments; complete once ``.ce-env.json`` (ce's record) is in them
    envs/<name>--<hash16>/.ce-env.json       what it was built from, written last: it marks it complete
    envs/.locks/<name>--<hash16>.lock        in-use lock (shared while a tool runs)
    envs/.locks/<name>--<hash16>.build.lock  one builder per key
    envs/.locks/<name>--<hash16>.refresh.lock  a replacement waiting for running tools
    envs/.index/tool-<key>                   the tool index (see ce.fastpath)
    envs/.index/<key>                        the script index (see ce.script.index)
    envs/.build-<name>--<hash16>-<random>/   an environment being built
    envs/.trash-<name>--<hash16>-<random>/   an environment being removed

**Whom to trust** (:func:`is_trusted`): ce runs nothing from, and writes nothing into, a cache
directory that another user controls, as ssh refuses a world-writable ``~/.ssh``: the cache root,
``envs/``, each environment, ``.index/`` and ``.locks/`` must be owned by this user or root, never
writable by others, and (root's) not by its group either.  A group-writable directory of this
user's own is trusted (a umask of 002 must not lock anyone out of their own cache).

**What environments are called** (:func:`env_name`, :func:`env_name_from_parts`,
:func:`sha256_hex`): pure hashing of already-resolved inputs (specs, channel URLs, platform, lock
content); nothing here reads the configuration.  Text is hashed as UTF-8, lone surrogates included
(a variable or file name that is not UTF-8 still makes a key, never an error).

**Reading a file ce did not necessarily write** (an index entry, an environment's record):
:func:`read_regular`, bounded, never blocked by a FIFO, optionally never through a link.
**Counting** (the run counter): :func:`tally` appends one byte, so concurrent processes lose no
count and need no temporary file or rename.

**Locks**: the build lock (one builder per key) and the in-use lock.  The runner opens the
environment's lock file, takes a shared ``flock`` and lets the descriptor survive ``exec``; the
lock then lives exactly as long as the tool (and any child that inherits it).  Removing an
environment takes the exclusive lock without waiting and skips the environment when it cannot.
Hand-written on ``fcntl`` rather than a locking library (see CONTRIBUTING.md): the in-use lock
must survive ``exec``, and the usual library costs ~10 ms of imports (it pulls in asyncio) on
every cold run.  On Windows, where ce waits for the tool as a child process, exclusive locks use
``msvcrt`` and no shared lock is taken.

**Index entries** (:func:`read_index_entry`, :func:`write_index_entry`): the small files under
``envs/.index`` of the tool index and the script index.

**Automatic cleanup** (:class:`CleanSettings`, :func:`bump_run_count`): every N runs, remove
environments unused for D days; the cleanup itself (:mod:`ce.envs.store`) is imported only when due.

**Finding a command in an environment and starting it** (:func:`find_command`, :func:`path_environ`,
:func:`script_argument`, :class:`LaunchPlan`, :func:`launch`): the last step of every run.  On POSIX
the tool replaces the ce process (``exec``), so signals, the terminal and the exit status are the
tool's own.  On Windows the tool runs as a child and its exit code is returned.

Replacing a file (the one atomic writer) is :mod:`ce.fileio`, which a cache hit does not need.
Imports: ``os``, ``stat``, ``sys``, ``fcntl`` and a builtin SHA-256; ``errno``, ``time`` and the
error classes only where they are needed; no ``__future__`` (see CONTRIBUTING.md).
"""

import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ce.errors import ToolNotFoundError

if sys.platform != "win32":
    import fcntl

# The builtin module is far cheaper to import than hashlib.  Name it exactly:
# a failed import scans every sys.path entry (over a millisecond here).
try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - interpreters built without it
    from hashlib import sha256  # type: ignore[assignment,unused-ignore]


# --- where things are ------------------------------------------------------------------------

HOME_VARIABLE = "CONDA_EXEC_HOME"
LOCKS_DIRNAME = ".locks"
INDEX_DIRNAME = ".index"
#: Verified lock archives, under rattler's cache root (see ce.envs.fetch).
VERIFIED_STORE_DIRNAME = "ce-verified"
BUILD_PREFIX = ".build-"
TRASH_PREFIX = ".trash-"
#: ce's own record of an environment, in its prefix (never in ``conda-meta``, which is conda's):
#: written last, after everything else of a build, so its presence marks the environment complete.
RECORD_FILENAME = ".ce-env.json"
#: The activate runner's cache of activation results, beside the record in the prefix.
ACTIVATION_CACHE_FILENAME = ".ce-activation"
#: Files in a prefix's top directory that are ce's: no package may install them.
CE_PREFIX_FILES = frozenset((RECORD_FILENAME, ACTIVATION_CACHE_FILENAME))


def cache_home(environ: "Mapping[str, str] | None" = None) -> str:
    """Return the absolute cache home, honouring ``$CONDA_EXEC_HOME``."""
    env = os.environ if environ is None else environ
    configured = env.get(HOME_VARIABLE)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(os.path.expanduser("~"), ".conda", "exec")


def rattler_cache_root(environ: "Mapping[str, str] | None" = None) -> str:
    """rattler's cache root, shared with pixi: ``$RATTLER_CACHE_DIR`` or the platform default.

    Repodata lives in ``<root>/repodata`` and packages in ``<root>/pkgs``.
    """
    env = os.environ if environ is None else environ
    configured = env.get("RATTLER_CACHE_DIR")
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    if sys.platform == "win32":  # pragma: no cover - Windows
        base = env.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif sys.platform == "darwin":  # pragma: no cover - macOS
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = env.get("XDG_CACHE_HOME") or ""
        if not os.path.isabs(base):  # XDG: a relative value is ignored (rattler does so), never the cwd's
            base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rattler", "cache")


class CachePaths:
    """Paths inside one cache home."""

    __slots__ = ("envs", "index", "locks", "root", "run_count")

    def __init__(self, root: str) -> None:
        self.root = root
        self.envs = os.path.join(root, "envs")
        self.locks = os.path.join(self.envs, LOCKS_DIRNAME)
        self.index = os.path.join(self.envs, INDEX_DIRNAME)
        self.run_count = os.path.join(root, "run-count")

    @classmethod
    def from_environ(cls, environ: "Mapping[str, str] | None" = None) -> "CachePaths":
        """The paths of the cache home selected by the environment."""
        return cls(cache_home(environ))

    def env(self, name: str) -> str:
        """Directory of the complete environment called *name*."""
        return os.path.join(self.envs, name)

    def history(self, name: str) -> str:
        """``conda-meta/history`` of *name*: its mtime is the environment's last use."""
        return os.path.join(self.envs, name, "conda-meta", "history")

    def record(self, name: str) -> str:
        """ce's record of *name* (:data:`RECORD_FILENAME`): its presence marks a complete environment."""
        return os.path.join(self.envs, name, RECORD_FILENAME)

    def in_use_lock(self, name: str) -> str:
        """Lock file held shared by every process running from *name*."""
        return os.path.join(self.locks, name + ".lock")

    def refresh_lock(self, name: str) -> str:
        """Lock file held by a ``--refresh`` waiting to replace *name*: new runs wait briefly for it."""
        return os.path.join(self.locks, name + ".refresh.lock")

    def build_lock(self, name: str) -> str:
        """Lock file held by the one process building *name*."""
        return os.path.join(self.locks, name + ".build.lock")


# --- whom to trust ---------------------------------------------------------------------------

#: This user, as the kernel checks files: the effective uid (``None`` where there are no owners to check).
EUID = os.geteuid() if hasattr(os, "geteuid") else None


def is_trusted(info: "os.stat_result") -> bool:
    """Whether a cache directory (or ce's record) with the stat result *info* is safe to run from.

    It is when this user owns it and others cannot write it, or root owns it and neither its
    group nor others can.  Only the mode and owner of a stat result the caller already has.
    """
    if EUID is None:  # pragma: no cover - Windows: no owners to compare
        return True
    if info.st_uid == EUID:
        return not info.st_mode & stat.S_IWOTH
    return info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def trusted_dir(path: str, follow_symlinks: bool = False) -> bool:
    """Whether *path* is a directory :func:`is_trusted` accepts (a symbolic link is not, unless followed)."""
    try:
        info = os.stat(path, follow_symlinks=follow_symlinks)
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(info.st_mode) and is_trusted(info)


# --- what environments are called ------------------------------------------------------------

KEY_HASH_LENGTH = 16
#: Version of the key recipe; bump it whenever the recipe changes.
KEY_RECIPE = "ce-env-key:1"


def sha256_hex(*chunks: bytes) -> str:
    """Hex SHA-256 of the concatenated *chunks* (with the cheap builtin module)."""
    digest = sha256()
    for chunk in chunks:
        digest.update(chunk)
    return str(digest.hexdigest())


def env_name(package: str, specs: tuple[str, ...], channels: tuple[str, ...], platform: str) -> str:
    """``<package>--<hash16>``: the hash covers every input that shapes the environment.

    Specs are sorted (their order does not matter); channels keep their order,
    because it sets their priority.
    """
    text = "\0".join((KEY_RECIPE, "specs", *sorted(set(specs)), "channels", *channels, "platform", platform))
    return f"{package}--{sha256_hex(text.encode('utf-8', 'surrogatepass'))[:KEY_HASH_LENGTH]}"


def env_name_from_parts(prefix: str, parts: dict[str, list[str]]) -> str:
    """``<prefix>--<hash16>`` over named lists of strings (the script key recipe)."""
    fields: list[str] = [KEY_RECIPE, prefix]
    for label in sorted(parts):
        fields.append(label)
        fields.extend(parts[label])
    text = "\0".join(fields)
    return f"{prefix}--{sha256_hex(text.encode('utf-8', 'surrogatepass'))[:KEY_HASH_LENGTH]}"


# --- reading and counting files --------------------------------------------------------------

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def read_regular(path: str, limit: int, follow_symlinks: bool = True) -> bytes | None:
    """Up to *limit* + 1 bytes of the regular file *path*; ``None`` for anything else.

    A FIFO or device never blocks and is never read; a caller that gets more than *limit* bytes knows the
    file is too large.  Without *follow_symlinks*, a symbolic link at *path* is not read either.
    """
    flags = os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY | (0 if follow_symlinks else _O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def tally(path: str, period: int, limit: int) -> bool | None:
    """Add one mark to the tally file *path*; whether this mark completes a multiple of *period*.

    The tally is the file's length: each call appends one byte, an atomic write, so
    concurrent callers never lose a mark and exactly one of them ends at each multiple.
    The tally restarts (the file is emptied) at such a multiple, and beyond *limit*
    bytes whatever put them there.  Anything but a regular file at *path* (a link, a
    FIFO) is removed and replaced by one, never written through.  ``None`` when the
    file cannot be written (a cache this user may only read).
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY
    for _attempt in range(2):
        try:
            fd = os.open(path, flags, 0o600)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.write(fd, b".")
                    count = os.lseek(fd, 0, os.SEEK_CUR)  # where this call's byte ended: unique to this call
                    complete = count % period == 0
                    if complete or count > limit:
                        os.ftruncate(fd, 0)
                    return complete
            except OSError:
                return None
            finally:
                os.close(fd)
        try:  # a link, FIFO or other file at that name: remove it and start afresh
            os.unlink(path)
        except OSError:
            return None
    return None


# --- locks -----------------------------------------------------------------------------------


def _open(path: str) -> int:
    """Open (creating) the lock file *path*, never through a symbolic link.

    Neither the lock directory nor the file may be a link: a link in the
    lock directory (which only ce writes) is removed and a real file created,
    a linked directory is refused (``OSError``), so a planted link never makes
    ce create or open a file elsewhere.  ``O_NONBLOCK``: a FIFO planted there
    never blocks the open (``flock`` itself ignores the flag).
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    directory, name = os.path.split(path)
    directory_fd = os.open(directory or ".", os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW)
    try:
        for _attempt in range(3):
            try:
                return os.open(name, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK, 0o600, dir_fd=directory_fd)
            except OSError as error:
                import errno  # only on this rare path: a warm hit does not pay for the import

                if error.errno in (errno.EACCES, errno.EROFS):  # flock works on a read-only descriptor too
                    try:
                        return os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=directory_fd)
                    except OSError:
                        raise error from None
                if error.errno != errno.ELOOP:
                    raise
            os.unlink(name, dir_fd=directory_fd)  # a planted link: remove the link itself
        import errno

        raise OSError(errno.ELOOP, "a symbolic link keeps reappearing", path)
    finally:
        os.close(directory_fd)


def _is_current(fd: int, path: str) -> bool:
    """Whether *fd* is still the file at *path* (cleanup may unlink a free lock file)."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    there = os.fstat(fd)
    return here.st_ino == there.st_ino and here.st_dev == there.st_dev


def _locked(path: str, take: "Callable[[int], bool]") -> int | None:
    """Open *path* and ``take(fd)``; retry while the locked file is no longer the one at *path*."""
    while True:
        fd = _open(path)
        try:
            if not take(fd):
                os.close(fd)
                return None
            if sys.platform == "win32" or _is_current(fd, path):  # pragma: no branch
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _could_create(directory: str) -> bool:
    """Whether this user could create a file in *directory* (or create *directory* itself)."""
    if os.path.isdir(directory):
        return os.access(directory, os.W_OK | os.X_OK)
    return os.access(os.path.dirname(directory), os.W_OK | os.X_OK)


#: A wait for a lock that lasts longer than this is reported (``on_wait`` of the lock functions).
WAIT_NOTICE_SECONDS = 1.0


def hold_shared(path: str, inheritable: bool = True, on_wait: "Callable[[str], None] | None" = None) -> int | None:
    """Take a shared lock on *path* (waiting for an exclusive holder); return the fd.

    With *inheritable*, the descriptor survives ``exec`` so the tool keeps it.
    A wait longer than :data:`WAIT_NOTICE_SECONDS` calls *on_wait* once with who holds the lock
    (:func:`ce.lockwait.describe_holders`).
    ``None`` when there is nothing to lock: on Windows, and in a lock directory
    this user cannot write (a read-only cache, which this user cannot clean either).
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return None

    def take(fd: int) -> bool:
        if on_wait is None:
            fcntl.flock(fd, fcntl.LOCK_SH)
        else:
            from ce.lockwait import flock_reporting  # only a caller that reports waits

            flock_reporting(fd, fcntl.LOCK_SH, path, on_wait, WAIT_NOTICE_SECONDS)
        return True

    try:
        fd = _locked(path, take)
    except OSError as error:
        import errno

        # A cache this user may only read: nobody here can remove the environment either.
        directory = os.path.dirname(path)
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT) and not _could_create(directory):
            return None
        raise
    assert fd is not None
    if inheritable:
        try:
            os.set_inheritable(fd, True)
        except BaseException:
            os.close(fd)
            raise
    return fd


def wait_for_gate(path: str, max_seconds: float, on_wait: "Callable[[str], None] | None" = None) -> None:
    """Wait (at most *max_seconds*) while someone holds the gate lock *path* exclusively.

    A wait longer than :data:`WAIT_NOTICE_SECONDS` calls *on_wait* once with who holds the gate.

    A process about to replace an environment holds its gate while it waits for the
    running tools to exit; new runs pause here so a busy tool cannot starve it.
    Nothing is created: without a gate file this is one failed ``open``.
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)  # a FIFO there never blocks
    except OSError:
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return  # not a gate ce made
        import time

        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= max_seconds:
                    return
                if on_wait is not None and waited >= WAIT_NOTICE_SECONDS:
                    from ce.lockwait import describe_holders  # only when a wait is reported

                    on_wait(describe_holders(fd, path))
                    on_wait = None
                time.sleep(0.05)
    finally:
        os.close(fd)


def _lock_exclusive(fd: int, wait: bool) -> bool:
    if sys.platform != "win32":
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows
    import time

    while True:  # pragma: no cover - Windows
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            if not wait:
                return False
            time.sleep(0.05)


def try_exclusive(path: str) -> int | None:
    """Take the exclusive lock on *path* if nobody holds it; return the fd or ``None``."""
    return _locked(path, lambda fd: _lock_exclusive(fd, wait=False))


def hold_exclusive(path: str, on_wait: "Callable[[str], None] | None" = None) -> int:
    """Take the exclusive lock on *path*, waiting for every holder to let go.

    A wait longer than :data:`WAIT_NOTICE_SECONDS` calls *on_wait* once with who holds the lock.
    """
    if on_wait is not None and sys.platform != "win32":
        from ce.lockwait import flock_reporting  # only a caller that reports waits

        reported = on_wait

        def take(fd: int) -> bool:
            flock_reporting(fd, fcntl.LOCK_EX, path, reported, WAIT_NOTICE_SECONDS)
            return True

        fd = _locked(path, take)
        assert fd is not None
        return fd
    fd = _locked(path, lambda fd: _lock_exclusive(fd, wait=True))
    assert fd is not None
    return fd


def remove_if_free(path: str) -> bool:
    """Delete the lock file *path* if nobody holds or waits on it; return whether it was removed.

    Holders that opened the file before it was unlinked notice (see :func:`_is_current`) and retry.
    """
    fd = try_exclusive(path)
    if fd is None:
        return False
    try:
        os.unlink(path)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def release(fd: int | None) -> None:
    """Release a lock taken by this module (closing the descriptor releases it)."""
    if fd is not None:
        os.close(fd)


def lock_descriptor(fd: int, wait: bool = True, on_wait: "Callable[[str], None] | None" = None, path: str = "") -> bool:
    """Take the exclusive lock on the open file *fd* (a file the caller opened itself, at *path*).

    Returns whether it was taken (always ``True`` with *wait*); closing *fd* releases it.
    A wait longer than :data:`WAIT_NOTICE_SECONDS` calls *on_wait* once with who holds the lock.
    """
    if wait and on_wait is not None and sys.platform != "win32":
        from ce.lockwait import flock_reporting  # only a caller that reports waits

        flock_reporting(fd, fcntl.LOCK_EX, path, on_wait, WAIT_NOTICE_SECONDS)
        return True
    return _lock_exclusive(fd, wait)


# --- index entries ---------------------------------------------------------------------------

#: An index entry larger than this is not one ce wrote (and is never written).
MAX_INDEX_ENTRY_BYTES = 64 * 1024


def read_index_entry(paths: CachePaths, name: str) -> bytes | None:
    """The bytes of the index entry *name* (tool or script); ``None`` if there is no usable one.

    An entry that is not a regular file, or larger than :data:`MAX_INDEX_ENTRY_BYTES`, is none,
    and a linked ``.index``, or one another user controls (:func:`is_trusted`), is never read.
    """
    if not trusted_dir(paths.index):
        return None
    data = read_regular(os.path.join(paths.index, name), MAX_INDEX_ENTRY_BYTES)
    return data if data is not None and len(data) <= MAX_INDEX_ENTRY_BYTES else None


def write_index_entry(paths: CachePaths, name: str, data: bytes | str) -> bool:
    """Write the index entry *name* (best effort); whether it was written.

    Nothing is written when ``envs/.index`` (or ``envs/``) is a symbolic link, or a directory another user
    controls (:func:`is_trusted`): ce writes no cache file through one, nor into one.
    """
    if os.path.lexists(paths.index) and not trusted_dir(paths.index):
        return False
    if not trusted_dir(paths.envs):
        return False
    from ce.fileio import try_write_atomically  # the atomic writer: only the full path records

    return try_write_atomically(os.path.join(paths.index, name), data)


def is_env_name(name: str) -> bool:
    """Whether an entry's *name* can be an environment's: a plain name under ``envs/``, not hidden."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


# --- automatic cleanup -----------------------------------------------------------------------

DEFAULT_INTERVAL = 50
DEFAULT_AGE_DAYS = 30.0


class CleanSettings:
    """Automatic-cleanup settings read from the environment, with warnings for bad values."""

    __slots__ = ("age_days", "enabled", "interval", "warnings")

    def __init__(self, environ: "Mapping[str, str]") -> None:
        self.warnings: list[str] = []
        self.enabled = True
        raw = environ.get("CONDA_EXEC_AUTO_CLEAN")
        if raw is not None and raw.strip():
            word = raw.strip().lower()
            if word in ("0", "false", "no", "off"):
                self.enabled = False
            elif word not in ("1", "true", "yes", "on"):
                expected = "1/0, true/false, yes/no or on/off"
                self.warnings.append(f"ignoring CONDA_EXEC_AUTO_CLEAN={raw!r}: expected {expected}; using 1")
        self.interval = int(self._number(environ, "CONDA_EXEC_CLEAN_INTERVAL", DEFAULT_INTERVAL, integer=True))
        # an age of 0 is "every environment not in use" (conda-exec accepts it too); an interval must be positive
        self.age_days = self._number(environ, "CONDA_EXEC_CLEAN_AGE", DEFAULT_AGE_DAYS, integer=False)

    def _number(self, environ: "Mapping[str, str]", name: str, default: float, integer: bool) -> float:
        raw = environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = -1
        low_ok = value > 0 if integer else value >= 0
        if not low_ok or not value < float("inf"):  # also refuses NaN
            expected = "a positive number" if integer else "a number >= 0"
            self.warnings.append(f"ignoring {name}={raw!r}: expected {expected}; using {default:g}")
            return default
        return value


#: The counter restarts at any size beyond this, whatever put it there.
MAX_COUNT_BYTES = 1 << 20


def bump_run_count(paths: CachePaths, interval: int) -> bool:
    """Count this run; return True (and restart the count) when cleanup is due.

    The count is the length of ``run-count`` (:func:`tally`): each run
    appends one byte, so concurrent runs lose no count and exactly one of them
    comes due, and a warm run pays for no file creation or rename (a rename on
    ext4 alone took ~0.35 ms here).  Best effort: a cache this user cannot
    write is not counted.
    """
    return tally(paths.run_count, interval, MAX_COUNT_BYTES) is True


# --- finding a command and starting it -------------------------------------------------------


WINDOWS = sys.platform == "win32"


def executable_dirs(prefix: str, windows: bool = WINDOWS) -> list[str]:
    """The directories of *prefix* that hold commands, in lookup order."""
    if windows:
        parts = (
            ("Library", "mingw-w64", "bin"),
            ("Library", "usr", "bin"),
            ("Library", "bin"),
            ("Scripts",),
            ("bin",),
            (),
        )
        return [os.path.join(prefix, *part) for part in parts]
    return [os.path.join(prefix, "bin")]


def _windows_suffixes(environ: "Mapping[str, str]") -> list[str]:
    pathext = environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD")
    return [""] + [ext.lower() for ext in pathext.split(";") if ext]


def find_command(prefix: str, command: str, environ: "Mapping[str, str] | None" = None) -> str | None:
    """Path of *command* in *prefix*'s executable directories, or ``None``."""
    env = os.environ if environ is None else environ
    suffixes = _windows_suffixes(env) if WINDOWS else [""]
    for directory in executable_dirs(prefix):
        for suffix in suffixes:
            candidate = os.path.join(directory, command + suffix)
            if os.path.isfile(candidate):
                return candidate
    return None


def list_commands(prefix: str) -> list[str]:
    """Every executable file name in *prefix*'s executable directories, sorted."""
    names: set[str] = set()
    for directory in executable_dirs(prefix):
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_file() and (WINDOWS or os.access(entry.path, os.X_OK)):
                    names.add(entry.name)
    return sorted(names)


def command_not_found(prefix: str, command: str) -> "ToolNotFoundError":
    """The 127 error, listing what the environment does provide."""
    from ce.errors import ToolNotFoundError
    from ce.text import shown as escaped  # only on a miss: a hit never imports it

    available = [escaped(name) for name in list_commands(prefix)]  # file names a package chose
    shown = ", ".join(available[:40]) + (f" (and {len(available) - 40} more)" if len(available) > 40 else "")
    hint = f"it provides: {shown}" if available else "it provides no commands"
    return ToolNotFoundError(
        f"command {command!r} not found in the environment ({hint}); use --from PACKAGE if another package provides it"
    )


def path_environ(prefix: str, environ: "Mapping[str, str]") -> dict[str, str]:
    """*environ* with *prefix*'s executable directories in front of PATH."""
    env = dict(environ)
    dirs = executable_dirs(prefix)
    current = env.get("PATH", "")
    env["PATH"] = os.pathsep.join(dirs + ([current] if current else []))
    return env


def resolve_command(prefix: str, command: str, environ: "Mapping[str, str]") -> str:
    """Path of *command*, or the 127/126 error that explains why it cannot run."""
    executable = find_command(prefix, command, environ)
    if executable is None:
        raise command_not_found(prefix, command)
    if not WINDOWS and not os.access(executable, os.X_OK):
        from ce.errors import ToolNotExecutableError

        raise ToolNotExecutableError(f"{executable} is in the environment but is not executable")
    return executable


def script_argument(path: str) -> str:
    """*path* as a script's argument to its interpreter: never something the interpreter parses as an option.

    A script may be called ``-c...``, ``-m`` or ``+O``: ``python -cprint(1)`` would run the name
    as code and ``bash -x.sh`` take it for options, so a relative path that starts with ``-`` or
    ``+`` is given as ``./-x`` (also the script's ``sys.argv[0]`` or ``$0``, as a shell shows it).
    Every other path, absolute ones included, is passed unchanged.  String checks only (the warm path).
    """
    if path.startswith(("-", "+")):
        return os.curdir + os.sep + path
    return path


class LaunchPlan:
    """The exact process to start: executable path, full argv, environment, cwd."""

    __slots__ = ("argv", "cwd", "env", "executable")

    def __init__(
        self, executable: str, argv: "Sequence[str]", env: "Mapping[str, str]", cwd: str | None = None
    ) -> None:
        self.executable = executable
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd

    def __repr__(self) -> str:
        return f"LaunchPlan({self.executable!r}, argv={self.argv!r})"


def exit_status(returncode: int) -> int:
    """A child's return code as a shell reports it: 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def launch(plan: "LaunchPlan") -> int:
    """Start *plan*: never returns on POSIX; returns the exit status on Windows."""
    if plan.cwd is not None:
        os.chdir(plan.cwd)
    if sys.platform == "win32":  # pragma: no cover - Windows
        import subprocess

        from ce.errors import ToolNotExecutableError

        try:
            return exit_status(subprocess.call([plan.executable, *plan.argv[1:]], env=plan.env))
        except OSError as error:
            raise ToolNotExecutableError(f"cannot run {plan.executable}: {error.strerror}") from error
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(plan.executable, plan.argv, plan.env)
    except OSError as error:
        import errno

        from ce.errors import ToolNotExecutableError, ToolNotFoundError

        if error.errno == errno.ENOENT and not os.path.exists(plan.executable):
            raise ToolNotFoundError(f"{plan.executable}: no such file") from error
        reason = error.strerror or str(error)
        if error.errno == errno.ENOENT:
            reason = "its interpreter (#! line) does not exist"
        raise ToolNotExecutableError(f"cannot execute {plan.executable}: {reason}") from error
    raise AssertionError("unreachable")  # pragma: no cover
