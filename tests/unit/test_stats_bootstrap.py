"""The hierarchical bootstrap and its inference on hand-built designs: point estimate, pairing, levels."""

from __future__ import annotations

import numpy as np
import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.stats import Block, Design, Unit, hierarchical_bootstrap, infer
from ftscope.stats.draws import cluster_weights, item_counts, seed_of
from ftscope.stats.variance import variance_parts

IDS = tuple(f"i{k}" for k in range(50))


def delta(means):
    return np.mean([m[0] - m[1] for m in means], axis=0)


def _unit(group: str, train: str, seed: str, tuned: np.ndarray, base: np.ndarray, test_set: str = "ood") -> Unit:
    return Unit(group, train, seed, (Block(test_set, IDS[: tuned.size], np.stack([tuned, base])),))


def _design(rng: np.random.Generator, seeds_per_train: dict[str, int], groups=("a",)) -> Design:
    base = rng.random(len(IDS))
    units = [_unit(g, t, str(s), base + rng.normal(0.1, 0.2, len(IDS)), base)
             for g in groups for t, n in seeds_per_train.items() for s in range(n)]
    return Design(tuple(units), delta, groups)


def test_point_estimate_is_the_mean_over_training_sets_of_seed_means():
    # Unbalanced on purpose: a plain mean over units (here 11/4 · …) would differ from the nested mean.
    base = np.zeros(4)
    values = {("x", "0"): 1.0, ("x", "1"): 3.0, ("x", "2"): 5.0, ("y", "0"): 10.0}
    units = [Unit("g", t, s, (Block("set", IDS[:4], np.stack([base + v, base])),)) for (t, s), v in values.items()]
    boot = hierarchical_bootstrap(Design(tuple(units), delta), n_boot=50)
    assert boot.value == pytest.approx((3.0 + 10.0) / 2, abs=1e-12)  # exact up to float rounding
    two = units + [Unit("h", "z", "0", (Block("set", IDS[:4], np.stack([base + 2.0, base])),))]
    assert hierarchical_bootstrap(Design(tuple(two), delta, ("g", "h")), n_boot=50).value == pytest.approx(4.5)


def test_units_on_one_test_set_share_item_draws_so_paired_differences_have_no_item_noise():
    rng = np.random.default_rng(1)
    base = rng.random(len(IDS))
    # tuned = base + constant: every replicate draws the same items for both rows, so delta never moves.
    units = [_unit("a", t, s, base + 0.1, base) for t in ("t1", "t2") for s in ("0", "1")]
    boot = hierarchical_bootstrap(Design(tuple(units), delta), n_boot=200)
    assert np.ptp(boot.unit_reps) < 1e-12  # float rounding of identical sums only
    assert np.ptp(boot.reps) < 1e-12
    found = infer(boot)
    assert found.se == pytest.approx(0.0, abs=1e-9) and found.p == 0.0


def test_same_names_give_the_same_replicates_and_other_seeds_other_ones():
    design = _design(np.random.default_rng(2), {"t1": 2, "t2": 2})
    first, again = hierarchical_bootstrap(design, 100, "s"), hierarchical_bootstrap(design, 100, "s")
    np.testing.assert_array_equal(first.reps, again.reps)
    assert not np.array_equal(first.reps, hierarchical_bootstrap(design, 100, "other").reps)
    assert seed_of("a", 1) == seed_of("a", 1) != seed_of("a", 2)


def test_draw_matrices_resample_every_level_in_full():
    counts = item_counts(30, seed=3, n_boot=40)
    assert counts.shape == (30, 40) and np.all(counts.sum(axis=0) == 30)
    design = _design(np.random.default_rng(3), {"t1": 1, "t2": 3, "t3": 2}, groups=("a", "b"))
    layout = design.layout()
    weights = cluster_weights(layout, seed=4, n_boot=200)
    for trains in layout.trains:
        columns = [k for seeds in trains for k in seeds]
        assert np.allclose(weights[:, columns].sum(axis=1), 1.0, atol=1e-12)  # each group's mean
    # A training set with one seed keeps its unit whenever drawn: its weight is a multiple of 1/3.
    single = layout.trains[0][0][0]
    assert np.allclose(weights[:, single] * 3, np.round(weights[:, single] * 3), atol=1e-12)


