"""Reasons from SHAP contributions: additivity, the points rule per reason group, the
partition of a real model's features, the words of each group in both languages, the median
rule, the label table, speed."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from features.base import FeatureInfo, FeatureSpec
from features.build import build_features
from models.explain import (
    AdditivityError,
    check_additivity,
    explain,
    explain_targets,
    format_value,
    partition,
    reason_lists,
    reasons_from_contributions,
)
from models.forecaster import LightGBMForecaster, MultiTargetForecaster
from models.reason_groups import GROUPS, group_of
from models.reason_texts import DictFacts, describe, reason_texts
from models.stacking import KINDS, column
from models.training import train_forecaster
from risk.labels import load_labels
from risk.synth.city import synthesise
from tests.models.test_forecaster import PLAIN

TZ = "Asia/Shanghai"
FAST = {
    "training": {"num_boost_round": 150, "early_stopping_rounds": 10, "issue_time_stride": 1},
    "lightgbm": {**PLAIN, "num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3},
}
TOY_INFO = [
    FeatureInfo("x1", "history", "signal x1 is {value}", "信号x1为{value}"),
    FeatureInfo("x2", "neighbourhood", "noise x2 is {value}", "噪声x2为{value}"),
    FeatureInfo("grid_type", "area", "Grid type: {value}", "网格类型：{value}"),
]
LABELS = load_labels()
# What a commander or a grid worker should never have to read.
JARGON = ("cos", "sin", "半衰期", "×", "median", "中位数", "{value}", "decay", "加权", "seppexp")


def identity(p: np.ndarray) -> np.ndarray:
    return np.asarray(p, dtype=float)


def toy_frame(n_grids: int = 40, n_days: int = 60, seed: int = 0) -> pd.DataFrame:
    """`x1` ~ U(-1, 1) drives the counts: Poisson(2.3) when x1 > 0, Poisson(0.05) otherwise
    (P(>= 1) = 0.90 vs 0.049); `x2` is noise."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-01-01 08:00", periods=n_days, freq="D", tz=TZ)
    n = n_grids * n_days
    x1 = rng.uniform(-1, 1, n).astype(np.float32)
    count = rng.poisson(np.where(x1 > 0, 2.3, 0.05)).astype(np.int32)
    types = np.array(["old_residential", "commercial"])[np.arange(n_grids) % 2]
    return pd.DataFrame(
        {
            "grid_id": np.tile([f"g{i}" for i in range(n_grids)], n_days),
            "issue_time": times.repeat(n_grids),
            "x1": x1,
            "x2": rng.normal(size=n).astype(np.float32),
            "grid_type": pd.Categorical(np.tile(types, n_days)),
            "count_any": count,
            "label_any": (count >= 1).astype(np.int8),
            "count_theft": (count // 2).astype(np.int32),
            "label_theft": (count >= 2).astype(np.int8),
        }
    )


def hand_frame(columns: dict[str, list], times: list[str] | None = None) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    issue = pd.DatetimeIndex(times or ["2025-03-01 08:00"] * n).tz_localize(TZ)
    return pd.DataFrame({"grid_id": [f"g{i}" for i in range(n)], "issue_time": issue, **columns})


def info_of(names: list[str]) -> list[FeatureInfo]:
    return [FeatureInfo(n, "history", f"{n} {{value}}", f"{n} {{value}}") for n in names]


@pytest.fixture(scope="module")
def toy_model() -> LightGBMForecaster:
    return LightGBMForecaster(config=FAST).fit(toy_frame())


@pytest.fixture(scope="module")
def city():
    """60 grids, 200 days; a stacked model of any, theft, fire_hazard trained to 15 July
    2024 (~8 s), and the scoring frame of every grid at 16 July (classic components added)."""
    c = synthesise(60, 200, seed=1)
    trained = train_forecaster(
        c.grids, c.events, "2024-07-15", config=FAST, targets=("any", "theft", "fire_hazard")
    )
    issue = pd.Timestamp("2024-07-16 08:00", tz=TZ)
    spec = FeatureSpec(targets=trained.targets)
    frame = build_features(c.grids, c.events, [issue], spec).frame
    frame = trained.model.add_classics(frame, c.events, c.grids)
    return c, trained, frame


# ----------------------------------------------------------------------------- additivity


def test_additivity_holds_on_the_toy_model(toy_model):
    frame = toy_frame(n_grids=10, n_days=5, seed=3)
    error = check_additivity(toy_model, frame)
    assert 0.0 <= error <= 1e-9


def test_additivity_holds_for_every_grid_and_target_of_the_synthetic_city(city):
    _, trained, frame = city
    for model in trained.model.forecasters_.values():
        assert check_additivity(model, frame) <= 1e-6


class _SkewedModel:
    """Contributions 0.5 - 0.2 + base 1.0 = 1.3, raw score 1.301: off by 0.001."""

    target = "any"

    def contributions(self, frame):
        return np.array([[0.5, -0.2, 1.0]])

    def decision_function(self, frame):
        return np.array([1.301])


def test_check_additivity_raises_when_the_sum_misses_the_raw_score():
    with pytest.raises(AdditivityError, match="0.001"):
        check_additivity(_SkewedModel(), pd.DataFrame({"x": [0.0]}))
    assert check_additivity(_SkewedModel(), pd.DataFrame({"x": [0.0]}), atol=0.01) == (
        pytest.approx(0.001)
    )


# ----------------------------------------------------------------------------- the partition


def test_every_feature_of_a_real_model_belongs_to_exactly_one_named_group(city):
    _, trained, _ = city
    info = {i.name: i for i in trained.feature_info}
    for target, model in trained.model.forecasters_.items():
        names = list(model.feature_names_)
        part = partition(names, target, info)
        assert len(part.group_of) == len(names)  # one group index per feature
        assert "other" not in part.groups, part.features_of("other", names)
        assert set(part.groups) == set(GROUPS) - {"other"}, target
        # the groups split the features: each in one, together all of them
        members = [part.features_of(g, names) for g in part.groups]
        assert sorted(sum(members, [])) == sorted(names)


@pytest.mark.parametrize(
    ("name", "target", "group"),
    [
        ("events_365d_theft", "theft", "long_term"),
        ("same_window_1y_theft", "theft", "long_term"),
        ("classic_eb_theft", "theft", "long_term"),
        ("classic_citymean_theft", "theft", "long_term"),
        ("classic_declustered_theft", "theft", "long_term"),
        ("decay_30d_theft", "theft", "long_term"),
        ("events_28d_theft", "theft", "recent"),
        ("decay_7d_theft", "theft", "recent"),
        ("days_since_last_theft", "theft", "recent"),
        ("classic_self_theft", "theft", "recent"),
        ("nbr1_events_7d_theft", "theft", "nearby"),
        ("community_share_91d_theft", "theft", "nearby"),
        ("classic_kde_theft", "theft", "nearby"),
        # another category's history, even its neighbourhood, never explains thefts as thefts
        ("events_28d_fire_hazard", "theft", "other_kinds"),
        ("community_events_7d_fire_hazard", "theft", "other_kinds"),
        ("classic_self_fire_hazard", "theft", "other_kinds"),
        ("events_365d_any", "theft", "other_kinds"),
        ("events_365d_any", "any", "long_term"),
        ("events_28d_fire_hazard", "fire_hazard", "recent"),
        ("days_since_last_holiday", "theft", "when"),  # the calendar's, not a category's
        ("season_cos", "theft", "when"),
        ("window_share_sat", "theft", "when"),
        ("grid_type", "theft", "place"),
        ("attr_shops", "theft", "place"),
        ("elderly_alone_per_1000", "theft", "people"),
        ("source_share_28d_hotline", "theft", "reporting"),
        ("mystery", "theft", "other"),
    ],
)
def test_group_of(name, target, group):
    assert group_of(name, target) == group


def test_every_classic_component_kind_has_a_reason_group():
    # a kind added to models.stacking without a group would land in "other factors"
    groups = {kind: group_of(column(kind, "theft"), "theft") for kind in KINDS}
    assert groups["declustered"] == "long_term"
    assert "other" not in groups.values() and "other_kinds" not in groups.values()


# ----------------------------------------------------------------------------- the points rule


def test_points_of_all_groups_add_up_to_the_change_in_calibrated_probability(city):
    _, trained, frame = city
    model = trained.model.forecasters_["theft"]
    table = explain(model, frame, trained.feature_info, top=20, min_points=0.0)
    n_groups = len(partition(list(model.feature_names_), "theft").groups)
    assert table.groupby("row").size().eq(n_groups).all() and table["row"].nunique() == len(frame)
    per_row = table.groupby("row").agg(points=("points", "sum"), prob=("prob", "first"))
    base = model.contributions(frame.iloc[:1])[0, -1]
    p0 = model.calibrator_.transform(np.array([model.raw_to_prob(np.array([base]))[0]]))[0]
    p = model.predict_proba(frame)[per_row.index]
    np.testing.assert_allclose(per_row["prob"], p, atol=1e-12)
    np.testing.assert_allclose(per_row["points"], 100 * (p - p0), atol=1e-9)
    assert table["base_prob"].eq(p0).all()
    np.testing.assert_allclose(table["other_points"], 0.0, atol=1e-9)  # every group shown
    # with the top 3 only, "other factors" are the rest: base + reasons + other = forecast
    top3 = explain(model, frame, trained.feature_info, top=3, min_points=0.0)
    shown = top3.groupby("row").agg(points=("points", "sum"), other=("other_points", "first"))
    np.testing.assert_allclose(shown["points"] + shown["other"], 100 * (p - p0), atol=1e-9)


# A theft model's row: recent thefts (0.3 + 0.1), thefts over the year (-0.2), fire hazards
# (0.004, another kind of event), the kind of place (0.1); row 1..4 have no contribution.
HAND = {
    "events_28d_theft": ([9, 1, 0, 2, 1], 0.3),  # median 1
    "decay_1d_theft": ([2.5, 0, 0, 0, 0], 0.1),
    "events_7d_theft": ([3, 0, 0, 0, 0], 0.0),
    "events_365d_theft": ([20, 10, 12, 14, 30], -0.2),  # median 14
    "events_28d_fire_hazard": ([7, 0, 0, 1, 0], 0.004),  # median 0: never compared
}


def hand_case() -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    frame = hand_frame({n: np.array(v, dtype=np.float32) for n, (v, _) in HAND.items()})
    frame["grid_type"] = pd.Categorical(["industrial", "rural", "rural", "campus", "mixed"])
    names = [*HAND, "grid_type"]
    contrib = np.zeros((5, len(names) + 1))
    contrib[0, :-1] = [phi for _, phi in HAND.values()] + [0.1]
    return frame, contrib, names


def test_a_reasons_points_are_its_own_groups_by_hand():
    # identity calibration, base 0 -> p0 = 0.5; groups recent 0.4, long_term -0.2,
    # other_kinds 0.004, place 0.1: total 0.304, p = expit(0.304) = 0.575420,
    # rate = 0.075420 / 0.304 = 0.248092 -> points 9.9237, -4.9618, 0.0992, 2.4809;
    # top 3 shown, "other factors" = 7.5420 - 7.4428 = 0.0992 (the fire hazards)
    frame, contrib, names = hand_case()
    table = reasons_from_contributions(contrib, frame, names, info_of(names), identity, "theft")
    assert table["group"].tolist() == ["recent", "long_term", "place"]
    assert table["rank"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(table["points"], [9.9237, -4.9618, 2.4809], atol=1e-4)
    np.testing.assert_allclose(table["other_points"], 0.0992, atol=1e-4)
    assert table["prob"].iloc[0] == pytest.approx(0.575420, abs=1e-6)
    assert table["text_en"].tolist() == [
        "9 thefts here in the past 28 days (a typical grid has 1), 3 of them in the past 7 days:"
        " +9.9 pts",
        "20 thefts here in the past year (a typical grid has 14): -5.0 pts",
        "industrial area: +2.5 pts",
    ]
    assert table["text_zh"].tolist() == [
        "本网格近28天盗窃9起（一般网格1起），其中近7天3起：+9.9个百分点",
        "本网格近一年盗窃20起（一般网格14起）：-5.0个百分点",
        "工业区：+2.5个百分点",
    ]
    assert table["feature"].tolist() == ["events_28d_theft", "events_365d_theft", "grid_type"]
    assert table["value"].iloc[:2].tolist() == [9.0, 20.0] and np.isnan(table["value"].iloc[2])
    assert table["median"].iloc[:2].tolist() == [1.0, 14.0]


def test_another_categorys_points_never_join_the_targets_own_reason():
    # the fire hazards carry log-odds 2.0, the thefts 0.1: the theft reason gets 0.1's share,
    # the fire hazards' reason says so in words. total 2.1, p = expit(2.1) = 0.890903,
    # rate = 0.390903 / 2.1 = 0.186144 -> other_kinds 37.229, recent 1.8614
    frame, contrib, names = hand_case()
    contrib[0, :-1] = [0.1, 0.0, 0.0, 0.0, 2.0, 0.0]
    table = reasons_from_contributions(contrib, frame, names, info_of(names), identity, "theft")
    assert table["group"].tolist() == ["other_kinds", "recent"]
    np.testing.assert_allclose(table["points"], [37.229, 1.8614], atol=1e-3)
    assert (
        table["text_en"].iloc[0] == "other events here: 7 fire hazards in the past 28 days: +37 pts"
    )
    assert table["text_zh"].iloc[0] == "本网格其他事件：近28天火灾隐患7起：+37个百分点"


def test_top_and_min_points_choose_groups_by_absolute_points():
    frame, contrib, names = hand_case()
    fewer = reasons_from_contributions(
        contrib, frame, names, info_of(names), identity, "theft", top=3, min_points=3.0
    )
    assert fewer["group"].tolist() == ["recent", "long_term"]
    # the place's 2.5 points are no longer shown: they join "other factors"
    np.testing.assert_allclose(fewer["other_points"], 0.0992 + 2.4809, atol=1e-4)


# ----------------------------------------------------------------------------- words


def words(group, target, values, medians=None, aspects=(("", 1.0),), month=None):
    facts = DictFacts(values, medians or {}, month)
    w = describe(group, target, facts, list(aspects), LABELS)
    return w.en, w.zh


def test_long_term_words_compare_with_a_typical_grid_only_from_a_median_of_one():
    values = {"events_365d_theft": 9.0}
    assert words("long_term", "theft", values, {"events_365d_theft": 3.0}) == (
        "9 thefts here in the past year (a typical grid has 3)",
        "本网格近一年盗窃9起（一般网格3起）",
    )
    # a median near 0 (0.4 events) says nothing: the plain count
    assert words("long_term", "theft", values, {"events_365d_theft": 0.4}) == (
        "9 thefts here in the past year",
        "本网格近一年盗窃9起",
    )
    # one event: singular; 2.5 rounds half up
    assert words("long_term", "theft", {"events_365d_theft": 1.0}, {"events_365d_theft": 2.5})[
        0
    ] == ("1 theft here in the past year (a typical grid has 3)")


def test_recent_words_give_the_last_event_when_there_is_none_lately():
    values = {"events_28d_theft": 0.0, "events_7d_theft": 0.0, "days_since_last_theft": 45.0}
    assert words("recent", "theft", values) == (
        "0 thefts here in the past 28 days; the last one 45 days ago",
        "本网格近28天盗窃0起，上一起在45天前",
    )
    values = {"events_28d_theft": 2.0, "events_7d_theft": 2.0}
    assert words("recent", "theft", values)[0] == (
        "2 thefts here in the past 28 days, all in the past 7 days"
    )


def test_nearby_words_count_the_neighbouring_grids_this_week():
    values = {"nbr1_events_7d_theft": 3.0, "nbr1_events_28d_theft": 5.0}
    assert words("nearby", "theft", values) == (
        "3 thefts in neighbouring grids in the past 7 days, 5 in the past 28 days",
        "相邻网格近7天盗窃3起，近28天5起",
    )


def test_other_kinds_words_say_busy_grid_for_many_events_of_all_kinds():
    values = {"events_365d_any": 153.0}
    assert words(
        "other_kinds",
        "theft",
        values,
        {"events_365d_any": 40.0},
        [("any", 0.5), ("fire_hazard", 0.1)],
    ) == (
        "busy grid: 153 events of all kinds here in the past year (a typical grid has 40)",
        "事件多发网格：本网格近一年各类事件153起（一般网格40起）",
    )


@pytest.mark.parametrize(
    ("values", "aspects", "en", "zh"),
    [
        (
            {"issue_month": 12, "window_weekend_share": 0.67},
            [("season", 0.3), ("week", 0.2), ("holiday", 0.01)],
            "winter (December), weekend ahead",
            "冬季（12月），周末将至",
        ),
        (
            {"window_holiday_share": 0.33, "issue_on_holiday": 0.0, "days_to_next_holiday": 2.0},
            [("holiday", 0.4), ("season", 0.1)],  # 0.1 < 0.3 x 0.4: the season is left out
            "holiday period ahead",
            "未来3天有节假日",
        ),
        (
            {"window_weekend_share": 0.0},
            [("week", 0.4)],
            "working days only in the next 3 days",
            "未来3天均为工作日",
        ),
    ],
)
def test_when_words_never_show_trigonometry(values, aspects, en, zh):
    values = {**values, "season_sin": -0.01, "season_cos": 0.99}
    assert words("when", "theft", values, aspects=aspects) == (en, zh)


def test_place_words_translate_grid_types_and_attributes():
    values = {"grid_type": "industrial", "attr_shops": 128.0}
    aspects = [("attr_shops", 0.4), ("grid_type", 0.3)]
    assert words("place", "theft", values, {"attr_shops": 25.0}, aspects) == (
        "128 shops (a typical grid has 25 shops), industrial area",
        "商铺128家（一般网格商铺25家），工业区",
    )


def test_people_words_say_who_lives_here_from_real_values():
    values = {"elderly_alone_per_1000": 18.24, "elderly_share": 0.32}
    aspects = [("elderly_alone_per_1000", 0.5), ("elderly_share", 0.2)]
    medians = {"elderly_alone_per_1000": 6.04, "elderly_share": 0.18}
    assert words("people", "theft", values, medians, aspects) == (
        "18.2 elderly living alone per 1,000 residents (a typical grid has 6); "
        "32% of residents elderly (a typical grid has 18%)",
        "每千人中独居老人18.2人（一般网格6人）；老年人占32%（一般网格18%）",
    )


def test_reporting_words_name_the_source():
    values = {"source_share_28d_hotline": 0.7}
    assert words("reporting", "theft", values, aspects=[("source_share_28d_hotline", 0.2)]) == (
        "70% of the events here in the past 28 days were reported by hotline callers",
        "近28天本网格事件中70%由热线上报",
    )


def test_an_unknown_grid_type_shows_as_itself_and_is_listed_as_missing():
    assert words("place", "theft", {"grid_type": "harbour"}, aspects=[("grid_type", 1.0)]) == (
        "harbour",
        "harbour",
    )
    assert LABELS.missing(grid_types=["harbour", "industrial"], attributes=["shops", "parks"]) == {
        "grid_types": ["harbour"],
        "attributes": ["parks"],
    }


def test_a_city_label_file_renames_a_grid_type(tmp_path):
    city_file = tmp_path / "labels.toml"
    city_file.write_text('[grid_types.industrial]\nen = "industrial park"\nzh = "工业园区"\n')
    labels = load_labels(city_file)
    facts = DictFacts({"grid_type": "industrial"})
    w = describe("place", "theft", facts, [("grid_type", 1.0)], labels)
    assert (w.en, w.zh) == ("industrial park", "工业园区")
    assert labels.grid_type("rural", "zh") == "农村"  # the packaged entries stay


def test_reason_texts_add_the_points():
    assert reason_texts("winter (December)", "冬季（12月）", -3.44) == (
        "winter (December): -3.4 pts",
        "冬季（12月）：-3.4个百分点",
    )


def test_a_feature_no_group_knows_is_named_by_its_label():
    frame = hand_frame({"mystery": [0.25]})
    info = [FeatureInfo("mystery", "extra", "mystery level {value}", "神秘程度{value}")]
    table = reasons_from_contributions(
        np.array([[1.0, 0.0]]), frame, ["mystery"], info, identity, "any"
    )
    assert table["group"].tolist() == ["other"]
    assert table["text_en"].tolist() == ["mystery level 0.25: +23 pts"]


# ----------------------------------------------------------------------------- real model texts


def test_real_reasons_are_plain_words_with_the_grids_real_values(city):
    c, trained, frame = city
    types = set(c.grids["grid_type"].astype(str))
    for model in trained.model.forecasters_.values():
        table = explain(model, frame, trained.feature_info, top=3, min_points=0.0)
        assert len(table) == 3 * len(frame)
        for r in table.itertuples():
            text = r.text_en + " " + r.text_zh
            assert not any(j in text for j in JARGON), text
            assert not re.search(r"[A-Za-z]", r.text_zh), r.text_zh  # nothing untranslated
            assert not any(t in r.text_zh for t in types)
            assert r.text_en.endswith(" pts") and r.text_zh.endswith("个百分点")
            if not np.isnan(r.median):  # compared only with a median of at least 1 (1 %)
                assert r.median >= 0.01 and ("typical grid" in r.text_en)
            if r.feature in frame.columns and not np.isnan(r.value):
                assert np.float32(r.value) == frame[r.feature].iloc[r.row], r
                if r.group != "when":  # the calendar is said in words
                    assert r.value_text in r.text_en and r.value_text in r.text_zh


def test_explain_targets_covers_every_target():
    model = MultiTargetForecaster(config=FAST).fit(toy_frame(), ["any", "theft"])
    table = explain_targets(model, toy_frame(n_grids=5, n_days=1, seed=9), TOY_INFO)
    assert set(table["target"]) == {"any", "theft"}
    assert table.groupby("target")["row"].nunique().to_dict() == {"any": 5, "theft": 5}


def test_reason_lists_keep_the_stored_shape_and_add_group_and_other_factors():
    frame, contrib, names = hand_case()
    table = reasons_from_contributions(contrib, frame, names, info_of(names), identity, "theft")
    lists = reason_lists(table)
    stamp = pd.Timestamp("2025-03-01 08:00", tz=TZ)
    assert list(lists) == [("g0", stamp, "theft")]
    first, _, place = lists[("g0", stamp, "theft")]
    assert [first["rank"], first["group"], first["family"]] == [1, "recent", "history"]
    assert first["base_prob"] == 0.5 and first["other_points"] == pytest.approx(0.0992, abs=1e-4)
    assert first["text_en"].startswith("9 thefts") and first["words_zh"].startswith("本网格近28天")
    assert place["value"] is None and place["value_text"] == "industrial"
    assert place["median"] is None


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (9.0, "count", "9"),
        (0.5, "share", "0.50"),
        (float("nan"), "rate", "—"),
        (0.005094, "rate", "0.0051"),
        (55.7427, "other", "55.7"),
        ("commercial", "other", "commercial"),
    ],
)
def test_format_value(value, kind, text):
    assert format_value(value, kind) == text


