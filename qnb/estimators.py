"""Gradient estimators of the batch loss: the v3.3 per-sample loop, the three v3.3.1 strategies
and the parameter-shift baseline.

Each estimator follows the pattern of PennyLane's gradient transforms: ``plan`` builds the list
of circuits for one step plus a post-processing function; the CircuitBatchManager runs the list
as few jobs as the strategy allows (counting every circuit and job); the post-processing
assembles the gradient with a vectorised loss. Estimators read ``model.parameters`` and never
assign to it; every random choice comes from the estimator's own generator (``seed`` may be an
int or a ``numpy.random.Generator``). The design document's defects live in ``qnb.defects``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

from .batching import BatchStats, CircuitBatchManager
from .data import check_data
from .jobs import check_shots
from .losses import check_loss, square_loss

METHODS = ("spsa_per_sample", "spsa_sequential", "spsa_parallel", "spsa_subsampled", "parameter_shift")
BLOCKING_SIGMAS = 2.0  # blocking undoes a step whose loss rose by more than this many shot-noise standard errors


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


@dataclass
class StepPlan:
    """The circuits of one gradient step and how to turn their results into (grad, value, meta).

    ``circuits_per_job``: None runs the list as few jobs as the manager allows; 1 sends one job
    per circuit (the sequential strategies, one round trip each).
    """

    circuits: list
    postprocess: Callable[[list], tuple[np.ndarray, float, dict]]
    circuits_per_job: int | None = None


def batch_losses(loss_function, outputs: np.ndarray, Y) -> np.ndarray:
    """Mean loss over the samples for each row of outputs (rows: parameter points)."""
    return np.mean(np.asarray(loss_function(outputs, np.broadcast_to(Y, outputs.shape)), dtype=float), axis=-1)


def plus_minus_circuits(model, params, deltas, c, X) -> tuple[np.ndarray, list]:
    """theta +- c delta for each direction (rows: +, -, +, -, ...) and their circuits, point-major
    and sample-minor: one list for one job."""
    points = np.array([params + s * c * d for d in deltas for s in (1.0, -1.0)])
    return points, model.build_circuits(np.tile(X, (len(points), 1)), np.repeat(points, len(X), axis=0))


class GradientEstimator:
    """Common frame: validation, gains, running the plan, counting, iteration."""

    method = "base"

    def __init__(self, batch_manager: CircuitBatchManager, *, gains: Gains | None = None, seed=None):
        self.batch_manager = batch_manager
        self.gains = gains or Gains()
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self.shots = None

    def __repr__(self):
        return f"{type(self).__name__}(method={self.method!r}, iteration={self.iteration})"

    def estimate_batch_gradient(self, model, batch_x, batch_y, loss_function=square_loss, shots=1000) -> GradientResult:
        """Estimate the gradient of the mean batch loss at ``model.parameters``."""
        check_data(batch_x, batch_y, n_features=model.n_features)
        check_shots(shots)
        check_loss(loss_function, len(batch_y))
        batch_x, batch_y = np.asarray(batch_x, dtype=float), np.asarray(batch_y)
        start = time.perf_counter()
        c_k, a_k = self.gains.at(self.iteration)
        self.shots = shots  # the shots of the estimate in progress (blocking's noise level)
        plan = self.plan(model, model.parameters.copy(), batch_x, batch_y, loss_function, c_k)
        results, spent = self.run(plan, shots)
        grad, value, meta = plan.postprocess(results)
        meta.update(n_jobs=spent.jobs, modeled_time_s=spent.modeled_s, shots=spent.shots,
                    iteration=self.iteration, c_k=c_k, a_k=a_k)
        self.iteration += 1
        return GradientResult(np.asarray(grad, dtype=float), float(value), spent.circuits,
                              (time.perf_counter() - start) * 1000, self.method, meta)

    def run(self, plan: StepPlan, shots) -> tuple[list, BatchStats]:
        """Run the plan's circuits through the manager; results in order, and what they cost."""
        n = plan.circuits_per_job or len(plan.circuits)
        results, spent = [], BatchStats()
        for i in range(0, len(plan.circuits), n):
            results.extend(self.batch_manager.execute_batch(plan.circuits[i:i + n], shots))
            spent.add(self.batch_manager.last_call)
        return results, spent

    def predict_cost(self, model, batch_x, batch_y, loss_function=square_loss, shots=1000) -> float:
        """Modeled seconds the next estimate on this batch will cost, without running it or
        moving the random generator: its circuits and jobs priced by the backend's latency model
        (how a budget is kept before the first step is paid)."""
        state = self.rng.bit_generator.state
        try:
            c_k, _ = self.gains.at(self.iteration)
            plan = self.plan(model, model.parameters.copy(), np.asarray(batch_x, dtype=float), np.asarray(batch_y),
                             loss_function, c_k)
        finally:
            self.rng.bit_generator.state = state
        per_job = plan.circuits_per_job or self.batch_manager.max_batch_size
        n = len(plan.circuits)
        return float(self.batch_manager.backend.latency.batch_time(n, math.ceil(n / per_job), shots))

    def plan(self, model, params, X, Y, loss_function, c_k) -> StepPlan:
        raise NotImplementedError

    def _directions(self, m, n):
        return self.rng.choice([-1.0, 1.0], size=(m, n))


