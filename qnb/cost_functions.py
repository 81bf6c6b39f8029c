r"""PennyLane's optimizer form, ``step(cost_fn, *args, **kwargs)``, with every circuit of a step in
ONE device execution.

``cost_fn`` is a scalar cost: a QNode returning an expectation (a VQE energy, ``qml.expval(H)``
with terms that need not commute), or a Python function of QNode calls whose calls do not depend
on the results of earlier calls. One step at the trainable point :math:`\theta` (the arguments
PennyLane marks ``requires_grad``, flattened together) is

.. math::

    \hat g_k = \frac{1}{m}\sum_{j=1}^m \frac{L(\theta + c_k\Delta_j) - L(\theta - c_k\Delta_j)}{2c_k}\,\Delta_j,
    \qquad \theta_{k+1} = \theta_k - a_k \hat g_k,

as ``qml.SPSAOptimizer`` (m = 1) computes it. How the 2m evaluations (and :math:`L(\theta)`,
when the cost is returned) become one execution:

1. **record**: ``cost_fn`` is called at each point while QNode calls are intercepted: each call
   is recorded as its tapes (``qml.workflow.construct_batch(qnode, level="user")``: the QNode's
   own transforms applied, nothing run) and answers with a placeholder of the right shape;
2. **execute**: all tapes of all points go to the device in ONE ``qml.execute`` call
   (``qml.Tracker`` counts one batch);
3. **replay**: ``cost_fn`` is called again at each point; each QNode call is recorded anew and must
   be the same circuit as in step 1 (else the calls depended on earlier results: ValueError, the
   results are not used), and answers with its results; the classical post-processing runs on them.
"""
from __future__ import annotations

import contextvars
import inspect
import threading
import time
from contextlib import contextmanager

import numpy as np
import pennylane as qml
from pennylane import numpy as pnp

from .estimators import GradientResult, directions

PLACEHOLDER = 0.5  # what an expval or var answers while recording (not 0: a cost may divide by it)

_active = contextvars.ContextVar("qnb_recording", default=None)
_lock = threading.Lock()
_users = 0
_qnode_call = qml.QNode.__call__


def _intercepted(self, *args, **kwargs):
    recording = _active.get()
    if recording is None:  # outside a recording, or another thread: the QNode as PennyLane runs it
        return _qnode_call(self, *args, **kwargs)
    return recording.call(self, args, kwargs)


@contextmanager
def _intercepting(recording):
    """QNode calls in this context (and thread) go to ``recording``; elsewhere they run as usual."""
    global _users
    with _lock:
        if _users == 0:
            qml.QNode.__call__ = _intercepted
        _users += 1
    token = _active.set(recording)
    try:
        yield recording
    finally:
        _active.reset(token)
        with _lock:
            _users -= 1
            if _users == 0:
                qml.QNode.__call__ = _qnode_call


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _placeholder(tape, qnode):
    """A result of the tape's shape: PLACEHOLDER for expval / var, uniform probabilities."""
    if tape.shots.has_partitioned_shots:
        raise ValueError(f"{_name(qnode)}: a shot vector {tape.shots} is not one result per circuit; give one shot count")
    out = []
    for m in tape.measurements:
        kind = type(m).__name__
        if kind in ("ExpectationMP", "VarianceMP"):
            out.append(np.float64(PLACEHOLDER))
        elif kind == "ProbabilityMP":
            n = len(m.wires) or len(qnode.device.wires)
            out.append(np.full(2 ** n, 1.0 / 2 ** n))
        else:
            raise ValueError(f"{_name(qnode)}: returns {kind.replace('MP', '').lower()} ({m}); the PennyLane form "
                             "takes QNodes returning qml.expval, qml.var or qml.probs")
    return out[0] if len(out) == 1 else tuple(out)


class Recording:
    """The QNode calls of one evaluation of a cost: recorded with placeholders (``results`` None),
    or replayed against ``expected`` calls with their ``results``."""

    def __init__(self, expected=None, results=None):
        self.calls, self.expected, self.results = [], expected, results

    def call(self, qnode, args, kwargs):
        token = _active.set(None)  # the QNode's own function is recorded, not intercepted
        try:
            tapes, post = qml.workflow.construct_batch(qnode, level="user")(*args, **kwargs)
        finally:
            _active.reset(token)
        i = len(self.calls)
        self.calls.append((qnode, tuple(tapes), post))
        if self.expected is None:
            return post(tuple(_placeholder(t, qnode) for t in tapes))[0]  # one QNode call: one result
        if i >= len(self.expected) or self.expected[i][0] is not qnode or [t.hash for t in tapes] != [
                t.hash for t in self.expected[i][1]]:
            raise ValueError(f"cost_fn: its QNode call {i + 1} ({_name(qnode)}) is not the circuit recorded before the "
                             "execution: the calls depend on the results of earlier calls, which one batch cannot hold")
        return post(self.results[i])[0]


