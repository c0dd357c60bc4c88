"""A synthetic channel of conda-forge's size (linux-64 + noarch), with and without sharded repodata.

    .venv/bin/python benchmarks/forge_channel.py [--small] [--linux-64 N] [--noarch N] [--seed S]

prints the path of the generated channel (building it if needed). The
channel is generated deterministically from its parameters and cached under
``.cache/forge-scale/<key>/channel``; it holds:

* ``<subdir>/repodata.json`` and ``repodata.json.zst`` with every record;
* ``<subdir>/repodata_shards.msgpack.zst`` and ``<subdir>/shards/<sha256>.msgpack.zst``:
  sharded repodata (CEP 16) in the layout rattler's indexer writes with
  ``write_shards=True`` (one zstd-compressed msgpack shard per package name,
  named by the SHA-256 of its compressed bytes; an index mapping each name to
  that hash; checksums as raw bytes, empty ``constrains`` left out);
* the real records and archives of the test channel (``ruff``, ``python``,
  ``pyflakes``, ...), so a tool really solves and installs against the big
  channel. Fake records have no archive: they are never installed. Fake
  ``ruff`` and ``python`` records are all older than the real ones, so the
  solver picks the real ones while their shards are as large as they would be.

Fake package names, versions, builds and dependencies imitate conda-forge:
thousands of distinct names with several versions and builds each, compiled
python extensions built once per python version (``py311h1a2b3c4_0``,
depending on ``python >=3.11,<3.12.0a0`` and ``python_abi 3.11.* *_cp311``),
C/C++ libraries, noarch python and R packages, version constraints on
earlier packages and a few very long ``depends`` lists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import zstandard

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import build_test_channel  # noqa: E402

#: Bump when the generated output changes, so old cached channels are not reused.
GENERATOR_VERSION = 1
DEFAULT_CACHE = REPO / ".cache" / "forge-scale"
SUBDIRS = ("linux-64", "noarch")
FULL_COUNTS = {"linux-64": 300_000, "noarch": 150_000}
SMALL_COUNTS = {"linux-64": 20_000, "noarch": 10_000}
#: zstd level of repodata.json.zst (conda-forge compresses hard; 16 keeps generation under a minute or two).
JSON_ZSTD_LEVEL = 16
SHARD_ZSTD_LEVEL = 19
CREATED_AT = "2026-01-01T00:00:00Z"

SYLLABLES = (
    "ar",
    "bo",
    "ca",
    "de",
    "el",
    "fa",
    "go",
    "hu",
    "in",
    "jo",
    "ka",
    "le",
    "mi",
    "no",
    "op",
    "pa",
    "qu",
    "ro",
    "sa",
    "te",
    "un",
    "vi",
    "wa",
    "xe",
    "yo",
    "za",
    "bel",
    "cor",
    "dan",
    "fer",
    "gal",
    "hel",
    "jin",
    "kor",
    "lum",
    "mar",
    "nex",
    "orb",
    "pix",
    "qua",
    "rus",
    "sol",
    "tor",
    "ulm",
    "vex",
    "wyn",
    "zen",
    "arc",
    "byt",
    "cyt",
    "dat",
    "erg",
    "flo",
    "gra",
    "hyp",
    "ion",
    "jet",
    "kin",
    "lyt",
    "mat",
    "neo",
    "oxy",
    "pol",
    "rad",
    "syn",
    "tri",
    "uni",
    "vol",
)
LINUX_STYLES = ("lib{}", "{}", "{}", "{}-cpp", "{}-tools", "lib{}-devel", "py{}", "{}-bin", "{}-core")
NOARCH_STYLES = ("{}", "{}", "{}", "py{}", "{}-python", "types-{}", "r-{}", "r-{}", "{}-stubs", "jupyter-{}")
#: Real conda-forge names that fake records depend on a lot (the first names generated).
CORE_LINUX = (
    "python_abi",
    "libgcc",
    "libgcc-ng",
    "libstdcxx",
    "libstdcxx-ng",
    "libgfortran5",
    "libzlib",
    "zstd",
    "openssl",
    "ca-certificates",
    "libffi",
    "xz",
    "bzip2",
    "ncurses",
    "readline",
    "sqlite",
    "tk",
    "libuuid",
    "libnsl",
    "libxcrypt",
    "libblas",
    "libcblas",
    "liblapack",
    "libopenblas",
    "numpy",
    "libcurl",
    "krb5",
    "libssh2",
    "libxml2",
    "icu",
    "libiconv",
    "libpng",
    "libjpeg-turbo",
    "libtiff",
    "freetype",
    "fontconfig",
    "expat",
    "pcre2",
    "glib",
    "cairo",
    "harfbuzz",
    "libarrow",
    "libprotobuf",
    "libabseil",
    "libgrpc",
    "re2",
    "c-ares",
    "libboost",
    "libhwloc",
    "tbb",
    "r-base",
    "cffi",
    "pyyaml",
    "pillow",
    "scipy",
    "pandas",
)
CORE_NOARCH = (
    "setuptools",
    "wheel",
    "pip",
    "packaging",
    "typing_extensions",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    "attrs",
    "click",
    "jinja2",
    "markupsafe",
    "pyparsing",
    "tomli",
    "platformdirs",
    "filelock",
    "colorama",
    "tqdm",
    "pytz",
    "tzdata",
)
PYTHONS = ((3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13))


@dataclass
class Generated:
    """What the generator produced for one subdir (for the report)."""

    records: int = 0
    names: int = 0
    real_records: int = 0
    json_bytes: int = 0
    zst_bytes: int = 0
    shard_count: int = 0
    shard_bytes: int = 0
    index_bytes: int = 0
    largest_shard: tuple[str, int] = ("", 0)


@dataclass
class Params:
    """The inputs of a generated channel; its cache key hashes all of them."""

    counts: dict[str, int]
    seed: int
    real_channel: Path
    stats: dict[str, Generated] = field(default_factory=dict)

    def key(self) -> str:
        """A short hash of every input, the name of the cached channel's directory."""
        text = json.dumps(
            [GENERATOR_VERSION, self.counts, self.seed, self.real_channel.parent.name, JSON_ZSTD_LEVEL],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class Names:
    """Distinct, deterministic, conda-forge-looking package names."""

    def __init__(self, rng: random.Random, reserved: set[str]) -> None:
        self.rng = rng
        self.taken = set(reserved)

    def make(self, styles: tuple[str, ...]) -> str:
        """A new name in one of *styles*, never one handed out before."""
        while True:
            stem = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.choice((2, 2, 3, 3, 4))))
            if self.rng.random() < 0.15:
                stem += self.rng.choice(("-", "_")) + "".join(self.rng.choice(SYLLABLES) for _ in range(2))
            name = self.rng.choice(styles).format(stem)
            if name not in self.taken:
                self.taken.add(name)
                return name