# ----------------------------------------------------------------------------- speed


def test_reasons_for_14k_rows_take_well_under_a_few_seconds(city):
    """2,000 grids x 7 targets: 14,000 rows, 3 reasons each = 42,000 sentences."""
    _, trained, frame = city
    model = trained.model.forecasters_["theft"]
    names = list(model.feature_names_)
    big = pd.concat([frame] * (14_000 // len(frame) + 1), ignore_index=True).iloc[:14_000]
    rng = np.random.default_rng(0)
    contrib = np.column_stack([rng.normal(0, 0.1, (len(big), len(names))), np.full(len(big), -3.0)])
    start = time.perf_counter()
    table = reasons_from_contributions(
        contrib, big, names, trained.feature_info, identity, "theft", 3, 0.0
    )
    elapsed = time.perf_counter() - start
    assert len(table) == 42_000
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_contributions_computed_once_serve_both_check_and_explain(toy_model):
    frame = toy_frame(n_grids=6, n_days=1, seed=11)
    contrib = toy_model.contributions(frame)
    assert check_additivity(toy_model, frame, contributions=contrib) <= 1e-9
    shared = explain(toy_model, frame, TOY_INFO, contributions=contrib)
    pd.testing.assert_frame_equal(shared, explain(toy_model, frame, TOY_INFO))
    np.testing.assert_allclose(
        shared.groupby("row")["prob"].first(),
        toy_model.predict_proba(frame)[shared["row"].unique()],
        atol=1e-12,
    )