class SPSAEstimator(GradientEstimator):
    """SPSA of the batch loss: L(theta +- c_k delta) over the batch (or a random subsample of k).

    ``one_job=False`` is Strategy 1 (sequential, 2B jobs); ``one_job=True`` Strategy 2 (parallel,
    all 2B circuits in one job); ``subsample_size=k`` Strategy 3 (2k circuits in one job).
    ``n_directions=m`` averages m independent directions from the same single job (2mk circuits).
    ``clip_subsample=True`` uses the whole batch when it is shorter than k (the trainer's last
    short batch of an epoch); otherwise such a batch is an error.

    ``blocking=True`` checks the previous step in this step's single job: 2k more circuits run the
    same samples at theta and at the point of the previous estimate (``last_point``). When the loss
    at theta exceeds the loss there by more than ``BLOCKING_SIGMAS`` shot-noise standard errors, the
    metadata says ``blocked`` and ``return_to``: the caller undoes the step (the trainer does) and
    the next estimate makes no check. (The mean of the +- circuits is no substitute for the loss at
    theta: its curvature term varies with the direction by more than the shot noise.) Qiskit's
    blocking spends an extra job per step on the same question.

    ``metric_regularization=beta`` makes it QN-SPSA (Gacon et al. 2021, as PennyLane's
    ``QNSPSAOptimizer`` computes it) with the metric estimated from circuits in the SAME job: for
    one sample of the subsample (drawn at random), 4 overlap circuits
    |<psi(x, theta)|psi(x, theta + c_k d)>|^2 at d = d1 + d2, d1, -d1 + d2, -d1 give a rank-2
    estimate of the Fubini-Study metric; its running average (starting from the identity), made
    positive and regularised, ``(|F| + beta I) / (1 + beta)``, turns the SPSA gradient g into
    ``F^-1 g`` (returned as the gradient). Like PennyLane, one perturbation size serves both (here
    c_k): at c ~ 0.2 over 48 parameters the overlaps are ~0.6, beyond the four-point formula's
    second-order regime, a biased but low-noise estimate at 1000 shots. Directions the metric has
    not seen are amplified by the running average: x2 after one step, up to x21 (beta = 1e-3,
    around step 30) or x2.7 (beta = 0.1), back to x1 after ~1/beta steps; a blocked step still
    updates the metric (as in PennyLane).
    """

    def __init__(self, batch_manager, *, one_job=True, subsample_size=None, n_directions=1,
                 clip_subsample=False, blocking=False, metric_regularization=None, **kw):
        super().__init__(batch_manager, **kw)
        if subsample_size is not None and (isinstance(subsample_size, bool) or
                                           not isinstance(subsample_size, (int, np.integer)) or subsample_size < 1):
            raise ValueError(f"subsample_size: must be an integer >= 1, got {subsample_size!r}")
        if isinstance(n_directions, bool) or not isinstance(n_directions, (int, np.integer)) or n_directions < 1:
            raise ValueError(f"n_directions: must be an integer >= 1, got {n_directions!r}")
        self.one_job, self.subsample_size, self.n_directions = one_job, subsample_size, int(n_directions)
        if (blocking or metric_regularization is not None) and not one_job:
            raise ValueError("blocking, metric_regularization: use circuits inside the step's single job; need "
                             "spsa_parallel or spsa_subsampled with circuit batching")
        if metric_regularization is not None and not (isinstance(metric_regularization, (float, int)) and
                                                      not isinstance(metric_regularization, bool) and
                                                      0 < metric_regularization < math.inf):
            raise ValueError(f"metric_regularization: must be a finite number > 0 or None, got {metric_regularization!r}")
        self.clip_subsample, self.blocking = clip_subsample, bool(blocking)
        self.last_point = None  # blocking: where the previous estimate was made (the step to check starts there)
        self.metric_regularization = metric_regularization
        self.metric, self.metric_steps = None, 0  # QN-SPSA: the regularised running-average metric
        self.method = ("spsa_subsampled" if subsample_size is not None
                       else "spsa_parallel" if one_job else "spsa_sequential")

    def plan(self, model, params, X, Y, loss_function, c_k):
        deltas = self._directions(self.n_directions, params.size)
        meta = {"n_directions": self.n_directions, "directions": deltas}
        if self.subsample_size is not None:
            k = self.subsample_size
            if k > len(X):
                if not self.clip_subsample:
                    raise ValueError(f"subsample_size: {k} exceeds the batch size {len(X)}")
                k = len(X)
            idx = np.sort(self.rng.choice(len(X), size=k, replace=False))
            meta.update(subsample_size=k, full_batch_size=len(X), indices=idx.tolist())
            X, Y = X[idx], Y[idx]
        points, circuits = plus_minus_circuits(model, params, deltas, c_k, X)
        n = len(circuits)
        if self.metric_regularization is not None:  # 4 overlap circuits on one sample of the subsample
            d1, d2 = self._directions(2, params.size)
            circuits = circuits + overlap_circuits(model, X[self.rng.integers(len(X))], params, params + c_k * np.array(
                [d1 + d2, d1, -d1 + d2, -d1]))
        check, shots = (self.last_point if self.blocking else None), self.shots
        if check is not None:  # theta, then the previous point, on the same samples
            circuits = circuits + model.build_circuits(np.vstack([X, X]), np.repeat([params, check], len(X), axis=0))

        def postprocess(results):
            losses = batch_losses(loss_function, model.outputs_from(results[:n]).reshape(len(points), len(X)), Y)
            plus, minus = losses[0::2], losses[1::2]
            grad = np.mean(((plus - minus) / (2 * c_k))[:, None] * deltas, axis=0)
            m = dict(meta)
            if self.metric_regularization is not None:
                fid = np.array([r[0] for r in results[n:n + 4]])  # P(|0...0>) = the overlap
                raw = -(np.outer(d1, d2) + np.outer(d2, d1)) * (fid[0] - fid[1] - fid[2] + fid[3]) / (8 * c_k ** 2)
                grad = self._natural(grad, raw)
            if self.blocking:
                m["blocked"] = False
                if check is not None:
                    now, before, tol = blocking_test(model, loss_function, results[-2 * len(X):], Y, shots)
                    m.update(loss_now=now, loss_before=before, tolerance=tol, blocked=now - before > tol,
                             return_to=check.copy())
                self.last_point = None if m["blocked"] else params.copy()
            return grad, float(np.mean((plus + minus) / 2)), m

        return StepPlan(circuits, postprocess, None if self.one_job else 1)

    def _natural(self, grad, raw):
        """QN-SPSA's update of the metric (PennyLane's: a running average that starts from the
        identity as one pseudo-estimate, then |F| + beta I, / (1 + beta)), and the preconditioned
        gradient F^-1 g."""
        k, beta = self.metric_steps + 1, self.metric_regularization
        prev = np.eye(len(grad)) if self.metric is None else self.metric
        avg = k / (k + 1) * prev + raw / (k + 1)
        w, V = np.linalg.eigh((avg + avg.T) / 2)
        self.metric = (V * np.abs(w)) @ V.T + beta * np.eye(len(grad))
        self.metric /= 1 + beta
        self.metric_steps += 1
        return np.linalg.solve(self.metric, grad)


