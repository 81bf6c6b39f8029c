"""``BatchSPSAOptimizer``: SPSA of a batch loss with every circuit of a step in ONE execution.

The optimizer owns everything that carries over from one step to the next: the gains and the
iteration count, the step rule and its moments (momentum, Adam), blocking's previous point and
undo state, the QN-SPSA metric and the random generator. Its ``state()`` is JSON-safe and
``load_state`` restores it so that the next step is bit-identical. The circuits of a step come
from a pure estimator plan (``qnb.estimators``); they run where the caller says: a PennyLane
device (one ``qml.execute`` call) or a ``CircuitBatchManager`` (one cloud job).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pennylane as qml

from . import validation as check
from .batching import BatchResult, BatchStats
from .circuits import CircuitModel
from .data import check_data
from .estimators import GradientResult, SPSAEstimator, StepPlan, batch_losses, directions, plus_minus_circuits
from .losses import check_loss, square_loss
from .prices import circuits_gate_counts, price_sheet

RULES = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class Gains:
    r"""Spall's gain schedule, as in ``qml.SPSAOptimizer``:

    .. math::

        c_k = \frac{c}{(k+1)^\gamma}, \qquad a_k = \frac{a}{(k+1+A)^\alpha}.

    Args:
        a (float): step-size numerator (:math:`a_0 = a/(1+A)^\alpha`, not ``a``, is the first step).
        c (float): perturbation size at k = 0.
        A (float): stability constant.
        alpha, gamma (float): decay exponents (Spall's 0.602 and 0.101).
    """

    a: float = 0.3
    c: float = 0.2
    A: float = 5.0
    alpha: float = 0.602
    gamma: float = 0.101

    def __post_init__(self):
        for name in ("a", "c"):
            check.positive(f"gains.{name}", getattr(self, name))
        for name in ("A", "alpha", "gamma"):
            check.number(f"gains.{name}", getattr(self, name), lo=0)
        if not (np.isfinite(self.A) and self.A >= 0):
            raise ValueError(f"gains.A: must be a finite number >= 0, got {self.A}")

    def at(self, k: int) -> tuple[float, float]:
        """(c_k, a_k) at iteration k (0-based)."""
        return self.c / (k + 1) ** self.gamma, self.a / (k + 1 + self.A) ** self.alpha


def _vector(v, n: int, what: str) -> np.ndarray:
    """``v`` as n finite floats (from JSON), or ValueError naming ``what``."""
    ok = isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    a = np.array(v, dtype=float) if ok else None
    if a is None or not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: expected {n} finite numbers")
    return a


def _count(v, what: str, most: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{what}: expected an integer >= 0, got {v!r}")
    if most is not None and v > most:  # (10**400 is no count: it overflows a float in the next step)
        shown = str(v) if v < 10 ** 30 else f"an integer of {len(str(v))} digits"
        raise ValueError(f"{what}: expected a step count <= {most}, got {shown}")
    return v


MAX_STEPS = 10**12  # a step counter beyond this is no run's (a float still holds it exactly)


class StepRule:
    r"""One update from a gradient estimate g and the gain :math:`a_k`.

    * ``sgd``: :math:`\theta - a_k g` (Spall's SPSA step).
    * ``momentum``: heavy ball, :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`\theta - a_k m`.
    * ``adam``: Kingma & Ba with bias correction,
      :math:`\theta - a_k \hat m / (\sqrt{\hat v} + 10^{-8})`, a step of about :math:`a_k` per
      parameter whatever the scale of g.
    """

    def __init__(self, kind: str = "sgd", beta1: float = 0.9, beta2: float = 0.999):
        if kind not in RULES:
            raise ValueError(f"optimizer: unknown optimizer {kind!r}; allowed: {', '.join(RULES)}")
        self.kind, self.beta1, self.beta2 = kind, beta1, beta2
        self.m = self.v = None
        self.t = 0

    def step(self, params: np.ndarray, g: np.ndarray, a_k: float) -> np.ndarray:
        if self.kind == "sgd":
            return params - a_k * g
        if self.m is None:
            self.m, self.v = np.zeros_like(g), np.zeros_like(g)
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        if self.kind == "momentum":
            return params - a_k * self.m
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat, v_hat = self.m / (1 - self.beta1 ** self.t), self.v / (1 - self.beta2 ** self.t)
        return params - a_k * m_hat / (np.sqrt(v_hat) + 1e-8)

    def state(self) -> dict:
        return {"t": self.t, "m": None if self.m is None else self.m.tolist(),
                "v": None if self.v is None else self.v.tolist()}

    def load_state(self, state: dict, n_params: int) -> None:
        """Restore ``state()``; ValueError (nothing changed) unless it is a valid state for
        ``n_params`` parameters: a step counter t >= 0 and moments present exactly when t > 0."""
        if not isinstance(state, dict):
            raise ValueError("expected {t: integer >= 0, m, v}")
        t = _count(state.get("t"), "t", MAX_STEPS)
        moments = []
        for k in ("m", "v"):
            value = state.get(k, "missing")
            try:
                moments.append(None if value is None else _vector(value, n_params, k))
            except ValueError:
                raise ValueError(f"{k}: expected None or {n_params} finite numbers") from None
        m, v = moments
        if v is not None and np.any(v < 0):
            raise ValueError("v: a second moment must be >= 0")
        if (m is None) != (t == 0):
            raise ValueError("m: present exactly when t > 0")
        self.t, self.m, self.v = t, m, v


def run_plan(plan: StepPlan, execute, shots) -> tuple[list, BatchStats]:
    """Run the plan's circuits through ``execute(circuits, shots) -> BatchResult``: as one call,
    or one call per ``circuits_per_job`` circuits (the sequential strategies). Results in order,
    and what they cost."""
    n = plan.circuits_per_job or len(plan.circuits)
    results, spent = [], BatchStats()
    for i in range(0, len(plan.circuits), n):
        out = execute(plan.circuits[i:i + n], shots)
        results.extend(out)
        spent.add(out.cost)
    return results, spent


class DeviceExecution:
    """``execute`` for a PennyLane device: the circuits as ONE ``qml.execute`` call (one batch
    for ``qml.Tracker``), with the given shots (None: exact probabilities)."""

    def __init__(self, device):
        self.device = device

    def __call__(self, circuits, shots) -> BatchResult:
        start = time.perf_counter()
        tapes = [t.copy(shots=shots) for t in circuits]
        results = [np.asarray(r, dtype=float) for r in qml.execute(tapes, self.device)]
        return BatchResult(results, BatchStats(jobs=1, circuits=len(tapes), shots=len(tapes) * (shots or 0),
                                               wall_s=time.perf_counter() - start))


class BatchSPSAOptimizer:
    r"""SPSA on the mean loss of a batch, every circuit of a step in one device execution.

    For a model :math:`f(x, \theta)` and a batch :math:`(x_b, y_b)_{b=1}^B`, one step estimates the
    gradient of :math:`L(\theta) = \frac{1}{B}\sum_b \ell(f(x_b,\theta), y_b)` by

    .. math::

        \hat g_k = \frac{1}{m}\sum_{j=1}^m \frac{L_S(\theta_k + c_k\Delta_j) - L_S(\theta_k - c_k\Delta_j)}{2c_k}\Delta_j,
        \qquad \theta_{k+1} = \theta_k - a_k\, \hat g_k,

    with Rademacher directions :math:`\Delta_j`, the loss :math:`L_S` over a random subsample of
    ``subsample`` samples (or the whole batch), and Spall's gains ``Gains``. The 2mk circuits go
    to the device as ONE execution (``qml.Tracker`` counts one batch per step), where
    ``qml.SPSAOptimizer`` on a per-sample cost would send 2B executions.

    Args:
        a, c, A, alpha, gamma (float): Spall's gains, named as in ``qml.SPSAOptimizer``.
        subsample (int or None): k samples drawn at random per step; None: the whole batch.
        num_directions (int): directions averaged in one step, as in ``qml.gradients.spsa_grad``.
        optimizer (str): the step rule, ``"sgd"``, ``"momentum"`` or ``"adam"`` (``StepRule``).
        beta1, beta2 (float): momentum / Adam decay rates.
        blocking (bool): as in ``qml.QNSPSAOptimizer``: a step that raised the loss by more than
            2 shot-noise standard errors is undone; checked by 2k circuits in the NEXT step's
            execution (theta and the previous point, same samples), not by an extra execution.
        regularization (float or None): QN-SPSA (``qml.QNSPSAOptimizer``'s ``regularization``):
            the Fubini-Study metric from 4 overlap circuits in the same execution; its running
            average :math:`\bar F_k` (from the identity), made positive and regularised,
            :math:`G = (|\bar F_k| + \beta I)/(1+\beta)`, turns the step into :math:`G^{-1}\hat g_k`.
        seed (int, Generator or None): every random choice (directions, subsamples).
        estimator: the plan builder (``qnb.estimators``); default: ``SPSAEstimator`` from the
            arguments above. ``QuantumTrainer`` passes the document's strategies here.

    **Example**

    .. code-block:: python

        dev = qml.device("default.qubit", wires=2)

        @qml.qnode(dev)
        def classifier(x, w):
            qml.AngleEmbedding(x, wires=[0, 1])
            qml.BasicEntanglerLayers(w, wires=[0, 1])
            return qml.expval(qml.PauliZ(0))

        opt = qnb.BatchSPSAOptimizer(a=0.5, subsample=5, seed=0)
        w = np.zeros((2, 2))
        w, loss = opt.step_and_cost(classifier, w, X[:10], y[:10])
    """

    def __init__(self, a: float = 0.3, c: float = 0.2, A: float = 5.0, alpha: float = 0.602, gamma: float = 0.101,
                 *, subsample: int | None = None, num_directions: int = 1, optimizer: str = "sgd",
                 beta1: float = 0.9, beta2: float = 0.999, blocking: bool = False,
                 regularization: float | None = None, seed=None, estimator=None):
        if regularization is not None:
            try:
                check.positive("regularization", regularization)
            except ValueError:
                raise ValueError(f"regularization: must be a finite number > 0 or None, got {regularization!r}") from None
        check.boolean("blocking", blocking)
        for name, v in (("beta1", beta1), ("beta2", beta2)):
            check.number(name, v, 0, 1, strict_hi=True)
        self.gains = Gains(a, c, A, alpha, gamma)
        self.estimator = estimator if estimator is not None else SPSAEstimator(
            subsample=subsample, num_directions=num_directions, blocking=bool(blocking),
            metric=regularization is not None)
        if (blocking or regularization is not None) and not (getattr(self.estimator, "one_job", False) and (
                getattr(self.estimator, "blocking", False) == bool(blocking))):
            raise ValueError("blocking, regularization: add circuits to a step's single job; the estimator must be "
                             "a one-job SPSA estimator built with them")
        self.rule = StepRule(optimizer, beta1, beta2)
        self.blocking, self.regularization = bool(blocking), regularization
        self.rng = np.random.default_rng(seed)
        self.k = 0  # iterations done: the gains' index
        self.last_point = self.undo_rule = None  # blocking: the step to check, and the rule's state before it
        self.metric, self.metric_steps = None, 0  # QN-SPSA: the regularised running-average metric
        self._models = {}

    def __repr__(self):
        return (f"BatchSPSAOptimizer({self.estimator.method!r}, k={self.k}, optimizer={self.rule.kind!r}"
                f"{', blocking' if self.blocking else ''}"
                f"{'' if self.regularization is None else f', regularization={self.regularization:g}'})")

    @property
    def method(self) -> str:
        return self.estimator.method

    # -- the PennyLane-style front -----------------------------------------------------------
    def step(self, qnode, params, X, y, loss=square_loss):
        """One optimisation step on the batch (X, y); returns the new parameters (shape of ``params``).

        Args:
            qnode: a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or ``qml.probs(wires)``,
                or a ``qnb.CircuitModel``. Its circuits of the step run on its device as ONE
                execution, with the QNode's shots (None: exact).
            params (array): the current parameters, any shape.
            X (array): the batch's features, shape (B, n_features).
            y (array): the batch's labels in {-1, +1}.
            loss (callable): vectorised ``loss(outputs, y)`` (default ``qnb.square_loss``).
        """
        return self.step_and_cost(qnode, params, X, y, loss)[0]

    def step_and_cost(self, qnode, params, X, y, loss=square_loss):
        r"""As ``step``; returns ``(new_params, batch_loss)``. The loss comes from the step's own
        circuits, with no extra execution: the mean of :math:`L_S(\theta \pm c_k\Delta)` over the
        subsample, which differs from the loss at ``params`` by :math:`O(c_k^2)` and by the subsample
        (``qml.SPSAOptimizer.step_and_cost`` spends a third execution on the loss at ``params``)."""
        params = np.asarray(params, dtype=float)
        model, execute, shots = self._bind(qnode, params.shape, np.asarray(X).shape[-1])
        check_data(X, y, n_features=model.n_features)
        check_loss(loss, len(y))
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        new, g = self.update(model, params.ravel(), X, y, loss, shots, execute)
        return new.reshape(params.shape), g.function_value

    def estimate(self, qnode, params, X, y, price, steps: int = 1, shots: int | None = None) -> dict:
        """What ``steps`` steps on batches like (X, y) would send and cost on the price sheet
        ``price`` (a ``PriceSheet`` or its ``qnb.PRICES`` name), planned without running anything or
        moving the generator: ONE execution per step of the plan's circuits at ``shots`` (default:
        the QNode's), their gate-shots and dollars; blocking's check is counted."""
        sheet, params = price_sheet(price), np.asarray(params, dtype=float)
        model, _, own = self._bind(qnode, params.shape, np.asarray(X).shape[-1])
        shots = own if shots is None else check.integer("shots", shots)
        if shots is None:
            raise ValueError("shots: exact values have no price; pass shots= or a QNode with shots")
        plan = self.next_step_plan(model, params.ravel(), np.asarray(X, dtype=float), np.asarray(y), square_loss,
                                   check=params.ravel() if self.blocking else None)
        (g1, g2), n = circuits_gate_counts(plan.circuits), len(plan.circuits)
        step = {"jobs": 1, "circuits": n, "shots": n * shots, "gate_shots_1q": g1 * shots, "gate_shots_2q": g2 * shots,
                "usd": sheet.job_usd(n, shots, g1, g2)}
        return {"price": sheet.name, "steps": check.integer("steps", steps), "per_step": step,
                "per_run": {k: v * steps for k, v in step.items()}}

    def _bind(self, qnode, shape, n_features):
        """(model, execute, shots) for a QNode or a qnb model, made once per (qnode, shape)."""
        key = (id(qnode), tuple(shape), n_features)
        if key not in self._models:
            if isinstance(qnode, CircuitModel):  # a qnb model has no device: the local simulator, exact
                model, shots = qnode, None
                execute = DeviceExecution(qml.device("default.qubit", wires=qnode.n_wires))
            else:
                model = CircuitModel.from_qnode(qnode, param_shape=shape, n_features=n_features)
                shots = model.qnode_shots
                execute = DeviceExecution(qnode.device)
            self._models[key] = (qnode, model, execute, shots)  # the qnode kept alive: its id stays its own
        return self._models[key][1:]

    # -- the two roles of a step (PennyLane's compute_grad / apply_grad) ---------------------
    def update(self, model, params, X, Y, loss, shots, execute) -> tuple[np.ndarray, GradientResult]:
        """One step: ``compute_grad`` then ``apply_grad``; (new flat parameters, the estimate)."""
        g = self.compute_grad(model, params, X, Y, loss, shots, execute)
        return self.apply_grad(g, params), g

    def compute_grad(self, model, params, X, Y, loss, shots, execute) -> GradientResult:
        """The gradient estimate at ``params`` (flat), its circuits run by ``execute``; advances k,
        the metric and blocking's record of the point to check next."""
        start = time.perf_counter()
        self._check_params(params)
        c_k, a_k = self.gains.at(self.k)
        plan = self.estimator.plan(model, params, X, Y, loss, c_k, self.rng, shots, {"check": self.last_point})
        results, spent = run_plan(plan, execute, shots)
        grad, value, meta = plan.postprocess(results)
        if "metric_estimate" in meta:
            grad = self._natural(grad, meta.pop("metric_estimate"))
        if self.blocking:
            self.last_point = None if meta["blocked"] else params.copy()
        meta.update(n_jobs=spent.jobs, modeled_time_s=spent.modeled_s, shots=spent.shots, usd=spent.usd,
                    billed_s=spent.billed_s,
                    iteration=self.k, c_k=c_k, a_k=a_k)
        self.k += 1
        return GradientResult(np.asarray(grad, dtype=float), float(value), spent.circuits,
                              (time.perf_counter() - start) * 1000, self.method, meta)

    def _check_params(self, params) -> None:
        """Before any circuit runs: finite parameters, as many as the state this optimizer carries."""
        if not np.all(np.isfinite(params)):
            raise ValueError("params: must be finite numbers (no NaN or infinity)")
        n = next((len(v) for v in (self.last_point, self.metric, self.rule.m) if v is not None), params.size)
        if params.size != n:
            raise ValueError(f"params: {params.size} parameters, but this optimizer's state is for {n}; use a new "
                             "optimizer for another model")

    def apply_grad(self, g: GradientResult, params) -> np.ndarray:
        """The new flat parameters: the step rule's step from ``params``, or, when blocking found
        the previous step raised the loss, the point before it (with the rule's state before it)."""
        if g.metadata.get("blocked"):
            self.rule.load_state(self.undo_rule, len(params))
            return np.array(g.metadata["return_to"], dtype=float)
        if self.blocking:
            self.undo_rule = self.rule.state()
        return self.rule.step(params, g.gradients, g.metadata["a_k"])

    def _natural(self, grad, raw):
        """QN-SPSA's update of the metric (PennyLane's: a running average that starts from the
        identity as one pseudo-estimate, then :math:`(|F| + \\beta I)/(1 + \\beta)`), and the
        preconditioned gradient :math:`G^{-1} g`."""
        k, beta = self.metric_steps + 1, self.regularization
        prev = np.eye(len(grad)) if self.metric is None else self.metric
        avg = k / (k + 1) * prev + raw / (k + 1)
        w, V = np.linalg.eigh((avg + avg.T) / 2)
        self.metric = (V * np.abs(w)) @ V.T + beta * np.eye(len(grad))
        self.metric /= 1 + beta
        self.metric_steps += 1
        return np.linalg.solve(self.metric, grad)

    def next_step_plan(self, model, params, X, Y, loss, check=None) -> StepPlan:
        """The next step's plan, made without running it or moving the random generator (how a
        budget is kept before a step is paid); ``check``: blocking's point to check (default: the
        one the next step will check)."""
        state = self.rng.bit_generator.state
        try:
            return self.estimator.plan(model, params, X, Y, loss, self.gains.at(self.k)[0], self.rng, None,
                                       {"check": self.last_point if check is None else check})
        finally:
            self.rng.bit_generator.state = state

    def next_step_size(self, model, params, X, Y, loss) -> tuple[int, int | None]:
        """(circuits, circuits per job) of ``next_step_plan``."""
        plan = self.next_step_plan(model, params, X, Y, loss)
        return len(plan.circuits), plan.circuits_per_job

    def calibrate(self, model, X, Y, loss, shots, execute, *, num_directions: int = 10,
                  target: float = 2 * np.pi / 10) -> dict:
        r"""Spall's guideline for ``a``, as Qiskit's ``SPSA.calibrate`` does it, but in ONE execution.

        Measures the mean magnitude :math:`\overline{|L(\theta + c\Delta) - L(\theta - c\Delta)|}/(2c)`
        over ``num_directions`` random directions at ``model.parameters`` (2 x num_directions x B
        circuits) and sets ``a`` so that the first step moves each parameter by ``target``:
        :math:`a = \text{target}\,(1+A)^\alpha / \overline{|\hat g|}`. Returns what it found and
        cost."""
        params = model.parameters.copy()
        c0, _ = self.gains.at(0)
        deltas = directions(self.rng, num_directions, params.size)
        points, circuits = plus_minus_circuits(model, params, deltas, c0, X)
        results, spent = run_plan(StepPlan(circuits, None), execute, shots)
        losses = batch_losses(loss, model.outputs_from(results).reshape(len(points), len(X)), Y)
        magnitude = float(np.mean(np.abs(losses[0::2] - losses[1::2]) / (2 * c0)))
        a = target * (1 + self.gains.A) ** self.gains.alpha / max(magnitude, 1e-12)
        self.gains = replace(self.gains, a=a)
        return {"a": a, "gradient_magnitude": magnitude, "circuits": spent.circuits, "jobs": spent.jobs,
                "shots": spent.shots, "modeled_s": spent.modeled_s, "usd": spent.usd}

    # -- state -------------------------------------------------------------------------------
    def options(self) -> dict:
        """What the optimizer was built with (a state is restored only into the same options)."""
        g, e = self.gains, self.estimator
        return {"method": e.method, "subsample": e.subsample, "num_directions": e.num_directions,
                "optimizer": self.rule.kind, "beta1": self.rule.beta1, "beta2": self.rule.beta2,
                "blocking": self.blocking, "regularization": self.regularization, "c": g.c, "A": g.A,
                "alpha": g.alpha, "gamma": g.gamma}

    def state(self) -> dict:
        """Everything the next step depends on, JSON-safe (lists, numbers, the generator's state),
        and the options it was made with."""
        return {"options": self.options(), "k": self.k, "a": self.gains.a, "rng": self.rng.bit_generator.state,
                "rule": self.rule.state(),
                "last_point": None if self.last_point is None else self.last_point.tolist(),
                "undo_rule": self.undo_rule, "metric_steps": self.metric_steps,
                "metric": None if self.metric is None else self.metric.tolist()}

    def load_state(self, state: dict, n_params: int | None = None) -> None:
        """Restore ``state()`` so that the next step is bit-identical. Every field is checked
        first (``n_params``: the parameter count the vectors must have); ValueError names the
        first bad one and nothing is changed."""
        if not isinstance(state, dict):
            raise ValueError(f"expected a JSON object, got {type(state).__name__}")
        theirs, mine = state.get("options"), self.options()
        if not isinstance(theirs, dict):
            raise ValueError("options: missing; a state is restored only into an optimizer with the same options")
        diff = [f for f in mine if theirs.get(f) != mine[f]]
        if diff:
            said = "; ".join(f"{f}={theirs.get(f)!r}, this one has {mine[f]!r}" for f in diff)
            raise ValueError(f"options: the state is of another optimizer ({said})")
        try:
            k = _count(state.get("k"), "k")
            if k > 10**12:
                raise ValueError(f"k: expected a step count, got {k}")
            a = state.get("a")
            if isinstance(a, bool) or not isinstance(a, (int, float)) or not (math.isfinite(a) and a > 0):
                raise ValueError(f"a: expected a finite number > 0, got {a!r}")
            rng = np.random.default_rng()
            rng.bit_generator.state = state.get("rng")
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ValueError(f"{e}" if str(e).startswith(("k:", "a:")) else f"rng: not a generator state "
                             f"({type(e).__name__})") from None
        mine = next((len(v) for v in (self.last_point, self.metric, self.rule.m) if v is not None), None)
        n = n_params or mine or _inferred_size(state)  # a fresh optimizer learns the size from the state
        rule = StepRule(self.rule.kind, self.rule.beta1, self.rule.beta2)
        try:
            rule.load_state(state.get("rule"), n)
        except (TypeError, ValueError) as e:
            raise ValueError(f"rule: not a valid step-rule state ({e})") from None
        last, undo = state.get("last_point"), state.get("undo_rule")
        if self.blocking and last is not None:  # a step to check: its point and the state to undo to
            last = _vector(last, n, "last_point")
            try:
                StepRule(self.rule.kind).load_state(undo, n)
            except (TypeError, ValueError) as e:
                raise ValueError(f"undo_rule: not a valid step-rule state ({e})") from None
        else:
            last, undo = None, None
        steps, metric = _count(state.get("metric_steps"), "metric_steps", MAX_STEPS), state.get("metric")
        if self.regularization is not None:
            if (metric is None) != (steps == 0):
                raise ValueError(f"metric: expected {n} x {n} finite numbers exactly after a step")
            if metric is not None:
                try:
                    if not (isinstance(metric, list) and len(metric) == n):
                        raise ValueError
                    metric = np.array([_vector(row, n, "metric") for row in metric])
                except ValueError:
                    raise ValueError(f"metric: expected {n} x {n} finite numbers") from None
        else:
            metric, steps = None, 0
        self.k, self.gains, self.rng, self.rule = k, replace(self.gains, a=float(a)), rng, rule
        self.last_point, self.undo_rule, self.metric, self.metric_steps = last, undo, metric, steps


def _inferred_size(state: dict) -> int | None:
    """The parameter count of a state's vectors, for load_state(state) without n_params; ValueError
    when they disagree."""
    rule = state.get("rule") if isinstance(state.get("rule"), dict) else {}
    undo = state.get("undo_rule") if isinstance(state.get("undo_rule"), dict) else {}
    sizes = {len(v) for v in (rule.get("m"), rule.get("v"), undo.get("m"), undo.get("v"), state.get("last_point"),
                              state.get("metric")) if isinstance(v, list)}
    if len(sizes) > 1:
        raise ValueError(f"rule, last_point, metric: vectors of different lengths {sorted(sizes)}")
    return sizes.pop() if sizes else None
