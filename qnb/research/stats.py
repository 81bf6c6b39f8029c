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
    """median(ours) / median(theirs); inf when ours never arrives, 0 when theirs never does (both
    at the start, where a median is 0: 1)."""
    a, b = float(np.median(ours)), float(np.median(theirs))
    if math.isinf(a):
        return math.inf
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return 0.0 if math.isinf(b) else a / b


def verdict(lo: float, hi: float, limit: float, at_least: bool = False) -> str:
    """'met' if the whole interval is at or below ``limit``, 'missed' if all of it is above;
    with ``at_least`` the target is ``value >= limit``: 'met' if all of it is at or above."""
    if at_least:
        return "met" if lo >= limit else "missed" if hi < limit else "undecided"
    return "met" if hi <= limit else "missed" if lo > limit else "undecided"


def ratio_verdict(ours, theirs, limit: float, censor_at: float | None = None, seed: int = 0) -> dict:
    """A ``median(ours) / median(theirs) <= limit`` target with its interval and verdict.

    ``censor_at`` (one value, or one per run): runs of theirs that never arrived (inf) count as
    arriving there (what they had spent when stopped), which makes every ratio an upper bound:
    such a target can be met, never missed (``bound``)."""
    theirs = np.asarray(theirs, dtype=float)
    bound = censor_at is not None and bool(np.isinf(theirs).any())
    if bound:
        theirs = np.where(np.isinf(theirs), np.broadcast_to(np.asarray(censor_at, dtype=float), theirs.shape), theirs)
    r, lo, hi = bootstrap(median_ratio, ours, theirs, seed=seed)
    v = verdict(lo, hi, limit)
    if bound and v == "missed":
        v = "undecided"
    return {"ratio": r, "lo": lo, "hi": hi, "limit": limit, "bound": bound, "verdict": v}


def mean_interval(values, seed: int = 0) -> tuple[float, float, float]:
    """(mean, lo, hi) of ``values`` with a percentile-bootstrap 95 % interval."""
    return bootstrap(np.mean, values, seed=seed)


def difference(a, b, seed: int = 0) -> dict:
    """mean(a) - mean(b) with its percentile-bootstrap 95 % interval (each side resampled on its
    own) and a word: 'higher' if the whole interval is above 0, 'lower' if below, otherwise
    'undecided' (the data cannot tell the two apart)."""
    d, lo, hi = bootstrap(lambda u, v: np.mean(u) - np.mean(v), a, b, seed=seed)
    return {"diff": d, "lo": lo, "hi": hi, "verdict": "higher" if lo > 0 else "lower" if hi < 0 else "undecided"}


def ratio_of_means(a, b, seed: int = 0) -> tuple[float, float, float]:
    """(mean(a) / mean(b), lo, hi): the ratio and its percentile-bootstrap 95 % interval."""
    return bootstrap(lambda u, v: np.mean(u) / np.mean(v), a, b, seed=seed)


def normal_interval(x: float, se: float, z: float = 1.959964) -> tuple[float, float, float]:
    """(x, x - z se, x + z se): the 95 % interval of an estimate with a known standard error."""
    return x, x - z * se, x + z * se


def ratio_interval(a: float, se_a: float, b: float, se_b: float, z: float = 1.959964) -> tuple[float, float, float]:
    r"""(a / b, lo, hi) for two independent positive estimates with standard errors, on the log
    scale (delta method): :math:`\operatorname{se}(\log a/b)^2 = (s_a/a)^2 + (s_b/b)^2`, and the interval is
    :math:`(a/b)\,e^{\pm z\,\operatorname{se}}`."""
    r = a / b
    s = math.hypot(se_a / a, se_b / b)
    return r, r * math.exp(-z * s), r * math.exp(z * s)


def fmt(point: float, lo: float, hi: float, f: str = ".2f") -> str:
    """'0.13 [0.04, 0.18]': a value and its 95 % interval, as the notebooks print them."""
    return f"{point:{f}} [{lo:{f}}, {hi:{f}}]"