def evaluate(cost_fn, args, kwargs, expected=None, results=None):
    """``(value, Recording)``: ``cost_fn(*args, **kwargs)`` recorded (placeholders) or replayed."""
    recording = Recording(expected, results)
    with _intercepting(recording), np.errstate(all="ignore"):
        if expected is None:
            try:
                value = cost_fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - user code: said with what was going on
                if hasattr(e, "add_note"):  # Python >= 3.11
                    e.add_note(f"qnb: raised by cost_fn while its QNode calls were recorded with placeholder results "
                               f"({PLACEHOLDER} for an expectation): nothing was run")
                raise
        else:
            value = cost_fn(*args, **kwargs)
    if expected is not None and len(recording.calls) != len(expected):
        raise ValueError(f"cost_fn: made {len(recording.calls)} QNode calls with the results, {len(expected)} while "
                         "recording: the calls depend on the results, which one batch cannot hold")
    if not recording.calls and expected is None:
        raise ValueError(f"{_name(cost_fn)}: calls no QNode: nothing to run on a device (the PennyLane form takes a "
                         "QNode or a function of QNode calls)")
    return value, recording


def scalar(value, name: str) -> float:
    """The cost as a float; ValueError unless it holds one number."""
    a = np.asarray(value)
    if a.size != 1:
        raise ValueError(f"{name}: returns shape {a.shape}; the objective function must be a scalar function for the "
                         "gradient to be computed (as qml.SPSAOptimizer says)")
    return float(np.real(a.reshape(())))


def trainable(args) -> list[int]:
    """Indices of the arguments PennyLane trains: those with ``requires_grad`` True (a
    ``pennylane.numpy`` array, by default); plain NumPy arrays and numbers pass through."""
    idx = [i for i, a in enumerate(args) if getattr(a, "requires_grad", False)]
    for i in idx:
        if qml.math.get_interface(args[i]) not in ("numpy", "autograd"):
            raise ValueError(f"args[{i}]: a {qml.math.get_interface(args[i])} tensor; qnb's PennyLane form takes "
                             "NumPy / pennylane.numpy arguments")
    if not idx:
        raise ValueError("args: nothing to train: no argument has requires_grad=True (qml.SPSAOptimizer would leave "
                         "them all as they are); pass parameters as pennylane.numpy arrays, e.g. "
                         "pnp.array(w, requires_grad=True)")
    return idx


def flatten(args, idx) -> np.ndarray:
    return np.concatenate([np.asarray(args[i], dtype=float).ravel() for i in idx])


def with_point(args, idx, theta) -> list:
    """``args`` with the trainable ones replaced by ``theta`` (flat), in their shapes, as
    ``pennylane.numpy`` arrays that require grad (as ``qml.SPSAOptimizer`` passes them)."""
    out, at = list(args), 0
    for i in idx:
        shape = np.shape(args[i])
        n = int(np.prod(shape))
        out[i] = pnp.array(theta[at:at + n].reshape(shape), requires_grad=True)
        at += n
    return out


def one_device(recordings):
    """The device of every recorded QNode call, or ValueError: one execution runs on one device."""
    devices = {id(q.device): q.device for r in recordings for q, _, _ in r.calls}
    if len(devices) != 1:
        raise ValueError(f"cost_fn: its QNodes run on {len(devices)} devices; one execution needs one device: build "
                         "them on the same device object")
    return next(iter(devices.values()))


def _binds(sig, args, kwargs) -> bool:
    try:
        sig.bind(*args, **kwargs)
        return True
    except TypeError:
        return False


def _classifier_form(params, X, y, loss=None):  # the classifier form's arguments after the QNode
    pass


