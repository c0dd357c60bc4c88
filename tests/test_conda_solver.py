"""The ``conda`` solver backend.

The pure parts (relocation, record conversion) run everywhere; the tests
marked ``conda`` need conda itself and are skipped, with the reason, where it
cannot be imported (it is on neither PyPI nor Debian; see conftest).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ce.backends.conda_solver import relocate, to_locked
from ce.platforms import current_subdir
from ce.records import SolveRequest
from conftest import run_ce


def test_relocate_rewrites_what_conda_wrote_and_nothing_else(tmp_path: Path) -> None:
    build = tmp_path / "envs" / ".build-tool--0123456789abcdef.x1y2z3"
    final = tmp_path / "envs" / "tool--0123456789abcdef"
    (build / "bin").mkdir(parents=True)
    (build / "lib").mkdir()
    (build / "conda-meta").mkdir()
    script = build / "bin" / "entry"
    script.write_text(f"#!{build}/bin/python\nprint('{build}/share')\n")
    script.chmod(0o755)
    library = build / "lib" / "libx.so"
    library.write_bytes(b"\x7fELF\0" + os.fsencode(build) + b"/lib:$ORIGIN\0tail\0")
    cached = tmp_path / "pkgs" / "data.txt"  # a file hard-linked from a package cache
    cached.parent.mkdir()
    cached.write_text(f"mentions {build}\n")
    os.link(cached, build / "lib" / "linked.txt")
    (build / "lib" / "mod.pyc").write_bytes(b"\0" + os.fsencode(build))
    (build / "conda-meta" / "history").write_text(f"# cmd: create -p {build}\n")
    os.symlink(f"{build}/bin/entry", build / "bin" / "alias")
    os.symlink("entry", build / "bin" / "relative")

    rewritten = relocate(str(build), str(final))

    assert sorted(rewritten) == ["bin/alias", "bin/entry", "lib/libx.so"]
    assert script.read_text() == f"#!{final}/bin/python\nprint('{final}/share')\n"
    assert os.access(script, os.X_OK)
    data = library.read_bytes()
    assert len(data) == len(b"\x7fELF\0" + os.fsencode(build) + b"/lib:$ORIGIN\0tail\0")
    assert data.startswith(b"\x7fELF\0" + os.fsencode(final) + b"/lib:$ORIGIN\0") and data.endswith(b"\0tail\0")
    assert cached.read_text() == f"mentions {build}\n"  # the package cache is never modified
    assert os.fsencode(build) in (build / "lib" / "mod.pyc").read_bytes()
    assert str(build) in (build / "conda-meta" / "history").read_text()
    assert os.readlink(build / "bin" / "alias") == f"{final}/bin/entry"
    assert os.readlink(build / "bin" / "relative") == "entry"


def test_conda_records_become_complete_locked_packages() -> None:
    record = SimpleNamespace(
        name="ruff",
        version="0.4.1",
        build="h1234_0",
        build_number=0,
        subdir="linux-64",
        url="https://example.invalid/chan/linux-64/ruff-0.4.1-h1234_0.conda",
        channel=SimpleNamespace(base_url="https://example.invalid/chan"),
        sha256="ab" * 32,
        md5="cd" * 16,
        depends=("__glibc >=2.17",),
        constrains=("ruff-lsp <0",),
        license="MIT",
        size=1234,
        timestamp=1_700_000_000.5,
        noarch=SimpleNamespace(value="python"),
    )
    locked = to_locked(record)
    assert (locked.name, locked.version, locked.build, locked.subdir) == ("ruff", "0.4.1", "h1234_0", "linux-64")
    assert locked.channel == "https://example.invalid/chan"
    assert (locked.sha256, locked.md5, locked.size, locked.license) == ("ab" * 32, "cd" * 16, 1234, "MIT")
    assert locked.depends == ("__glibc >=2.17",) and locked.constrains == ("ruff-lsp <0",)
    assert locked.timestamp == 1_700_000_000_500
    assert locked.noarch == "python"
    assert locked.native is record
    bare = SimpleNamespace(**{**vars(record), "noarch": None, "timestamp": 0, "constrains": None})
    assert (to_locked(bare).noarch, to_locked(bare).timestamp, to_locked(bare).constrains) == (None, None, ())


def _conda_config(tmp_path: Path, solver: str = "classic") -> dict[str, str]:
    """The environment for real conda: a condarc for the test channel (its python needs no pip),
    with this test's package cache and environments directory and *solver*."""
    condarc = tmp_path / "conda-config" / "condarc"
    condarc.parent.mkdir(parents=True, exist_ok=True)
    condarc.write_text(
        "add_pip_as_python_dependency: false\n"
        "auto_update_conda: false\n"
        "notify_outdated_conda: false\n"
        f"solver: {solver}\n"
        f"pkgs_dirs: [{tmp_path / 'conda-pkgs'}]\n"
        f"envs_dirs: [{tmp_path / 'conda-envs'}]\n"
    )
    # conda exports CONDA_ROOT when imported (this process checked that it can be): not the user's
    return {**{k: v for k, v in os.environ.items() if k != "CONDA_ROOT"}, "CONDARC": str(condarc)}


