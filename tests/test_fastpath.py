from __future__ import annotations

import argparse

import pytest

from ce.cli import build_parser, parse_args
from ce.errors import UsageError
from ce.fastpath import VALUE_OPTIONS, _Fallback, _parse, split_argv


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ruff", "check", "."], ([], "ruff", ["check", "."])),
        (["ruff", "--help"], ([], "ruff", ["--help"])),
        (["-c", "x", "ruff", "-c", "y"], (["-c", "x"], "ruff", ["-c", "y"])),
        (["-cx", "ruff"], (["-cx"], "ruff", [])),
        (["--channel=x", "ruff"], (["--channel=x"], "ruff", [])),
        (["-qc", "x", "ruff"], (["-qc", "x"], "ruff", [])),
        (
            ["--with", "pytest", "--from", "httpie", "http", "GET"],
            (["--with", "pytest", "--from", "httpie"], "http", ["GET"]),
        ),
        (["-v", "--", "ruff", "--", "x"], (["-v"], "ruff", ["x"])),  # one leading -- after TOOL: a separator
        (["-v", "--", "ruff", "--", "--", "x"], (["-v"], "ruff", ["--", "x"])),
        (["--list"], (["--list"], None, [])),
        (["--clean", "--older-than", "3", "ruff"], (["--clean", "--older-than", "3"], "ruff", [])),
        ([], ([], None, [])),
    ],
)
def test_split_argv(argv: list[str], expected: tuple[list[str], str | None, list[str]]) -> None:
    assert split_argv(argv) == expected


def test_value_options_match_the_parser() -> None:
    parser = build_parser()
    takes_value = set()
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and not isinstance(action, argparse._VersionAction):
            takes_value.update(action.option_strings)
    assert takes_value == set(VALUE_OPTIONS)


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "--version"],
        ["-c", "a", "-c", "b", "ruff"],
        ["-cfoo", "--override-channels", "ruff"],
        ["--channel=x", "--with", "pytest", "--with=six", "ruff"],
        ["--from", "httpie", "-q", "http"],
        ["--offline", "--runner", "path", "ruff"],
        ["--quiet", "--runner=path", "ruff", "-x"],
    ],
)
def test_fast_parser_agrees_with_the_full_parser(argv: list[str]) -> None:
    options, _tool, _args = split_argv(argv)
    channels, with_specs, from_spec, override = _parse(options)
    namespace = parse_args(argv)
    assert (channels, with_specs, from_spec, override) == (
        namespace.channel,
        namespace.with_specs,
        namespace.from_spec,
        namespace.override_channels,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--refresh", "ruff"],
        ["--solver", "x", "ruff"],
        ["--runner", "activate", "ruff"],
        ["-v", "ruff"],
        ["--lock", "s.py"],
    ],
)
def test_fast_parser_leaves_other_options_to_the_full_parser(argv: list[str]) -> None:
    with pytest.raises(_Fallback):
        _parse(split_argv(argv)[0])


def test_parser_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown option --nope"):
        parse_args(["--nope", "ruff"])
    with pytest.raises(UsageError):
        parse_args(["--chan", "x", "ruff"])  # no abbreviations: the warm path could not agree