def overlap_circuits(model, x, params, others) -> list:
    """Circuits whose probability of |0...0> is |<psi(x, params)|psi(x, other)>|^2, one per row of
    ``others`` (PennyLane's QNSPSA construction): U(x, other), then U(x, params) inverted, every
    wire measured."""
    inverse = [op.adjoint() for op in reversed(model.build_circuit(x, params).operations)]
    measure = [qml.probs(wires=range(model.n_wires))]
    return [QuantumScript(t.operations + inverse, measure)
            for t in model.build_circuits(np.tile(x, (len(others), 1)), others)]


def output_variance(model, probs: np.ndarray, shots: int | None) -> np.ndarray:
    """Shot-noise variance of each model output estimated from ``shots`` samples of the read-out
    distribution ``probs`` (rows): the multinomial covariance through the read-out's gradient
    (exact for the linear parity read-out; (1 - f^2) / shots for one wire)."""
    probs = np.asarray(probs, dtype=float)
    if shots is None:
        return np.zeros(len(probs))
    G = _readout_gradient(model, probs)
    return np.maximum((G * G * probs).sum(1) - (G * probs).sum(1) ** 2, 0.0) / shots


def blocking_test(model, loss_function, results, Y, shots) -> tuple[float, float, float]:
    """Blocking's comparison from the results of 2 len(Y) circuits, theta then the previous point
    on the same samples: (loss at theta, loss at the previous point, tolerance). The tolerance is
    ``BLOCKING_SIGMAS`` standard errors of the difference, the shot noise of every output carried
    through the loss (its derivative taken numerically, one-sided at the ends of [-1, 1])."""
    k = len(Y)
    results = np.asarray(results, dtype=float)
    F = model.outputs_from(results).reshape(2, k)
    Yb = np.broadcast_to(Y, F.shape)
    L = np.asarray(loss_function(F, Yb), dtype=float)
    h = 1e-6
    hi, lo = np.minimum(F + h, 1.0), np.maximum(F - h, -1.0)
    dl = (np.asarray(loss_function(hi, Yb), float) - np.asarray(loss_function(lo, Yb), float)) / (hi - lo)
    var = dl ** 2 * output_variance(model, results, shots).reshape(F.shape)
    se = math.sqrt(var.sum()) / k
    if not math.isfinite(se):
        raise ValueError(f"blocking: the loss {getattr(loss_function, '__name__', loss_function)!r} has no finite "
                         "derivative at these outputs; blocking needs one (or use blocking=False)")
    return float(L[0].mean()), float(L[1].mean()), BLOCKING_SIGMAS * se


