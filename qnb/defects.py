"""The design document's defects, as a teaching layer: reproducible on request, never by default.

The production estimators know nothing of these. ``with_defects(estimator, names)`` returns the
same estimator (same state, same generator) with the document's behaviour layered on top, so a
notebook can show what each defect does to training, next to the corrected code.
"""
from __future__ import annotations

import numpy as np

from .estimators import METHODS

DEFECTS = {
    "frozen_gains": "self.iteration never advances, so a_k and c_k stay at their first values",
    "summed_gradients": "v3.3 adds the per-sample gradients instead of averaging them (B times the step)",
    "params_minus_leak": "the estimator leaves model.parameters = params_minus behind; the step starts there",
}
APPLIES_TO = {
    "frozen_gains": METHODS,
    "summed_gradients": ("spsa_per_sample",),
    "params_minus_leak": ("spsa_parallel", "spsa_subsampled"),
}

def check_defects(defects, method: str | None = None) -> tuple:
    """The defect names as a tuple, or ValueError naming an unknown or misapplied one."""
    if isinstance(defects, str):
        raise ValueError(f"defects: expected a tuple of names, got the string {defects!r}")
    defects = tuple(defects)
    for d in defects:
        if d not in DEFECTS:
            raise ValueError(f"defects: unknown defect {d!r}; allowed: {', '.join(DEFECTS)}")
        if method is not None and method not in APPLIES_TO[d]:
            raise ValueError(f"defects: {d!r} does not apply to {method!r}; it applies to {', '.join(APPLIES_TO[d])}")
    return defects

class _DocumentDefects:
    """Mixed in front of an estimator's class by ``with_defects``."""

    defects: frozenset = frozenset()

    def estimate_batch_gradient(self, model, batch_x, batch_y, *args, **kwargs):
        theta = model.parameters.copy()
        r = super().estimate_batch_gradient(model, batch_x, batch_y, *args, **kwargs)
        if "frozen_gains" in self.defects:  # the document never increments self.iteration
            self.iteration -= 1
        if "summed_gradients" in self.defects:  # added up instead of averaged over the B samples
            r.gradients = np.sum(r.metadata["per_sample_gradients"], axis=0)
        if "params_minus_leak" in self.defects:  # the last circuit's parameters stay in the model
            model.parameters = theta - r.metadata["c_k"] * r.metadata["directions"][-1]
        return r

def with_defects(estimator, defects):
    """The estimator with the document's defects (names from ``DEFECTS``) layered on top."""
    defects = check_defects(defects, estimator.method)
    if defects:
        base = type(estimator)
        estimator.__class__ = type(f"Defective{base.__name__}", (_DocumentDefects, base), {})
        estimator.defects = frozenset(defects)
    return estimator

__all__ = ["DEFECTS", "APPLIES_TO", "check_defects", "with_defects"]
