"""Gradient estimators of the batch loss: the v3.3 per-sample loop, the three v3.3.1 strategies
and the parameter-shift baseline. Circuits go through a CircuitBatchManager, whose counters are
the source of every circuit and job count reported here.

Estimators read ``model.parameters`` and never assign to it (unless the document's
``params_minus_leak`` defect is requested); every random choice comes from the estimator's own
generator (``seed`` may be an int or a ``numpy.random.Generator``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .batching import BatchStats, CircuitBatchManager
from .jobs import check_shots
from .model import _check_data, square_loss

METHODS = ("spsa_per_sample", "spsa_sequential", "spsa_parallel", "spsa_subsampled", "parameter_shift")

# The design document's defects, reproducible on request for teaching, never by default.
DEFECTS = {
    "frozen_gains": "self.iteration never advances, so a_k and c_k stay at their first values",
    "summed_gradients": "v3.3 adds the per-sample gradients instead of averaging them (B times the step)",
    "params_minus_leak": "the estimator leaves model.parameters = params_minus behind; the step starts there",
}
_DEFECT_METHODS = {
    "frozen_gains": METHODS,
    "summed_gradients": ("spsa_per_sample",),
    "params_minus_leak": ("spsa_parallel", "spsa_subsampled"),
}


@dataclass(frozen=True)
class Gains:
    """Spall's gain schedule: c_k = c / (k+1)^gamma, a_k = a / (k+1+A)^alpha."""

    a: float = 0.3
    c: float = 0.2
    A: float = 5.0
    alpha: float = 0.602
    gamma: float = 0.101

    def __post_init__(self):
        for name in ("a", "c"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"gains.{name}: must be a finite number > 0, got {getattr(self, name)}")
        if not (np.isfinite(self.A) and self.A >= 0):
            raise ValueError(f"gains.A: must be a finite number >= 0, got {self.A}")

    def at(self, k: int) -> tuple[float, float]:
        """(c_k, a_k) at iteration k (0-based)."""
        return self.c / (k + 1) ** self.gamma, self.a / (k + 1 + self.A) ** self.alpha


@dataclass
class GradientResult:
    """One gradient estimate. ``n_circuit_executions`` and ``metadata['n_jobs']`` are counted by
    the CircuitBatchManager; ``metadata['modeled_time_s']`` is the latency model's cloud time."""

    gradients: np.ndarray
    function_value: float
    n_circuit_executions: int
    computation_time_ms: float
    method: str
    metadata: dict = field(default_factory=dict)


class GradientEstimator:
    """Common frame: validation, gains, counting, iteration. Subclasses implement ``_estimate``."""

    method = "base"

    def __init__(self, batch_manager: CircuitBatchManager, *, gains: Gains | None = None, seed=None,
                 defects=()):
        self.batch_manager = batch_manager
        self.gains = gains or Gains()
        self.rng = np.random.default_rng(seed)
        self.defects = frozenset(defects)
        self.iteration = 0
        self._spent = BatchStats()  # what the current estimate has cost, summed from zero

    def __repr__(self):
        return f"{type(self).__name__}(method={self.method!r}, iteration={self.iteration})"

    def estimate_batch_gradient(self, model, batch_x, batch_y, loss_function=square_loss, shots=1000) -> GradientResult:
        """Estimate the gradient of the mean batch loss at ``model.parameters``."""
        _check_data(batch_x, batch_y)
        check_shots(shots)
        batch_x, batch_y = np.asarray(batch_x, dtype=float), np.asarray(batch_y)
        start, spent = time.perf_counter(), BatchStats()
        self._spent = spent
        params = model.parameters.copy()
        c_k, a_k = self.gains.at(self.iteration)
        grad, value, meta = self._estimate(model, params, batch_x, batch_y, loss_function, shots, c_k)
        meta.update(n_jobs=spent.jobs, modeled_time_s=spent.modeled_s, shots=spent.shots,
                    iteration=self.iteration, c_k=c_k, a_k=a_k)
        if "frozen_gains" not in self.defects:
            self.iteration += 1
        return GradientResult(np.asarray(grad, dtype=float), float(value), spent.circuits,
                              (time.perf_counter() - start) * 1000, self.method, meta)

    # -- helpers shared by the strategies -------------------------------------------------
    def _outputs(self, model, param_sets, X, shots, one_job=True) -> np.ndarray:
        """Model outputs, shape (len(param_sets), len(X)); one job, or one job per circuit."""
        circuits = [model.build_circuit(x, p) for p in param_sets for x in X]
        groups = [circuits] if one_job else [[c] for c in circuits]  # else: one round trip per circuit,
        results = []                                                   # as the document's `await forward_with_params`
        for group in groups:
            results.extend(self.batch_manager.execute_batch(group, shots))
            self._spent.add(self.batch_manager.last_call)
        return np.array([model.process_result(r) for r in results]).reshape(len(param_sets), len(X))

    @staticmethod
    def _mean_loss(outputs, Y, loss_function) -> np.ndarray:
        return np.array([np.mean([loss_function(o, y) for o, y in zip(row, Y)]) for row in outputs])

    def _directions(self, m, n):
        return self.rng.choice([-1.0, 1.0], size=(m, n))

    def _estimate(self, model, params, X, Y, loss_function, shots, c_k):
        raise NotImplementedError


