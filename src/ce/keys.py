"""Cache keys: pure hashing of already-resolved inputs.

Every environment name (``<package>--<hash16>``, ``script--<hash16>``) and
every small cache key (script index, condarc settings, activation) is made
here, from inputs that callers have already normalized and resolved (specs,
channel URLs, platform, lock content).  Nothing here reads a file or the
configuration.  Text is hashed as UTF-8, lone surrogates included (a
variable or file name that is not UTF-8 still makes a key, never an
error).  Only ``sys`` and a builtin SHA-256 are imported: no ``hashlib``
(it costs milliseconds on the warm path).
"""

import sys

# The builtin module is far cheaper to import than hashlib.  Name it exactly:
# a failed import scans every sys.path entry (over a millisecond here).
try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - interpreters built without it
    from hashlib import sha256  # type: ignore[assignment,unused-ignore]

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