def test_single_member_levels_are_not_reported_as_varied():
    rng = np.random.default_rng(4)
    one_seed = infer(hierarchical_bootstrap(_design(rng, {"t1": 1, "t2": 1, "t3": 1}), 200))
    assert "seed" not in one_seed.levels_varied and "train_set" in one_seed.levels_varied
    one_train = infer(hierarchical_bootstrap(_design(rng, {"t1": 3}), 200))
    assert "train_set" not in one_train.levels_varied and "seed" in one_train.levels_varied
    alone = hierarchical_bootstrap(_design(rng, {"t1": 1}), 200)
    assert infer(alone).levels_varied == ("item",)
    assert [p.level for p in variance_parts(alone)] == ["item"]
    # A level is varied only where every group replicates it.
    mixed = Design(_design(rng, {"t1": 2, "t2": 2}, ("a",)).units + _design(rng, {"t9": 2}, ("b",)).units,
                   delta, ("a", "b"))
    assert infer(hierarchical_bootstrap(mixed, 200)).levels_varied == ("seed", "item")


def test_item_only_design_matches_the_analytic_standard_error():
    rng = np.random.default_rng(5)
    base, tuned = rng.random(400), rng.random(400)
    unit = Unit("a", "t", "0", (Block("s", tuple(map(str, range(400))), np.stack([tuned, base])),))
    found = infer(hierarchical_bootstrap(Design((unit,), delta), n_boot=4000))
    analytic = np.std(tuned - base, ddof=1) / np.sqrt(400)
    # 4000 replicates: a bootstrap SD is within ~2.3% (1 s.d.) of the analytic SE; 8% is > 3 s.d.
    assert found.se == pytest.approx(analytic, rel=0.08)
    assert found.df == pytest.approx(399)


def test_a_ratio_statistic_combining_blocks_runs_through():
    rng = np.random.default_rng(6)

    def ood_over_in_domain(means):  # (tuned − base) out of domain over (tuned − base) in domain
        return (means[0][0] - means[0][1]) / (means[1][0] - means[1][1])

    units = []
    for t in ("t1", "t2", "t3"):
        base_in, base_out = rng.random(50), rng.random(50)
        blocks = (Block("ood", IDS, np.stack([base_out + rng.normal(0.1, 0.1, 50), base_out])),
                  Block("in", IDS, np.stack([base_in + rng.normal(0.3, 0.1, 50), base_in])))
        units.append(Unit("a", t, "0", blocks))
    found = infer(hierarchical_bootstrap(Design(tuple(units), ood_over_in_domain), 300))
    assert 0 < found.value < 1 and found.lo < found.value < found.hi


def test_bad_designs_fail_with_one_clear_line():
    with pytest.raises(DataError, match="shape"):
        Block("s", ("a", "b", "c"), np.zeros((2, 2)))
    with pytest.raises(DataError, match="NaN"):
        Block("s", ("a", "b"), np.array([[0.0, np.nan]]))
    unit = _unit("a", "t", "0", np.ones(5), np.zeros(5))
    with pytest.raises(DataError, match="twice"):
        hierarchical_bootstrap(Design((unit, unit), delta))
    other = _unit("b", "t", "0", np.ones(5), np.zeros(5))
    with pytest.raises(ConfigError, match="order"):
        hierarchical_bootstrap(Design((unit, other), delta))
    with pytest.raises(DataError, match="undefined"):
        hierarchical_bootstrap(Design((unit,), lambda m: m[0][0] * np.nan))


def test_groups_on_the_same_items_cancel_the_noise_they_share():
    rng = np.random.default_rng(8)
    base, shared = rng.random(len(IDS)), rng.normal(0, 0.3, len(IDS))  # e.g. items every tuned model finds hard
    units = [_unit(g, t, "0", base + shared + shift + rng.normal(0, 0.02, len(IDS)), base)
             for g, shift in (("a", 0.1), ("b", 0.0)) for t in ("t1", "t2")]
    same = infer(hierarchical_bootstrap(Design(tuple(units), delta, ("a", "b")), 400))
    one_group = infer(hierarchical_bootstrap(Design(tuple(units[:2]), delta), 400))
    # The shared part (SD 0.3/√50 ≈ 0.042 in each group's mean) drops out of a − b; what is left is
    # the units' own noise (0.02/√50/√2 per group) and the spread of two training sets.
    assert one_group.se > 0.03 and same.se < one_group.se / 3
    assert same.value == pytest.approx(0.1, abs=0.03)


def test_the_package_usage_example_runs():
    import doctest

    import ftscope.stats

    result = doctest.testmod(ftscope.stats, raise_on_error=False)
    assert result.attempted > 5 and result.failed == 0
