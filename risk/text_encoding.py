"""Which text encoding a CSV file is in: given by the user, or detected — never guessed.

`resolve_encoding` returns the encoding to read a file with:

* ``--encoding`` given: that one (checked to exist);
* else, a file that decodes as UTF-8 from end to end is UTF-8 (a BOM is dropped);
* else charset-normalizer weighs the candidates a city's files come in (`CANDIDATES`: GB18030
  for Chinese, Windows-1252 / Latin-1 for Western text) on a sample around the first byte that
  is not UTF-8. It decides only when one reading is clean and every other reading that gives a
  different text is clearly messier (`MARGIN`); otherwise `ContractError` names the file, two
  readings of the first line on which they differ, and the fix (``--encoding``).

So a Latin-1 ``théft`` is never silently read as GB18030 ``th閒t``: either the GB18030 reading
is clearly the messier one, or the command stops and asks.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path
from typing import BinaryIO

from risk.errors import ConfigError, ContractError

UTF8 = "utf-8-sig"  # UTF-8, with or without a byte-order mark
CANDIDATES = ("gb18030", "cp1252", "latin_1")
MAX_CHAOS = 0.2  # charset-normalizer's mess ratio: above it, no reading counts as clean
MARGIN = 0.1  # a different reading within this much of the best one leaves us unsure
CHUNK_BYTES = 1 << 20
SAMPLE_BYTES = 4 << 20
FIX = "pass --encoding latin-1 (or utf-8, gb18030): the encoding the file was saved in"


def check_encoding(name: str) -> str:
    """``name`` if Python knows the codec, else `ConfigError` listing common ones."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ConfigError(
            f"unknown text encoding {name!r}; give e.g. utf-8, gb18030, latin-1 or cp1252"
        ) from None
    return name


def resolve_encoding(path: Path, given: str | None = None) -> str:
    """The encoding to read ``path`` with (module docstring); `ContractError` when unsure."""
    if given is not None:
        return check_encoding(given)
    first_bad = first_non_utf8(path)
    if first_bad is None:
        return UTF8
    return _detect(path, _sample(path, first_bad))


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in .gz (as pandas reads it)."""
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def first_non_utf8(path: Path) -> int | None:
    """Byte offset of the first byte that breaks UTF-8, or None when the whole file is UTF-8.

    Reads the file in chunks: memory stays small however large the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open_bytes(path) as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return max(0, offset + exc.start)
            if not chunk:
                return None
            offset += len(chunk)


def _sample(path: Path, first_bad: int) -> bytes:
    """Whole lines from a little before ``first_bad`` (line breaks never sit inside a character
    of the candidate encodings, so cutting at them is safe)."""
    start = max(0, first_bad - SAMPLE_BYTES // 4)
    with open_bytes(path) as handle:
        handle.seek(start)
        data = handle.read(SAMPLE_BYTES)
    if start > 0:
        data = data[data.find(b"\n") + 1 :]
    if len(data) == SAMPLE_BYTES and b"\n" in data:
        data = data[: data.rfind(b"\n") + 1]
    return data


def _detect(path: Path, sample: bytes) -> str:
    from charset_normalizer import from_bytes

    readings = sorted(from_bytes(sample, cp_isolation=list(CANDIDATES)), key=lambda r: r.chaos)
    if not readings or readings[0].chaos > MAX_CHAOS:
        raise ContractError(
            "cannot tell the text encoding: it is not UTF-8, and no reading as "
            f"{', '.join(CANDIDATES)} looks like clean text",
            file=path.name,
            fix=FIX,
        )
    best = readings[0]
    text = str(best)
    for other in readings[1:]:
        if other.chaos < best.chaos + MARGIN and str(other) != text:
            line_a, line_b = _first_difference(text, str(other))
            raise ContractError(
                f"cannot tell the text encoding: it is not UTF-8, and it reads as "
                f"{best.encoding} ({line_a!r}) or as {other.encoding} ({line_b!r})",
                file=path.name,
                fix=f"pass --encoding {_cli_name(best.encoding)} or --encoding "
                f"{_cli_name(other.encoding)}, whichever reading above is the file's text",
            )
    return best.encoding


def _cli_name(encoding: str) -> str:
    """An encoding as a user would type it (`latin_1` → `latin-1`)."""
    return encoding.replace("_", "-")


def _first_difference(a: str, b: str) -> tuple[str, str]:
    for line_a, line_b in zip(a.splitlines(), b.splitlines(), strict=False):
        if line_a != line_b:
            return line_a[:80], line_b[:80]
    return a[:80], b[:80]


__all__ = [
    "CANDIDATES",
    "FIX",
    "UTF8",
    "check_encoding",
    "first_non_utf8",
    "open_bytes",
    "resolve_encoding",
]
