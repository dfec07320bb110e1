"""The words of a reason: what a group of features says about one grid, in English and Chinese,
with real values, units and time spans (issue 15, item 4).

    "9 thefts here in the past year, a typical grid has 3"   "本网格近一年盗窃9起，一般网格3起"
    "busy grid: 153 events of all kinds here in the past year"
    "winter (December), weekend ahead"                         "冬季（12月），周末将至"

Rules. Counts are said as counts over a stated span, never as decayed weights or rates per
day; a count is compared with the city ("a typical grid has 3": the city median at the same
issue time) only when that median is at least `MIN_TYPICAL` — a median near 0 says nothing a
reader can use, so the plain count stands alone. The calendar is said in words (season and
month, weekend, holiday), never as the sine or cosine the model sees. Grid types, attributes,
categories and sources come from the label table (`risk.labels`).

`describe(group, target, facts, aspects, labels)` is pure: `facts` gives a grid's values and
the city medians, `aspects` which part of the group pushes hardest (`models.reason_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from risk.contract import HORIZON_HOURS
from risk.labels import LabelTable

NAN_TEXT = "—"
NAN = float("nan")
MIN_TYPICAL = 1.0  # compare a count with the city median only from a median of 1 up
ASPECT_SHARE = 0.3  # a second aspect is named when it pushes at least this part of the first
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Northern-hemisphere meteorological seasons (the toolkit's cities are in China and the US).
SEASONS = {
    **dict.fromkeys((12, 1, 2), ("winter", "冬季")),
    **dict.fromkeys((3, 4, 5), ("spring", "春季")),
    **dict.fromkeys((6, 7, 8), ("summer", "夏季")),
    **dict.fromkeys((9, 10, 11), ("autumn", "秋季")),
}
HOLIDAY_NEAR_DAYS = 7  # "next holiday in N days" / "N days after a holiday" up to this


class Facts(Protocol):
    """One grid's values at one issue time."""

    def value(self, name: str) -> Any:
        """The column's value: a number (NaN when missing) or text; None when no such column."""

    def median(self, name: str) -> float:
        """The city median of a numeric column at the same issue time (NaN when unknown)."""

    def month(self) -> int | None:
        """Month of the issue time in city time."""


@dataclass(frozen=True)
class DictFacts:
    """`Facts` from plain mappings (tests, examples, seeds)."""

    values: Mapping[str, Any]
    medians: Mapping[str, float] = field(default_factory=dict)
    issue_month: int | None = None

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def median(self, name: str) -> float:
        return float(self.medians.get(name, NAN))

    def month(self) -> int | None:
        return self.issue_month


@dataclass(frozen=True)
class Words:
    """A reason's words, and the value it gives first (`feature`, its `value` and how it is
    written, `value_text`; `median` is the city median the words compare with, else NaN)."""

    en: str
    zh: str
    feature: str = ""
    value: Any = NAN
    value_text: str = NAN_TEXT
    median: float = NAN


# ----------------------------------------------------------------------------- numbers