def _conda(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conda", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.mark.conda
def test_real_conda_solves_with_complete_lock_data(
    channel_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ce.backends import conda_solver

    monkeypatch.setenv("CONDARC", _conda_config(tmp_path)["CONDARC"])
    monkeypatch.setattr(conda_solver._State, "loaded", False)
    solver = conda_solver.create_conda_solver()
    request = SolveRequest(specs=("hello-tool",), channels=(channel_url,), platform=current_subdir())
    (package,) = solver.solve(request)
    assert package.name == "hello-tool" and package.url.startswith(channel_url)
    assert package.sha256 and package.md5 and package.size and package.channel
    assert package.noarch == "generic"


@pytest.mark.conda
def test_real_conda_builds_a_relocated_environment(channel_url: str, ce_home: Path, tmp_path: Path) -> None:
    env = _conda_config(tmp_path)
    local = ("--solver", "conda", "-c", channel_url, "--override-channels")
    result = run_ce(*local, "python", "-c", "import sys; print(sys.prefix)", env=env)
    assert result.returncode == 0, result.stderr
    (prefix,) = (ce_home / "envs").glob("python--*")
    assert result.stdout.strip() == str(prefix)
    build_dirs = f"{ce_home / 'envs'}/.build-"  # every build directory's path starts so
    leftovers = subprocess.run(
        ["grep", "-rlF", "--exclude-dir=conda-meta", build_dirs, str(prefix)], capture_output=True, text=True
    )
    assert leftovers.stdout == ""
    conda_exec = _conda("exec", *local[2:], "--from", "hello-tool", "hello", env=env)
    assert conda_exec.stdout == "hello from hello-tool\n", conda_exec.stderr


@pytest.mark.conda
def test_real_conda_exec_is_ce(channel_url: str, tmp_path: Path) -> None:
    env = _conda_config(tmp_path)
    usage = _conda("exec", "--help", env=env)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: conda exec "), usage.stderr
    assert "--override-channels" in usage.stdout and "Error while loading conda entry point" not in usage.stderr
    local = ("-c", channel_url, "--override-channels")
    ruff = _conda("exec", *local, "ruff", "--version", env=env)
    assert ruff.returncode == 0 and ruff.stdout.startswith("ruff "), ruff.stderr
    echo_root = ("bash", "-c", "echo ${CONDA_ROOT-unset}")
    quiet = _conda("exec", "-q", "--refresh", *local, "--with", "bash", *echo_root, env=env)
    assert (quiet.returncode, quiet.stderr) == (0, "")  # -q: nothing of conda's either
    assert quiet.stdout == "unset\n"  # conda exports CONDA_ROOT for itself; the tool does not inherit it
    missing = _conda("exec", *local, "no-such-package", env=env)
    (line,) = missing.stderr.strip().splitlines()
    assert missing.returncode == 1 and line.startswith("conda exec: error: cannot solve no-such-package: ")
    assert "no-such-package" in line.split(": ", 2)[2]


@pytest.mark.conda
def test_real_conda_scripts_locks_and_an_empty_package_cache(channel_url: str, tmp_path: Path) -> None:
    env = _conda_config(tmp_path)
    script = tmp_path / "work" / "s.py"
    script.parent.mkdir()
    script.write_text(
        "# /// script\n# dependencies = []\n# [tool.conda]\n"
        f'# channels = ["{channel_url}"]\n# dependencies = ["python", "six"]\n# ///\n'
        "import six\nprint('six', six.__version__)\n"
    )
    run = _conda("exec", str(script), env=env)
    assert (run.returncode, run.stdout) == (0, "six 1.17.0\n"), run.stderr
    pkgs = tmp_path / "conda-pkgs"
    for lock_format in ("rattler-lock-v6", "conda-lock", "explicit"):
        for lock in script.parent.glob("s.py.*"):
            lock.unlink()
        locked = _conda("exec", "--lock", "--lock-format", lock_format, str(script), env=env)
        assert (locked.returncode, locked.stdout) == (0, "six 1.17.0\n"), (lock_format, locked.stderr)
        assert len(list(script.parent.glob("s.py.*"))) == 1, lock_format
        # from an empty package cache and ce cache: conda fetches what the lock names, verified
        shutil.rmtree(pkgs, ignore_errors=True)
        shutil.rmtree(Path(env["CONDA_EXEC_HOME"]), ignore_errors=True)
        again = _conda("exec", "--locked", str(script), env=env)
        assert (again.returncode, again.stdout) == (0, "six 1.17.0\n"), (lock_format, again.stderr)
        # conda got the archives under their own names (never ce's <sha256>-<file>)
        renamed = [path.name for path in pkgs.glob("*") if len(path.name.split("-")[0]) == 64]
        assert renamed == [], renamed
    # conda's package cache holds nothing conda cannot read: a later, unrelated create works
    created = _conda("create", "-q", "-y", "-p", str(tmp_path / "plain"), "-c", channel_url, "--override-channels",
                     "ruff", env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "plain" / "bin" / "ruff").exists()


@pytest.mark.conda
@pytest.mark.parametrize("terminal", [False, True], ids=["off-terminal", "on-terminal"])
def test_ce_solver_conda_honours_the_condarc(channel_url: str, tmp_path: Path, terminal: bool) -> None:
    from helpers import run_on_terminal

    args = ["--solver", "conda", "-c", channel_url, "--override-channels", "--from", "hello-tool", "hello"]

    def run(env: dict[str, str]) -> tuple[int, str, str]:
        if terminal:
            return run_on_terminal(args, env)
        result = run_ce(*args, env=env)
        return result.returncode, result.stdout, result.stderr

    bogus = _conda_config(tmp_path / "bogus", solver="no-such-solver")
    code, _, shown = run(bogus)
    assert code == 1 and "no-such-solver" in shown and "libmamba" not in shown, shown
    good = _conda_config(tmp_path / "good", solver="classic")
    code, out, shown = run(good)
    assert (code, out) == (0, "hello from hello-tool\n"), shown
    assert list((tmp_path / "good" / "conda-pkgs").glob("hello-tool-*"))  # condarc's pkgs_dirs


@pytest.mark.conda
def test_the_ce_launcher_survives_condas_spawn_extraction_pool(channel_url: str, tmp_path: Path) -> None:
    """conda >= 26.7 extracts archives in a "spawn" process pool: its children re-run the main
    script (the installed ``ce`` launcher, not ``python -m ce``), which must not start a second ce
    that then waits forever for the first one's build lock."""
    launcher = Path(__file__).resolve().parents[1] / "launcher" / "ce"
    args = ["--solver", "conda", "-c", channel_url, "--override-channels", "--with", "six"]
    code = "import six; print('six', six.__version__)"
    process = subprocess.Popen(
        [sys.executable, str(launcher), *args, "python", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_conda_config(tmp_path),
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        pytest.fail("ce --solver conda hung while conda extracted the packages")
    assert (process.returncode, out) == (0, "six 1.17.0\n"), err
    assert "waiting for another ce process" not in err
    assert list((tmp_path / "conda-pkgs").glob("six-*"))  # conda extracted them itself


#: conda's solver and transaction API as ce uses it, over :mod:`fake_conda` (same releases: 26.7.1 and
#: main 0f64223): ``conda/models/channel.py`` (``Channel.base_url``, ``Channel.url()`` a method),
#: ``conda/models/match_spec.py``, ``conda/models/records.py`` (keyword fields),
#: ``conda/core/link.py`` (``PrefixSetup`` fields, ``UnlinkLinkTransaction(*setups)``),
#: ``conda/core/envs_manager.py`` (``get_user_environments_txt_file(userhome="~")``) and
#: ``conda/exceptions.py`` (``PackagesNotFoundError``, ``ResolvePackageNotFound``: plain ``CondaError``).
FAKE_SOLVER_API = {
    "conda/base/context.py": """
        import os

        from conda.exceptions import PackagesNotFoundError
        from .constants import SEARCH_PATH


        class FakeSolver:
            def __init__(self, prefix, channels, subdirs=(), specs_to_add=(), specs_to_remove=(), command=None):
                self.prefix, self.channels, self.subdirs, self.specs = prefix, channels, subdirs, specs_to_add
                urls = [c.base_url for c in channels]
                CALLS.append(("solver", prefix, urls, subdirs, [s.spec for s in specs_to_add]))

            def solve_final_state(self):
                print("conda chatter on stdout")
                print(f"Target prefix: {self.prefix}")
                if any(s.spec == "missing" for s in self.specs):
                    raise PackagesNotFoundError("The following packages are not available:\\n  - missing")
                return RECORDS


        class _PluginManager:
            def get_solver_backend(self, name=None):
                return FakeSolver


        class Context:
            plugin_manager = _PluginManager()
            offline = False
            quiet = False
            pkgs_dirs = ()

            def __init__(self, search_path=None, argparse_args=None):
                self._search_path = () if search_path is None else tuple(search_path)
                self._argparse_args = argparse_args

            @property
            def subdir(self):
                return os.environ.get("CONDA_SUBDIR", "linux-64")


        CALLS = []
        RECORDS = []
        context = Context((), None)


        def reset_context(search_path=SEARCH_PATH, argparse_args=None):
            context.__init__(search_path, argparse_args)
            CALLS.append(("reset", os.environ.get("CONDA_SUBDIR"), os.environ.get("CONDA_ROOT")))
            return context
    """,
    "conda/exceptions.py": """
        import sys

        from . import CondaError


        class CondaValueError(CondaError, ValueError):
            pass


        class PackagesNotFoundError(CondaError):
            pass


        class ResolvePackageNotFound(CondaError):
            pass


        def print_conda_exception(exc_val, exc_tb=None):
            print(f"\\n{exc_val!r}\\n", file=sys.stderr)
    """,
    "conda/models/__init__.py": "",
    "conda/models/channel.py": """
        class Channel:
            def __init__(self, url):
                self.base_url = url.rstrip("/")

            def url(self, with_credentials=False):  # a method, as in conda (with the context's subdir)
                return self.base_url + "/linux-64"
    """,
    "conda/models/match_spec.py": """
        class MatchSpec:
            def __init__(self, spec):
                self.spec = spec
    """,
    "conda/models/records.py": """
        class PackageRecord:
            def __init__(self, **fields):
                self.__dict__.update(fields)
    """,
    "conda/core/__init__.py": "",
    "conda/core/solve.py": "",
    "conda/core/envs_manager.py": """
        import os


        def get_user_environments_txt_file(userhome="~"):
            return os.path.join(os.path.expanduser(userhome), ".conda", "environments.txt")
    """,
    "conda/core/link.py": """
        import os
        from collections import namedtuple

        from conda.core.envs_manager import get_user_environments_txt_file

        PrefixSetup = namedtuple(
            "PrefixSetup", "target_prefix unlink_precs link_precs remove_specs update_specs neutered_specs"
        )


        class UnlinkLinkTransaction:
            def __init__(self, *setups):
                (self.setup,) = setups

            def download_and_extract(self):
                print("Downloading and Extracting Packages")

            def execute(self):
                prefix = self.setup.target_prefix
                os.makedirs(os.path.join(prefix, "bin"))
                with open(os.path.join(prefix, "bin", "tool"), "w") as handle:
                    handle.write(f"#!{prefix}/bin/python\\n" + "".join(r.name + "\\n" for r in self.setup.link_precs))
                os.makedirs(os.path.dirname(get_user_environments_txt_file()), exist_ok=True)
                with open(get_user_environments_txt_file(), "a") as handle:
                    handle.write("/some/other/env\\n" + prefix + "\\n")
    """,
}


@pytest.fixture
def fake_solver_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """conda's solver and transaction API, faked with the shapes ce relies on; and the backend."""
    import textwrap

    from ce.backends import conda_solver
    from fake_conda import forget_conda_modules, write_fake_conda

    forget_conda_modules()
    root = write_fake_conda(tmp_path / "fake-conda", base=True)
    for relative, text in FAKE_SOLVER_API.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(textwrap.dedent(text).lstrip("\n"))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("CONDA_ROOT", raising=False)
    monkeypatch.setenv("CONDA_EXE", "/opt/base/condabin/conda")
    for name, value in (("loaded", False), ("conda_root", None), ("from_conda_cli", False)):
        monkeypatch.setattr(conda_solver._State, name, value)
    solver = conda_solver.create_conda_solver()
    import conda.base.context  # type: ignore[import-not-found]

    yield conda.base.context, solver
    forget_conda_modules()


def test_conda_backend_glue_solves_installs_and_relocates(
    fake_solver_api: tuple[Any, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from ce.errors import SolveError

    api, solver = fake_solver_api
    record = SimpleNamespace(
        name="tool", version="1", build="0", build_number=0, subdir="noarch", url="file:///c/noarch/tool-1-0.conda",
        channel=SimpleNamespace(base_url="file:///c"), md5="00" * 16, sha256="11" * 32, depends=(), constrains=(),
        license=None, size=10, timestamp=0, noarch=SimpleNamespace(value="generic"),
    )  # fmt: skip
    api.RECORDS.append(record)
    calls = api.CALLS
    # standalone: conda's context reloaded from its search path, $CONDA_ROOT the base ce found from CONDA_EXE;
    # conda's import exported CONDA_ROOT, which ce takes back out (the tool must not inherit it)
    assert calls == [("reset", None, "/opt/base")]
    assert "CONDA_ROOT" not in os.environ
    request = SolveRequest(specs=("tool",), channels=("file:///c",), platform="osx-arm64")
    (locked,) = solver.solve(request)
    assert (locked.name, locked.channel, locked.noarch, locked.native) == ("tool", "file:///c", "generic", record)
    assert calls[1] == ("reset", "osx-arm64", "/opt/base")  # the request's platform
    assert calls[2][2:] == (["file:///c"], ("osx-arm64", "noarch"), ["tool"])
    assert not os.path.exists(calls[2][1])  # solved for a new, empty environment
    assert calls[3] == ("reset", None, "/opt/base")  # conda's context restored
    assert "CONDA_ROOT" not in os.environ
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # no progress display (-q, or no terminal): nothing of conda's is shown
    shown = SolveRequest(specs=("tool",), channels=("file:///c",), platform="linux-64", show_progress=True)
    solver.solve(shown)
    out, err = capfd.readouterr()
    # conda's reporting never reaches the tool's stdout, nor does ce's placeholder prefix show
    assert out == "" and err == "conda chatter on stdout\n"

    build = tmp_path / "envs" / ".build-tool--0123.abcdef"
    build.mkdir(parents=True)
    final = tmp_path / "envs" / "tool--0123"
    solver.install([locked], str(build), str(final), request)
    assert (build / "bin" / "tool").read_text() == f"#!{final}/bin/python\ntool\n"
    registered = Path(os.environ["HOME"], ".conda", "environments.txt").read_text()
    assert registered == "/some/other/env\n"  # the build directory is not left registered

    with pytest.raises(SolveError, match="cannot solve missing: The following packages are not available: - missing"):
        solver.solve(SolveRequest(specs=("missing",), channels=("file:///c",), platform="osx-arm64"))
