"""``qml.ShotAdaptiveOptimizer`` raced where its form allows (issue 27): a VQE energy.

PennyLane's shot-frugal optimizer, run here as iCANS (its default, without Rosalin's sampling of
the Hamiltonian's terms), takes one QNode returning ``qml.expval(H)`` and estimates its gradient
by the parameter-shift rule, so it cannot train the classifier's batch loss. A VQE
energy is its own form, and qnb's ``BatchSPSAOptimizer`` and ``qml.SPSAOptimizer`` take it in
PennyLane's optimizer form: all three race on it here.

Each seed starts at random parameters; its *ceiling* is the energy exact gradients reach from there
(a local minimiser: the ansatz has a second, higher minimum, and a start in its basin stays there
whatever the optimizer), and quality is the exact energy of the parameters after a step at or below
``TARGET_SHARE`` (95 %) of the way from the start to the ceiling, as in the classifier race; a run's dollars are what ``qml.Tracker`` counted on the device by
then (executed circuits and their shots), priced on a Braket sheet: per task and per shot, so no
gate count is needed. Each optimizer's setting (shots per circuit, or ShotAdaptive's ``min_shots``:
the shots of its first step, after which its own rule sets each component's shots, bounded above
by its estimate of the shots worth spending, which may fall below ``min_shots``) is chosen on the
selection seeds as the cheapest median to quality; the race is on other seeds.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pennylane as qml

from ..optimizer import BatchSPSAOptimizer
from ..prices import PRICES
from .race import usd  # a record's "bill" (device batches as jobs, executions as circuits, shots) on a sheet

H = qml.Hamiltonian([0.5, -0.8, 0.3, 0.2], [qml.PauliZ(0) @ qml.PauliZ(1), qml.PauliX(0), qml.PauliY(1),
                                            qml.PauliX(0) @ qml.PauliX(1)])  # terms in 3 measurement bases
SHEET = "braket-ionq-aria"  # the choice's sheet; the program-set form is reported beside it
SHEETS = (SHEET, "braket-ionq-aria-program-set")
TARGET_SHARE = 0.95  # quality: this share of the way from the start's energy to its ceiling
SETTINGS = {"qnb BatchSPSAOptimizer": (20, 100, 500), "qml.SPSAOptimizer": (20, 100, 500),
            "qml.ShotAdaptiveOptimizer": (10, 50)}  # shots per circuit; ShotAdaptive's min_shots
GAINS = dict(a=0.6, c=0.2, A=5.0)  # the same SPSA gains for both SPSA optimizers
MAX_STEPS, MAX_USD = 400, 2000.0  # a run stops there if it has not reached the target


def ansatz(w):
    qml.RY(w[0], 0)
    qml.RY(w[1], 1)
    qml.CNOT([0, 1])
    qml.RX(w[2], 0)
    return qml.expval(H)


def start(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, 3)


def target(seed: int) -> float:
    """The energy at ``TARGET_SHARE`` of the way from the seed's start to its ceiling (BFGS on the
    exact energy and gradient from the start)."""
    from pennylane import numpy as pnp
    from scipy.optimize import minimize
    exact = qml.QNode(ansatz, qml.device("default.qubit", wires=2))
    grad = qml.grad(exact)
    w0 = start(seed)
    e0 = float(exact(pnp.array(w0)))
    res = minimize(lambda w: float(exact(pnp.array(w))), w0, jac=lambda w: np.asarray(grad(pnp.array(w, requires_grad=True))),
                   method="BFGS", options={"gtol": 1e-8})
    return e0 - TARGET_SHARE * (e0 - float(res.fun))


def optimizer(name: str, seed: int, setting: int):
    if name == "qnb BatchSPSAOptimizer":
        return BatchSPSAOptimizer(**GAINS, seed=seed)
    if name == "qml.SPSAOptimizer":
        np.random.seed(seed)  # its directions come from numpy's global generator
        return qml.SPSAOptimizer(maxiter=MAX_STEPS, **GAINS)
    return qml.ShotAdaptiveOptimizer(min_shots=setting)


def vqe_run(task: tuple) -> list[dict]:
    """One run (name, setting, seed): the dollars spent and the exact energy after every step, from
    a random start, until the target, ``MAX_STEPS`` or ``MAX_USD``. Module-level for joblib."""
    from pennylane import numpy as pnp
    name, setting, seed = task
    sheet, goal = PRICES[SHEET], target(seed)
    dev = qml.device("default.qubit", wires=2, seed=seed)
    energy = qml.set_shots(qml.QNode(ansatz, dev), setting)  # ShotAdaptive sets its own shots per step
    exact = qml.QNode(ansatz, qml.device("default.qubit", wires=2))
    opt = optimizer(name, seed, setting)
    w = pnp.array(start(seed), requires_grad=True)
    records = [{"bill": (0, 0, 0), "energy": float(exact(w)), "target": goal}]
    with warnings.catch_warnings(), qml.Tracker(dev) as tr:
        warnings.simplefilter("ignore")
        for _ in range(MAX_STEPS):
            w = opt.step(energy, w)
            records.append({"bill": tuple(int(tr.totals.get(k, 0)) for k in ("batches", "executions", "shots")),
                            "energy": float(exact(w))})
            if records[-1]["energy"] <= goal or usd(sheet, records[-1]) >= MAX_USD:
                break
    return records


def usd_to_target(records: list[dict], sheet: str = SHEET) -> float:
    """Dollars spent at the first step at the target (inf if the run never got there)."""
    goal = records[0]["target"]
    return next((usd(PRICES[sheet], r) for r in records if r["energy"] <= goal), math.inf)


def vqe_race(seeds=range(20), selection_seeds=range(100, 105), settings: dict | None = None, workers=None, log=None,
             client=None) -> dict:
    """Each optimizer at each of its ``SETTINGS`` on the selection seeds, its cheapest median on the
    Aria sheet there chosen; then each at its choice on ``seeds``: per optimizer and sheet the
    median dollars to the target with its 95 % bootstrap interval, runs that arrived, median jobs,
    circuits and shots a step; and qnb's median over each other's with its interval and verdict
    (<= 1: no dearer; a run of theirs that never arrives counts as what it had spent)."""
    from .dollars import median_interval
    from .parallel import run_tasks
    from .stats import ratio_verdict
    settings = settings or SETTINGS
    tasks = [(n, s, int(seed)) for n, ss in settings.items() for s in ss for seed in selection_seeds]
    out = run_tasks(vqe_run, tasks, client=client, workers=workers, progress=True, desc="vqe selection", log=log)
    sel = {}
    for (n, s, _), r in zip(tasks, out):
        sel.setdefault((n, s), []).append(usd_to_target(r))
    best = {n: min(ss, key=lambda s: (float(np.median(sel[(n, s)])), s)) for n, ss in settings.items()}
    tasks = [(n, best[n], int(seed)) for n in settings for seed in seeds]
    out = run_tasks(vqe_run, tasks, client=client, workers=workers, progress=True, desc="vqe race", log=log)
    runs = {}
    for (n, _, _), r in zip(tasks, out):
        runs.setdefault(n, []).append(r)
    rows = []
    for n, rs in runs.items():
        per_step = lambda i: float(np.median([r[-1]["bill"][i] / max(len(r) - 1, 1) for r in rs]))
        row = {"optimizer": n, "setting": f"{'min_shots' if 'ShotAdaptive' in n else 'shots'} {best[n]}",
               "reached": f"{sum(math.isfinite(usd_to_target(r)) for r in rs)}/{len(rs)}",
               "jobs a step": per_step(0), "circuits a step": per_step(1), "shots a step": per_step(2),
               "median steps": float(np.median([len(r) - 1 for r in rs]))}
        for p in SHEETS:
            m, lo, hi = median_interval([usd_to_target(r, p) for r in rs])
            row.update({f"median USD {p}": m, f"95 % {p}": f"[{lo:.4g}, {hi:.4g}]"})
        rows.append(row)
    ours = "qnb BatchSPSAOptimizer"
    ratios = []
    for p in SHEETS:
        for n in runs:
            if n != ours:
                v = ratio_verdict([usd_to_target(r, p) for r in runs[ours]], [usd_to_target(r, p) for r in runs[n]],
                                  1.0, censor_at=[usd(PRICES[p], r[-1]) for r in runs[n]])
                ratios.append({"sheet": p, "against": n, **v})
    return {"sheets": SHEETS, "target_share": TARGET_SHARE,
            "selection": [{"optimizer": n, "setting": s, "median USD": float(np.median(v)),
                           "reached": f"{int(np.isfinite(v).sum())}/{len(v)}"} for (n, s), v in sel.items()],
            "best": best, "rows": rows, "ratios": ratios}