def format_value(value: Any, kind: str = "other") -> str:
    """Counts as integers, shares with 2 decimals, other numbers with 2 decimals below 10
    (2 significant digits below 0.01), 1 decimal below 100, none above; whole numbers of any
    kind without decimals except shares; '—' for a missing value; text as is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NAN_TEXT
    if not isinstance(value, int | float | np.number):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return NAN_TEXT
    if kind == "share":
        return f"{v:.2f}"
    a = abs(v)
    if kind == "count" or (v == round(v) and a < 1e15):
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01:
        return f"{v:.2f}"
    return f"{v:.2g}"


def format_points(points: float) -> str:
    """Signed, no decimals from 10 points up, one below: '+12', '-3.4'."""
    return f"{points:+.0f}" if abs(points) >= 9.95 else f"{points:+.1f}"


def _n(value: float) -> str:
    return f"{value:.0f}"


def _typical_text(median: float, whole: bool = True) -> str:
    """A median as people say it: whole (half up) for a count, else with one decimal."""
    if whole:
        return f"{math.floor(median + 0.5):.0f}"
    return _one_decimal(median)


def _one_decimal(value: float) -> str:
    """'4.2', '16' (a trailing .0 dropped)."""
    return f"{value:.1f}".removesuffix(".0")


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _number(facts: Facts, name: str) -> float | None:
    """A numeric value, None when the column is absent, missing or not a number."""
    v = facts.value(name)
    if v is None or isinstance(v, str):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _typical(facts: Facts, name: str, floor: float = MIN_TYPICAL) -> float:
    """The city median of `name` when it is at least `floor`, else NaN (not compared)."""
    m = facts.median(name)
    return m if not math.isnan(m) and m >= floor else NAN


def window_words(days: float) -> tuple[str, str]:
    """('in the past year', '近一年') for 365 days, and so on."""
    if days == 365:
        return "in the past year", "近一年"
    if days == 91:
        return "in the past 3 months", "近3个月"
    if days == 1:
        return "in the past day", "近1天"
    return f"in the past {days:g} days", f"近{days:g}天"


def _noun(labels: LabelTable, target: str, n: float) -> str:
    return labels.target(target, "en", plural=n != 1)


# ----------------------------------------------------------------------------- the groups


def _long_term(target: str, facts: Facts, labels: LabelTable, **_: Any) -> Words | None:
    zh_t = labels.target(target, "zh")
    for w in (365, 91, 28):
        name = f"events_{w}d_{target}"
        n = _number(facts, name)
        if n is None:
            continue
        m = _typical(facts, name)
        win_en, win_zh = window_words(w)
        en = f"{_n(n)} {_noun(labels, target, n)} here {win_en}"
        zh = f"本网格{win_zh}{zh_t}{_n(n)}起"
        en, zh = _typ(en, zh, m)
        return Words(en, zh, name, n, _n(n), m)
    return None


def _typ(en: str, zh: str, median: float, unit_zh: str = "起") -> tuple[str, str]:
    """The words with "(a typical grid: m)" added when `median` is not NaN."""
    if math.isnan(median):
        return en, zh
    m = _typical_text(median)
    return f"{en} (a typical grid has {m})", f"{zh}（一般网格{m}{unit_zh}）"


def _recent(target: str, facts: Facts, labels: LabelTable, **_: Any) -> Words | None:
    zh_t = labels.target(target, "zh")
    n28, n7 = _number(facts, f"events_28d_{target}"), _number(facts, f"events_7d_{target}")
    since_name = f"days_since_last_{target}"
    if n28 is None:
        if n7 is None:
            return None
        name, en = f"events_7d_{target}", f"{_n(n7)} {_noun(labels, target, n7)} here"
        return Words(f"{en} in the past 7 days", f"本网格近7天{zh_t}{_n(n7)}起", name, n7, _n(n7))
    name = f"events_28d_{target}"
    en = f"{_n(n28)} {_noun(labels, target, n28)} here in the past 28 days"
    zh = f"本网格近28天{zh_t}{_n(n28)}起"
    if n28 == 0:
        since = _number(facts, since_name)
        if since is not None:
            en += f"; the last one {_n(since)} days ago"
            zh += f"，上一起在{_n(since)}天前"
        elif facts.value(since_name) is not None:
            en += "; none on record"
            zh += "，此前无记录"
        return Words(en, zh, name, n28, _n(n28))
    m = _typical(facts, name)
    en, zh = _typ(en, zh, m)
    if n7 is not None and n7 < n28:
        en += f", {_n(n7)} of them in the past 7 days" if n7 else ", none in the past 7 days"
        zh += f"，其中近7天{_n(n7)}起" if n7 else "，近7天无"
    elif n7 is not None:
        en += ", all in the past 7 days"
        zh += "，均在近7天"
    return Words(en, zh, name, n28, _n(n28), m)


def _nearby(target: str, facts: Facts, labels: LabelTable, **_: Any) -> Words | None:
    zh_t = labels.target(target, "zh")
    n7, n28 = (
        _number(facts, f"nbr1_events_7d_{target}"),
        _number(facts, f"nbr1_events_28d_{target}"),
    )
    if n7 is not None and n7 > 0:
        en = f"{_n(n7)} {_noun(labels, target, n7)} in neighbouring grids in the past 7 days"
        zh = f"相邻网格近7天{zh_t}{_n(n7)}起"
        if n28 is not None and n28 > n7:
            en, zh = f"{en}, {_n(n28)} in the past 28 days", f"{zh}，近28天{_n(n28)}起"
        return Words(en, zh, f"nbr1_events_7d_{target}", n7, _n(n7))
    if n28 is None:
        return None
    en = f"{_n(n28)} {_noun(labels, target, n28)} in neighbouring grids in the past 28 days"
    zh = f"相邻网格近28天{zh_t}{_n(n28)}起"
    if n28 > 0 and n7 == 0:
        en, zh = f"{en}, none in the past 7 days", f"{zh}，近7天无"
    community = _number(facts, f"community_events_28d_{target}")
    if n28 == 0 and community is not None:
        en += f"; {_n(community)} in the whole community"
        zh += f"；全社区{_n(community)}起"
    return Words(en, zh, f"nbr1_events_28d_{target}", n28, _n(n28))


def _other_kinds(
    target: str, facts: Facts, labels: LabelTable, aspects: Sequence[tuple[str, float]], **_: Any
) -> Words | None:
    for category, _push in aspects:
        windows = (365, 91, 28) if category == "any" else (28, 91, 365)
        for w in windows:
            name = f"events_{w}d_{category}"
            n = _number(facts, name)
            if n is None:
                continue
            m = _typical(facts, name)
            win_en, win_zh = window_words(w)
            if category == "any":
                en = f"{_n(n)} events of all kinds here {win_en}"
                zh = f"本网格{win_zh}各类事件{_n(n)}起"
                if not math.isnan(m) and n >= 2 * m:
                    en, zh = f"busy grid: {en}", f"事件多发网格：{zh}"
                elif not math.isnan(m) and n <= m / 2:
                    en, zh = f"quiet grid: {en}", f"事件较少的网格：{zh}"
            else:
                noun, zh_c = _noun(labels, category, n), labels.target(category, "zh")
                if target == "any":
                    en, zh = f"{_n(n)} {noun} here {win_en}", f"本网格{win_zh}{zh_c}{_n(n)}起"
                else:
                    en = f"other events here: {_n(n)} {noun} {win_en}"
                    zh = f"本网格其他事件：{win_zh}{zh_c}{_n(n)}起"
            en, zh = _typ(en, zh, m)
            return Words(en, zh, name, n, _n(n), m)
    return None


def _chosen(aspects: Sequence[tuple[str, float]], most: int = 2) -> list[str]:
    """The first aspect, and the next ones (up to `most`) pushing at least `ASPECT_SHARE` of it
    in the same direction."""
    if not aspects:
        return []
    top = aspects[0][1]
    return [aspects[0][0]] + [
        a for a, push in aspects[1:most] if push > 0 and push >= ASPECT_SHARE * top
    ]


def _season(facts: Facts, **_: Any) -> Words | None:
    month = _number(facts, "issue_month")
    month = int(month) if month is not None else facts.month()
    if month is None or not 1 <= month <= 12:
        return None
    en, zh = SEASONS[month]
    return Words(
        f"{en} ({MONTHS_EN[month - 1]})", f"{zh}（{month}月）", "issue_month", month, str(month)
    )


def _week(facts: Facts, horizon_hours: int, **_: Any) -> Words | None:
    weekend = _number(facts, "window_weekend_share")
    if weekend is None:
        sat, sun = _number(facts, "window_share_sat"), _number(facts, "window_share_sun")
        if sat is None or sun is None:
            return None
        weekend = sat + sun
    days = f"{horizon_hours / 24:g}"
    if weekend > 0:
        en, zh = "weekend ahead", "周末将至"
        if _number(facts, "issue_on_day_off") == 1 and weekend >= 0.5:
            en, zh = "weekend", "正值周末"
    else:
        en, zh = f"working days only in the next {days} days", f"未来{days}天均为工作日"
    return Words(en, zh, "window_weekend_share", weekend, format_value(weekend, "share"))


def _holiday(facts: Facts, horizon_hours: int, **_: Any) -> Words | None:
    days = f"{horizon_hours / 24:g}"
    on, share = _number(facts, "issue_on_holiday"), _number(facts, "window_holiday_share")
    adjusted = _number(facts, "window_adjusted_workday_share")
    to_next, since = (
        _number(facts, "days_to_next_holiday"),
        _number(facts, "days_since_last_holiday"),
    )
    if on == 1:
        return Words("during a holiday", "正值节假日", "issue_on_holiday", on, "1")
    if share is not None and share > 0:
        return Words(
            "holiday period ahead", f"未来{days}天有节假日", "window_holiday_share", share,
            format_value(share, "share"),
        )  # fmt: skip
    if adjusted is not None and adjusted > 0:
        return Words(
            "a weekend made a working day ahead", f"未来{days}天有调休上班日",
            "window_adjusted_workday_share", adjusted, format_value(adjusted, "share"),
        )  # fmt: skip
    if to_next is not None and to_next <= HOLIDAY_NEAR_DAYS:
        return Words(
            f"next holiday in {_n(to_next)} days", f"{_n(to_next)}天后节假日",
            "days_to_next_holiday", to_next, _n(to_next),
        )  # fmt: skip
    if since is not None and since <= HOLIDAY_NEAR_DAYS:
        return Words(
            f"{_n(since)} days after a holiday", f"节后第{_n(since)}天",
            "days_since_last_holiday", since, _n(since),
        )  # fmt: skip
    if to_next is None and since is None:
        return None
    name, value = ("days_to_next_holiday", to_next) if to_next is not None else (
        "days_since_last_holiday", since
    )  # fmt: skip
    return Words("no holiday within a week", "前后一周无节假日", name, value, format_value(value))


def _hour(facts: Facts, **_: Any) -> Words | None:
    hour = _number(facts, "issue_hour")
    if hour is None:
        return None
    hh, mm = int(hour), int(round((hour - int(hour)) * 60))
    return Words(
        f"forecast made at {hh:02d}:{mm:02d}", f"{hh}:{mm:02d}发布的预测", "issue_hour", hour,
        format_value(hour),
    )  # fmt: skip


_WHEN_ASPECTS: dict[str, Callable[..., Words | None]] = {
    "season": _season,
    "week": _week,
    "holiday": _holiday,
    "hour": _hour,
}


def _joined(parts: list[Words], sep_en: str = ", ", sep_zh: str = "，") -> Words | None:
    if not parts:
        return None
    first = parts[0]
    return Words(
        sep_en.join(p.en for p in parts),
        sep_zh.join(p.zh for p in parts),
        first.feature,
        first.value,
        first.value_text,
        first.median,
    )


def _when(facts: Facts, aspects: Sequence[tuple[str, float]], **kw: Any) -> Words | None:
    parts = [_WHEN_ASPECTS[a](facts, **kw) for a in _chosen(aspects) if a in _WHEN_ASPECTS]
    found = [p for p in parts if p is not None]
    if not found:  # the pushing aspects had no value: say the season, if anything
        found = [w for w in (_season(facts),) if w is not None]
    return _joined(found)


def _with_typical(
    words: Words,
    facts: Facts,
    name: str,
    value: float,
    kind: str,
    unit_zh: str = "",
    say: Callable[[str, str], str] | None = None,
) -> Words:
    """Words with "(a typical grid has m)" when the city median means something: at least 1
    for a number, 1 % for a share. `unit_zh`: the Chinese measure word after m; `say(lang,
    m)`: the median in words instead (an attribute: "25 shops")."""
    m = _typical(facts, name, 0.01 if kind == "share" else MIN_TYPICAL)
    if math.isnan(m):
        return words
    shown = _pct(m) if kind == "share" else _typical_text(m, whole=kind != "rate")
    en, zh = (say("en", shown), say("zh", shown)) if say else (shown, f"{shown}{unit_zh}")
    return Words(
        f"{words.en} (a typical grid has {en})", f"{words.zh}（一般网格{zh}）", name, value,
        words.value_text, m,
    )  # fmt: skip


# population feature -> (English with {v}, Chinese with {v}, kind, Chinese measure word)
PEOPLE_WORDS = {
    "population": ("{v} residents", "常住人口{v}人", "count", "人"),
    "households": ("{v} households", "{v}户", "count", "户"),
    "elderly_share": ("{v} of residents elderly", "老年人占{v}", "share", ""),
    "floating_share": ("{v} floating population", "流动人口占{v}", "share", ""),
    "rental_share": ("{v} of homes rented", "出租房屋占{v}", "share", ""),
    "elderly_alone_per_1000": (
        "{v} elderly living alone per 1,000 residents",
        "每千人中独居老人{v}人",
        "rate",
        "人",
    ),
    "special_care_per_1000": (
        "{v} residents needing special care per 1,000",
        "每千人中特殊关爱人员{v}人",
        "rate",
        "人",
    ),
    "persons_per_household": ("{v} persons per household", "户均{v}人", "rate", "人"),
}


def _person(facts: Facts, name: str) -> Words | None:
    spec = PEOPLE_WORDS.get(name)
    value = _number(facts, name)
    if spec is None or value is None:
        return None
    en, zh, kind, unit_zh = spec
    text = (
        _pct(value) if kind == "share" else (_n(value) if kind == "count" else _one_decimal(value))
    )
    words = Words(en.format(v=text), zh.format(v=text), name, value, text)
    return _with_typical(words, facts, name, value, kind, unit_zh)


def _people(facts: Facts, aspects: Sequence[tuple[str, float]], **_: Any) -> Words | None:
    found = [w for a in _chosen(aspects) if (w := _person(facts, a)) is not None]
    return _joined(found, "; ", "；")


def _place_part(facts: Facts, name: str, labels: LabelTable) -> Words | None:
    value = facts.value(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if name == "grid_type":
        raw = str(value)
        return Words(labels.grid_type(raw, "en"), labels.grid_type(raw, "zh"), name, value, raw)
    number = _number(facts, name)
    if number is None:
        return None
    text = format_value(number)
    if name == "area_km2":
        return Words(f"area {text} km²", f"面积{text}平方公里", name, number, text)
    if name == "density_per_km2":
        text = _n(number)
        words = Words(f"{text} residents per km²", f"每平方公里{text}人", name, number, text)
        return _with_typical(words, facts, name, number, "count", "人")
    if name.startswith("attr_"):
        attribute = name.removeprefix("attr_")

        def say(lang: str, v: str) -> str:
            return labels.attribute(attribute, lang, v)

        words = Words(say("en", text), say("zh", text), name, number, text)
        return _with_typical(words, facts, name, number, "count", say=say)
    return None


def _place(
    facts: Facts, aspects: Sequence[tuple[str, float]], labels: LabelTable, **_: Any
) -> Words | None:
    found = [w for a in _chosen(aspects) if (w := _place_part(facts, a, labels)) is not None]
    return _joined(found)


def _reporting(
    facts: Facts, aspects: Sequence[tuple[str, float]], labels: LabelTable, **_: Any
) -> Words | None:
    for name, _push in aspects:
        parts = name.removeprefix("source_share_").split("d_", 1)
        if len(parts) != 2 or facts.value(name) is None:
            continue
        days, source = parts
        share = _number(facts, name)
        if share is None:
            return Words(
                f"no events here in the past {days} days to tell how they get reported",
                f"近{days}天本网格无事件上报", name, NAN, NAN_TEXT,
            )  # fmt: skip
        pct = _pct(share)
        return Words(
            f"{pct} of the events here in the past {days} days were reported by "
            f"{labels.source(source, 'en')}",
            f"近{days}天本网格事件中{pct}由{labels.source(source, 'zh')}上报",
            name, share, pct,
        )  # fmt: skip
    return None


_DESCRIBE: dict[str, Callable[..., Words | None]] = {
    "long_term": _long_term,
    "recent": _recent,
    "nearby": _nearby,
    "other_kinds": _other_kinds,
    "when": _when,
    "place": _place,
    "people": _people,
    "reporting": _reporting,
}


def _fill(label: str, value_text: str) -> str:
    return label.replace("{value}", value_text) if "{value}" in label else f"{label} {value_text}"


def describe(
    group: str,
    target: str,
    facts: Facts,
    aspects: Sequence[tuple[str, float]],
    labels: LabelTable,
    horizon_hours: int = HORIZON_HOURS,
    feature_labels: Mapping[str, tuple[str, str]] | None = None,
) -> Words:
    """The words of `group`'s reason for one grid. `aspects`: (aspect, push in the direction of
    the group's points), largest first. A group none of whose values is at hand is named by
    its label; a feature of group `other` by its feature label (`feature_labels`) and value."""
    describer = _DESCRIBE.get(group)
    if describer is not None:
        words = describer(
            target=target, facts=facts, aspects=aspects, labels=labels, horizon_hours=horizon_hours
        )
        if words is not None:
            return words
    if group == "other" and aspects and feature_labels and aspects[0][0] in feature_labels:
        name = aspects[0][0]
        value = facts.value(name)
        text = format_value(value)
        en, zh = feature_labels[name]
        return Words(_fill(en, text), _fill(zh, text), name, value, text)
    name = aspects[0][0] if group == "other" and aspects else ""
    return Words(labels.group(group, "en", target), labels.group(group, "zh", target), name)


def reason_texts(words_en: str, words_zh: str, points: float) -> tuple[str, str]:
    """The full sentences: the words and the points ('…: +12 pts', '…：+12个百分点')."""
    pts = format_points(points)
    return f"{words_en}: {pts} pts", f"{words_zh}：{pts}个百分点"
