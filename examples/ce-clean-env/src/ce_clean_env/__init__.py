"""ce runner plugin: start tools with a whitelisted environment (like ``env -i``).

The module only defines the hook and a small class; ce imports it when it
loads plugins, so it must stay cheap to import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ce.plugins import CeRunner, LaunchPlan, executable_dirs, hookimpl, resolve_command

#: Variables passed through unchanged.
KEPT = ("HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR")
SYSTEM_PATH = ("/usr/bin", "/bin")


class CleanEnvRunner:
    """Build the process with only whitelisted variables."""

    def prepare(self, prefix: str, argv: Sequence[str], environ: Mapping[str, str]) -> LaunchPlan:
        """The process for ``argv`` from *prefix*, with a minimal environment."""
        executable = resolve_command(prefix, argv[0], environ)
        extra = [name.strip() for name in environ.get("CE_CLEAN_ENV_KEEP", "").split(",") if name.strip()]
        env = {name: environ[name] for name in (*KEPT, *extra) if name in environ}
        env["PATH"] = ":".join([*executable_dirs(prefix), *SYSTEM_PATH])
        return LaunchPlan(executable, argv, env)


@hookimpl
def ce_runners() -> Iterator[CeRunner]:
    """Register the ``clean-env`` runner."""
    yield CeRunner(name="clean-env", backend=CleanEnvRunner, summary="run with a whitelisted environment")