class SPSAEstimator(GradientEstimator):
    """SPSA of the batch loss: L(theta +- c_k delta) over the batch (or a random subsample of k).

    ``one_job=False`` is Strategy 1 (sequential, 2B jobs); ``one_job=True`` Strategy 2 (parallel,
    all 2B circuits in one job); ``subsample_size=k`` Strategy 3 (2k circuits in one job).
    ``n_directions=m`` averages m independent directions from the same single job (2mk circuits).
    """

    def __init__(self, batch_manager, *, one_job=True, subsample_size=None, n_directions=1, **kw):
        super().__init__(batch_manager, **kw)
        if subsample_size is not None and (not isinstance(subsample_size, (int, np.integer)) or subsample_size < 1):
            raise ValueError(f"subsample_size: must be an integer >= 1, got {subsample_size!r}")
        if not isinstance(n_directions, (int, np.integer)) or n_directions < 1:
            raise ValueError(f"n_directions: must be an integer >= 1, got {n_directions!r}")
        self.one_job, self.subsample_size, self.n_directions = one_job, subsample_size, int(n_directions)
        self.method = ("spsa_subsampled" if subsample_size is not None
                       else "spsa_parallel" if one_job else "spsa_sequential")

    def _estimate(self, model, params, X, Y, loss_function, shots, c_k):
        deltas = self._directions(self.n_directions, params.size)
        meta = {"n_directions": self.n_directions}
        if self.subsample_size is not None:
            if self.subsample_size > len(X):
                raise ValueError(f"subsample_size: {self.subsample_size} exceeds the batch size {len(X)}")
            idx = np.sort(self.rng.choice(len(X), size=self.subsample_size, replace=False))
            meta.update(subsample_size=len(idx), full_batch_size=len(X), indices=idx.tolist())
            X, Y = X[idx], Y[idx]
        param_sets = [params + s * c_k * d for d in deltas for s in (1.0, -1.0)]
        losses = self._mean_loss(self._outputs(model, param_sets, X, shots, self.one_job), Y, loss_function)
        plus, minus = losses[0::2], losses[1::2]
        grad = np.mean(((plus - minus) / (2 * c_k))[:, None] * deltas, axis=0)
        if "params_minus_leak" in self.defects:
            model.parameters = param_sets[-1].copy()  # the document's bug, on request only
        return grad, float(np.mean((plus + minus) / 2)), meta


class PerSampleSPSAEstimator(GradientEstimator):
    """The v3.3 loop: one SPSA gradient per sample (own direction, 2 jobs each), then averaged
    (``summed_gradients`` defect: added, as the document does)."""

    method = "spsa_per_sample"

    def _estimate(self, model, params, X, Y, loss_function, shots, c_k):
        grads, values = [], []
        for x, y in zip(X, Y):
            d = self._directions(1, params.size)[0]
            out = self._outputs(model, [params + c_k * d, params - c_k * d], x[None, :], shots, one_job=False)
            lp, lm = self._mean_loss(out, [y], loss_function)
            grads.append((lp - lm) / (2 * c_k) * d)
            values.append((lp + lm) / 2)
        reduce = np.sum if "summed_gradients" in self.defects else np.mean
        return reduce(grads, axis=0), float(np.mean(values)), {}


