"""The design document's gradient API: ``make_estimator(method, batch_manager).estimate_batch_gradient``.

An estimator here is a ``BatchSPSAOptimizer`` that only computes gradients, its circuits run by a
``CircuitBatchManager``: the optimizer owns the gains, the iteration and the generator, so the
document's API and the PennyLane-style optimizer are one piece of code.
"""
from __future__ import annotations

import numpy as np

from .batching import CircuitBatchManager
from .data import check_data
from .estimators import METHODS, GradientResult, make_plan
from .jobs import check_shots
from .losses import check_loss, square_loss
from .optimizer import BatchSPSAOptimizer, Gains


class GradientEstimator:
    """``estimate_batch_gradient(model, batch_x, batch_y, loss_function, shots)`` at
    ``model.parameters`` (read, never assigned), the circuits run by ``batch_manager``.

    ``optimizer`` owns the state (``iteration``, ``gains``, ``rng`` are its)."""

    def __init__(self, batch_manager: CircuitBatchManager, optimizer: BatchSPSAOptimizer):
        self.batch_manager, self.optimizer = batch_manager, optimizer

    def __repr__(self):
        return f"GradientEstimator(method={self.method!r}, iteration={self.iteration})"

    method = property(lambda self: self.optimizer.method)
    iteration = property(lambda self: self.optimizer.k)
    rng = property(lambda self: self.optimizer.rng)
    gains = property(lambda self: self.optimizer.gains)

    def estimate_batch_gradient(self, model, batch_x, batch_y, loss_function=square_loss, shots=1000) -> GradientResult:
        """Estimate the gradient of the mean batch loss at ``model.parameters``."""
        check_data(batch_x, batch_y, n_features=model.n_features)
        check_shots(shots)
        check_loss(loss_function, len(batch_y))
        return self.optimizer.compute_grad(model, model.parameters.copy(), np.asarray(batch_x, dtype=float),
                                           np.asarray(batch_y), loss_function, shots, self.batch_manager.execute_batch)

    def predict_cost(self, model, batch_x, batch_y, loss_function=square_loss, shots=1000) -> float:
        """Modeled seconds the next estimate on this batch will cost, without running it or
        moving the random generator (how a budget is kept before the first step is paid)."""
        n, per_job = self.optimizer.next_step_size(model, model.parameters.copy(), np.asarray(batch_x, dtype=float),
                                                   np.asarray(batch_y), loss_function)
        return self.batch_manager.price_s(n, per_job, shots)


def make_estimator(method: str, batch_manager: CircuitBatchManager, *, subsample_size: int = 5,
                   gains: Gains | None = None, seed=None, num_directions: int = 1,
                   enable_circuit_batching: bool = True, clip_subsample: bool = False, blocking: bool = False,
                   regularization: float | None = None, optimizer: str = "sgd", **aliases) -> GradientEstimator:
    """The estimator for ``method`` (one of ``METHODS``), its circuits run by ``batch_manager``.

    Job shape per batch of B samples and N parameters: ``spsa_per_sample`` 2B circuits in 2B jobs;
    ``spsa_sequential`` 2B in 2B; ``spsa_parallel`` 2B in 1; ``spsa_subsampled`` 2k in 1;
    ``parameter_shift`` about 2NB in ceil(2NB / max_batch_size). ``enable_circuit_batching=False``
    sends the parallel and subsampled strategies one job per circuit. ``blocking`` and
    ``regularization`` (QN-SPSA): see ``BatchSPSAOptimizer``. ``n_directions`` and
    ``metric_regularization`` are accepted as older names of ``num_directions`` and ``regularization``.
    """
    num_directions, regularization = _renamed(aliases, num_directions, regularization)
    if method not in METHODS:
        raise ValueError(f"gradient_method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    plan = make_plan(method, subsample_size=subsample_size, num_directions=num_directions,
                     enable_circuit_batching=enable_circuit_batching, clip_subsample=clip_subsample,
                     blocking=blocking, metric=regularization is not None)
    g = gains or Gains()
    opt = BatchSPSAOptimizer(g.a, g.c, g.A, g.alpha, g.gamma, optimizer=optimizer, blocking=blocking,
                             regularization=regularization, seed=seed, estimator=plan)
    return GradientEstimator(batch_manager, opt)


def _renamed(aliases: dict, num_directions, regularization):
    """Today's names of the PennyLane-named arguments (n_directions, metric_regularization)."""
    unknown = set(aliases) - {"n_directions", "metric_regularization"}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return aliases.get("n_directions", num_directions), aliases.get("metric_regularization", regularization)
