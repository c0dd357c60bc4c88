"""The ``activate`` runner (``--activate``): start the tool in a fully activated environment.

What ``conda activate --stack`` would give the tool, without a shell in
between on a warm run:

- ``CONDA_PREFIX``, ``CONDA_DEFAULT_ENV``, ``CONDA_PROMPT_MODIFIER``,
  ``CONDA_SHLVL`` (one more than the caller's, whose environment is kept as
  ``CONDA_PREFIX_<n>``) and the environment's executable directories in
  front of ``PATH``;
- the variables packages declare in ``etc/conda/env_vars.d/*.json``, then
  the environment's own ``conda-meta/state`` variables (``***unset***``
  unsets, as in conda);
- the effect of every ``etc/conda/activate.d/*.sh`` script, sourced in name
  order by ``bash`` the way conda's and pixi's activation do.

The scripts' effect (the variables they set or unset) is captured once and
cached in ``<prefix>/.ce-activation`` (never in ``conda-meta``, which is conda's), keyed by the scripts' names,
sizes and mtimes and by the values of every variable the scripts refer to
(``$NAME``/``${NAME}``); while those stay the same, an activated run starts no
shell.  Hand-written rather than ``rattler.shell.activate``: importing rattler
costs ~40 ms, and its script neither stacks ``CONDA_SHLVL`` nor sets
``CONDA_DEFAULT_ENV`` (and repeats ``PATH``).  Windows ``.bat`` activation
scripts are not run.
"""

from __future__ import annotations

import os
import sys

from ce.base import ACTIVATION_CACHE_FILENAME, LaunchPlan, path_environ, read_regular, resolve_command
from ce.errors import InstallError
from ce.fileio import try_write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

CACHE_FILE = ACTIVATION_CACHE_FILENAME
CACHE_FORMAT = "ce-activation:1"
#: An activation cache larger than this is not one ce wrote.
MAX_CACHE_BYTES = 4 * 1024 * 1024
UNSET_MARKER = "***unset***"
#: Variables a shell sets for itself; never part of a script's effect.
SHELL_OWN = frozenset({"_", "SHLVL", "PWD", "OLDPWD"})
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


def _read_json(path: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise InstallError(f"cannot read {path}: {error}") from error
    import json  # only environments that declare variables pay for it

    try:
        return json.loads(text)
    except ValueError as error:
        raise InstallError(f"cannot read {path}: {error}") from error


def declared_variables(prefix: str) -> dict[str, str | None]:
    """Variables from ``etc/conda/env_vars.d/*.json`` then ``conda-meta/state`` (``None``: unset)."""
    declared: dict[str, str | None] = {}
    sources: list[tuple[str, object]] = []
    env_vars_dir = os.path.join(prefix, "etc", "conda", "env_vars.d")
    if os.path.isdir(env_vars_dir):
        for name in sorted(os.listdir(env_vars_dir)):
            if name.endswith(".json"):
                path = os.path.join(env_vars_dir, name)
                sources.append((path, _read_json(path)))
    state_path = os.path.join(prefix, "conda-meta", "state")
    state = _read_json(state_path)
    if state is not None:
        sources.append((state_path, state.get("env_vars", {}) if isinstance(state, dict) else state))
    for path, data in sources:
        if not isinstance(data, dict):
            raise InstallError(f"cannot read {path}: expected a mapping of variable names to values")
        for name, value in data.items():
            declared[str(name)] = None if value == UNSET_MARKER else str(value)
    return declared


def base_activation(prefix: str, environ: Mapping[str, str]) -> dict[str, str]:
    """*environ* activated for *prefix*, before any activate.d script runs."""
    env = path_environ(prefix, environ)
    try:
        level = max(0, int(environ.get("CONDA_SHLVL", "0") or "0"))
    except ValueError:
        level = 0
    previous = environ.get("CONDA_PREFIX")
    if previous and previous != prefix:
        env[f"CONDA_PREFIX_{level}"] = previous
    env["CONDA_SHLVL"] = str(level + 1)
    env["CONDA_PREFIX"] = prefix
    env["CONDA_DEFAULT_ENV"] = prefix
    env["CONDA_PROMPT_MODIFIER"] = f"({prefix}) "
    for name, value in declared_variables(prefix).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def activate_scripts(prefix: str) -> list[tuple[str, int, int]]:
    """``(path, size, mtime_ns)`` of every ``etc/conda/activate.d/*.sh``, in name order."""
    if sys.platform == "win32":  # pragma: no cover - .bat/.ps1 scripts are not run
        return []
    directory = os.path.join(prefix, "etc", "conda", "activate.d")
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    scripts = []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".sh") and os.path.isfile(path):
            info = os.stat(path)
            scripts.append((path, info.st_size, info.st_mtime_ns))
    return scripts


