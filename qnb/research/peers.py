"""The peers' training runs under the race's rule: PennyLane's SPSAOptimizer and Qiskit's SPSA."""
from __future__ import annotations

import math

import numpy as np
import pennylane as qml

from ..backends import NumpyBackend
from ..batching import CircuitBatchManager
from ..config import TrainingConfig
from ..latency import LatencyModel
from ..model import QuantumModel, make_dataset
from .runs import LATENCY, LazyAccuracy, _seeds, bench_data, bill_of, make_clock, noise_of


def _batch_qnode(device, shots, seed):
    dev = qml.device(device, wires=4, seed=seed)

    @qml.qnode(dev)
    def f(x, w):
        qml.AngleEmbedding(x, wires=range(4), rotation="X")
        qml.StronglyEntanglingLayers(w.reshape(4, 4, 3), wires=range(4))
        return qml.expval(qml.PauliZ(0))

    return dev, (qml.set_shots(f, shots) if shots else f)


def spsa_optimizer_jobs(shots: int = 1000) -> dict:
    """Jobs and circuits of one ``qml.SPSAOptimizer.step`` on the batch loss written as a broadcast
    QNode (how a PennyLane user would write it), counted by qml.Tracker (device calls = jobs)."""
    from pennylane import numpy as pnp

    x, y, _, _ = make_dataset(n_train=10, n_test=1)
    dev, f = _batch_qnode("default.qubit", shots, 0)
    w = pnp.array(QuantumModel(seed=0).parameters, requires_grad=True)
    with qml.Tracker(dev) as tr:
        qml.SPSAOptimizer(maxiter=10).step(lambda v: pnp.mean((f(x, v) - y) ** 2), w)
    return {"jobs": tr.totals["batches"], "circuits": tr.totals["executions"]}


