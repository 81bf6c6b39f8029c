"""The design document's defects, as a teaching layer: reproducible on request, never by default.

The core knows nothing of these. ``DocumentDefects`` is a ``BatchSPSAOptimizer`` with the
document's behaviour layered on its two roles (``compute_grad``, ``apply_grad``);
``make_estimator(method, manager, defects=names)`` gives the document's gradient API that optimizer, and
``DocumentConfig(config, names)`` a trainer, so a notebook can show what each defect does to
training next to the corrected code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import TrainingConfig
from ..estimators import METHODS
from ..gradients import GradientEstimator, make_estimator as core_make_estimator
from ..optimizer import BatchSPSAOptimizer
from ..trainer import QuantumTrainer

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


class DocumentDefects(BatchSPSAOptimizer):
    """The optimizer with the document's defects (``defects``: names from ``DEFECTS``)."""

    defects: tuple = ()

    def compute_grad(self, model, params, X, Y, loss, shots, execute):
        g = super().compute_grad(model, params, X, Y, loss, shots, execute)
        if "frozen_gains" in self.defects:  # the document never increments self.iteration
            self.k -= 1
        if "summed_gradients" in self.defects:  # added up instead of averaged over the B samples
            g.gradients = np.sum(g.metadata["per_sample_gradients"], axis=0)
        return g

    def apply_grad(self, g, params):
        if "params_minus_leak" in self.defects:  # the last circuit's parameters stay in the model: the step starts there
            params = params - g.metadata["c_k"] * g.metadata["directions"][-1]
        return super().apply_grad(g, params)


def _defective(defects: tuple):
    return type("DocumentDefects", (DocumentDefects,), {"defects": defects})


def make_estimator(method: str, batch_manager, *, defects=(), **kwargs) -> GradientEstimator:
    """``qnb.make_estimator`` with the document's ``defects``: its optimizer is ``DocumentDefects``,
    and ``params_minus_leak`` moves ``model.parameters`` after each estimate, as the document's
    estimator does."""
    estimator = core_make_estimator(method, batch_manager, **kwargs)
    defects = check_defects(defects, method)
    opt = estimator.optimizer
    if not defects:
        return estimator
    if opt.blocking or opt.regularization is not None:
        raise ValueError("blocking, regularization: the document's defects are for the plain strategies")
    g = opt.gains
    bad = _defective(defects)(g.a, g.c, g.A, g.alpha, g.gamma, optimizer=opt.rule.kind, seed=opt.rng,
                              estimator=opt.estimator)
    return _LeakingEstimator(batch_manager, bad)


class _LeakingEstimator(GradientEstimator):
    def estimate_batch_gradient(self, model, batch_x, batch_y, *args, **kwargs):
        theta = model.parameters.copy()
        g = super().estimate_batch_gradient(model, batch_x, batch_y, *args, **kwargs)
        if "params_minus_leak" in self.optimizer.defects:  # the last circuit's parameters stay in the model
            model.parameters = theta - g.metadata["c_k"] * g.metadata["directions"][-1]
        return g


@dataclass(frozen=True)
class DocumentConfig:
    """A ``TrainingConfig`` trained with the document's ``defects`` (``trainer()`` builds it)."""

    config: TrainingConfig
    defects: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "defects", check_defects(self.defects, self.config.gradient_method))
        if self.defects and (self.config.blocking or self.config.regularization is not None):
            raise ValueError("blocking, regularization: the document's defects are for the plain strategies")

    def __getattr__(self, name):  # reads as its config (gradient_method, seed, ...)
        if name.startswith("__") or name == "config":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.config, name)

    def replace(self, **changes) -> "DocumentConfig":
        return DocumentConfig(self.config.replace(**changes), self.defects)

    def to_dict(self) -> dict:
        return {**self.config.to_dict(), "defects": list(self.defects)}

    def trainer(self, **kwargs) -> QuantumTrainer:
        return QuantumTrainer(self.config, optimizer_class=_defective(self.defects), **kwargs)