def versions_of(rng: random.Random, count: int) -> list[str]:
    """*count* increasing versions, as a project releases them."""
    major, minor, patch = rng.choice((0, 0, 1, 1, 2, 3, 4, 5, 20, 2021)), rng.randrange(10), rng.randrange(5)
    out = []
    for _ in range(count):
        out.append(f"{major}.{minor}.{patch}")
        bump = rng.random()
        if bump < 0.6:
            patch += 1
        elif bump < 0.92:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out


def constraint(rng: random.Random, versions: list[str]) -> str:
    """A version constraint on a package with *versions*, in one of conda-forge's usual shapes."""
    if not versions:
        return ""
    version = rng.choice(versions)
    major, minor, *_ = [*version.split("."), "0"][:3]
    shape = rng.random()
    if shape < 0.25:
        return ""
    if shape < 0.55:
        return f" >={version},<{int(major) + 1}.0a0"
    if shape < 0.75:
        return f" >={major}.{minor}"
    if shape < 0.85:
        return f" {major}.{minor}.*"
    if shape < 0.95:
        return f" >={version}"
    return f" >={major}.{minor},<{major}.{int(minor) + 2}"


def count_per_name(rng: random.Random) -> int:
    """How many versions a package has: most a few, some hundreds (heavy tail)."""
    return max(1, min(150, int(rng.paretovariate(1.25))))


