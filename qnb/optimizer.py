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
from dataclasses import replace

import numpy as np
import pennylane as qml

from . import braket
from . import validation as check
from .circuits import CircuitModel
from .data import check_data
from .estimators import GradientResult, SPSAEstimator, StepPlan, batch_losses, directions, plus_minus_circuits
from .execution import DeviceExecution, run_plan  # noqa: F401 - DeviceExecution: qnb.optimizer's name for it
from .losses import check_loss, square_loss
from .braket import is_braket
from .cost_functions import NonFiniteError, batch_form, check_finite, pennylane_step
from .prices import circuits_gate_counts, price_sheet
from .steps import MAX_STEPS, RULES, Gains, StepRule, _count, _vector  # noqa: F401 - qnb.optimizer's names

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

    **Two forms of** ``step`` / ``step_and_cost``:

    * PennyLane's, ``step(cost_fn, *args, **kwargs)``: any scalar cost whose QNode calls do not
      depend on their results (a VQE energy ``qml.expval(H)``, a function of QNode calls); the
      arguments with ``requires_grad`` (``pennylane.numpy`` arrays) are trained together, the
      others pass through; returns the new arguments as ``qml.SPSAOptimizer`` does (the one
      argument alone, else the list). Every circuit of the step (:math:`\theta \pm c_k\Delta_j`
      for all directions, and :math:`\theta` when the cost is returned) is ONE execution
      (``qnb.cost_functions``).
    * the classifier's, ``step(qnode, params, X, y, loss=...)`` for a QNode or circuit
      ``f(x, params)`` and a batch. It is chosen when ``cost_fn`` is a ``qnb.CircuitModel``, or
      when the arguments fit ``(params, X, y[, loss])`` (positional or named) and ``cost_fn`` takes
      ``(x, params)`` but cannot take the arguments as given, or when ``loss=`` is named; otherwise
      PennyLane's form (pass ``loss=`` to mean the classifier's when a function takes both).

    A step whose loss, energy, gradient or update is NaN or infinite raises
    ``qnb.NonFiniteError`` naming the step, before the parameters or the optimizer's state move.

    Args:
        a, c, A, alpha, gamma (float): Spall's gains, named as in ``qml.SPSAOptimizer``. ``A``
            default: ``0.1 * maxiter`` with ``maxiter``, else 5. ``a`` default: with ``maxiter``,
            ``qml.SPSAOptimizer``'s :math:`0.05(1+A)^\alpha` (a first step :math:`a_0 = 0.05`),
            else 0.3.
        maxiter (int or None): the expected number of steps, for ``A`` (as ``qml.SPSAOptimizer``).
        cost_at (str or None): what PennyLane's ``step_and_cost`` returns: ``"params"`` (default),
            :math:`L(\theta_k)` before the step, as PennyLane returns it, from one more set of circuits
            in the same execution; or ``"perturbed"``, the mean of :math:`L(\theta_k \pm c_k\Delta_j)`
            at no extra circuit (:math:`O(c_k^2)` from :math:`L(\theta_k)`). The classifier form always
            returns the latter, over its subsample.
        price (str, PriceSheet or None): dollars of every step in ``last_step.metadata["usd"]``
            (on Braket: per quantum task and shot, as the circuits were submitted).
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

    def __init__(self, a: float | None = None, c: float = 0.2, A: float | None = None, alpha: float = 0.602,
                 gamma: float = 0.101, *, maxiter: int | None = None, cost_at: str | None = None, price=None,
                 subsample: int | None = None, num_directions: int = 1, optimizer: str = "sgd",
                 beta1: float = 0.9, beta2: float = 0.999, blocking: bool = False,
                 regularization: float | None = None, seed=None, estimator=None):
        if maxiter is not None:
            check.integer("maxiter", maxiter)
        if cost_at not in (None, "params", "perturbed"):
            raise ValueError(f"cost_at: expected 'params', 'perturbed' or None, got {cost_at!r}")
        A = A if A is not None else 0.1 * maxiter if maxiter else 5.0
        if a is None and maxiter and isinstance(A, (int, float)) and isinstance(alpha, (int, float)):
            a = 0.05 * (A + 1) ** alpha
        a = 0.3 if a is None else a
        self.maxiter, self.cost_at, self._cost_at = maxiter, cost_at or "params", cost_at
        self.price = None if price is None else price_sheet(price)
        self.last_step = None  # the GradientResult of the last step (metadata: jobs, shots, usd, submission)
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
    def step(self, cost_fn, *args, **kwargs):
        """One optimisation step, in either form (see the class): PennyLane's
        ``step(cost_fn, *args, **kwargs)`` returns the new arguments (the one argument alone, else
        the list); the classifier's ``step(qnode, params, X, y, loss=square_loss)`` returns the new
        parameters in the shape of ``params``.

        Classifier form args:
            qnode: a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or ``qml.probs(wires)``,
                or a ``qnb.CircuitModel``. Its circuits of the step run on its device as ONE
                execution, with the QNode's shots (None: exact).
            params (array): the current parameters, any shape.
            X (array): the batch's features, shape (B, n_features).
            y (array): the batch's labels in {-1, +1}.
            loss (callable): vectorised ``loss(outputs, y)`` (default ``qnb.square_loss``).
        """
        if batch_form(cost_fn, args, kwargs, CircuitModel):
            return self._batch_step(cost_fn, *args, **kwargs)[0]
        return pennylane_step(self, cost_fn, args, kwargs, False, self._run)[0]

    def step_and_cost(self, cost_fn, *args, **kwargs):
        r"""As ``step``; returns ``(new, cost)``. PennyLane's form: the cost as ``cost_at`` says
        (default :math:`L(\theta_k)`, before the step, as ``qml.SPSAOptimizer.step_and_cost``
        returns it, but from the step's one execution rather than a third). The classifier form:
        the batch loss from the step's own circuits, the mean of :math:`L_S(\theta \pm c_k\Delta)`
        over the subsample, which differs from the loss at ``params`` by :math:`O(c_k^2)` and by the
        subsample."""
        if batch_form(cost_fn, args, kwargs, CircuitModel):
            return self._batch_step(cost_fn, *args, **kwargs)
        return pennylane_step(self, cost_fn, args, kwargs, True, self._run)[:2]

    def _run(self, device, tapes):
        return DeviceExecution(device, self.price).run(tapes)

    def _batch_step(self, qnode, params, X, y, loss=square_loss):
        if self._cost_at == "params":
            raise ValueError("cost_at: 'params' is PennyLane's form's; the classifier form returns the mean loss at "
                             "the step's perturbed points (cost_at='perturbed' or None)")
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
        the QNode's), their gate-shots and dollars; blocking's check is counted. On a Braket device,
        ``jobs`` are its quantum tasks and the dollars Braket's, as ``qnb.braket.planned`` says the
        step would be submitted (one program set per 100 circuits, or one task per circuit)."""
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
        if is_braket(getattr(qnode, "device", None)):  # Braket's quantum tasks, as the step would be submitted
            sub = braket.planned(qnode.device, n, shots)
            step.update(jobs=sub["tasks"], usd=braket.task_usd(sheet, sub))
        return {"price": sheet.name, "steps": check.integer("steps", steps), "per_step": step,
                "per_run": {k: v * steps for k, v in step.items()}}

    def _bind(self, qnode, shape, n_features):
        """(model, execute, shots) for a QNode or a qnb model, made once per (qnode, shape)."""
        key = (id(qnode), tuple(shape), n_features)
        if key not in self._models:
            if isinstance(qnode, CircuitModel):  # a qnb model has no device: the local simulator, exact
                model, shots = qnode, None
                execute = DeviceExecution(qml.device("default.qubit", wires=qnode.n_wires), self.price)
            else:
                model = CircuitModel.from_qnode(qnode, param_shape=shape, n_features=n_features)
                shots = model.qnode_shots
                execute = DeviceExecution(qnode.device, self.price)
            self._models[key] = (qnode, model, execute, shots)  # the qnode kept alive: its id stays its own
        return self._models[key][1:]

    # -- the two roles of a step (PennyLane's compute_grad / apply_grad) ---------------------
    def update(self, model, params, X, Y, loss, shots, execute) -> tuple[np.ndarray, GradientResult]:
        """One step: ``compute_grad`` then ``apply_grad``; (new flat parameters, the estimate).
        ``NonFiniteError`` (naming the step) when the loss, the gradient or the update is not
        finite: the optimizer's state is then as it was before the step."""
        saved = self._snapshot()
        try:
            g = self.compute_grad(model, params, X, Y, loss, shots, execute)
            new = self.apply_grad(g, params)
            check_finite(saved["k"], "updated parameter vector", new)
        except NonFiniteError:
            self._restore(saved)
            raise
        self.last_step = g
        return new, g

    def _snapshot(self) -> dict:
        return {"k": self.k, "rng": self.rng.bit_generator.state, "rule": self.rule.state(), "last": self.last_point,
                "undo": self.undo_rule, "metric": self.metric, "metric_steps": self.metric_steps}

    def _restore(self, s: dict) -> None:
        """Back to a ``_snapshot`` (a step that failed moves nothing)."""
        self.k, self.rng.bit_generator.state, self.last_point, self.undo_rule = s["k"], s["rng"], s["last"], s["undo"]
        self.metric, self.metric_steps = s["metric"], s["metric_steps"]
        m = s["rule"]["m"]
        self.rule.load_state(s["rule"], 0 if m is None else len(m))

    def compute_grad(self, model, params, X, Y, loss, shots, execute) -> GradientResult:
        """The gradient estimate at ``params`` (flat), its circuits run by ``execute``; advances k,
        the metric and blocking's record of the point to check next."""
        start = time.perf_counter()
        self._check_params(params)
        c_k, a_k = self.gains.at(self.k)
        plan = self.estimator.plan(model, params, X, Y, loss, c_k, self.rng, shots, {"check": self.last_point})
        results, spent = run_plan(plan, execute, shots)
        grad, value, meta = plan.postprocess(results)
        check_finite(self.k, "batch loss", value)
        check_finite(self.k, "gradient estimate", grad)
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
