# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Backtest and compare: is the model better than the classic hotspot methods?
#
# A rolling-origin backtest on a synthetic city with a known truth: LightGBM beside the five
# classic baselines and the oracle (the true expected count — the limit no model can beat on
# average). All logic lives in the packages; this notebook only calls them and looks.
#
# Parameters come from the environment so the test suite can run it on a small city:
# `NB_GRIDS`, `NB_DAYS`, `NB_EVAL_DAYS`, `NB_FAST` (few, small trees).

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from models.backtest import run_backtest
from models.report import coverage_curves
from risk.metrics import paired_bootstrap_difference, per_issue_time
from risk.synth import synthesise

GRIDS = int(os.environ.get("NB_GRIDS", 400))
DAYS = int(os.environ.get("NB_DAYS", 400))
EVAL_DAYS = int(os.environ.get("NB_EVAL_DAYS", 28))
FAST = os.environ.get("NB_FAST") == "1"
config = (
    {"training": {"num_boost_round": 15, "early_stopping_rounds": 5}, "lightgbm": {"num_leaves": 7}}
    if FAST
    else None
)

# %% [markdown]
# ## The city and the evaluation window

# %%
city = synthesise(GRIDS, DAYS, seed=1)
last = pd.Timestamp("2024-01-01") + pd.Timedelta(days=DAYS - 4)  # every window complete
first = last - pd.Timedelta(days=EVAL_DAYS - 1)
print(
    f"{len(city.grids)} grids, {len(city.events):,} events; evaluating {first.date()} .. {last.date()}"
)

# %%
result = run_backtest(
    city.grids, city.events, first.date(), last.date(), truth=city.truth, config=config
)

# %% [markdown]
# ## Every model on the `any` target
# `pei@5` is the share of the hindsight-best achievable capture at 5% coverage;
# `miss_rate_true@10` is the share of the truly riskiest 10% (by the oracle) left outside the
# predicted top 10%.

# %%
keys = ["pr_auc", "pei@5", "pai@5", "ece", "miss_rate@10", "miss_rate_true@10"]
table = pd.DataFrame(result.metrics["targets"]["any"]["models"]).T[keys].astype(float).round(3)
table

# %% [markdown]
# ## Is the lead over the best baseline real?
# The per-issue-day paired difference in `pr_auc`, with a bootstrap 90% interval.

# %%
baselines = [m for m in table.index if m not in ("lightgbm", "oracle")]
best = max(baselines, key=lambda m: table.loc[m, "pr_auc"])
count = result.counts["any"]
daily = {m: per_issue_time(result.scores["any"][m], count)["pr_auc"] for m in ("lightgbm", best)}
lead = paired_bootstrap_difference(daily["lightgbm"], daily[best])
print(
    f"lightgbm - {best}: {lead['mean_diff']:+.4f} [{lead['low']:+.4f}, {lead['high']:+.4f}] over {lead['n_days']} days"
)

# %% [markdown]
# ## Hit rate against coverage

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for model, score in result.scores["any"].items():
    hit, _ = coverage_curves(score, count, result.area)
    ax.plot(range(1, len(hit) + 1), hit, label=model)
ax.set_xlabel("coverage (% of grids)")
ax.set_ylabel("share of events captured")
ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## Does the model miss one area type more than others?

# %%
segments = result.metrics["targets"]["any"]["models"]["lightgbm"]["by_segment"]
pd.DataFrame(segments).T[["rows", "pr_auc", "ece", "miss_rate@10"]].astype(float).round(3)