def batch_form(cost_fn, args, kwargs, model_type) -> bool:
    """Is ``step(cost_fn, *args, **kwargs)`` the classifier form ``(qnode, params, X, y, loss)``?
    Yes for a qnb model; yes when the arguments fit ``(params, X, y[, loss])``, ``cost_fn`` takes
    ``(x, params)``, and either ``cost_fn`` cannot take the arguments as given (PennyLane's form is
    impossible) or ``loss=`` is named; otherwise PennyLane's form."""
    if isinstance(cost_fn, model_type):
        return True
    fits = _binds(inspect.signature(_classifier_form), args, kwargs)
    try:
        sig = inspect.signature(cost_fn)
    except (TypeError, ValueError):  # no signature to read: PennyLane's form, unless loss= says otherwise
        return fits and "loss" in kwargs
    if not (fits and _binds(sig, (0.0, 0.0), {})):
        return False
    return "loss" in kwargs or not _binds(sig, args, kwargs)


class NonFiniteError(FloatingPointError):
    """A step's loss, energy or update is NaN or infinite: raised before the parameters move."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


def check_finite(step: int, what: str, values, where: str = "") -> None:
    """NonFiniteError naming the step (``opt.k`` before it: 0 is the first) unless every value is finite."""
    v = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(v)):
        bad = "NaN" if np.any(np.isnan(v)) else "infinite"
        raise NonFiniteError(f"step {step}: the {what} is {bad}{where}; the parameters and the optimizer's state are "
                             "left as they were (the step's execution was spent)", step)


def pennylane_step(opt, cost_fn, args, kwargs, with_cost: bool, run):
    """One step of PennyLane's form (see the module); ``run(tapes) -> BatchResult`` executes the
    tapes as one execution on the device. Returns (new args, cost or None, GradientResult)."""
    start = time.perf_counter()
    est = opt.estimator
    if getattr(est, "subsample", None) is not None or opt.blocking or opt.regularization is not None or not getattr(
            est, "one_job", False) or type(est).__name__ != "SPSAEstimator":
        raise ValueError("subsample, blocking, regularization, estimator: belong to the classifier form step(qnode, "
                         "params, X, y, loss=...); PennyLane's form step(cost_fn, *args) takes num_directions and the "
                         "step rule")
    idx = trainable(args)
    theta = flatten(args, idx)
    opt._check_params(theta)
    at_params = with_cost and opt.cost_at == "params"
    c_k, a_k = opt.gains.at(opt.k)
    saved = opt._snapshot()
    try:
        deltas = directions(opt.rng, est.num_directions, theta.size)
        points = [theta + s * c_k * d for d in deltas for s in (1.0, -1.0)] + ([theta] if at_params else [])
        point_args = [with_point(args, idx, p) for p in points]
        recorded = []
        for a in point_args:  # recorded, nothing run; a cost that is no scalar is refused here
            value, recording = evaluate(cost_fn, a, kwargs)
            scalar(value, _name(cost_fn))
            recorded.append(recording)
        device = one_device(recorded)
        tapes = [t for r in recorded for _, ts, _ in r.calls for t in ts]
        out = run(device, tapes)
        values, at = [], 0
        for a, r in zip(point_args, recorded):
            per_call = []
            for _, ts, _ in r.calls:
                per_call.append(tuple(out[at:at + len(ts)]))
                at += len(ts)
            values.append(scalar(evaluate(cost_fn, a, kwargs, r.calls, per_call)[0], _name(cost_fn)))
        values = np.array(values)
        pm = values[:2 * len(deltas)]
        check_finite(opt.k, "cost", values, f" at {np.sum(~np.isfinite(values))} of the step's {len(values)} points")
        grad = np.mean(((pm[0::2] - pm[1::2]) / (2 * c_k))[:, None] * deltas, axis=0)
        check_finite(opt.k, "gradient estimate", grad)
        new = opt.rule.step(theta, grad, a_k)
        check_finite(opt.k, "updated parameter vector", new)
    except BaseException:
        opt._restore(saved)
        raise
    cost = float(values[-1]) if at_params else float(np.mean(pm))
    spent = out.cost
    meta = {"n_jobs": spent.jobs, "modeled_time_s": spent.modeled_s, "shots": spent.shots, "usd": spent.usd,
            "iteration": opt.k, "c_k": c_k, "a_k": a_k, "directions": deltas, "tapes": len(tapes),
            "cost_at": opt.cost_at if with_cost else None, "submission": getattr(out, "submission", None)}
    opt.k += 1
    g = GradientResult(grad, cost, spent.circuits, (time.perf_counter() - start) * 1000, "spsa_pennylane", meta)
    new_args = with_point(args, idx, new)
    opt.last_step = g
    return (new_args[0] if len(args) == 1 else new_args), (cost if with_cost else None), g
