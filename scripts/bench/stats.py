"""Success rates with their uncertainty, and reward stages, from lerobot-eval's per-episode results."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest, bootstrap


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (sensible at 0/n and n/n, unlike p ± 2se),
    from scipy.stats.binomtest; (0, 1) when there are no trials."""
    if trials <= 0:
        return (0.0, 1.0)
    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def difference_interval(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """95% interval of the difference of two success rates, k1/n1 - k2/n2 (Newcombe's method 10).

    It combines the two Wilson intervals, so like them it stays sensible at 0/n and n/n. If it holds 0,
    the two rates are within noise of each other at these episode counts.
    """
    p1, p2 = k1 / n1, k2 / n2
    lo1, hi1 = wilson_interval(k1, n1)
    lo2, hi2 = wilson_interval(k2, n2)
    diff = p1 - p2
    return (
        diff - math.sqrt((p1 - lo1) ** 2 + (hi2 - p2) ** 2),
        diff + math.sqrt((hi1 - p1) ** 2 + (p2 - lo2) ** 2),
    )


def stage_rates(max_rewards: Sequence[float], stage_names: Sequence[str]) -> dict[str, float]:
    """Fraction of episodes that reached each reward stage (stage i = max reward >= i)."""
    n = len(max_rewards)
    return {
        name: (sum(1 for r in max_rewards if r >= level) / n if n else float("nan"))
        for level, name in enumerate(stage_names, start=1)
    }


def paired_difference_interval(
    a: dict[int, float], b: dict[int, float], resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over the episodes both scored, with a 95% percentile-bootstrap interval over
    episodes (scipy.stats.bootstrap)."""
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        raise ValueError(f"need at least 2 episodes scored by both checkpoints, got {len(shared)}")
    diffs = np.array([a[e] - b[e] for e in shared])
    if np.ptp(diffs) == 0:  # every resample has the same mean: the interval is that mean
        return float(diffs[0]), float(diffs[0]), float(diffs[0])
    ci = bootstrap(
        (diffs,), np.mean, n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed)
    ).confidence_interval
    return float(diffs.mean()), float(ci.low), float(ci.high)
