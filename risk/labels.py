"""The label table: the words (Chinese and English) for the values the data holds — targets,
grid types, area attributes, event sources — and for the groups reasons are built from.

`load_labels()` reads the packaged `risk/labels.toml`; `load_labels(city_file)` merges a
city's own file of the same shape over it (entry by entry), so a city names its own grid
types, attributes and categories without editing the package. A value no label covers is
shown as itself (`LabelTable.grid_type("harbour", "zh")` is "harbour") and listed by
`LabelTable.missing` (and `risk labels`): never half-translated silently.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk.errors import ConfigError

LABELS_FILE = Path(__file__).with_name("labels.toml")
LANGS = ("en", "zh")
# section -> keys every entry must have
SECTIONS: dict[str, tuple[str, ...]] = {
    "targets": ("en", "en_plural", "zh"),
    "grid_types": ("en", "zh"),
    "attributes": ("en", "zh"),
    "sources": ("en", "zh"),
    "groups": ("en", "zh"),
}


@dataclass(frozen=True)
class LabelTable:
    """`entries[section][value]` = {"en": …, "zh": …, …} (see `SECTIONS`)."""

    entries: Mapping[str, Mapping[str, Mapping[str, str]]]

    def _get(self, section: str, value: str, key: str) -> str | None:
        entry = self.entries.get(section, {}).get(str(value))
        return None if entry is None else entry.get(key)

    def target(self, target: str, lang: str, plural: bool = True) -> str:
        """A target's events: 'thefts' / 'theft' (en, plural or one), '盗窃' (zh); an unknown
        category as itself with underscores as spaces."""
        key = "zh" if lang == "zh" else ("en_plural" if plural else "en")
        return self._get("targets", target, key) or str(target).replace("_", " ")

    def grid_type(self, value: str, lang: str) -> str:
        return self._get("grid_types", value, lang) or str(value)

    def attribute(self, name: str, lang: str, value_text: str) -> str:
        """'128 shops' / '商铺128家'; an unknown attribute as 'name: value'."""
        label = self._get("attributes", name, lang)
        if label is None:
            return f"{name}: {value_text}" if lang == "en" else f"{name}：{value_text}"
        return label.replace("{value}", value_text)

    def source(self, source: str, lang: str) -> str:
        return self._get("sources", source, lang) or str(source).replace("_", " ")

    def group(self, group: str, lang: str, target: str | None = None) -> str:
        """A reason group's name, with the target's words in it."""
        label = self._get("groups", group, lang) or group.replace("_", " ")
        if target is not None:
            label = label.replace("{target}", self.target(target, lang))
        return label

    def missing(
        self,
        *,
        targets: Iterable[str] = (),
        grid_types: Iterable[str] = (),
        attributes: Iterable[str] = (),
        sources: Iterable[str] = (),
    ) -> dict[str, list[str]]:
        """{section: sorted values no entry covers} for the sections with any (empty: all
        covered). Attributes are named without the `attr_` prefix."""
        asked = {
            "targets": targets,
            "grid_types": grid_types,
            "attributes": attributes,
            "sources": sources,
        }
        out: dict[str, list[str]] = {}
        for section, values in asked.items():
            known = self.entries.get(section, {})
            gone = sorted({str(v) for v in values if str(v) not in known})
            if gone:
                out[section] = gone
        return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: label file not found; give an existing TOML file (RISK_LABELS_FILE or "
            "--labels) or leave the setting unset for the packaged labels"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc


def _checked(raw: Mapping[str, Any], path: Path) -> dict[str, dict[str, dict[str, str]]]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    for section, entries in raw.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]; accepted: {', '.join(SECTIONS)}"
            )
        if not isinstance(entries, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of entries")
        for value, entry in entries.items():
            where = f"{path}: [{section}.{value}]"
            if not isinstance(entry, dict):
                raise ConfigError(f'{where} must be a table such as en = "…", zh = "…"')
            need = SECTIONS[section]
            absent = [k for k in need if not isinstance(entry.get(k), str) or not entry[k]]
            if absent:
                raise ConfigError(f"{where} needs the text {', '.join(absent)} (got {entry})")
            if section == "attributes" and any("{value}" not in entry[k] for k in LANGS):
                raise ConfigError(f"{where}: en and zh must hold {{value}}, the attribute's number")
            out.setdefault(section, {})[str(value)] = {k: entry[k] for k in need}
    return out


def load_labels(city_file: Path | str | None = None) -> LabelTable:
    """The packaged labels, with `city_file`'s entries merged over them when given."""
    entries = _checked(_read(LABELS_FILE), LABELS_FILE)
    if city_file is not None:
        path = Path(city_file)
        for section, extra in _checked(_read(path), path).items():
            entries.setdefault(section, {}).update(extra)
    return LabelTable(entries)
