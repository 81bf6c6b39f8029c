"""Verdicts with their uncertainty: percentile-bootstrap intervals over seeds, and met / missed /
undecided against a limit.

A ratio of two medians over a handful of seeds is a noisy number. Resampling the seeds of each
side with replacement (independently: the two methods ran on the same seeds but their times are
compared as distributions) and recomputing the ratio B times gives its sampling distribution; the
2.5 % and 97.5 % quantiles are the 95 % interval. A target ``ratio <= limit`` is **met** only
when the whole interval is below the limit, **missed** only when all of it is above, and
otherwise **undecided**: more seeds, not a different reading, decide it.
"""
from __future__ import annotations

import math

import numpy as np

N_BOOT = 10_000
LEVEL = 0.95


def bootstrap(stat, *samples, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """(point, lo, hi): ``stat(*samples)`` and its percentile-bootstrap interval, each sample
    resampled with replacement on its own, from a generator seeded with ``seed``."""
    samples = [np.asarray(s, dtype=float) for s in samples]
    rng = np.random.default_rng(seed)
    idx = [rng.integers(0, len(s), size=(n_boot, len(s))) for s in samples]
    values = np.array([stat(*(s[i[b]] for s, i in zip(samples, idx))) for b in range(n_boot)], dtype=float)
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(stat(*samples)), float(lo), float(hi)


def median_ratio(ours, theirs) -> float:
    """median(ours) / median(theirs); inf when ours never arrives, 0 when theirs never does."""
    a, b = float(np.median(ours)), float(np.median(theirs))
    if math.isinf(a):
        return math.inf
    return 0.0 if math.isinf(b) else a / b


def verdict(lo: float, hi: float, limit: float) -> str:
    """'met' if the whole interval is at or below ``limit``, 'missed' if all of it is above."""
    return "met" if hi <= limit else "missed" if lo > limit else "undecided"


def ratio_verdict(ours, theirs, limit: float, censor_at: float | None = None, seed: int = 0) -> dict:
    """A ``median(ours) / median(theirs) <= limit`` target with its interval and verdict.

    ``censor_at``: runs of theirs that never arrived (inf) count as arriving there, which makes
    every ratio an upper bound: such a target can be met, never missed (``bound``)."""
    theirs = np.asarray(theirs, dtype=float)
    bound = censor_at is not None and bool(np.isinf(theirs).any())
    if bound:
        theirs = np.where(np.isinf(theirs), censor_at, theirs)
    r, lo, hi = bootstrap(median_ratio, ours, theirs, seed=seed)
    v = verdict(lo, hi, limit)
    if bound and v == "missed":
        v = "undecided"
    return {"ratio": r, "lo": lo, "hi": hi, "limit": limit, "bound": bound, "verdict": v}


def mean_interval(values, seed: int = 0) -> tuple[float, float, float]:
    """(mean, lo, hi) of ``values`` with a percentile-bootstrap 95 % interval."""
    return bootstrap(np.mean, values, seed=seed)
