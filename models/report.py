"""The backtest's `report.html`: PNG plots (matplotlib, Agg) and tables in one static page.

Figures are drawn with matplotlib's object API (`Figure`, rendered by Agg when saved), so
no pyplot state or display backend is touched. The page links its PNGs by relative file name (they sit next to it) and loads nothing from
the network. Plots are for the `any` target (else the first target); the metrics table for
every other target is in `metrics.json`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from models.card import labels_section, sections_html
from models.segment_tables import metric_tables, warning_tables
from models.shapplots import beeswarm, waterfall
from risk.contract import ANY_TARGET
from risk.metrics import ECE_BINS, k_grids, rank_positions

if TYPE_CHECKING:
    from models.backtest import BacktestResult

COVERAGES = tuple(range(1, 21))  # % of grids flagged, for the coverage curves
TABLE_METRICS = (
    "pr_auc",
    "roc_auc",
    "brier",
    "log_loss",
    "ece",
    "hit_rate@5",
    "hit_rate@10",
    "pai@5",
    "pei@5",
    "miss_rate@10",
    "miss_rate_true@10",
)
SEGMENT_METRICS = ("rows", "miss_rate@10", "pr_auc", "ece")
TOP_FEATURES = 20
_STYLE = {  # one distinct colour per model, the same in every plot
    "lightgbm": {"lw": 2.4, "color": "#c0392b"},
    "historical_rate": {"lw": 1.2, "color": "#1f77b4"},
    "recent_30d": {"lw": 1.2, "color": "#ff7f0e"},
    "kde": {"lw": 1.2, "color": "#2ca02c"},
    "prospective": {"lw": 1.2, "color": "#9467bd"},
    "seppexp": {"lw": 1.2, "color": "#8c564b"},
    "oracle": {"lw": 1.8, "ls": "--", "color": "k"},
}


# ----------------------------------------------------------------------------- curves


def coverage_curves(
    score: np.ndarray,
    count: np.ndarray,
    area: np.ndarray,
    coverages: Sequence[float] = COVERAGES,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Hit rate and PAI at each coverage k% (DESIGN §5 definitions, seeded tie-break).

    One ranking, then for each k: hit = Σ counts in the top K / Σ counts; PAI = hit / pooled
    area share of the top K.
    """
    rank = rank_positions(score, seed)
    total, n_t = count.sum(), count.shape[0]
    hits, pais = [], []
    for k in coverages:
        top = rank < k_grids(k, count.shape[1])
        hit = count[top].sum() / total if total > 0 else np.nan
        share = (top * area).sum() / (n_t * area.sum())
        hits.append(hit)
        pais.append(hit / share)
    return np.asarray(hits, dtype=float), np.asarray(pais, dtype=float)


