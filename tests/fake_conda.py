"""A tiny fake of conda's plugin surface, for machines without conda.

Mirrors conda 26.7.1 (tag 26.7.1, commit 0bf82da) and conda's main branch
(commit 0f64223, to be 26.9) name for name and module for module, for what ce
touches; each name below is where conda defines or exports it:

- ``conda/__init__.py``: ``__version__``; ``CONDA_ROOT`` set to ``sys.prefix``
  on import when unset; ``CondaError`` (``return_code``, ``reportable``,
  ``repr`` ``"<Name>: <message>"``, and since 26.7 ``%``-formatting only when
  keyword arguments are given).
- ``conda/exceptions.py``: ``CondaError`` (re-exported), ``CondaValueError``,
  ``PluginError``, ``print_conda_exception`` (``"\\n<repr>\\n"`` on stderr).
- ``conda/plugins/manager.py``: ``CondaPluginManager`` with conda's
  ``load_entrypoints`` (every distribution's ``conda`` entry points, each
  registered under its module's name; one that fails to import is skipped),
  ``get_hook_results`` (a ``PluginError`` "Conflicting plugins found for
  `subcommands`" when two plugins register one name, as conda raises on every
  command that builds its parser) and ``get_subcommands``.
- ``conda/plugins/__init__.py``: only ``hookimpl`` (``__all__``); the
  ``CondaSubcommand`` re-export is deprecated in 26.3 and gone on main.
- ``conda/plugins/hookspec.py``: ``hookimpl``, ``CondaSpecs.conda_subcommands``
  (``spec_name`` is deprecated in 26.7 and gone on main: not here).
- ``conda/plugins/types.py``: ``CondaPlugin`` (name lowercased and stripped),
  ``CondaSubcommand`` with a keyword-only constructor (``name``, ``summary``,
  ``action``, ``configure_parser=None``, ``aliases=()``).
- optionally ``conda/base/constants.py`` (``APP_NAME``, ``DEFAULT_CHANNELS``,
  ``SEARCH_PATH``) and ``conda/base/context.py`` (``context`` with
  ``solver``, ``subdir``, ``offline``, ``quiet``, ``_argparse_args`` and a
  ``plugin_manager`` whose ``get_solver_backend`` and
  ``get_cached_solver_backend`` raise ``CondaValueError``, as conda does for
  a solver it does not know: no solver is registered here; ``reset_context``).

- optionally (``prefix_data``) ``conda/core/prefix_data.py`` (``PrefixData``:
  ``load``, ``iter_records``, ``get``) and ``conda/history.py`` (``History``:
  ``parse``, ``get_user_requests``, ``get_requested_specs_map``,
  ``construct_states``, ``get_state``), which ``conda list``, ``conda env
  export``, ``conda install`` and ``conda remove`` run on a prefix: every
  ``conda-meta/*.json`` is read as a package record, as conda reads it (a
  file name without ``name-version-build`` raises conda's ``ValueError: not
  enough values to unpack``, a record without ``name`` its ``KeyError``, bad
  JSON ``CorruptedEnvironmentError``), and the history's requested specs are
  what conda keeps through ``conda remove`` of another package.

The solver and transaction half (``conda.models``, ``conda.core.link``,
``conda.core.envs_manager``) is ``FAKE_SOLVER_API`` in tests/test_conda_solver.py;
``PACKAGE_CACHE_API`` below puts conda's package cache under its transaction
(``conda/core/package_cache_data.py``, ``conda/core/path_actions.py``,
``conda/core/link.py``), written over ``FAKE_SOLVER_API``'s ``link.py``.

``python -m conda ARGS`` dispatches like conda (``conda/cli/main.py``) for a
plugin subcommand without ``configure_parser``: it loads every
distribution's ``conda`` entry points as ``get_plugin_manager`` does (a
conflict is conda's ``PluginError``, printed, exit status 1), hands the arguments after the subcommand name to its
action as a tuple, exits with the action's integer result, and prints a
``CondaError`` as ``\\n<Name>: <message>\\n`` on stderr with its return code.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

FAKE_DEFAULT_CHANNELS = ("https://example.invalid/pkgs/main", "https://example.invalid/pkgs/r")

_CORE = {
    "conda/__init__.py": """
        import os
        import sys

        __version__ = "0.0.0+fake"

        if os.getenv("CONDA_ROOT") is None:
            os.environ["CONDA_ROOT"] = sys.prefix


        class CondaError(Exception):
            return_code = 1
            reportable = False

            def __init__(self, message, caused_by=None, *, guidance=None, **kwargs):
                self.message = message or ""
                self._kwargs = kwargs
                self._caused_by = caused_by
                super().__init__(message)

            def __repr__(self):
                return f"{self.__class__.__name__}: {self}"

            def __str__(self):
                if not self._kwargs:
                    return str(self.message)
                return str(self.message) % self._kwargs
    """,
    "conda/exceptions.py": """
        import sys

        from . import CondaError


        class CondaValueError(CondaError, ValueError):
            pass


        class CorruptedEnvironmentError(CondaError):
            def __init__(self, environment_location, corrupted_file, **kwargs):
                super().__init__(
                    "The target environment has been corrupted. Corrupted environments most commonly\\n"
                    "occur when the conda process is force-terminated while in an unlink-link\\n"
                    "transaction.\\n"
                    f"  environment location: {environment_location}\\n"
                    f"  corrupted file: {corrupted_file}\\n"
                )


        class PluginError(CondaError):
            pass


        def print_conda_exception(exc_val, exc_tb=None):
            print(f"\\n{exc_val!r}\\n", file=sys.stderr)
    """,
    "conda/plugins/__init__.py": """
        from .hookspec import hookimpl

        __all__ = ["hookimpl"]
    """,
    "conda/plugins/hookspec.py": """
        import pluggy

        _hookspec = pluggy.HookspecMarker("conda")
        hookimpl = pluggy.HookimplMarker("conda")


        class CondaSpecs:
            @_hookspec
            def conda_subcommands(self):
                \"\"\"Register external subcommands in conda.\"\"\"
    """,
    "conda/plugins/types.py": """
        from dataclasses import dataclass, field
        from typing import Callable, Optional


        @dataclass
        class CondaPlugin:
            name: str

            def __post_init__(self):
                self.name = self.name.lower().strip()


        @dataclass(init=False)
        class CondaSubcommand(CondaPlugin):
            summary: str
            action: Callable
            aliases: tuple = field(default_factory=tuple)
            configure_parser: Optional[Callable] = field(default=None)

            def __init__(self, *, name, summary, action, configure_parser=None, aliases=()):
                self.name = name
                self.summary = summary
                self.action = action
                self.configure_parser = configure_parser
                self.aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
                self.__post_init__()
    """,
    "conda/plugins/manager.py": """
        from importlib.metadata import distributions

        import pluggy

        from ..exceptions import PluginError
        from .hookspec import CondaSpecs

        #: conda-lock's plugin (a test dependency) takes most of a second to import and registers no subcommand
        _SKIPPED = {"conda-lock"}


        class CondaPluginManager(pluggy.PluginManager):
            def __init__(self, project_name="conda"):
                super().__init__(project_name)
                self._plugin_distinfo = []

            def load_entrypoints(self, group, name=None):
                count = 0
                for dist in distributions():
                    for entry_point in dist.entry_points:
                        if entry_point.group != group or (name is not None and entry_point.name != name):
                            continue
                        if entry_point.name in _SKIPPED:
                            continue
                        try:
                            plugin = entry_point.load()
                        except Exception:
                            continue
                        try:
                            registered = self.register(plugin)
                        except ValueError:
                            registered = None
                        if registered:
                            self._plugin_distinfo.append((plugin, dist))
                            count += 1
                return count

            def get_hook_results(self, name, **kwargs):
                specname = f"{self.project_name}_{name}"
                hook = getattr(self.hook, specname, None)
                if hook is None:
                    raise PluginError(f"Could not find requested `{name}` plugins")
                # each implementation called on its own (conda wraps them to the same end): to name its source
                sourced = [
                    (plugin, self._source(impl.plugin))
                    for impl in reversed(hook.get_hookimpls())
                    for plugin in impl.function(**kwargs)
                ]
                plugins = [plugin for plugin, _source in sourced]
                by_name = {}
                for plugin, source in sourced:
                    by_name.setdefault(plugin.name, []).append(source)
                conflicts = {name: sorted(group) for name, group in sorted(by_name.items()) if len(group) > 1}
                if conflicts:
                    lines = "".join(  # conda's dashlist: "\\n" + indent + "- " before each item
                        f"\\n  - {conflict!r} provided by:" + "".join(f"\\n    - {source}" for source in sources)
                        for conflict, sources in conflicts.items()
                    )
                    raise PluginError(
                        f"Conflicting plugins found for `{name}`:\\n{lines}\\n\\n"
                        f"Multiple conda plugins are registered via the `{specname}` hook. "
                        "Please make sure that you don't have any incompatible plugins installed."
                    )
                return sorted(plugins, key=lambda plugin: plugin.name)

            def _source(self, plugin):
                for registered, dist in self._plugin_distinfo:
                    if registered is plugin:
                        return f"{dist.metadata['Name']} {dist.version}"
                return self.get_name(plugin)

            def get_subcommands(self):
                return {subcommand.name: subcommand for subcommand in self.get_hook_results("subcommands")}


        def get_plugin_manager():
            plugin_manager = CondaPluginManager()
            plugin_manager.add_hookspecs(CondaSpecs)
            plugin_manager.load_entrypoints("conda")
            return plugin_manager
    """,
    "conda/__main__.py": """
        import sys

        from conda.exceptions import CondaError, print_conda_exception
        from conda.plugins.manager import get_plugin_manager


        def main(argv):
            try:
                found = get_plugin_manager().get_subcommands()  # conda does this on every command
            except CondaError as error:
                print_conda_exception(error)
                return error.return_code
            if argv == ["--list"]:
                for name, subcommand in sorted(found.items()):
                    print(name, subcommand.configure_parser is None, subcommand.summary, sep="|")
                return 0
            name, *rest = argv
            try:
                result = found[name].action(tuple(rest))
            except CondaError as error:
                print_conda_exception(error)
                return error.return_code
            return result if isinstance(result, int) else 0


        sys.exit(main(sys.argv[1:]))
    """,
}

_BASE = {
    "conda/base/__init__.py": "",
    "conda/base/constants.py": f"""
        APP_NAME = "conda"
        DEFAULT_CHANNELS = {FAKE_DEFAULT_CHANNELS!r}
        SEARCH_PATH = ("$CONDA_ROOT/.condarc", "$CONDARC")
    """,
    "conda/base/context.py": """
        from ..exceptions import CondaValueError
        from .constants import SEARCH_PATH


        class _PluginManager:
            def get_solver_backend(self, name=None):
                name = (name or context.solver).lower().strip()
                raise CondaValueError(
                    f"You have chosen a non-default solver backend ({name}) "
                    "but it was not recognized. Choose one of: "
                )

            def get_cached_solver_backend(self, name=None):
                return self.get_solver_backend(name)


        class Context:
            solver = "libmamba"
            subdir = "linux-64"
            offline = False
            quiet = False
            pkgs_dirs = ()  # conda's package caches (real conda: a tuple of paths)
            plugin_manager = _PluginManager()

            def __init__(self, search_path=None, argparse_args=None):
                self._search_path = () if search_path is None else tuple(search_path)
                self._argparse_args = argparse_args


        context = Context((), None)


        def reset_context(search_path=SEARCH_PATH, argparse_args=None):
            context.__init__(search_path, argparse_args)
            return context
    """,
}


_PREFIX_DATA = {
    "conda/core/__init__.py": "",
    "conda/core/prefix_data.py": """
        import json
        import os
        from os.path import basename
        from pathlib import Path

        from ..exceptions import CorruptedEnvironmentError

        # conda's default channel_alias: a channel under it is named by its name (Channel.canonical_name)
        _ALIAS = "https://conda.anaconda.org/"


        class PrefixRecord:
            \"\"\"conda's PrefixRecord, for the fields and ``dist_str`` the history and ``conda list`` use.\"\"\"

            def __init__(self, **data):
                self.__dict__.update(data)

            def dist_str(self):
                channel = str(getattr(self, "channel", "") or "").rstrip("/")
                subdir = str(getattr(self, "subdir", "") or "")
                if subdir and channel.endswith("/" + subdir):
                    channel = channel[: -len(subdir) - 1]
                if channel.startswith(_ALIAS):
                    channel = channel[len(_ALIAS):]
                return f"{channel}{'/' + subdir if subdir else ''}::{self.name}-{self.version}-{self.build}"


        class PrefixData:
            def __init__(self, prefix_path, interoperability=None):
                self.prefix_path = Path(prefix_path)
                self.__prefix_records = None

            def load(self):
                self.__prefix_records = {}
                meta = self.prefix_path / "conda-meta"
                if os.path.lexists(meta):
                    for entry in os.scandir(meta):
                        if entry.name.endswith(".json") and not entry.name.startswith("._"):
                            self._load_single_record(entry.path)

            def _load_single_record(self, prefix_record_json_path):
                try:
                    data = json.loads(Path(prefix_record_json_path).read_bytes())
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise CorruptedEnvironmentError(self.prefix_path, prefix_record_json_path)
                # conda: "ValueError: not enough values to unpack" for a name that is not name-version-build
                name, version, build = basename(prefix_record_json_path)[:-5].rsplit("-", 2)
                if (name, version, build) != (data["name"], data["version"], data["build"]):
                    return  # conda logs "Ignoring malformed prefix record" and skips it
                self.__prefix_records[name] = PrefixRecord(**data)

            @property
            def _prefix_records(self):
                if self.__prefix_records is None:
                    self.load()
                return self.__prefix_records

            def iter_records(self):
                return iter(self._prefix_records.values())

            def get(self, package_name, default=None):
                return self._prefix_records.get(package_name, default)
    """,
    "conda/history.py": """
        import re
        from ast import literal_eval
        from os.path import isfile, join

        from .core.prefix_data import PrefixData


        def _spec_name(spec):
            # MatchSpec(spec).name, for the spec forms ce writes: [channel[/subdir]::]name[ version][[...]]
            return re.split(r"[\\s=<>!~\\[]", spec.split("::")[-1].strip(), maxsplit=1)[0]


        class History:
            com_pat = re.compile(r"#\\s*cmd:\\s*(.+)")
            spec_pat = re.compile(r"#\\s*(\\w+)\\s*specs:\\s*(.+)?")

            def __init__(self, prefix):
                self.prefix = prefix
                self.meta_dir = join(prefix, "conda-meta")
                self.path = join(self.meta_dir, "history")

            def parse(self):
                res = []
                if not isfile(self.path):
                    return res
                sep_pat = re.compile(r"==>\\s*(.+?)\\s*<==")
                with open(self.path, encoding="utf-8") as f:
                    lines = f.read().splitlines()
                for line in lines:
                    line = line.strip()
                    if not line:
                        continue
                    m = sep_pat.match(line)
                    if m:
                        res.append((m.group(1), set(), []))
                    elif line.startswith("#") and res:
                        res[-1][2].append(line)
                    elif res:
                        res[-1][1].add(line)
                return res

            def get_user_requests(self):
                res = []
                for dt, cont, comments in self.parse():
                    item = {"date": dt}
                    for line in comments:
                        m = self.com_pat.match(line)
                        if m:
                            item["cmd"] = m.group(1).split()
                        m = self.spec_pat.match(line)
                        if m:
                            action, specs_string = m.groups()
                            specs = literal_eval(specs_string or "[]")  # conda's format since 4.5: a list
                            specs = [spec for spec in specs if spec and not spec.endswith("@")]
                            item["action"] = action
                            if specs and action in ("update", "install", "create"):
                                item["update_specs"] = item["specs"] = specs
                            elif specs and action in ("remove", "uninstall"):
                                item["remove_specs"] = item["specs"] = specs
                    if "cmd" in item:
                        res.append(item)
                    item["unlink_dists"] = tuple(s[1:] for s in cont if s.startswith("-"))
                    item["link_dists"] = tuple(s[1:] for s in cont if s.startswith("+"))
                return res

            def get_requested_specs_map(self):
                spec_map = {}
                for request in self.get_user_requests():
                    for spec in request.get("remove_specs", ()):
                        spec_map.pop(_spec_name(spec), None)
                    spec_map.update((_spec_name(spec), spec) for spec in request.get("update_specs", ()))
                installed = {record.name for record in PrefixData(self.prefix).iter_records()}
                return {name: spec for name, spec in spec_map.items() if name in installed}

            def construct_states(self):
                res = []
                cur = set()
                for dt, cont, _comments in self.parse():
                    if not any(s.startswith(("-", "+")) for s in cont):
                        cur = cont
                    else:
                        for s in cont:
                            if s.startswith("-"):
                                cur.discard(s[1:])
                            elif s.startswith("+"):
                                cur.add(s[1:])
                    res.append((dt, cur.copy()))
                return res

            def get_state(self, rev=-1):
                states = self.construct_states()
                return states[rev][1] if states else set()
    """,
}


#: conda's package cache as its transaction fills and reads it (26.7.1 and main alike):
#:
#: - ``conda/core/package_cache_data.py``: ``PackageCacheData`` (one instance per directory,
#:   ``first_writable`` creating the directory with its magic file ``urls.txt`` and an empty
#:   ``urls``; ``load`` reads each extracted entry's ``info/repodata_record.json``; ``query``
#:   matches a record by ``_pkey``: channel, subdir, name, version, build number, build;
#:   ``get_entry_to_link``), ``UrlsData`` (``urls.txt``: appended, newest last; ``get_url`` the
#:   newest line whose last part is the file name), ``PackageCacheData.clear`` (forgets every
#:   instance: the next one reads its directory again) and ``ProgressiveFetchExtract``
#:   (``make_actions_for_record``: an extracted entry that matches the record, whose size and md5
#:   agree when both are known and which has a ``url``, is reused as it is; otherwise the
#:   archive is cached from the record's ``url`` into the first writable cache and extracted).
#: - ``conda/core/path_actions.py``: ``CacheUrlAction`` (a ``file://`` archive is copied under
#:   its file name and a URL appended to ``urls.txt``: from another package cache, the URL that
#:   cache recorded; from anywhere else, the URL given, unless another cache holds the same file
#:   name and md5; http(s) would download, which the fake refuses) and ``ExtractPackageAction``
#:   (writes ``info/repodata_record.json``: the record's fields over ``info/index.json``,
#:   ``json.dump`` without a trailing newline).
#: - ``conda/core/link.py``: ``UnlinkLinkTransaction.download_and_extract`` runs those actions;
#:   ``execute`` writes each ``conda-meta/<name>-<version>-<build>.json`` from the package cache
#:   entry it links (its ``url`` is the entry's: what ``conda list --explicit`` prints).
#:
#: Not faked: extracting the archive itself (the entry gets an ``info/index.json`` made from
#: the record's fields), tarballs found in a cache without their extracted entry, read-only caches.
PACKAGE_CACHE_API = {
    "conda/core/package_cache_data.py": """
        import json
        import os
        from os.path import basename, isdir, isfile, islink, join
        from urllib.parse import unquote, urlsplit

        from conda.base.context import context

        PACKAGE_CACHE_MAGIC_FILE = "urls.txt"


        def strip_pkg_extension(path):
            for extension in (".conda", ".tar.bz2"):
                if path.endswith(extension):
                    return path[: -len(extension)], extension
            return path, None


        def url_to_path(url):
            return unquote(urlsplit(url).path)


        def _pkey(record):
            channel = getattr(record, "channel", None)
            channel = getattr(channel, "base_url", channel)
            return (channel, record.subdir, record.name, record.version, record.build_number, record.build)


        class PackageCacheRecord:
            def __init__(self, fields, package_tarball_full_path, extracted_package_dir):
                self.__dict__.update(fields)
                self.package_tarball_full_path = package_tarball_full_path
                self.extracted_package_dir = extracted_package_dir

            def get(self, name, default=None):
                return self.__dict__.get(name, default)

            @property
            def is_extracted(self):
                entry = self.extracted_package_dir
                return isdir(entry) and isfile(join(entry, "info", "index.json"))


        class UrlsData:
            def __init__(self, pkgs_dir):
                self.urls_txt_path = join(pkgs_dir, "urls.txt")
                self._urls_data = []
                if isfile(self.urls_txt_path):
                    with open(self.urls_txt_path, "rb") as fh:
                        self._urls_data = [line.strip().decode("utf-8") for line in fh]
                    self._urls_data.reverse()

            def add_url(self, url):
                with open(self.urls_txt_path, mode="a", encoding="utf-8") as fh:
                    fh.write(url + "\\n")
                self._urls_data.insert(0, url)

            def get_url(self, package_path):
                package_path = basename(package_path)
                if strip_pkg_extension(package_path)[1] is None:
                    package_path += ".tar.bz2"
                return next((url for url in self._urls_data if basename(url) == package_path), None)


        class PackageCacheData:
            _cache_ = {}

            def __new__(cls, pkgs_dir):
                if pkgs_dir not in cls._cache_:
                    cache = cls._cache_[pkgs_dir] = super().__new__(cls)
                    cache.pkgs_dir = pkgs_dir
                    cache._records = None
                    cache._urls_data = UrlsData(pkgs_dir)
                return cls._cache_[pkgs_dir]

            def load(self):
                self._records = {}
                if not isdir(self.pkgs_dir):
                    return
                for name in sorted(os.listdir(self.pkgs_dir)):
                    entry = join(self.pkgs_dir, name)
                    if islink(entry) or not isfile(join(entry, "info", "index.json")):
                        continue
                    try:
                        with open(join(entry, "info", "repodata_record.json"), encoding="utf-8") as fh:
                            fields = json.load(fh)
                    except (OSError, ValueError):
                        continue
                    record = PackageCacheRecord(fields, join(self.pkgs_dir, fields.get("fn", name)), entry)
                    self._records[_pkey(record)] = record

            def insert(self, record):
                self.query(record)  # loaded
                self._records[_pkey(record)] = record

            def query(self, package_ref):
                if self._records is None:
                    self.load()
                found = self._records.get(_pkey(package_ref))
                return iter(() if found is None else (found,))

            @classmethod
            def first_writable(cls, pkgs_dirs=None):
                pkgs_dir = (context.pkgs_dirs if pkgs_dirs is None else pkgs_dirs)[0]
                if not isfile(join(pkgs_dir, PACKAGE_CACHE_MAGIC_FILE)):
                    os.makedirs(pkgs_dir, exist_ok=True)
                    open(join(pkgs_dir, PACKAGE_CACHE_MAGIC_FILE), "a").close()
                    open(join(pkgs_dir, "urls"), "a").close()
                return cls(pkgs_dir)

            @classmethod
            def tarball_file_in_cache(cls, tarball_path, md5sum, exclude_caches=()):
                for pkgs_dir in context.pkgs_dirs:
                    if pkgs_dir in exclude_caches:
                        continue
                    cache = cls(pkgs_dir)
                    if cache._records is None:
                        cache.load()
                    for record in cache._records.values():
                        same_name = basename(record.package_tarball_full_path) == basename(tarball_path)
                        if same_name and record.get("md5") == md5sum:
                            return record
                return None

            @classmethod
            def clear(cls):
                cls._cache_.clear()

            @classmethod
            def get_entry_to_link(cls, package_ref):
                for pkgs_dir in context.pkgs_dirs:
                    for record in cls(pkgs_dir).query(package_ref):
                        if record.is_extracted:
                            return record
                raise LookupError(f"No package '{package_ref.name}' found in cache directories.")


        class ProgressiveFetchExtract:
            @staticmethod
            def make_actions_for_record(prec):
                from conda.core.path_actions import CacheUrlAction, ExtractPackageAction

                size, md5 = getattr(prec, "size", None), getattr(prec, "md5", None)

                def pcrec_matches(pcrec):
                    matches = True
                    if size is not None and pcrec.get("size") is not None:
                        matches = pcrec.size == size
                    if matches and md5 is not None and pcrec.get("md5") is not None:
                        matches = pcrec.md5 == md5
                    return matches

                extracted = next(
                    (pcrec for pkgs_dir in context.pkgs_dirs for pcrec in PackageCacheData(pkgs_dir).query(prec)
                     if pcrec.is_extracted),
                    None,
                )
                if extracted and pcrec_matches(extracted) and extracted.get("url"):
                    return None, None
                first_writable_cache = PackageCacheData.first_writable()
                url = prec.url
                target_package_basename = basename(url.split("#")[0]) or prec.fn
                cache_action = CacheUrlAction(
                    url=url,
                    target_pkgs_dir=first_writable_cache.pkgs_dir,
                    target_package_basename=target_package_basename,
                    sha256=getattr(prec, "sha256", None),
                    size=size,
                    md5=md5,
                )
                extract_action = ExtractPackageAction(
                    source_full_path=cache_action.target_full_path,
                    target_pkgs_dir=first_writable_cache.pkgs_dir,
                    target_extracted_dirname=strip_pkg_extension(target_package_basename)[0],
                    record_or_spec=prec,
                )
                return cache_action, extract_action

            def __init__(self, link_prefs):
                self.link_precs = tuple(link_prefs)

            def execute(self):
                for prec in self.link_precs:
                    cache_action, extract_action = self.make_actions_for_record(prec)
                    if cache_action is not None:
                        cache_action.execute()
                    if extract_action is not None:
                        extract_action.execute()
    """,
    "conda/core/path_actions.py": """
        import hashlib
        import json
        import os
        import shutil
        from os.path import dirname, join, lexists

        from conda.base.context import context


        def _md5(path):
            with open(path, "rb") as fh:
                return hashlib.md5(fh.read()).hexdigest()


        class CacheUrlAction:
            def __init__(self, url, target_pkgs_dir, target_package_basename, sha256=None, size=None, md5=None):
                self.url, self.target_pkgs_dir = url, target_pkgs_dir
                self.target_package_basename = target_package_basename
                self.sha256, self.size, self.md5 = sha256, size, md5

            @property
            def target_full_path(self):
                return join(self.target_pkgs_dir, self.target_package_basename)

            def execute(self):
                from conda.core.package_cache_data import PackageCacheData, url_to_path

                target_package_cache = PackageCacheData(self.target_pkgs_dir)
                if not self.url.startswith("file:/"):
                    raise OSError(f"the fake conda downloads nothing: {self.url}")
                source_path = url_to_path(self.url)
                if lexists(self.target_full_path):
                    os.unlink(self.target_full_path)
                if dirname(source_path) in context.pkgs_dirs:
                    shutil.copyfile(source_path, self.target_full_path)
                    origin_url = PackageCacheData(dirname(source_path))._urls_data.get_url(self.target_package_basename)
                else:
                    pc_entry = PackageCacheData.tarball_file_in_cache(
                        source_path, _md5(source_path), exclude_caches=(self.target_pkgs_dir,)
                    )
                    origin_url = None
                    if pc_entry:
                        origin_url = target_package_cache._urls_data.get_url(pc_entry.extracted_package_dir)
                    shutil.copyfile(source_path, self.target_full_path)
                target_package_cache._urls_data.add_url(origin_url or self.url)


        class ExtractPackageAction:
            def __init__(self, source_full_path, target_pkgs_dir, target_extracted_dirname, record_or_spec):
                self.source_full_path, self.target_pkgs_dir = source_full_path, target_pkgs_dir
                self.target_extracted_dirname, self.record_or_spec = target_extracted_dirname, record_or_spec

            @property
            def target_full_path(self):
                return join(self.target_pkgs_dir, self.target_extracted_dirname)

            def execute(self):
                from conda.core.package_cache_data import PackageCacheData, PackageCacheRecord

                if lexists(self.target_full_path):
                    shutil.rmtree(self.target_full_path)
                info = join(self.target_full_path, "info")
                os.makedirs(info)
                record = self.record_or_spec
                index = {key: getattr(record, key) for key in ("name", "version", "build", "build_number", "subdir")}
                with open(join(info, "index.json"), "w", encoding="utf-8") as fo:
                    json.dump(index, fo)
                fields = dict(index)
                for key in ("fn", "md5", "url", "sha256", "depends", "constrains", "license", "timestamp", "size"):
                    if getattr(record, key, None) is not None:
                        fields[key] = getattr(record, key)
                fields["channel"] = record.channel.base_url
                for key in ("depends", "constrains"):
                    fields[key] = list(fields.get(key, ()))
                with open(join(info, "repodata_record.json"), "w", encoding="utf-8") as fo:
                    json.dump(fields, fo, indent=2)
                pcrec = PackageCacheRecord(fields, self.source_full_path, self.target_full_path)
                PackageCacheData(self.target_pkgs_dir).insert(pcrec)
    """,
    "conda/core/link.py": """
        import json
        import os
        from collections import namedtuple

        from conda.core.envs_manager import get_user_environments_txt_file
        from conda.core.package_cache_data import PackageCacheData, ProgressiveFetchExtract

        PrefixSetup = namedtuple(
            "PrefixSetup", "target_prefix unlink_precs link_precs remove_specs update_specs neutered_specs"
        )


        class UnlinkLinkTransaction:
            def __init__(self, *setups):
                (self.setup,) = setups

            def download_and_extract(self):
                print("Downloading and Extracting Packages")
                ProgressiveFetchExtract(self.setup.link_precs).execute()

            def execute(self):
                prefix = self.setup.target_prefix
                os.makedirs(os.path.join(prefix, "bin"))
                os.makedirs(os.path.join(prefix, "conda-meta"))
                for prec in self.setup.link_precs:
                    pcrec = PackageCacheData.get_entry_to_link(prec)
                    fields = {k: v for k, v in vars(pcrec).items() if k not in ("package_tarball_full_path",)}
                    fields["url"] = pcrec.url
                    meta = os.path.join(prefix, "conda-meta", f"{prec.name}-{prec.version}-{prec.build}.json")
                    with open(meta, "w", encoding="utf-8") as fo:
                        json.dump(fields, fo, indent=2)
                with open(os.path.join(prefix, "bin", "tool"), "w") as handle:
                    handle.write(f"#!{prefix}/bin/python\\n" + "".join(r.name + "\\n" for r in self.setup.link_precs))
                os.makedirs(os.path.dirname(get_user_environments_txt_file()), exist_ok=True)
                with open(get_user_environments_txt_file(), "a") as handle:
                    handle.write(prefix + "\\n")
    """,
}


def write_fake_conda(root: Path, base: bool = False, prefix_data: bool = False) -> Path:
    """Write the fake ``conda`` package under *root* (with ``conda.base`` when *base*, and conda's
    prefix reading, ``conda.core.prefix_data`` and ``conda.history``, when *prefix_data*); return *root*."""
    files = {**_CORE, **(_BASE if base else {}), **(_PREFIX_DATA if prefix_data else {})}
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def environ_with(root: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """*environ* (default: this process's) with the fake conda importable by child processes."""
    env = dict(os.environ if environ is None else environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    return env


def forget_conda_modules() -> None:
    """Drop every ``conda`` module (and ce's plugin module) imported in this process."""
    for name in list(sys.modules):
        if name == "conda" or name.startswith("conda.") or name == "ce.conda_plugin":
            del sys.modules[name]