def referenced_names(texts: Sequence[str]) -> list[str]:
    """Every ``$NAME`` and ``${NAME...}`` the scripts refer to, sorted."""
    names: set[str] = set()
    for text in texts:
        index = text.find("$")
        while index != -1:
            start = index + 2 if text.startswith("{", index + 1) else index + 1
            if start < len(text) and text[start] == "!":  # ${!name}: indirection
                start += 1
            end = start
            while end < len(text) and text[end] in _NAME_CHARS:
                end += 1
            if end > start and text[start] in _NAME_START:
                names.add(text[start:end])
            index = text.find("$", end if end > index else index + 1)
    return sorted(names)


def _inputs_key(names: Sequence[str], env: Mapping[str, str]) -> str:
    from ce.base import env_name_from_parts

    values = [f"{name}={env[name]}" if name in env else name for name in names]
    return env_name_from_parts("activation", {"values": values})


def _program(name: str, environ: Mapping[str, str], env: Mapping[str, str]) -> str:
    import shutil

    for path in (environ.get("PATH"), env.get("PATH")):
        found = shutil.which(name, path=path)
        if found:
            return os.path.abspath(found)
    raise InstallError(f"the activate runner needs {name} to run the environment's etc/conda/activate.d scripts")


def _bash(environ: Mapping[str, str], env: Mapping[str, str]) -> str:
    return _program("bash", environ, env)


def run_scripts(
    scripts: Sequence[str], env: Mapping[str, str], bash: str, env_program: str = "/usr/bin/env"
) -> dict[str, str]:
    """The environment after sourcing *scripts* in bash, starting from *env*.

    The scripts' own output goes to stderr; the resulting variables are written
    NUL-separated to stdout by *env_program* (``env -0``), called by its absolute path:
    a command name with a slash is never looked up as a function or an alias, so a script
    that redefines ``printf``, ``compgen`` or ``builtin``, enables aliases, or sets ``IFS``
    changes nothing in what is captured (a shell loop over the names would depend on all of them).
    Functions a script exports (``BASH_FUNC_name%%``) are bash's own encoding, not variables.
    """
    import shlex
    import subprocess

    sources = "".join(f". {shlex.quote(script)}\n" for script in scripts)
    program = f"{{\n{sources}}} 1>&2\n{shlex.quote(env_program)} -0\n"
    result = subprocess.run(
        [bash, "--noprofile", "--norc", "-c", program], env=dict(env), stdout=subprocess.PIPE, check=False
    )
    if result.returncode != 0 or not result.stdout:
        names = ", ".join(os.path.basename(script) for script in scripts)
        raise InstallError(
            f"activating the environment failed: its activate.d scripts ({names}) exited with status "
            f"{result.returncode}"
        )
    captured: dict[str, str] = {}
    for entry in result.stdout.split(b"\0"):
        raw_name, equals, value = entry.partition(b"=")
        name = os.fsdecode(raw_name)
        if not equals or (name.startswith("BASH_FUNC_") and name.endswith("%%") and name not in env):
            continue
        captured[name] = os.fsdecode(value)
    return captured