class Generator:
    """Writes one subdir's records (fake and real) as repodata.json(.zst) and shards."""

    def __init__(self, params: Params, out: Path) -> None:
        self.params = params
        self.out = out
        self.rng = random.Random(params.seed)
        real_names = set()
        self.real: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for subdir in SUBDIRS:
            data = json.loads((params.real_channel / subdir / "repodata.json").read_text())
            by_name: dict[str, dict[str, dict[str, Any]]] = {}
            for key in ("packages", "packages.conda"):
                for filename, record in data.get(key, {}).items():
                    by_name.setdefault(record["name"], {})[filename] = record
                    real_names.add(record["name"])
            self.real[subdir] = by_name
        for subdir in os.listdir(params.real_channel):
            for name in json.loads((params.real_channel / subdir / "repodata.json").read_text()).get("packages", {}):
                real_names.add(name)
        self.names = Names(self.rng, real_names | set(CORE_LINUX) | set(CORE_NOARCH))
        #: Versions of every name generated so far (what depends may constrain).
        self.known: dict[str, list[str]] = {}
        #: Names each subdir's packages may depend on (noarch may also use the most common linux-64 names).
        self.pools: dict[str, list[str]] = {"linux-64": [], "noarch": []}

    def _hash(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def _depends(self, pool: list[str], versions: list[str] | None = None) -> list[str]:
        """A package's own dependency names (constraints added per version)."""
        if not pool:
            return []
        roll = self.rng.random()
        if roll < 0.02:
            count = self.rng.randrange(30, 120)  # meta-packages, R/perl bundles
        elif roll < 0.12:
            count = self.rng.randrange(8, 25)
        else:
            count = self.rng.randrange(0, 7)
        # Favour popular (early) names the way real dependency graphs do.
        picks = {pool[min(len(pool) - 1, int(self.rng.expovariate(1 / 400)))] for _ in range(count // 2)}
        picks.update(self.rng.choice(pool) for _ in range(count - count // 2))
        return sorted(picks)

    def _fake_records(self, subdir: str, name: str, kind: str, n_versions: int) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        versions = versions_of(rng, n_versions)
        if name == "python":
            versions = [f"3.{minor}.{patch}" for minor in (8, 9, 10, 11) for patch in range(7 if minor == 11 else 15)]
        elif name == "ruff":
            versions = [f"0.{minor}.{patch}" for minor in range(17) for patch in range(rng.randrange(1, 8))]
        self.known[name] = versions
        pool = self.pools[subdir]
        deps = self._depends(pool)
        license_ = rng.choice(("MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-or-later", "LGPL-2.1-or-later", "MPL-2.0"))
        timestamp = 1_500_000_000_000 + rng.randrange(10**11)
        for index, version in enumerate(versions):
            timestamp += rng.randrange(10**9, 10**10)
            if index % 7 == 0 and rng.random() < 0.2:
                deps = self._depends(pool)  # dependencies change across releases
            depends = [dep + constraint(rng, self.known.get(dep, [])) for dep in deps if dep != name]
            builds: list[tuple[str, tuple[int, int] | None]]
            if kind == "python-ext":
                lo = max(0, min(len(PYTHONS) - 3, index * len(PYTHONS) // max(1, len(versions))))
                builds = [("py{}{}".format(*py), py) for py in PYTHONS[lo : lo + rng.randrange(2, 5)]]
            else:
                builds = [("", None)]
            ext = ".tar.bz2" if index < len(versions) * 0.4 else ".conda"
            for build_number in range(rng.choice((1, 1, 1, 2, 3))):
                for prefix, py in builds:
                    extra: list[str] = []
                    record: dict[str, Any] = {"name": name, "version": version, "build_number": build_number}
                    if subdir == "noarch":
                        if kind == "r":
                            record["build"] = f"r{rng.choice(('41', '42', '43', '44'))}hc72bb7e_{build_number}"
                            record["noarch"] = "generic"
                            extra = ["r-base >=4.1"]
                        else:
                            record["build"] = f"pyhd8ed1ab_{build_number}"
                            record["noarch"] = "python"
                            extra = [f"python >=3.{rng.choice((6, 7, 8, 9))}"]
                    elif name == "python":
                        record["build"] = f"h{self._hash(28)}_{build_number}_cpython"
                        extra = ["libgcc >=13", "libffi >=3.4", "openssl >=3.0,<4.0a0", "xz >=5.2", "libzlib >=1.2.13"]
                    elif py is not None:
                        record["build"] = f"{prefix}h{self._hash(28)}_{build_number}"
                        extra = [f"python >={py[0]}.{py[1]},<{py[0]}.{py[1] + 1}.0a0"]
                        extra += [f"python_abi {py[0]}.{py[1]}.* *_cp{py[0]}{py[1]}", "libgcc >=13"]
                    else:
                        record["build"] = f"h{self._hash(28)}_{build_number}"
                        extra = ["libgcc >=13", "__glibc >=2.17,<3.0.a0"]
                        if kind == "cpp":
                            extra.append("libstdcxx >=13")
                    record["depends"] = extra + depends
                    if rng.random() < 0.1:
                        record["constrains"] = [f"{rng.choice(pool or [name])} >=1"] if pool else []
                    record["license"] = license_
                    record["md5"] = self._hash(128)
                    record["sha256"] = self._hash(256)
                    record["size"] = rng.randrange(4_000, 60_000_000)
                    record["subdir"] = subdir
                    record["timestamp"] = timestamp
                    yield f"{name}-{version}-{record['build']}{ext}", record

    def _plan(self, subdir: str) -> Iterator[tuple[str, str, int]]:
        """(name, kind, versions) for one subdir, real names first, until enough records are planned."""
        rng = self.rng
        if subdir == "linux-64":
            yield "python", "python", 0
            yield "ruff", "lib", 0
            for name in CORE_LINUX:
                yield name, rng.choice(("lib", "cpp", "python-ext")), count_per_name(rng) + 3
            while True:
                kind = rng.choice(("python-ext", "python-ext", "lib", "lib", "cpp"))
                yield self.names.make(LINUX_STYLES), kind, count_per_name(rng)
        self.pools["noarch"].extend(self.pools["linux-64"][:300])
        for name in CORE_NOARCH:
            yield name, "python", count_per_name(rng) + 3
        while True:
            name = self.names.make(NOARCH_STYLES)
            yield name, "r" if name.startswith("r-") else "python", count_per_name(rng)

    def write_subdir(self, subdir: str) -> Generated:
        """Generate and write one subdir; return its statistics."""
        stats = Generated()
        target = self.params.counts[subdir]
        directory = self.out / subdir
        (directory / "shards").mkdir(parents=True)
        parts = {key: open(directory / f".{key}.part", "w") for key in ("packages", "packages.conda")}  # noqa: SIM115
        first = dict.fromkeys(parts, True)
        shards: dict[str, bytes] = {}
        real = dict(self.real[subdir])
        compressor = zstandard.ZstdCompressor(level=SHARD_ZSTD_LEVEL)

        def emit(name: str, records: list[tuple[str, dict[str, Any]]]) -> None:
            shard: dict[str, Any] = {"packages": {}, "packages.conda": {}, "removed": []}
            for filename, record in records:
                key = "packages.conda" if filename.endswith(".conda") else "packages"
                parts[key].write(("" if first[key] else ",\n") + json.dumps(filename) + ":" + json.dumps(record))
                first[key] = False
                packed = {k: v for k, v in record.items() if not (k == "constrains" and not v)}
                for checksum in ("md5", "sha256"):
                    if isinstance(packed.get(checksum), str):
                        packed[checksum] = bytes.fromhex(packed[checksum])
                shard[key][filename] = packed
            data = compressor.compress(msgpack.packb(shard, use_bin_type=True))
            digest = hashlib.sha256(data).digest()
            (directory / "shards" / f"{digest.hex()}.msgpack.zst").write_bytes(data)
            shards[name] = digest
            stats.shard_count += 1
            stats.shard_bytes += len(data)
            if len(data) > stats.largest_shard[1]:
                stats.largest_shard = (name, len(data))
            stats.names += 1

        fake_total = 0
        for name, kind, n_versions in self._plan(subdir):
            if fake_total >= target:
                break
            records = list(self._fake_records(subdir, name, kind, n_versions))[: target - fake_total]
            fake_total += len(records)
            self.pools[subdir].append(name)
            own = real.pop(name, {})
            stats.real_records += len(own)
            emit(name, records + list(own.items()))
        for name, own in sorted(real.items()):
            stats.real_records += len(own)
            emit(name, list(own.items()))
        stats.records = fake_total + stats.real_records
        for handle in parts.values():
            handle.close()

        with open(directory / "repodata.json", "w") as out:
            out.write(json.dumps({"info": {"subdir": subdir}})[:-1] + ', "packages": {\n')
            with open(directory / ".packages.part") as part:
                shutil.copyfileobj(part, out)
            out.write('\n}, "packages.conda": {\n')
            with open(directory / ".packages.conda.part") as part:
                shutil.copyfileobj(part, out)
            out.write('\n}, "removed": [], "repodata_version": 1}\n')
        for key in parts:
            (directory / f".{key}.part").unlink()
        stats.json_bytes = (directory / "repodata.json").stat().st_size
        with open(directory / "repodata.json", "rb") as src, open(directory / "repodata.json.zst", "wb") as dst:
            zstandard.ZstdCompressor(level=JSON_ZSTD_LEVEL, write_content_size=True).copy_stream(src, dst)
        stats.zst_bytes = (directory / "repodata.json.zst").stat().st_size

        index = {
            "info": {"subdir": subdir, "base_url": "", "shards_base_url": "./shards/", "created_at": CREATED_AT},
            "shards": shards,
        }
        data = zstandard.ZstdCompressor(level=SHARD_ZSTD_LEVEL).compress(msgpack.packb(index, use_bin_type=True))
        (directory / "repodata_shards.msgpack.zst").write_bytes(data)
        stats.index_bytes = len(data)

        for own in self.real[subdir].values():
            for filename in own:
                source = self.params.real_channel / subdir / filename
                try:
                    os.link(source, directory / filename)
                except OSError:
                    shutil.copyfile(source, directory / filename)
        return stats


def build(params: Params, cache: Path = DEFAULT_CACHE, log: bool = True) -> Path:
    """Return the generated channel for *params*, generating it (atomically) if it is not cached."""
    final = cache / params.key()
    channel = final / "channel"
    if channel.is_dir():
        params.stats = {k: Generated(**v) for k, v in json.loads((final / "stats.json").read_text()).items()}
        for stats in params.stats.values():
            stats.largest_shard = tuple(stats.largest_shard)  # type: ignore[assignment]
        return channel
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{params.key()}-", suffix=".tmp", dir=cache))
    try:
        generator = Generator(params, tmp / "channel")
        for subdir in SUBDIRS:
            started = time.perf_counter()
            params.stats[subdir] = generator.write_subdir(subdir)
            if log:
                print(
                    f"generated {subdir}: {params.stats[subdir]} in {time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                )
        (tmp / "stats.json").write_text(json.dumps({k: v.__dict__ for k, v in params.stats.items()}, indent=1))
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return channel


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The generator's parameters, shared with the benchmark's command line."""
    parser.add_argument("--small", action="store_true", help="a quick channel: 20k linux-64 + 10k noarch records")
    parser.add_argument("--linux-64", dest="linux_64", type=int, default=None, help="fake linux-64 records")
    parser.add_argument("--noarch", type=int, default=None, help="fake noarch records")
    parser.add_argument("--seed", type=int, default=12)


def params_from(args: argparse.Namespace) -> Params:
    """The generator parameters chosen on the command line."""
    counts = dict(SMALL_COUNTS if args.small else FULL_COUNTS)
    if args.linux_64 is not None:
        counts["linux-64"] = args.linux_64
    if args.noarch is not None:
        counts["noarch"] = args.noarch
    real = build_test_channel.build_channel(build_test_channel.default_cache())
    return Params(counts=counts, seed=args.seed, real_channel=real)


def main() -> int:
    """Build (or find) the channel and print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    params = params_from(parser.parse_args())
    print(build(params))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