def train_spsa_optimizer(seed: int, dataset: str, rule: tuple, shots: int | None = 1000,
                         gains: dict | None = None, latency: LatencyModel | None = None) -> dict:
    """PennyLane's ``qml.SPSAOptimizer`` on the batch loss, under the race's rule: same model, data,
    batches of 10, shot sampling and exact evaluation as qnb. Its objective runs the batch's
    circuits at one point as ONE job through a CircuitBatchManager (which counts jobs and modeled
    time); ``spsa_optimizer_jobs`` checks with qml.Tracker that a QNode objective makes the same
    2 jobs and 20 circuits per step. ``gains``: its a, c, A, alpha, gamma (matched to a qnb
    configuration); without, its defaults, with ``maxiter`` (which sets its A and a) the number of
    steps the budget affords, what a user with that budget would pass."""
    from pennylane import numpy as pnp

    latency = latency or LATENCY
    cfg = TrainingConfig(seed=seed)
    data = bench_data(dataset)
    x_tr, y_tr = data[:2]
    bs = cfg.batch_size
    spe = math.ceil(len(x_tr) / bs)
    s_model, s_order, _, s_backend = _seeds(seed)
    model = QuantumModel(n_features=x_tr.shape[1], seed=s_model)
    noise = noise_of(dataset)
    manager = CircuitBatchManager(NumpyBackend(latency=latency, seed=s_backend, noise=noise), max_batch_size=10_000)
    step_s = latency.batch_time(2 * bs, 2, shots)
    opt = qml.SPSAOptimizer(maxiter=max(1, int(rule[1] // step_s)), **(gains or {}))
    np.random.seed(seed)  # the optimizer draws its directions from numpy's global generator
    order_rng = np.random.default_rng(s_order)
    w = pnp.array(model.parameters, requires_grad=True)
    clock = make_clock(rule, first_step_s=step_s)
    acc = LazyAccuracy(model, data, noise)
    stop = clock.record(acc, 0.0)
    while not stop:
        order = order_rng.permutation(len(x_tr))
        for b in range(spe):
            xb, yb = x_tr[order[b * bs:(b + 1) * bs]], y_tr[order[b * bs:(b + 1) * bs]]

            def loss(v):  # the batch at one point: one job
                out = model.outputs_from(manager.execute_batch(model.build_circuits(xb, np.asarray(v)), shots))
                return np.mean((out - yb) ** 2)
            w = opt.step(loss, w)
            model.update_parameters(np.asarray(w))
            if clock.record(acc, manager.stats.modeled_s, bill=bill_of(manager.stats)):
                stop = True
                break
    return {"steps": clock.records, "jobs": manager.stats.jobs, "circuits": manager.stats.circuits}


def train_qiskit_spsa(seed: int, dataset: str, rule: tuple, shots: int | None = 1000,
                      latency: LatencyModel | None = None) -> dict | None:
    """qiskit-algorithms' SPSA (its defaults, calibration included, ``max_evals_grouped=2`` so that
    each +-pair is one call) on the batch loss, the batch advancing every iteration, under the
    race's rule. Every call of the loss is one job through qnb's CircuitBatchManager, which counts
    it. None if not installed."""
    try:
        from qiskit_algorithms.optimizers import SPSA
        from qiskit_algorithms.utils import algorithm_globals
    except ImportError:
        return None
    algorithm_globals.random_seed = seed
    latency = latency or LATENCY
    data = bench_data(dataset)
    x_tr, y_tr = data[:2]
    bs = TrainingConfig().batch_size
    spe = math.ceil(len(x_tr) / bs)
    s_model, s_order, _, s_backend = _seeds(seed)
    model = QuantumModel(n_features=x_tr.shape[1], seed=s_model)
    noise = noise_of(dataset)
    manager = CircuitBatchManager(NumpyBackend(latency=latency, seed=s_backend, noise=noise), max_batch_size=10_000)
    order_rng = np.random.default_rng(s_order)
    state = {"step": 0, "order": None}
    clock = make_clock(rule)
    acc = LazyAccuracy(model, data, noise)
    clock.record(acc, 0.0)

    def batch():
        if state["order"] is None:  # an epoch starts: a new order
            state["order"] = order_rng.permutation(len(x_tr))
        b = state["step"] % spe
        return state["order"][b * bs:(b + 1) * bs]

    def loss(points):
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        idx = batch()
        res = state["last"] = manager.execute_batch(model.build_circuits(np.tile(x_tr[idx], (len(pts), 1)),
                                                         np.repeat(pts, len(idx), axis=0)), shots)
        out = model.outputs_from(res).reshape(len(pts), len(idx))
        losses = ((out - y_tr[idx]) ** 2).mean(axis=1)
        return losses if np.ndim(points) == 2 or isinstance(points, list) else float(losses[0])

    def after_step(nfev, x, fx, step, accepted):  # a termination checker: called without extra evaluations
        state["step"] += 1
        if state["step"] % spe == 0:
            state["order"] = None
        model.update_parameters(np.asarray(x))  # the step's cost: its +- pair, one job (calibration is not a step)
        return clock.record(acc, manager.stats.modeled_s, state["last"].cost.modeled_s,
                            bill_of(manager.stats))

    spsa = SPSA(maxiter=10**9, termination_checker=after_step)
    spsa.set_max_evals_grouped(2)
    spsa.minimize(loss, model.parameters.copy())
    return {"steps": clock.records, "jobs": manager.stats.jobs, "circuits": manager.stats.circuits}


# The race's entrants: qnb configurations (user-data path) and the peers.


def shot_adaptive_step(kind: str = "blobs", min_shots: int = 10, steps: int = 3, seed: int = 0) -> dict:
    """``qml.ShotAdaptiveOptimizer`` (Rosalin/iCANS) where its form allows: one QNode objective
    with parameter-shift gradients, here the per-sample LINEAR loss :math:`-y f(x, \\theta)` (an
    expectation value, so unbiased at any shots) of one training sample per step. Counted by
    qml.Tracker over ``steps`` steps: device calls (jobs), circuits and shots per step, and what a
    step costs on every price sheet (each device call priced as one job of its circuits at their
    mean shots)."""
    from pennylane import numpy as pnp

    from ..prices import PRICES
    x, y, _, _ = bench_data(kind)
    w0 = QuantumModel(n_features=x.shape[1], seed=_seeds(seed)[0]).parameters
    dev = qml.device("default.qubit", wires=4, seed=seed)

    def objective(i):
        @qml.qnode(dev, diff_method="parameter-shift")
        def f(w):
            qml.AngleEmbedding(x[i], wires=range(4), rotation="X")
            qml.StronglyEntanglingLayers(w.reshape(4, 4, 3), wires=range(4))
            return qml.expval(qml.s_prod(-float(y[i]), qml.PauliZ(0)))
        return qml.set_shots(f, min_shots)

    opt = qml.ShotAdaptiveOptimizer(min_shots=min_shots)
    w = pnp.array(w0, requires_grad=True)
    with qml.Tracker(dev) as tr:
        for i in range(steps):
            w = opt.step(objective(i), w)
    jobs, circuits = tr.totals.get("batches", 0), tr.totals.get("executions", 0)
    shots = tr.totals.get("shots", 0)
    per = {"jobs": jobs / steps, "circuits": circuits / steps, "shots": shots / steps}
    usd = {p: (s.per_job * per["jobs"] + s.per_circuit * per["circuits"] + s.per_shot * per["shots"]
               + (s.per_1q_gate_shot * 52 + s.per_2q_gate_shot * 16) * per["shots"]) for p, s in PRICES.items()}
    return {"objective": "per-sample linear loss -y f(x, theta), one sample a step", "min_shots": min_shots,
            "steps_measured": steps, "per_step": per, "usd_per_step": usd,
            "total_shots_used": int(opt.total_shots_used) if getattr(opt, "total_shots_used", None) else None}
