"""Gradient estimators of the batch loss, as pure plans.

An estimator follows the pattern of PennyLane's gradient transforms: ``plan`` takes the point,
the batch, a random generator, the shots and the optimizer's state, and returns the circuits of
one step plus a post-processing function that turns their results into
``(gradient, batch_loss, metadata)``. It reads and writes no state of its own: what carries over
from step to step (the iteration, the previous point for blocking, the QN-SPSA metric) belongs to
``qnb.BatchSPSAOptimizer``, which runs the circuits as one device execution or one cloud job.

Strategies (B samples, N parameters):

* ``spsa_per_sample`` (the document's v3.3 loop): one direction per sample, 2 circuits each, sent
  one job per circuit, averaged.
* ``spsa_sequential`` (Strategy 1), ``spsa_parallel`` (Strategy 2), ``spsa_subsampled`` (Strategy 3):
  SPSA of the batch loss, 2B circuits one job each, 2B in one job, 2k in one job.
* ``parameter_shift``: exact in expectation, 2 circuits per trainable gate angle and sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

from . import validation as check

METHODS = ("spsa_per_sample", "spsa_sequential", "spsa_parallel", "spsa_subsampled", "parameter_shift")
BLOCKING_SIGMAS = 2.0  # blocking undoes a step whose loss rose by more than this many shot-noise standard errors


@dataclass
class GradientResult:
    """One gradient estimate. ``n_circuit_executions`` and ``metadata['n_jobs']`` are counted
    where the circuits were run; ``metadata['modeled_time_s']`` is the latency model's cloud time."""

    gradients: np.ndarray
    function_value: float
    n_circuit_executions: int
    computation_time_ms: float
    method: str
    metadata: dict = field(default_factory=dict)