def reliability_bins(
    prob: np.ndarray, label: np.ndarray, n_bins: int = ECE_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Mean predicted probability and observed rate in `n_bins` equal-count bins."""
    order = np.argsort(prob, kind="stable")
    parts = np.array_split(order, min(n_bins, len(order)))
    mean_p = np.array([prob[i].mean() for i in parts])
    rate = np.array([label[i].mean() for i in parts])
    return mean_p, rate


# ----------------------------------------------------------------------------- plots


def _style(model: str) -> dict[str, Any]:
    return _STYLE.get(model, {"lw": 1.2})


def _axes(figsize: tuple[float, float], ncols: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(1, ncols)


# Fonts for Chinese categories, grid types and feature names, tried after DejaVu Sans for the
# glyphs it lacks (matplotlib falls back glyph by glyph); only those installed are named.
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei")
CJK_FILE_TAGS = ("wqy", "notosanscjk", "sourcehansans", "simhei")  # their files' names


def font_families() -> list[str]:
    """DejaVu Sans, then every installed font of `CJK_FONTS` (none installed: DejaVu only)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    installed = {f.name for f in manager.ttflist}
    if not installed.intersection(CJK_FONTS):
        # matplotlib caches its font list once; a CJK font installed after that (apt-get after
        # a first run) is on disk but not in the cache: add the files that carry one.
        for path in font_manager.findSystemFonts():
            if any(tag in Path(path).name.lower() for tag in CJK_FILE_TAGS):
                manager.addfont(path)
        installed = {f.name for f in manager.ttflist}
    return ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_coverage(result: BacktestResult, target: str, out: Path) -> list[Path]:
    count = result.counts[target]
    fig_h, ax_h = _axes((6.4, 4.2))
    fig_p, ax_p = _axes((6.4, 4.2))
    for model, score in result.scores[target].items():
        hit, pai = coverage_curves(score, count, result.area)
        ax_h.plot(COVERAGES, hit, label=model, **_style(model))
        ax_p.plot(COVERAGES, pai, label=model, **_style(model))
    ax_h.set(xlabel="grids flagged (% of city)", ylabel="share of events caught (hit rate)")
    ax_p.set(xlabel="grids flagged (% of city)", ylabel="PAI (hit rate / area share)")
    for ax in (ax_h, ax_p):
        ax.set_title(f"target: {target}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return [_save(fig_h, out / "hit_rate.png"), _save(fig_p, out / "pai.png")]


def plot_pr(result: BacktestResult, target: str, out: Path) -> Path:
    label = (result.counts[target] >= 1).ravel()
    fig, ax = _axes((6.4, 4.2))
    if label.any():
        for model, score in result.scores[target].items():
            precision, recall, _ = precision_recall_curve(label, score.ravel())
            ax.step(recall, precision, where="post", label=model, **_style(model))
        ax.axhline(label.mean(), color="grey", lw=0.8, ls=":", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title=f"precision-recall, target: {target}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out / "pr_curves.png")


def plot_reliability(result: BacktestResult, target: str, out: Path) -> list[Path]:
    label = (result.counts[target] >= 1).astype(float)
    fig, ax = _axes((5.2, 5.0))
    for model, prob in result.probs[target].items():
        mean_p, rate = reliability_bins(prob.ravel(), label.ravel())
        ax.plot(mean_p, rate, marker="o", ms=3, label=model, **_style(model))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set(xlabel="predicted probability", ylabel="observed share with >= 1 event")
    ax.set_title(f"reliability ({ECE_BINS} equal-count bins), target: {target}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths = [_save(fig, out / "reliability.png")]

    prob = result.probs[target].get("lightgbm")
    if prob is not None:
        types = result.segments["grid_type"]
        fig, ax = _axes((5.2, 5.0))
        for value in sorted(set(types.tolist()), key=str):
            cols = types == value
            mean_p, rate = reliability_bins(prob[:, cols].ravel(), label[:, cols].ravel())
            ax.plot(mean_p, rate, marker="o", ms=3, lw=1.2, label=str(value))
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
        ax.set(xlabel="predicted probability (lightgbm)", ylabel="observed share with >= 1 event")
        ax.set_title(f"reliability by grid type, target: {target}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        paths.append(_save(fig, out / "reliability_by_grid_type.png"))
    return paths


def plot_shap(result: BacktestResult, out: Path) -> Path | None:
    shap = result.shap
    if shap is None:
        return None
    fig, (ax_f, ax_t) = _axes((11, 5.5), 2)
    fam = shap.families
    ax_f.barh(fam["family"].astype(str)[::-1], fam["mean_abs"][::-1], color="#2c7fb8")
    ax_f.set(xlabel="mean |SHAP| (log-odds), summed over the family", title="by feature family")
    top = shap.features.head(TOP_FEATURES)
    ax_t.barh(top["feature"].astype(str)[::-1], top["mean_abs"][::-1], color="#7fcdbb")
    ax_t.set(xlabel="mean |SHAP| (log-odds)", title=f"top {len(top)} features")
    ax_t.tick_params(axis="y", labelsize=7)
    return _save(fig, out / "shap_summary.png")


def plot_shap_detail(result: BacktestResult, out: Path) -> tuple[Path | None, Path | None]:
    """The beeswarm of the sampled rows and the waterfall of the riskiest one
    (`models.shapplots`), or (None, None) without a SHAP sample."""
    shap = result.shap
    if shap is None or shap.contributions is None:
        return None, None
    names = list(shap.values.columns)
    fig, ax = _axes((8.5, 6.0))
    beeswarm(ax, shap.contributions, shap.values, names, top=TOP_FEATURES // 4 * 3)
    ax.set_title(f"{shap.target}: each dot one sampled grid-window ({shap.rows:,})")
    swarm = _save(fig, out / "shap_beeswarm.png")
    row = int(np.argmax(shap.keys["prob"].to_numpy()))
    fig, ax = _axes((8.5, 5.0))
    waterfall(ax, shap.contributions[row], names, shap.values.iloc[row], top=10)
    key = shap.keys.iloc[row]
    ax.set_title(
        f"grid {key['grid_id']} at {key['issue_time']:%Y-%m-%d %H:%M}: "
        f"p = {key['prob']:.2f}, the riskiest sampled grid-window"
    )
    return swarm, _save(fig, out / "shap_waterfall.png")


# ----------------------------------------------------------------------------- HTML


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return f"{float(value):.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>"
        + f"<th>{html.escape(str(r[0]))}</th>"
        + "".join(f"<td>{_fmt(v)}</td>" for v in r[1:])
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metrics_table(result: BacktestResult, target: str) -> str:
    models = result.metrics["targets"][target]["models"]
    rows = [[m, *(models[m].get(k) for k in TABLE_METRICS)] for m in models]
    return _table(["model", *TABLE_METRICS], rows)


def levels_table(result: BacktestResult) -> str:
    """Every target's risk levels: the operating point (the last block's threshold and the
    precision it was chosen for) and what each level did over the evaluation."""
    rows = []
    for target in result.targets:
        block = result.metrics["targets"][target].get("levels")
        if not block:
            continue
        for level in ("red", "orange", "yellow", "orange_or_above"):
            point = block["operating_points"].get(level, {})
            done = block["measured"][level]
            rows.append(
                [
                    f"{target} {level}",
                    point.get("target"),
                    point.get("threshold") if level != "orange_or_above" else None,
                    "not issued"
                    if level != "orange_or_above" and point.get("threshold") is None
                    else done["precision"],
                    done["share"],
                    done["recall"],
                ]
            )
    if not rows:
        return ""
    return _table(
        ["target, level", "precision wanted", "threshold (last block)", "precision",
         "share flagged", "events caught"],
        rows,
    )  # fmt: skip


def segment_table(result: BacktestResult, target: str) -> str:
    models = {
        name: m
        for name, m in result.metrics["targets"][target]["models"].items()
        if "by_segment" in m  # a failed method has none
    }
    if not models:
        return ""
    values = sorted({v for m in models.values() for v in m.get("by_segment", {})}, key=str)
    header = ["grid type"] + [f"{m} {k}" for m in models for k in SEGMENT_METRICS[1:]]
    rows = []
    for v in values:
        first = next(iter(models.values()))["by_segment"].get(v, {})
        cells = [
            models[m]["by_segment"].get(v, {}).get(k) for m in models for k in SEGMENT_METRICS[1:]
        ]
        rows.append([f"{v} ({_fmt(first.get('rows'))} rows)", *cells])
    overall = ["all grids"] + [models[m].get(k) for m in models for k in SEGMENT_METRICS[1:]]
    return _table(header, [*rows, overall])


def fairness_html(result: BacktestResult, target: str) -> str:
    """The fairness-by-segment tables (`models.segment_tables`): metrics of LightGBM and the
    best baselines, and LightGBM's warning rates, per grid type, street and population
    quartile."""
    metrics = result.metrics
    parts = [
        f"<h3>{html.escape(t.caption)}</h3>" + _table(t.header, t.rows)
        for t in [*metric_tables(metrics, target), *warning_tables(metrics, target)]
    ]
    return "\n".join(parts)


def _figure(path: Path | None, caption: str) -> str:
    if path is None:
        return ""
    return (
        f'<figure><img src="{html.escape(path.name)}" alt="{html.escape(path.stem)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}thead th{background:#f3f3f3}
tbody th{text-align:left}figure{display:inline-block;margin:.6em;vertical-align:top}
img{max-width:100%}figcaption{font-size:.85em;color:#555;max-width:640px}.note{color:#8a4b00}
"""


def render_html(result: BacktestResult, target: str, plots: dict[str, Path | None]) -> str:
    m = result.metrics
    d = m["dataset"]
    s = result.settings
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in m["timings_s"].items())
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in result.notes)
    base = m["targets"][target]["base_rate"]
    rates = _table(
        ["target", "base rate", *(f"{x} pr_auc" for x in result.models)],
        [
            [t, m["targets"][t]["base_rate"]]
            + [m["targets"][t]["models"].get(x, {}).get("pr_auc") for x in result.models]
            for t in result.targets
        ],
    )
    shap_part = (
        _figure(
            plots.get("shap"),
            f"Which feature families and features move the {result.shap.target} model's "
            f"raw score most, averaged over {result.shap.rows:,} rows of the last block "
            "(LightGBM's TreeSHAP, the classic blend's share included).",
        )
        + _figure(
            plots.get("shap_beeswarm"),
            "Every sampled grid-window as a dot at its contribution for the strongest "
            "features, coloured by the feature's value (blue low, red high): which way a "
            "feature pushes, and for which values.",
        )
        + _figure(
            plots.get("shap_waterfall"),
            "One forecast taken apart: from the base value (the mean raw score of plain "
            "training rows), each feature's contribution in turn, to the grid's raw score.",
        )
        if result.shap is not None
        else '<p class="note">No SHAP summary: LightGBM was not part of this backtest.</p>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backtest report</title>
<style>{_CSS}</style></head><body>
<h1>Rolling-origin backtest: {html.escape(target)} risk in the next {m["horizon_hours"]} hours</h1>
<p>Dataset: {d["grids"]:,} grids, {d["events"]:,} events; evaluation {html.escape(d["start"])} to
{html.escape(d["end"])} ({m["issue_times"]} daily issue times at {s["hour"]:02d}:00
{html.escape(s["tz"])}), training from {html.escape(s["train_start"])}, retrained every
{s["retrain_days"]} days ({s["blocks"]} blocks). Base rate ({html.escape(target)}): {_fmt(base)}.
Peak memory {m["peak_rss_mb"]:,.0f} MB; time: {html.escape(timings)}.</p>
{notes}
<h2>Risk levels</h2>
<p>A level is a threshold on LightGBM's calibrated probability, chosen when each block's model
was trained, on its held-out calibration slice: red is the lowest threshold at which at least
80 % of the flagged grid-windows saw an event, orange 60 %, yellow 40 %
(<code>risk/levels.toml</code>). Below: what each level did on the evaluation issue times,
which no model saw — the share of grid-windows it flagged, how many of those saw an event
(precision), and the share of all events that fell in them.</p>
{levels_table(result)}
<h2>Metrics, target {html.escape(target)}</h2>
<p>LightGBM's probabilities are calibrated on a held-out later slice. The baselines' and the
oracle's probabilities are <b>not calibrated</b>: they are 1 − exp(−expected count), a Poisson
reading of a ranking score, so their brier, log loss and ECE are given for reference only.
The oracle is the true expected count from the generator (synthetic cities only) — the limit
no model beats on average; <code>miss_rate_true@10</code> is measured against it.</p>
{metrics_table(result, target)}
{sections_html([labels_section(m)])}
<h2>Coverage curves</h2>
{
        _figure(
            plots.get("hit_rate"),
            "Share of all events that fall in the grids each model flags, as "
            "the share of grids flagged grows; higher is better.",
        )
    }
{
        _figure(
            plots.get("pai"),
            "Predictive accuracy index: hit rate divided by the share of city "
            "area flagged; how many times better than flagging area at random.",
        )
    }
<h2>Precision and recall</h2>
{
        _figure(
            plots.get("pr_curves"),
            "Of the grid-windows a model flags above each threshold, the "
            "share that saw an event (precision) against the share of eventful ones caught "
            "(recall), pooled over all issue times.",
        )
    }
<h2>Calibration</h2>
{
        _figure(
            plots.get("reliability"),
            "Predicted probability against the observed share of "
            "grid-windows with at least one event, in equal-count bins; on the diagonal is "
            "calibrated.",
        )
    }
{
        _figure(
            plots.get("reliability_by_grid_type"),
            "The same for LightGBM, one line per grid "
            "type: a line far from the diagonal means that area type is over- or under-warned.",
        )
    }
<h2>By grid type (city-wide ranking)</h2>
<p>miss_rate@10: share of a grid type's truly high-risk grid-windows left outside the city-wide
top 10%; a type far above the overall row is missed more often than the rest.</p>
{segment_table(result, target)}
<h2>Fairness by segment</h2>
<p>Every metric again per segment — grid type, street, and quartiles of the population
make-up columns the grids file has (edges from the grids table, in the labels) — for LightGBM
and the best classic baselines, all on the city-wide ranking: <code>flag_rate@10</code> is the
share of the segment's grid-windows in the city-wide top 10%, <code>hit_rate@10</code> the
share of its events there, <code>pei@5</code> how well the grids flagged inside it were chosen.
A segment whose ECE is far above the overall is over- or under-warned; the promotion gate
<code>calibration by segment</code> holds LightGBM's spread of ECE to the best-calibrated
baseline's (<code>models/gates.toml</code>). The warning tables put the share of each segment's
grid-windows at each level beside its event rate: warned far above its event rate, a segment
draws patrols beyond its risk; given the patrol visits, they add the visits per grid-window and
the share of grid-windows visited.</p>
{fairness_html(result, target)}
<h2>Every target</h2>
{rates}
<h2>What drives the model</h2>
{shap_part}
<p style="font-size:.8em;color:#777">Full metrics for every target, model and segment (also by
street) are in metrics.json; every prediction is in predictions.parquet.</p>
</body></html>
"""


def write_report(result: BacktestResult, out_dir: Path) -> tuple[Path, list[Path]]:
    """Draw the PNGs and write `report.html` into `out_dir`; returns (report, plot paths)."""
    from matplotlib import rc_context

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = ANY_TARGET if ANY_TARGET in result.targets else result.targets[0]
    with rc_context({"font.family": font_families()}):  # a city's Chinese labels, not boxes
        hit, pai = plot_coverage(result, target, out)
        reliability = plot_reliability(result, target, out)
        plots: dict[str, Path | None] = {
            "hit_rate": hit,
            "pai": pai,
            "pr_curves": plot_pr(result, target, out),
            "reliability": reliability[0],
            "reliability_by_grid_type": reliability[1] if len(reliability) > 1 else None,
            "shap": plot_shap(result, out),
        }
        plots["shap_beeswarm"], plots["shap_waterfall"] = plot_shap_detail(result, out)
    report = out / "report.html"
    report.write_text(render_html(result, target, plots), encoding="utf-8")
    return report, [p for p in plots.values() if p is not None]