class PerSampleSPSAEstimator(GradientEstimator):
    """The v3.3 loop: one SPSA gradient per sample (own direction, 2 jobs each), then averaged.
    (The document adds them instead: see ``qnb.defects``.)"""

    method = "spsa_per_sample"

    def plan(self, model, params, X, Y, loss_function, c_k):
        deltas = np.array([self._directions(1, params.size)[0] for _ in X])  # drawn in the loop's order
        points = np.stack([params + c_k * deltas, params - c_k * deltas], axis=1).reshape(-1, params.size)
        circuits = model.build_circuits(np.repeat(X, 2, axis=0), points)

        def postprocess(results):
            out = model.outputs_from(results).reshape(len(X), 2)
            lp, lm = (np.asarray(loss_function(out[:, j], Y), dtype=float) for j in (0, 1))
            grads = ((lp - lm) / (2 * c_k))[:, None] * deltas
            return np.mean(grads, axis=0), float(np.mean((lp + lm) / 2)), {"directions": deltas,
                                                                            "per_sample_gradients": grads}

        return StepPlan(circuits, postprocess, 1)


class ParameterShiftEstimator(GradientEstimator):
    """Exact-in-expectation gradient. PennyLane's ``qml.gradients.param_shift`` builds the shifted
    circuits of every gate angle that depends on the parameters (2 per Pauli rotation, 4 for a
    controlled rotation, ...), the chain rule maps gate angles back to parameters (a parameter may
    feed several gates), and the B unshifted circuits give dL/df. For the seed's model:
    2 x 48 x 10 + 10 = 970 circuits."""

    method = "parameter_shift"

    def plan(self, model, params, X, Y, loss_function, c_k):
        per_sample = []
        for x in X:
            tape, J = model.angle_jacobian(x, params)  # J: d angles / d params
            trainable = np.flatnonzero(np.any(J != 0, axis=1)).tolist()
            if not trainable:  # no gate of this sample depends on the parameters: it adds zero
                per_sample.append((tape, [], None, J[:0]))
                continue
            tape = qml.tape.QuantumScript(tape.operations, tape.measurements, trainable_params=trainable)
            tapes, fn = qml.gradients.param_shift(tape)
            per_sample.append((tape, list(tapes), fn, J[trainable]))
        n_shifted = {len(t) for _, t, _, _ in per_sample}
        # unshifted circuits first, then shift-major and sample-minor, so that one job holds
        # structurally identical circuits side by side (and the seed model's order is kept)
        order = [(b, None) for b in range(len(X))]
        if len(n_shifted) == 1:
            order += [(b, j) for j in range(n_shifted.pop()) for b in range(len(X))]
        else:
            order += [(b, j) for b, (_, t, _, _) in enumerate(per_sample) for j in range(len(t))]
        circuits = [per_sample[b][0] if j is None else per_sample[b][1][j] for b, j in order]

        def postprocess(results):
            probs = {key: r for key, r in zip(order, results)}
            f = model.outputs_from([probs[(b, None)] for b in range(len(X))])
            h = 1e-6
            dldf = (np.asarray(loss_function(f + h, Y), float) - np.asarray(loss_function(f - h, Y), float)) / (2 * h)
            grad = np.zeros(params.size)
            for b, (tape, tapes, fn, J) in enumerate(per_sample):
                if fn is None:
                    continue
                jac = fn([probs[(b, j)] for j in range(len(tapes))])  # d probs / d angle, per trainable angle
                jac = np.atleast_2d(np.array(jac if isinstance(jac, tuple) else [jac], dtype=float))
                dfd_angle = jac @ _readout_gradient(model, np.asarray(probs[(b, None)], float)[None])[0]
                grad += dldf[b] * (J.T @ dfd_angle)
            return grad / len(X), float(np.mean(loss_function(f, Y))), {}

        return StepPlan(circuits, postprocess)


