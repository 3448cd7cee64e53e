"""The statistics behind ftscope's verdicts: hierarchical bootstrap, inference at the claim's level,
equivalence, multiplicity, and power/planning from a variance-components model.

A verdict about *fine-tuning on a task kind* must hold over training sets and seeds, not only test
items. A claim's data are units (trained models: a training set × a seed) in groups, each reading
per-item values on test sets (blocks); `infer` returns an estimate whose SE includes every level the
design replicates (`levels_varied`). Pure numpy/scipy; imports nothing else from ftscope but errors.

Example — a two-group claim, then Holm across the report's claims:

>>> import numpy as np
>>> from ftscope.stats import Block, Design, Unit, hierarchical_bootstrap, holm, infer
>>> rng = np.random.default_rng(0)
>>> ids = tuple(f"q{i}" for i in range(200))
>>> base = rng.random(200)  # the base model's per-item scores on one out-of-domain test set
>>> def unit(kind, train_set, seed, gain):
...     tuned = base + gain + rng.normal(0, 0.2, 200)
...     return Unit(kind, train_set, seed, (Block("ood", ids, np.stack([tuned, base])),))
>>> units = [unit(kind, t, s, 0.05 if kind == "classification" else 0.0)
...          for kind in ("classification", "generation") for t in ("t1", "t2", "t3") for s in ("0", "1")]
>>> def delta(means):  # per block its row means [tuned, base] (or m × B replicates): tuned − base, averaged
...     return np.mean([m[0] - m[1] for m in means], axis=0)
>>> design = Design(tuple(units), delta, groups=("classification", "generation"))  # first − second
>>> found = infer(hierarchical_bootstrap(design))
>>> found.levels_varied
('train_set', 'seed', 'item')
>>> bool(found.lo < found.value < found.hi)
True
>>> adjusted = holm([found.p, 0.004, float("nan")])  # one p per claim; NaN: a claim not measured
>>> bool(np.isnan(adjusted[2]))
True
"""

from ftscope.stats.bootstrap import Bootstrap, hierarchical_bootstrap
from ftscope.stats.design import Block, Design, Unit, UnitStat
from ftscope.stats.equivalence import Bounded, non_superiority, tost
from ftscope.stats.inference import Inference, infer
from ftscope.stats.model import DesignShape, Predicted, VarianceComponents, predict
from ftscope.stats.multiplicity import benjamini_hochberg, holm
from ftscope.stats.paired import McNemar, mcnemar, mean_se, paired_bootstrap
from ftscope.stats.pilot import estimate_components, shape_of
from ftscope.stats.power import Sizes, mde, power, sizes_for

__all__ = [
    "Block", "Bootstrap", "Bounded", "Design", "DesignShape", "Inference", "McNemar", "Predicted", "Sizes",
    "Unit", "UnitStat", "VarianceComponents", "benjamini_hochberg", "estimate_components", "hierarchical_bootstrap",
    "holm", "infer", "mcnemar", "mde", "mean_se", "non_superiority", "paired_bootstrap", "power", "predict",
    "shape_of", "sizes_for", "tost",
]