def script_changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str | None]:
    """What the scripts changed: a new value, or ``None`` for a variable they unset."""
    changes: dict[str, str | None] = {}
    for name in set(before) | set(after):
        if name in SHELL_OWN or name.startswith("__ce_"):
            continue
        if name not in after:
            changes[name] = None
        elif before.get(name) != after[name]:
            changes[name] = after[name]
    return changes


def encode_cache(
    scripts: list[tuple[str, int, int]], names: list[str], inputs: str, changes: dict[str, str | None]
) -> str:
    """The activation cache: NUL-separated fields (no variable, name or path can hold a NUL)."""
    fields = [CACHE_FORMAT, inputs, str(len(scripts))]
    for path, size, mtime_ns in scripts:
        fields += [path, str(size), str(mtime_ns)]
    fields += [str(len(names)), *names]
    for name, value in sorted(changes.items()):
        fields += [name, "-" if value is None else "+" + value]
    return "\0".join(fields)


def decode_cache(
    text: str,
) -> tuple[list[tuple[str, int, int]], list[str], str, dict[str, str | None]] | None:
    """``(scripts, names, inputs, changes)`` from :func:`encode_cache` text, or ``None``."""
    fields = text.split("\0")
    try:
        if fields[0] != CACHE_FORMAT:
            return None
        inputs, count = fields[1], int(fields[2])
        scripts = [(fields[i], int(fields[i + 1]), int(fields[i + 2])) for i in range(3, 3 + 3 * count, 3)]
        position = 3 + 3 * count
        names = fields[position + 1 : position + 1 + int(fields[position])]
        rest = fields[position + 1 + len(names) :]
    except (IndexError, ValueError):
        return None
    if len(rest) % 2:
        return None
    changes: dict[str, str | None] = {}
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if value[:1] not in ("+", "-"):
            return None
        changes[name] = value[1:] if value[:1] == "+" else None
    return scripts, names, inputs, changes


def _load_cache(path: str, scripts: list[tuple[str, int, int]], env: Mapping[str, str]) -> dict[str, str | None] | None:
    data = read_regular(path, MAX_CACHE_BYTES)  # a FIFO or a huge file there is no cache
    if data is None or len(data) > MAX_CACHE_BYTES:
        return None
    decoded = decode_cache(data.decode("utf-8", "surrogateescape"))
    if decoded is None:
        return None
    cached_scripts, names, inputs, changes = decoded
    if cached_scripts != scripts or inputs != _inputs_key(names, env):
        return None
    return changes


def _store_cache(
    path: str,
    scripts: list[tuple[str, int, int]],
    names: list[str],
    env: Mapping[str, str],
    changes: dict[str, str | None],
) -> None:
    text = encode_cache(scripts, names, _inputs_key(names, env), changes)
    # A read-only environment cannot be written: activation still works, uncached.
    try_write_atomically(path, text.encode("utf-8", "surrogateescape"))


def activated_environ(prefix: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The complete environment of a tool run from *prefix* after conda activation."""
    env = base_activation(prefix, environ)
    scripts = activate_scripts(prefix)
    if not scripts:
        return env
    cache = os.path.join(prefix, CACHE_FILE)
    changes = _load_cache(cache, scripts, env)
    if changes is None:
        texts = []
        for path, _size, _mtime in scripts:
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts.append(handle.read())
        names = referenced_names(texts)
        programs = _bash(environ, env), _program("env", environ, env)
        after = run_scripts([path for path, _size, _mtime in scripts], env, *programs)
        changes = script_changes(env, after)
        _store_cache(cache, scripts, names, env, changes)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class ActivateRunner:
    """Start the command in the fully activated environment."""

    def prepare(self, prefix: str, argv: Sequence[str], environ: Mapping[str, str]) -> LaunchPlan:
        """The process for ``argv`` (``argv[0]`` is the command) run from the activated *prefix*."""
        env = activated_environ(prefix, environ)
        executable = resolve_command(prefix, argv[0], env)
        return LaunchPlan(executable, argv, env)
