"""Synthetic city with a known truth: layout, event process, oracle, files (DESIGN §6 `risk synth`)."""

from risk.synth.city import SynthCity, synthesise
from risk.synth.io import write_city
from risk.synth.oracle import oracle_expected_counts, oracle_targets
from risk.synth.params import CATEGORIES, SynthParams
from risk.synth.truth import Truth, load_truth

__all__ = [
    "CATEGORIES",
    "SynthCity",
    "SynthParams",
    "Truth",
    "load_truth",
    "oracle_expected_counts",
    "oracle_targets",
    "synthesise",
    "write_city",
]