def _readout_gradient(model, P: np.ndarray, h=1e-6) -> np.ndarray:
    """d output / d probabilities of the read-out wires, per row of P (n, d) (exact for the linear
    parity read-out)."""
    P = np.asarray(P, dtype=float)
    return np.stack([(model.outputs_from(P + h * e) - model.outputs_from(P - h * e)) / (2 * h)
                     for e in np.eye(P.shape[1])], axis=1)


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
    check_data(batch_x, batch_y, n_features=model.n_features)
    check_loss(loss_function, len(batch_y))
    gains = gains or Gains()
    est = SPSAEstimator(batch_manager, gains=gains, seed=seed)
    params, X, Y = model.parameters.copy(), np.asarray(batch_x, float), np.asarray(batch_y)
    c0, _ = gains.at(0)
    deltas = est._directions(n_directions, params.size)
    points, circuits = plus_minus_circuits(model, params, deltas, c0, X)
    results, spent = est.run(StepPlan(circuits, None), shots)
    losses = batch_losses(loss_function, model.outputs_from(results).reshape(len(points), len(X)), Y)
    magnitude = float(np.mean(np.abs(losses[0::2] - losses[1::2]) / (2 * c0)))
    a = target_magnitude * (1 + gains.A) ** gains.alpha / max(magnitude, 1e-12)
    return Gains(a, gains.c, gains.A, gains.alpha, gains.gamma), {
        "a": a, "gradient_magnitude": magnitude, "circuits": spent.circuits, "jobs": spent.jobs,
        "shots": spent.shots, "modeled_s": spent.modeled_s}


