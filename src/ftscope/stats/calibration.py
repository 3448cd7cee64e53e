"""How `inference.infer`'s method was chosen: false-verdict rates and power of candidate methods, by simulation.

Run `python -m ftscope.stats.calibration [designs]` to reproduce the numbers in inference.py's docstring
(about half an hour on one core at 1000 designs per row). Every candidate reads the same bootstrap of the
same simulated design (simulate.py), so their differences are the methods', not the data's.
"""

from __future__ import annotations

import math
import sys
from typing import Callable

import numpy as np
from scipy import stats as sps

from ftscope.stats.bootstrap import Bootstrap, hierarchical_bootstrap
from ftscope.stats.draws import seed_of
from ftscope.stats.inference import infer
from ftscope.stats.model import DesignShape, VarianceComponents
from ftscope.stats.power import mde, power
from ftscope.stats.simulate import binary_components, simulate
from ftscope.stats.variance import variance_parts

ALPHA = 0.05
N_BOOT = 500
REGIMES: dict[str, tuple[VarianceComponents, bool]] = {
    "item-dominated": (VarianceComponents(0.0, 0.005, 0.45, 0.3), False),
    "seed-dominated": (VarianceComponents(0.0, 0.08, 0.3, 0.1), False),
    "train-dominated": (VarianceComponents(0.08, 0.01, 0.3, 0.1), False),
    "mixed": (VarianceComponents(0.03, 0.03, 0.3, 0.15), False),
    "binary, item-dominated": (binary_components(0.0, 0.01), True),
    "binary, mixed": (binary_components(0.03, 0.03), True),
}
SHAPES = {"2 groups × 2 train × 2 seeds × 100 items": DesignShape(2, 2, 2, 100),
          "1 group × 2 train × 2 seeds × 100 items": DesignShape(1, 2, 2, 100),
          "2 groups × 4 train × 3 seeds × 100 items": DesignShape(2, 4, 3, 100)}
Rule = Callable[[Bootstrap], bool]  # does this method reject "no effect" at ALPHA?


def _top_df(boot: Bootstrap) -> float:
    return float(sum(len(trains) - 1 for trains in boot.layout.trains)) or math.inf


def percentile(boot: Bootstrap) -> bool:
    lo, hi = np.percentile(boot.reps, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return bool(lo > 0 or hi < 0)


def _boot_se(boot: Bootstrap) -> float:
    # Finite-cluster correction: a bootstrap over T clusters has (T − 1)/T of the variance of their mean.
    fewest = min(len(trains) for trains in boot.layout.trains)
    return float(np.std(boot.reps, ddof=1)) * math.sqrt(fewest / (fewest - 1) if fewest > 1 else 1.0)


def boot_se_normal(boot: Bootstrap) -> bool:
    return abs(boot.value) / _boot_se(boot) > sps.norm.ppf(1 - ALPHA / 2)


def boot_se_t(boot: Bootstrap) -> bool:
    return abs(boot.value) / _boot_se(boot) > sps.t.ppf(1 - ALPHA / 2, _top_df(boot))


def cluster_t(boot: Bootstrap) -> bool:
    """Unbiased variance (floored at the item level's), t with the top level's df: the classical cluster test."""
    parts = variance_parts(boot)
    variance = max(sum(p.scale * p.component for p in parts), parts[0].variance)  # parts[0]: items
    return abs(boot.value) / math.sqrt(variance) > sps.t.ppf(1 - ALPHA / 2, _top_df(boot))


def components_normal(boot: Bootstrap) -> bool:
    found = infer(boot)
    return found.se > 0 and abs(found.value) / found.se > sps.norm.ppf(1 - ALPHA / 2)


def components_df(boot: Bootstrap) -> bool:
    """Satterthwaite over the estimated components themselves: a level estimated at 0 costs no df."""
    parts = variance_parts(boot)
    variance = sum(p.variance for p in parts)
    denominator = sum(p.variance**2 / p.df for p in parts if p.variance > 0)
    df = variance**2 / denominator if denominator else math.inf
    return variance > 0 and abs(boot.value) / math.sqrt(variance) > sps.t.ppf(1 - ALPHA / 2, df)


def chosen(boot: Bootstrap) -> bool:
    return infer(boot).p < ALPHA


METHODS: dict[str, Rule] = {
    "percentile": percentile,
    "boot SE, normal": boot_se_normal,
    "boot SE, t(top df)": boot_se_t,
    "cluster t": cluster_t,
    "parts, normal": components_normal,
    "parts, df from components": components_df,
    "parts, df from mean squares (chosen)": chosen,
}
CHOSEN = "parts, df from mean squares (chosen)"


def rejection_rates(shape: DesignShape, components: VarianceComponents, binary: bool, effect: float,
                    designs: int) -> dict[str, float]:
    """Each method's rejection rate over `designs` simulated designs (all methods read the same ones)."""
    rng = np.random.default_rng(seed_of(shape, components, binary, effect, designs))
    hits = dict.fromkeys(METHODS, 0)
    for r in range(designs):
        boot = hierarchical_bootstrap(simulate(shape, components, effect, rng, binary, f"d{r}"), N_BOOT, r)
        for name, rule in METHODS.items():
            hits[name] += rule(boot)
    return {name: count / designs for name, count in hits.items()}


def _row(rates: dict[str, float]) -> str:
    return " | ".join(f"{rates[m]:.3f}" for m in METHODS)


def null_tables(designs: int) -> None:
    for label, shape in SHAPES.items():
        print(f"\n## {label}: rejection rate at α = {ALPHA} under no effect, {designs} designs per regime")
        print("regime | " + " | ".join(METHODS) + " | power(0)")
        for regime, (components, binary) in REGIMES.items():
            rates = rejection_rates(shape, components, binary, 0.0, designs)
            print(f"{regime} | {_row(rates)} | {power(0.0, shape, components, ALPHA):.3f}")


def dominant_training_sets(designs: int) -> None:
    print("\n## one group, training sets dominant: rejection rate under no effect (worst cases)")
    for train_sets in (2, 3, 4):
        for train in (0.04, 0.08, 0.15):
            components = VarianceComponents(train, 0.01, 0.3, 0.1)
            rates = rejection_rates(DesignShape(1, train_sets, 2, 100), components, False, 0.0, designs)
            print(f"T = {train_sets}, train SD {train} | {_row(rates)}")


def power_cost(designs: int) -> None:
    print("\n## rejection rate at a fixed effect, items dominant (SDs 0/.01/.3/.1): the price of validity")
    components = VarianceComponents(0.0, 0.01, 0.3, 0.1)
    for shape, effect in ((DesignShape(1, 2, 2, 100), 0.1), (DesignShape(1, 3, 2, 100), 0.1),
                          (DesignShape(1, 4, 2, 100), 0.1), (DesignShape(2, 2, 2, 100), 0.12)):
        rates = rejection_rates(shape, components, False, effect, designs)
        print(f"{shape.groups} group(s) × {shape.train_sets} train, effect {effect} | {_row(rates)}")


def predicted_power(designs: int) -> None:
    print("\n## power of the chosen method: observed vs power()")
    for label, shape in SHAPES.items():
        for regime, (components, binary) in REGIMES.items():
            effect = mde(shape, components, ALPHA, 0.7)
            rates = rejection_rates(shape, components, binary, effect, designs)
            print(f"{label} | {regime} | effect {effect:.4f} | predicted {power(effect, shape, components):.3f}"
                  f" | observed {rates[CHOSEN]:.3f}")


def main(designs: int = 1000) -> None:
    for section in (null_tables, dominant_training_sets, power_cost, predicted_power):
        section(designs)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
