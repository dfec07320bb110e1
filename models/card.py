"""Model card of one registered version, as Markdown and as self-contained HTML (pure).

Both renderings come from one list of sections, so they always say the same thing. The HTML
has inline CSS only (no CDN, no script) and every value is escaped. A version whose scoring
runs passed a health threshold (issue 17) is marked when the card is served: `with_health`
puts a "Health in service" section right under the title.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.gates import GateResult
from models.segment_tables import metric_tables, warning_tables
from risk.contract import GRID_SHARE_COLUMNS

OVERALL_COLUMNS = (
    "pr_auc",
    "roc_auc",
    "pei@5",
    "hit_rate@10",
    "pai@10",
    "miss_rate@10",
    "miss_rate_true@10",
    "ece",
    "brier",
)
SEGMENT_COLUMNS = ("pr_auc", "miss_rate@10")
MAIN_MODEL = "lightgbm"

INTENDED_USE = [
    "Rank community grids by their risk of at least one event in the next 72 hours, to help "
    "grid workers and dispatchers plan patrols and visits.",
    "Every warning goes to a human review queue; a person decides what, if anything, to do.",
]
OUT_OF_SCOPE = [
    "Anything about individuals: predicting, scoring or profiling people, households or groups.",
    "Automatic enforcement or any action taken without human review.",
    "Allocating resources away from a grid because its forecast is low.",
]
LIMITATIONS = [
    "Learns from recorded events only: grids where events go unreported look safer than they "
    "are, and patrols sent by the forecast can inflate the records they then confirm.",
    "Events are random: even a perfect forecast misses many grids that happen to see events "
    "(see miss_rate@10 beside the oracle on synthetic data).",
    "Valid for the training window's city, categories and reporting practice; retrain and "
    "re-run the backtest after changes to any of them.",
    "Probabilities are calibrated on a held-out later slice; calibration drifts as time passes.",
]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)  # (caption, table)


def model_card(
    version_info: Mapping[str, Any],
    metrics: Mapping[str, Any],
    feature_info: Iterable[Any],
    training_window: tuple[Any, Any],
    gate_results: Sequence[GateResult],
) -> tuple[str, str]:
    """``(markdown, html)`` for one version.

    ``version_info``: shown as given (e.g. name, version, run_id, created, approved_by);
    ``metrics``: a backtest ``metrics.json`` dict; ``feature_info``: ``(name, family)`` pairs
    or ``FeatureInfo`` objects; ``training_window``: ``(start, end)``.
    """
    sections = _sections(version_info, metrics, feature_info, training_window, gate_results)
    title = (
        f"Model card — {version_info.get('name', 'grid-risk')} v{version_info.get('version', '?')}"
    )
    return _markdown(title, sections), _html(title, sections)


# ----------------------------------------------------------------------------- content


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _lead(lead: Mapping[str, Any]) -> str:
    """A day-by-day lead as `+0.0012 [-0.0003, +0.0027]`, or a dash."""
    values = [lead.get(k) for k in ("mean_diff", "low", "high")]
    if not all(isinstance(v, int | float) and v == v for v in values):
        return "—"
    mean, low, high = values
    return f"{mean:+.4f} [{low:+.4f}, {high:+.4f}]"


def _model_order(models: Mapping[str, Any]) -> list[str]:
    names = [MAIN_MODEL] if MAIN_MODEL in models else []
    names += sorted(n for n in models if n not in (MAIN_MODEL, "oracle"))
    return names + (["oracle"] if "oracle" in models else [])


def _sections(
    version_info: Mapping[str, Any],
    metrics: Mapping[str, Any],
    feature_info: Iterable[Any],
    training_window: tuple[Any, Any],
    gate_results: Sequence[GateResult],
) -> list[Section]:
    start, end = training_window
    dataset = metrics.get("dataset", {})
    sections = [
        Section(
            "Version",
            tables=[
                ("", Table(["field", "value"], [[k, _fmt(v)] for k, v in version_info.items()]))
            ],
        ),
        Section("Intended use", bullets=list(INTENDED_USE)),
        Section("Out-of-scope use", bullets=list(OUT_OF_SCOPE)),
        Section(
            "Training window",
            paragraphs=[
                f"Trained on events from {_fmt(start)} to {_fmt(end)}.",
                f"Backtest: {_fmt(dataset.get('grids'))} grids, {_fmt(dataset.get('events'))} "
                f"events, {_fmt(dataset.get('start'))} to {_fmt(dataset.get('end'))}, "
                f"{_fmt(metrics.get('issue_times'))} issue times, "
                f"horizon {_fmt(metrics.get('horizon_hours'))} hours.",
            ],
        ),
        _features_section(feature_info),
        _configuration_section(metrics),
        labels_section(metrics),
        _metrics_section(metrics),
        _segments_section(metrics),
        fairness_section(metrics),
        _gates_section(gate_results),
        Section("Known limitations", bullets=LIMITATIONS + _segment_limitations(metrics)),
    ]
    return sections


def _segment_limitations(metrics: Mapping[str, Any]) -> list[str]:
    """The grid type the model serves worst, when it is worse than overall."""
    model = metrics.get("targets", {}).get("any", {}).get("models", {}).get(MAIN_MODEL, {})
    overall, col = model.get("miss_rate@10"), "miss_rate@10"
    rates = {
        seg: m.get(col)
        for seg, m in (model.get("by_segment") or {}).items()
        if isinstance(m.get(col), int | float)
    }
    if not rates or not isinstance(overall, int | float):
        return []
    worst = max(rates, key=lambda seg: rates[seg])
    if rates[worst] <= overall:
        return []
    return [
        f"High-risk grids of type {worst} are missed more often than elsewhere in the backtest: "
        f"miss_rate@10 {_fmt(rates[worst])} against {_fmt(overall)} overall (target any)."
    ]


def labels_section(metrics: Mapping[str, Any]) -> Section:
    """What the labels counted (`metrics["labels"]`, docs/adr/019-*) and, where the backtest
    was given patrol visits, the patrol exposure per grid type and street
    (`metrics["exposure"]`)."""
    labels = metrics.get("labels")
    if labels is None:
        text = (
            "This backtest predates the label setting: its labels counted events from every "
            "source, including those the system's own patrols found."
        )
    elif labels.get("exclude_sources"):
        text = (
            f"Labels leave out events reported by: {', '.join(labels['exclude_sources'])} — "
            "a patrol sent by a warning finds events where it was sent, so counting them would "
            "let the forecast confirm itself (feedback-loop safeguard, docs/adr/019). "
            f"{_fmt(labels.get('events_left_out'))} of "
            f"{_fmt(labels.get('events_left_out', 0) + labels.get('events_counted', 0))} "
            "events were left out; every model and baseline is scored against the same labels."
        )
    else:
        text = (
            "Labels count events from every source, including those the system's own patrols "
            "found: the backtest cannot tell a risky grid from a well-patrolled one."
        )
    section = Section("Labels and patrol exposure", paragraphs=[text])
    exposure = metrics.get("exposure")
    if not exposure:
        section.paragraphs.append("No patrol visits were given to the backtest.")
        return section
    section.paragraphs.append(
        f"Patrol visits {_fmt(exposure.get('start'))} to {_fmt(exposure.get('end'))}: "
        f"{_fmt(exposure.get('visits'))} visits to {_fmt(exposure.get('grids_visited'))} of "
        f"{_fmt(exposure.get('grids'))} grids; per grid and 72-hour window "
        f"{_fmt(exposure.get('visits_per_grid_window'))} visits on average."
    )
    for kind in ("grid_type", "street"):
        rows = [
            [seg, _fmt(v.get("grids")), _fmt(v.get("visits")),
             _fmt(v.get("visits_per_grid_window")), _fmt(v.get("share_of_visits"))]
            for seg, v in (exposure.get(f"by_{kind}") or {}).items()
        ]  # fmt: skip
        if rows:
            header = [kind, "grids", "visits", "per grid-window", "share of visits"]
            section.tables.append((f"patrol exposure by {kind}", Table(header, rows)))
    return section


def mix_sentence(mix: Mapping[str, Any] | None) -> str | None:
    """How `any` was forecast (`metrics["backtest"]["any_mix"]`, ADR 026), in one sentence."""
    if not mix:
        return None
    target = mix.get("target", "any")
    if mix.get("applied"):
        w = float(mix["weight"])
        parts = ", ".join(mix.get("parts", []))
        return (
            f"'{target}' is forecast as {1 - w:g} × its own model's expected count + {w:g} × the "
            f"sum of its categories' models' ({parts}), and calibrated on that mix."
        )
    return f"'{target}' is forecast by its own model alone: {mix.get('why_not', 'no mix')}."


def _configuration_section(metrics: Mapping[str, Any]) -> Section:
    """Which LightGBM settings, and how they were chosen (`metrics["configuration"]`)."""
    conf = metrics.get("configuration") or {}
    chosen = conf.get("chosen", "default")
    mix = mix_sentence((metrics.get("backtest") or {}).get("any_mix"))
    if "scores" not in conf:
        text = {
            "given": "Settings given by the analyst (a TOML file or override), not searched.",
        }.get(chosen, "The packaged settings (models/lightgbm.toml); no search was run.")
        return Section("Configuration", paragraphs=[text] + ([mix] if mix else []))
    from models.search import SEARCH_CI, SEARCH_MARGIN  # the rule the text states

    level = f"{SEARCH_CI * 100:g} %"
    window = conf.get("window") or ["?", "?"]
    rows = []
    for name, score in conf["scores"].items():
        lead = score.get("daily_lead") or {}
        rows.append(
            [
                name + (" (chosen)" if name == chosen else ""),
                _fmt(score.get("score")),
                _lead(lead),
            ]
        )
    return Section(
        "Configuration",
        paragraphs=[
            f"Chosen automatically: '{chosen}', of {len(rows)} candidates scored on the "
            f"validation issue times {_fmt(window[0])} to {_fmt(window[1])}, before the "
            "backtest's evaluation period (score: mean of pr_auc and pei@5 over the targets, "
            "relative to the first candidate, the packaged settings). Another candidate is "
            f"taken only when it scores at least {SEARCH_MARGIN:g} higher and leads the first "
            f"day by day with a {level} week-block interval above zero; otherwise the first "
            "stays.",
            f"Settings over models/lightgbm.toml: {conf.get('override') or '{}'}.",
            *([mix] if mix else []),
        ],
        tables=[
            (
                "validation scores",
                Table(["candidate", "score", f"day-by-day lead over the first [{level}]"], rows),
            )
        ],
    )


def _features_section(feature_info: Iterable[Any]) -> Section:
    families: dict[str, list[str]] = {}
    for f in feature_info:
        name, family = (f.name, f.family) if hasattr(f, "family") else (f[0], f[1])
        families.setdefault(str(family), []).append(str(name))
    rows = [[fam, str(len(names)), ", ".join(names)] for fam, names in families.items()]
    total = sum(len(n) for n in families.values())
    return Section(
        "Features by family",
        paragraphs=[f"{total} features in {len(families)} families."],
        tables=[("", Table(["family", "count", "features"], rows))],
    )


def _metrics_section(metrics: Mapping[str, Any]) -> Section:
    tables = []
    for target, block in metrics.get("targets", {}).items():
        models = block.get("models", {})
        rows = [
            [name] + [_fmt(models[name].get(col)) for col in OVERALL_COLUMNS]
            for name in _model_order(models)
        ]
        caption = f"target {target} (base rate {_fmt(block.get('base_rate'))})"
        tables.append((caption, Table(["model", *OVERALL_COLUMNS], rows)))
    return Section(
        "Metrics overall",
        paragraphs=[
            "Rolling-origin backtest; metric definitions in DESIGN §5. The model is listed "
            "first, the classic baselines beside it, the oracle (synthetic data only) last."
        ],
        tables=tables,
    )


def _segments_section(metrics: Mapping[str, Any]) -> Section:
    tables = []
    for target, block in metrics.get("targets", {}).items():
        models = block.get("models", {})
        order = _model_order(models)
        segments = sorted({s for m in models.values() for s in (m.get("by_segment") or {})})
        if not segments:
            continue
        for col in SEGMENT_COLUMNS:
            rows = []
            for seg in segments:
                main = (models.get(MAIN_MODEL, {}).get("by_segment") or {}).get(seg, {})
                cells = [
                    _fmt(((models[m].get("by_segment") or {}).get(seg) or {}).get(col))
                    for m in order
                ]
                rows.append([seg, _fmt(main.get("rows")), *cells])
            tables.append(
                (f"target {target}: {col} by grid type", Table(["grid_type", "rows", *order], rows))
            )
    return Section(
        "Metrics by segment",
        paragraphs=[
            "Per grid type, using the city-wide ranking (per-street figures are in metrics.json)."
        ],
        tables=tables,
    )


def fairness_section(metrics: Mapping[str, Any]) -> Section:
    """Target ``any`` (else the first) by grid type, street and population quartile:
    LightGBM beside the best baselines, and its warning rates (`models.segment_tables`)."""
    targets = list(metrics.get("targets", {}))
    if not targets:
        return Section("Fairness by segment", paragraphs=["No backtest metrics."])
    target = "any" if "any" in targets else targets[0]
    tables = [
        (t.caption, Table(t.header, [[_fmt(c) for c in row] for row in t.rows]))
        for t in [*metric_tables(metrics, target), *warning_tables(metrics, target)]
    ]
    return Section(
        "Fairness by segment",
        paragraphs=[
            "Every metric per segment on the city-wide ranking (docs/adr/020): flag_rate@10 is "
            "the share of a segment's grid-windows in the city-wide top 10 %, the warning "
            "tables the share at each level beside the segment's event rate. Other targets "
            "and every street are in the backtest's metrics.json.",
            *(f"Not segmented: {n}." for n in _absent_segments(metrics)),
        ],
        tables=tables,
    )


def _absent_segments(metrics: Mapping[str, Any]) -> list[str]:
    described = metrics.get("segments") or {}
    return [
        f"{column} (not in the grids file)"
        for column in GRID_SHARE_COLUMNS
        if described and column not in described
    ]


def _gates_section(gate_results: Sequence[GateResult]) -> Section:
    if not gate_results:
        return Section("Promotion gates", paragraphs=["Gates not checked yet."])
    rows = [[g.name, "pass" if g.passed else "FAIL", g.detail] for g in gate_results]
    verdict = (
        "All gates pass."
        if all(g.passed for g in gate_results)
        else "Some gates fail: this version cannot become champion."
    )
    return Section(
        "Promotion gates",
        paragraphs=[verdict],
        tables=[("", Table(["gate", "result", "detail"], rows))],
    )


# ----------------------------------------------------------------------------- rendering


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(title: str, sections: list[Section]) -> str:
    return "\n".join([f"# {title}", "", *_markdown_sections(sections)])


def _markdown_sections(sections: list[Section]) -> list[str]:
    lines: list[str] = []
    for s in sections:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        if s.bullets:
            lines += [f"- {b}" for b in s.bullets] + [""]
        for caption, t in s.tables:
            if caption:
                lines += [f"**{_md_cell(caption)}**", ""]
            lines.append("| " + " | ".join(_md_cell(h) for h in t.header) + " |")
            lines.append("|" + "---|" * len(t.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            lines.append("")
    return lines


# The card's one inline style. The analyst page shows the card in an iframe that inherits the
# page's Content-Security-Policy, which allows exactly this text by its hash, computed from it
# (serve/security_headers.py).
CARD_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#eee}caption{text-align:left;font-weight:bold;padding:.3em 0}"
)


def _html(title: str, sections: list[Section]) -> str:
    e = html_lib.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CARD_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *_html_sections(sections),
        "</body></html>",
    ]
    return "\n".join(out)


def sections_html(sections: list[Section]) -> str:
    """The card's markup of `sections`, for a page that shows one of them (the backtest
    report shows `labels_section`)."""
    return "\n".join(_html_sections(sections))


def _html_sections(sections: list[Section]) -> list[str]:
    e = html_lib.escape
    out: list[str] = []
    for s in sections:
        out.append(f"<h2>{e(s.title)}</h2>")
        out += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        if s.bullets:
            out.append("<ul>" + "".join(f"<li>{e(b)}</li>" for b in s.bullets) + "</ul>")
        for caption, t in s.tables:
            out.append("<table>")
            if caption:
                out.append(f"<caption>{e(caption)}</caption>")
            out.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in t.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t.rows]
            out.append("</table>")
    return out


# ----------------------------------------------------------------------------- health marks

HEALTH_TITLE = "Health in service"


def health_section(marks: Sequence[Mapping[str, Any]]) -> Section:
    """The scoring runs of this version past a health threshold (issue 17): each mark has
    ``run_id``, ``issue_time``, ``status`` (warn / alert) and ``summary`` (lines of words)."""
    alerts = sum(m.get("status") == "alert" for m in marks)
    verdict = (
        f"ALERT: {alerts} of the latest {len(marks)} flagged scoring runs passed an alert "
        "threshold of risk/health.toml; check the inputs and the model before relying on it."
        if alerts
        else "WARNING: scoring runs passed a warning threshold of risk/health.toml "
        f"({len(marks)} listed below)."
    )
    rows = [
        [str(m.get("issue_time", "")), str(m.get("run_id", "")), str(m.get("status", "")),
         "; ".join(m.get("summary") or [])]
        for m in marks
    ]  # fmt: skip
    return Section(
        HEALTH_TITLE,
        paragraphs=[verdict],
        tables=[("", Table(["issue time", "run", "status", "past thresholds"], rows))],
    )


def with_health(markdown: str, html: str, marks: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The card with a `health_section` right under its title; unchanged without marks."""
    if not marks:
        return markdown, html
    section = [health_section(marks)]
    head, _, rest = markdown.partition("\n\n")
    markdown = "\n".join([head, "", *_markdown_sections(section), rest])
    title_end = html.find("</h1>")
    if title_end >= 0:
        cut = title_end + len("</h1>")
        html = html[:cut] + "\n" + "\n".join(_html_sections(section)) + html[cut:]
    return markdown, html