class ParameterShiftEstimator(GradientEstimator):
    """Exact-in-expectation gradient: +-pi/2 shifts of each of the N parameters for each of the
    B samples (2NB circuits), plus the B unshifted circuits the chain rule needs for dL/df."""

    method = "parameter_shift"

    def _estimate(self, model, params, X, Y, loss_function, shots, c_k):
        n = params.size
        shifted = [params + s * (np.pi / 2) * np.eye(n)[j] for j in range(n) for s in (1.0, -1.0)]
        out = self._outputs(model, [params] + shifted, X, shots)
        f, fs = out[0], out[1:].reshape(n, 2, len(X))
        dfdtheta = (fs[:, 0] - fs[:, 1]) / 2  # (n, B)
        h = 1e-6
        dldf = np.array([(loss_function(o + h, y) - loss_function(o - h, y)) / (2 * h) for o, y in zip(f, Y)])
        grad = dfdtheta @ dldf / len(X)
        return grad, float(np.mean([loss_function(o, y) for o, y in zip(f, Y)])), {}


def calibrate_gains(batch_manager: CircuitBatchManager, model, batch_x, batch_y, *, gains: Gains | None = None,
                    n_directions: int = 10, target_magnitude: float = 2 * np.pi / 10, shots=1000,
                    loss_function=square_loss, seed=None) -> tuple[Gains, dict]:
    """Spall's guideline for ``a``, as Qiskit's ``SPSA.calibrate`` does it, but in ONE job.

    Measures the mean magnitude |L(theta + c delta) - L(theta - c delta)| / (2c) over
    ``n_directions`` random directions at the current parameters (2 x n_directions x B circuits,
    one job) and sets ``a`` so that the first step moves each parameter by ``target_magnitude``.
    Qiskit draws 25 directions and, with max_evals_grouped=2, sends 25 jobs.
    Returns the calibrated gains and what the calibration cost (counted by the manager).
    """
    _check_data(batch_x, batch_y)
    gains = gains or Gains()
    est = SPSAEstimator(batch_manager, gains=gains, seed=seed)
    params = model.parameters.copy()
    c0, _ = gains.at(0)
    deltas = est._directions(n_directions, params.size)
    sets = [params + s * c0 * d for d in deltas for s in (1.0, -1.0)]
    losses = est._mean_loss(est._outputs(model, sets, np.asarray(batch_x, float), shots), batch_y, loss_function)
    magnitude = float(np.mean(np.abs(losses[0::2] - losses[1::2]) / (2 * c0)))
    a = target_magnitude * (1 + gains.A) ** gains.alpha / max(magnitude, 1e-12)
    spent = est._spent
    return Gains(a, gains.c, gains.A, gains.alpha, gains.gamma), {
        "a": a, "gradient_magnitude": magnitude, "circuits": spent.circuits, "jobs": spent.jobs,
        "shots": spent.shots, "modeled_s": spent.modeled_s}


def make_estimator(method: str, batch_manager: CircuitBatchManager, *, subsample_size: int = 5,
                   gains: Gains | None = None, seed=None, n_directions: int = 1,
                   enable_circuit_batching: bool = True, defects=()) -> GradientEstimator:
    """Build the estimator for ``method`` (one of ``METHODS``).

    ``enable_circuit_batching=False`` makes the parallel and subsampled strategies submit one job
    per circuit. ``defects`` reproduces the document's bugs by name (see ``DEFECTS``).
    """
    if method not in METHODS:
        raise ValueError(f"gradient_method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    for d in defects:
        if d not in DEFECTS:
            raise ValueError(f"defects: unknown defect {d!r}; allowed: {', '.join(DEFECTS)}")
        if method not in _DEFECT_METHODS[d]:
            raise ValueError(f"defects: {d!r} does not apply to {method!r}; it applies to {', '.join(_DEFECT_METHODS[d])}")
    if method not in ("spsa_parallel", "spsa_subsampled") and n_directions != 1:
        raise ValueError(f"n_directions: only spsa_parallel and spsa_subsampled average several directions, got {n_directions} for {method!r}")
    kw = dict(gains=gains, seed=seed, defects=defects)
    if method == "spsa_per_sample":
        return PerSampleSPSAEstimator(batch_manager, **kw)
    if method == "parameter_shift":
        return ParameterShiftEstimator(batch_manager, **kw)
    if method == "spsa_sequential":
        return SPSAEstimator(batch_manager, one_job=False, **kw)
    return SPSAEstimator(batch_manager, one_job=enable_circuit_batching, n_directions=n_directions,
                         subsample_size=subsample_size if method == "spsa_subsampled" else None, **kw)