@dataclass
class StepPlan:
    """The circuits of one gradient step and how to turn their results into (grad, value, meta).

    ``circuits_per_job``: None runs the list as one execution (as few jobs as the job size
    allows); 1 sends one job per circuit (the sequential strategies, one round trip each).
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


def directions(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """m Rademacher directions in R^n (entries +-1 with probability 1/2)."""
    return rng.choice([-1.0, 1.0], size=(m, n))


class SPSAEstimator:
    r"""SPSA of the mean batch loss :math:`L(\theta) = \frac{1}{B}\sum_b \ell(f(x_b, \theta), y_b)`.

    .. math::

        \hat g = \frac{1}{m}\sum_{j=1}^{m} \frac{L_S(\theta + c_k\Delta_j) - L_S(\theta - c_k\Delta_j)}{2 c_k}\,\Delta_j,

    with Rademacher directions :math:`\Delta_j` and :math:`L_S` the loss over the whole batch, or
    over a random subsample :math:`S` of k samples (unbiased for the batch loss up to the
    :math:`O(c_k^2)` finite-difference term, since :math:`E_S[L_S] = L`).

    Args:
        one_job (bool): all circuits in one job (Strategy 2/3), or one job per circuit (Strategy 1).
        subsample (int or None): k, the random subsample size; None uses the whole batch.
        num_directions (int): m directions averaged from the same job (2mk circuits).
        clip_subsample (bool): a batch shorter than k is used whole (the last batch of an epoch);
            otherwise it is an error.
        metric (bool): add QN-SPSA's 4 overlap circuits for one random sample of the subsample,
            :math:`|\langle\psi(x,\theta)|\psi(x,\theta + c_k d)\rangle|^2` at
            :math:`d = d_1+d_2, d_1, -d_1+d_2, -d_1`, whose second difference
            :math:`-\frac{\Delta F}{8 c_k^2}(d_1 d_2^T + d_2 d_1^T)` estimates the Fubini-Study metric.
        blocking (bool): when the state holds the previous point, add 2k circuits at
            :math:`\theta` and at that point on the same samples, and report whether the loss rose
            by more than ``BLOCKING_SIGMAS`` shot-noise standard errors.
    """

    def __init__(self, *, one_job: bool = True, subsample: int | None = None, num_directions: int = 1,
                 clip_subsample: bool = False, metric: bool = False, blocking: bool = False):
        if subsample is not None:
            check.integer("subsample", subsample)
        check.integer("num_directions", num_directions)
        if (blocking or metric) and not one_job:
            raise ValueError("blocking, regularization: use circuits inside the step's single job; need "
                             "spsa_parallel or spsa_subsampled with circuit batching")
        self.one_job, self.subsample, self.num_directions = bool(one_job), subsample, int(num_directions)
        self.clip_subsample, self.metric, self.blocking = clip_subsample, bool(metric), bool(blocking)
        self.method = ("spsa_subsampled" if subsample is not None else "spsa_parallel" if one_job else "spsa_sequential")

    def __repr__(self):
        return f"SPSAEstimator(method={self.method!r}, subsample={self.subsample}, num_directions={self.num_directions})"

    def n_circuits(self, batch_size: int, check: bool = False) -> int:
        """Circuits of one step on a batch of ``batch_size`` (``check``: with blocking's check)."""
        k = batch_size if self.subsample is None else min(self.subsample, batch_size)
        return 2 * self.num_directions * k + 4 * self.metric + 2 * k * (self.blocking and check)

    def plan(self, model, params, X, Y, loss_function, c_k, rng, shots=None, state=None) -> StepPlan:
        """The step's circuits and post-processing; ``state['check']`` is blocking's previous point."""
        deltas = directions(rng, self.num_directions, params.size)
        meta = {"n_directions": self.num_directions, "directions": deltas}
        if self.subsample is not None:
            k = self.subsample
            if k > len(X):
                if not self.clip_subsample:
                    raise ValueError(f"subsample_size: {k} exceeds the batch size {len(X)}")
                k = len(X)
            idx = np.sort(rng.choice(len(X), size=k, replace=False))
            meta.update(subsample_size=k, full_batch_size=len(X), indices=idx.tolist())
            X, Y = X[idx], Y[idx]
        points, circuits = plus_minus_circuits(model, params, deltas, c_k, X)
        n = len(circuits)
        if self.metric:  # 4 overlap circuits on one sample of the subsample
            d1, d2 = directions(rng, 2, params.size)
            circuits = circuits + overlap_circuits(model, X[rng.integers(len(X))], params, params + c_k * np.array(
                [d1 + d2, d1, -d1 + d2, -d1]))
        check = (state or {}).get("check") if self.blocking else None
        if check is not None:  # theta, then the previous point, on the same samples
            circuits = circuits + model.build_circuits(np.vstack([X, X]), np.repeat([params, check], len(X), axis=0))

        def postprocess(results):
            losses = batch_losses(loss_function, model.outputs_from(results[:n]).reshape(len(points), len(X)), Y)
            plus, minus = losses[0::2], losses[1::2]
            grad = np.mean(((plus - minus) / (2 * c_k))[:, None] * deltas, axis=0)
            m = dict(meta)
            if self.metric:
                fid = np.array([r[0] for r in results[n:n + 4]])  # P(|0...0>) = the overlap
                m["metric_estimate"] = -(np.outer(d1, d2) + np.outer(d2, d1)) * (
                    fid[0] - fid[1] - fid[2] + fid[3]) / (8 * c_k ** 2)
            if self.blocking:
                m["blocked"] = False
                if check is not None:
                    now, before, tol = blocking_test(model, loss_function, results[-2 * len(X):], Y, shots)
                    m.update(loss_now=now, loss_before=before, tolerance=tol, blocked=now - before > tol,
                             return_to=check.copy())
            return grad, float(np.mean((plus + minus) / 2)), m

        return StepPlan(circuits, postprocess, None if self.one_job else 1)


def overlap_circuits(model, x, params, others) -> list:
    r"""Circuits whose probability of :math:`|0\dots0\rangle` is
    :math:`|\langle\psi(x, \theta)|\psi(x, \theta')\rangle|^2`, one per row :math:`\theta'` of
    ``others`` (PennyLane's QN-SPSA construction): :math:`U(x, \theta')`, then
    :math:`U(x, \theta)^\dagger`, every wire measured."""
    inverse = [_inverse(op) for op in reversed(model.build_circuit(x, params).operations)]
    measure = [qml.probs(wires=range(model.n_wires))]
    return [QuantumScript(t.operations + inverse, measure)
            for t in model.build_circuits(np.tile(x, (len(others), 1)), others)]


def _inverse(op):
    """op^dagger: the gate's own inverse where PennyLane has one (Rot -> Rot with negated angles),
    else ``qml.adjoint`` (S, T, SX have no ``adjoint()`` of their own)."""
    try:
        return op.adjoint()
    except qml.operation.AdjointUndefinedError:
        return qml.adjoint(op)


def output_variance(model, probs: np.ndarray, shots: int | None) -> np.ndarray:
    r"""Shot-noise variance of each model output estimated from ``shots`` samples of the read-out
    distribution ``probs`` (rows): the multinomial covariance
    :math:`(\mathrm{diag}(p) - pp^T)/\text{shots}` through the read-out's gradient G,
    :math:`\mathrm{Var} f = (\sum_i G_i^2 p_i - (\sum_i G_i p_i)^2)/\text{shots}` (exact for the
    linear parity read-out; :math:`(1 - f^2)/\text{shots}` for one wire)."""
    probs = np.asarray(probs, dtype=float)
    if shots is None:
        return np.zeros(len(probs))
    G = readout_gradient(model, probs)
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


class PerSampleSPSAEstimator:
    r"""The v3.3 loop: one SPSA gradient per sample (its own direction, 2 jobs each), averaged,
    :math:`\hat g = \frac{1}{B}\sum_b \frac{\ell_b(\theta + c_k\Delta_b) - \ell_b(\theta - c_k\Delta_b)}{2c_k}\Delta_b`.
    (The document adds them instead: see ``qnb.research.defects``.)"""

    method = "spsa_per_sample"
    subsample = None
    num_directions = 1

    def n_circuits(self, batch_size: int, check: bool = False) -> int:
        return 2 * batch_size

    def plan(self, model, params, X, Y, loss_function, c_k, rng, shots=None, state=None) -> StepPlan:
        deltas = np.array([directions(rng, 1, params.size)[0] for _ in X])  # drawn in the loop's order
        points = np.stack([params + c_k * deltas, params - c_k * deltas], axis=1).reshape(-1, params.size)
        circuits = model.build_circuits(np.repeat(X, 2, axis=0), points)

        def postprocess(results):
            out = model.outputs_from(results).reshape(len(X), 2)
            lp, lm = (np.asarray(loss_function(out[:, j], Y), dtype=float) for j in (0, 1))
            grads = ((lp - lm) / (2 * c_k))[:, None] * deltas
            return np.mean(grads, axis=0), float(np.mean((lp + lm) / 2)), {"directions": deltas,
                                                                            "per_sample_gradients": grads}

        return StepPlan(circuits, postprocess, 1)


class ParameterShiftEstimator:
    r"""Exact-in-expectation gradient. PennyLane's ``qml.gradients.param_shift`` builds the shifted
    circuits of every gate angle :math:`\phi` that depends on the parameters (2 per Pauli
    rotation, 4 for a controlled rotation, ...); the chain rule
    :math:`\partial L/\partial\theta = \frac{1}{B}\sum_b \ell'(f_b)\, J_b^T\, \partial f_b/\partial\phi`
    maps gate angles back to parameters (a parameter may feed several gates), and the B
    unshifted circuits give :math:`\ell'(f_b)`. For the seed's model: 2 x 48 x 10 + 10 = 970 circuits."""

    method = "parameter_shift"
    subsample = None
    num_directions = 1

    def n_circuits(self, batch_size: int, check: bool = False) -> int:
        return -1  # known only from the circuit's gates: plan it

    def plan(self, model, params, X, Y, loss_function, c_k, rng, shots=None, state=None) -> StepPlan:
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
                dfd_angle = jac @ readout_gradient(model, np.asarray(probs[(b, None)], float)[None])[0]
                grad += dldf[b] * (J.T @ dfd_angle)
            return grad / len(X), float(np.mean(loss_function(f, Y))), {}

        return StepPlan(circuits, postprocess)


def readout_gradient(model, P: np.ndarray, h=1e-6) -> np.ndarray:
    """d output / d probabilities of the read-out wires, per row of P (n, d) (exact for the linear
    parity read-out)."""
    P = np.asarray(P, dtype=float)
    return np.stack([(model.outputs_from(P + h * e) - model.outputs_from(P - h * e)) / (2 * h)
                     for e in np.eye(P.shape[1])], axis=1)


def make_plan(method: str, *, subsample_size: int = 5, num_directions: int = 1, enable_circuit_batching: bool = True,
              clip_subsample: bool = False, blocking: bool = False, metric: bool = False):
    """The estimator (plan builder) for ``method`` (one of ``METHODS``).

    ``enable_circuit_batching=False`` makes the parallel and subsampled strategies submit one job
    per circuit. Blocking and the QN-SPSA metric add circuits to a step's single job, so they need
    ``spsa_parallel`` or ``spsa_subsampled`` with circuit batching."""
    if method not in METHODS:
        raise ValueError(f"gradient_method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if method not in ("spsa_parallel", "spsa_subsampled") and num_directions != 1:
        raise ValueError(f"num_directions: only spsa_parallel and spsa_subsampled average several directions, got "
                         f"{num_directions} for {method!r}")
    check.boolean("enable_circuit_batching", enable_circuit_batching)
    used = [n for n, on in (("blocking", blocking), ("regularization", metric)) if on]
    if used and (method not in ("spsa_parallel", "spsa_subsampled") or not enable_circuit_batching):
        raise ValueError(f"{', '.join(used)}: adds circuits to a step's single job; needs spsa_parallel or "
                         f"spsa_subsampled with circuit batching, got {method!r}")
    if method == "spsa_subsampled":
        check.integer("subsample_size", subsample_size)
    if method == "spsa_per_sample":
        return PerSampleSPSAEstimator()
    if method == "parameter_shift":
        return ParameterShiftEstimator()
    if method == "spsa_sequential":
        return SPSAEstimator(one_job=False)
    return SPSAEstimator(one_job=bool(enable_circuit_batching), num_directions=num_directions,
                         subsample=subsample_size if method == "spsa_subsampled" else None,
                         clip_subsample=clip_subsample, blocking=blocking, metric=metric)