def check_one_job_options(method, enable_circuit_batching, defects, blocking, metric_regularization) -> None:
    """Blocking and the QN-SPSA metric add circuits to a step's single job: refuse them elsewhere."""
    used = [n for n, on in (("blocking", blocking), ("metric_regularization", metric_regularization is not None)) if on]
    if used and (method not in ("spsa_parallel", "spsa_subsampled") or not enable_circuit_batching or defects):
        raise ValueError(f"{', '.join(used)}: adds circuits to a step's single job; needs spsa_parallel or "
                         f"spsa_subsampled with circuit batching and no defects, got {method!r}")


def make_estimator(method: str, batch_manager: CircuitBatchManager, *, subsample_size: int = 5,
                   gains: Gains | None = None, seed=None, n_directions: int = 1,
                   enable_circuit_batching: bool = True, clip_subsample: bool = False,
                   defects=(), blocking: bool = False, metric_regularization: float | None = None) -> GradientEstimator:
    """Build the estimator for ``method`` (one of ``METHODS``).

    ``enable_circuit_batching=False`` makes the parallel and subsampled strategies submit one job
    per circuit. ``defects`` reproduces the document's bugs by name (see ``qnb.defects``).
    ``blocking`` and ``metric_regularization`` (QN-SPSA; spsa_parallel, spsa_subsampled): see
    ``SPSAEstimator``.
    """
    if method not in METHODS:
        raise ValueError(f"gradient_method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if method not in ("spsa_parallel", "spsa_subsampled") and n_directions != 1:
        raise ValueError(f"n_directions: only spsa_parallel and spsa_subsampled average several directions, got {n_directions} for {method!r}")
    if not isinstance(enable_circuit_batching, (bool, np.bool_)):
        raise ValueError(f"enable_circuit_batching: must be True or False, got {enable_circuit_batching!r}")
    check_one_job_options(method, enable_circuit_batching, defects, blocking, metric_regularization)
    kw = dict(gains=gains, seed=seed)
    if method == "spsa_per_sample":
        est = PerSampleSPSAEstimator(batch_manager, **kw)
    elif method == "parameter_shift":
        est = ParameterShiftEstimator(batch_manager, **kw)
    elif method == "spsa_sequential":
        est = SPSAEstimator(batch_manager, one_job=False, **kw)
    else:
        est = SPSAEstimator(batch_manager, one_job=bool(enable_circuit_batching), n_directions=n_directions,
                            subsample_size=subsample_size if method == "spsa_subsampled" else None,
                            clip_subsample=clip_subsample, blocking=blocking,
                            metric_regularization=metric_regularization, **kw)
    if defects:
        from .defects import with_defects
        est = with_defects(est, defects)
    return est
