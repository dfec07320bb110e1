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
# # Explain a forecast: why is this grid at risk?
#
# Train on what is known at a cutoff, forecast every grid at the next issue time, and read
# the reasons behind the riskiest grid — SHAP contributions grouped by feature family,
# expressed as probability points, with the actual values, in English and Chinese.
# Parameters from the environment: `NB_GRIDS`, `NB_DAYS`, `NB_FAST`.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from features.base import FeatureSpec
from features.build import build_features
from models.explain import check_additivity, explain
from models.shapplots import beeswarm, waterfall
from models.training import train_forecaster
from risk.synth import synthesise

GRIDS = int(os.environ.get("NB_GRIDS", 400))
DAYS = int(os.environ.get("NB_DAYS", 400))
FAST = os.environ.get("NB_FAST") == "1"
config = (
    {"training": {"num_boost_round": 15, "early_stopping_rounds": 5}, "lightgbm": {"num_leaves": 7}}
    if FAST
    else None
)

# %%
city = synthesise(GRIDS, DAYS, seed=3)
issue = pd.Timestamp("2024-01-01 08:00", tz="Asia/Shanghai") + pd.Timedelta(days=DAYS - 4)
trained = train_forecaster(city.grids, city.events, until=issue, config=config)
print(
    f"trained {len(trained.targets)} targets on {trained.rows:,} rows, {trained.window[0]} .. {trained.window[1]}"
)

# %% [markdown]
# ## Forecast every grid at the issue time

# %%
spec = FeatureSpec(targets=trained.targets)
frame = build_features(city.grids, city.events, [issue], spec).frame
# the classic methods' components at the issue time, with the triggers the model learned
frame = trained.model.add_classics(frame, city.events, city.grids)
forecast = trained.model.predict(frame)
top = forecast[forecast["target"] == "any"].sort_values("prob", ascending=False).head(10)
top

# %% [markdown]
# ## The reasons behind the riskiest grid
# Contributions plus the expected value reproduce the model's raw score exactly (additivity).

# %%
model = trained.model.forecasters_["any"]
print(f"largest additivity error: {check_additivity(model, frame):.2e}")
reasons = explain(model, frame, trained.feature_info, top=3)
grid = top["grid_id"].iloc[0]
mine = reasons[reasons["grid_id"] == grid]
for _, r in mine.iterrows():
    print(f"{r['rank']}. {r['text_en']}\n   {r['text_zh']}")

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.barh(mine["family"], mine["points"])
ax.set_xlabel("probability points")
ax.set_title(f"grid {grid}: p = {mine['prob'].iloc[0]:.2f} (base {mine['base_prob'].iloc[0]:.2f})")
fig.tight_layout()

# %% [markdown]
# ## Every grid at once: the beeswarm, and the riskiest grid taken apart
# LightGBM's own TreeSHAP values (the same numbers the service explains with), the classic
# blend's share included: each dot is one grid, at its contribution to the raw score, coloured
# by the feature's value. The waterfall walks from the base value to the riskiest grid's score.

# %%
contrib = model.contributions(frame)
names = list(model.feature_names_)
fig, ax = plt.subplots(figsize=(8, 6))
beeswarm(ax, contrib, frame[names].reset_index(drop=True), names, top=12)
fig.tight_layout()

# %%
row = int(frame.index.get_indexer([frame.index[frame["grid_id"] == grid][0]])[0])
fig, ax = plt.subplots(figsize=(8, 4.5))
waterfall(ax, contrib[row], names, frame[names].iloc[row], top=8)
ax.set_title(f"grid {grid}")
fig.tight_layout()
