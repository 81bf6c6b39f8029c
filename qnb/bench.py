"""`make bench`: throughput, jobs per step and time to quality, qnb against its peers, one run.

    python -m qnb.bench [--quick]

Writes bench.json and bench.md into $QNB_FIGURES (make bench: figures/). Uses the functions of
``qnb.experiments`` (the ones notebook 05 uses).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import pennylane as qml

from . import experiments as E
from .backends import LocalBackend
from .batching import CircuitBatchManager
from .latency import LatencyModel
from .model import QuantumModel, make_dataset
from .training import QuantumTrainer, TrainingConfig, accuracy


# -- 5. local throughput --------------------------------------------------------------------
def numpy_statevector(X: np.ndarray, P: np.ndarray, n_layers: int = 4) -> np.ndarray:
    """<Z0> of the model for rows of inputs X (n, 4) and parameters P (n, 48), all at once in
    plain numpy: the yardstick for what this machine can do without PennyLane's overhead."""
    n, q = X.shape
    psi = np.zeros((n,) + (2,) * q, dtype=complex)
    psi[(slice(None),) + (0,) * q] = 1.0

    def apply1(psi, U, w):  # U: (n, 2, 2)
        psi = np.moveaxis(psi, w + 1, -1)
        psi = np.einsum("nij,n...j->n...i", U, psi)
        return np.moveaxis(psi, -1, w + 1)

    def rx(t):
        c, s = np.cos(t / 2), -1j * np.sin(t / 2)
        return np.stack([np.stack([c, s], -1), np.stack([s, c], -1)], -2)

    def rot(phi, theta, omega):  # RZ(omega) RY(theta) RZ(phi)
        c, s = np.cos(theta / 2), np.sin(theta / 2)
        return np.stack([np.stack([np.exp(-0.5j * (phi + omega)) * c, -np.exp(0.5j * (phi - omega)) * s], -1),
                         np.stack([np.exp(-0.5j * (phi - omega)) * s, np.exp(0.5j * (phi + omega)) * c], -1)], -2)

    for w in range(q):
        psi = apply1(psi, rx(X[:, w]), w)
    W = P.reshape(n, n_layers, q, 3)
    for layer in range(n_layers):
        for w in range(q):
            psi = apply1(psi, rot(W[:, layer, w, 0], W[:, layer, w, 1], W[:, layer, w, 2]), w)
        r = layer % (q - 1) + 1
        for w in range(q):  # CNOT(w, w + r): flip the target where the control is 1
            c, t = w + 1, (w + r) % q + 1
            idx = [slice(None)] * (q + 1)
            idx[c] = 1
            sub = psi[tuple(idx)]
            psi[tuple(idx)] = np.flip(sub, axis=t - 1 if t > c else t)
    p = np.abs(psi) ** 2
    return p[:, 0].reshape(n, -1).sum(1) - p[:, 1].reshape(n, -1).sum(1)


def throughput(n: int = 960, per_circuit_n: int = 60, seed: int = 0) -> list[dict]:
    """Circuits per second on the 48-parameter model: qnb's batched LocalBackend (circuit building
    included), one QNode call per circuit, and the plain-numpy yardstick."""
    rng = np.random.default_rng(seed)
    model = QuantumModel(seed=seed)
    X, P = rng.uniform(-1, 1, (n, 4)), rng.uniform(0, 2 * np.pi, (n, model.n_params))
    ref = numpy_statevector(X[:8], P[:8])
    rows = []
    for device in LocalBackend.DEVICES:
        backend = LocalBackend(device, latency=LatencyModel.zero())
        backend.execute([model.build_circuit(X[0], P[0])])  # warm-up
        t = time.perf_counter()
        out = backend.execute([model.build_circuit(x, p) for x, p in zip(X, P)])
        batched = n / (time.perf_counter() - t)
        assert np.allclose([o[0] - o[1] for o in out[:8]], ref, atol=1e-9)

        dev = qml.device(device, wires=4)

        @qml.qnode(dev)
        def circuit(x, w):
            qml.AngleEmbedding(x, wires=range(4), rotation="X")
            qml.StronglyEntanglingLayers(w.reshape(model.shape), wires=range(4))
            return qml.expval(qml.PauliZ(0))

        circuit(X[0], P[0])
        t = time.perf_counter()
        for x, p in zip(X[:per_circuit_n], P[:per_circuit_n]):
            circuit(x, p)
        per_circuit = per_circuit_n / (time.perf_counter() - t)
        rows.append({"path": f"qnb LocalBackend ({device}), one call per job", "circuits_per_s": batched})
        rows.append({"path": f"one QNode call per circuit ({device})", "circuits_per_s": per_circuit})
    t = time.perf_counter()
    numpy_statevector(X, P)
    rows.append({"path": "plain numpy batched state vector (yardstick)", "circuits_per_s": n / (time.perf_counter() - t)})
    return rows


# -- peers ----------------------------------------------------------------------------------
def _batch_qnode(device, shots, seed):
    dev = qml.device(device, wires=4, seed=seed)

    @qml.qnode(dev)
    def f(x, w):
        qml.AngleEmbedding(x, wires=range(4), rotation="X")
        qml.StronglyEntanglingLayers(w.reshape(4, 4, 3), wires=range(4))
        return qml.expval(qml.PauliZ(0))

    return dev, (qml.set_shots(f, shots) if shots else f)


def train_spsa_optimizer(seed: int, dataset: str = "blobs", epochs: int = 10, shots: int | None = 1000,
                         matched_gains: bool = False, latency: LatencyModel | None = None) -> dict:
    """PennyLane's qml.SPSAOptimizer on the batch loss (one broadcast QNode call per evaluation),
    same model, data, batches of 10 and exact evaluation as qnb. Jobs are counted by qml.Tracker
    on the device: every device call is a cloud job."""
    from pennylane import numpy as pnp

    latency = latency or LatencyModel.seed_calibrated()
    cfg = TrainingConfig(seed=seed, dataset=dataset, epochs=epochs)
    x_tr, y_tr, x_te, y_te = make_dataset(dataset, seed=0)
    model = QuantumModel(seed=np.random.SeedSequence(seed).spawn(4)[0])
    dev, f = _batch_qnode("default.qubit", shots, seed)
    steps = epochs * cfg.steps_per_epoch
    kw = dict(a=cfg.spsa_a, c=cfg.spsa_c, A=cfg.spsa_A) if matched_gains else {}
    opt = qml.SPSAOptimizer(maxiter=steps, **kw)
    np.random.seed(seed)  # the optimizer draws its directions from numpy's global generator
    order_rng = np.random.default_rng(seed)
    w = pnp.array(model.parameters, requires_grad=True)
    evaluator, history, modeled, jobs = LocalBackend(latency=LatencyModel.zero()), [], 0.0, []
    for epoch in range(epochs):
        order = order_rng.permutation(len(x_tr))
        for b in range(cfg.steps_per_epoch):
            idx = order[b * 10:(b + 1) * 10]
            xb, yb = x_tr[idx], y_tr[idx]
            with qml.Tracker(dev) as tr:
                w = opt.step(lambda v: pnp.mean((f(xb, v) - yb) ** 2), w)
            modeled += latency.batch_time(tr.totals["executions"], tr.totals["batches"], shots)
            jobs.append((tr.totals["batches"], tr.totals["executions"]))
        model.update_parameters(np.asarray(w))
        acc = accuracy(model, x_te, y_te, evaluator)[0]
        history.append({"epoch": epoch, "test_accuracy": float(acc), "modeled_s": modeled})
    return {"epochs": history, "jobs_per_step": float(np.mean([j for j, _ in jobs])),
            "circuits_per_step": float(np.mean([c for _, c in jobs]))}


def train_qiskit_spsa(seed: int, dataset: str = "blobs", epochs: int = 10, shots: int | None = 1000,
                      latency: LatencyModel | None = None) -> dict | None:
    """qiskit-algorithms' SPSA (its defaults, calibration included, ``max_evals_grouped=2`` so that
    each +-pair is one call) on the batch loss, the batch advancing every iteration. Every call of
    the loss is one job through qnb's CircuitBatchManager, which counts it. None if not installed."""
    try:
        from qiskit_algorithms.optimizers import SPSA
        from qiskit_algorithms.utils import algorithm_globals
    except ImportError:
        return None
    algorithm_globals.random_seed = seed
    cfg = TrainingConfig(seed=seed, dataset=dataset, epochs=epochs)
    x_tr, y_tr, x_te, y_te = make_dataset(dataset, seed=0)
    s_model, s_order, _, s_backend = np.random.SeedSequence(seed).spawn(4)
    model = QuantumModel(seed=s_model)
    manager = CircuitBatchManager(LocalBackend(latency=latency, seed=s_backend), max_batch_size=10_000)
    order_rng = np.random.default_rng(s_order)
    batches = [order[b * 10:(b + 1) * 10] for _ in range(epochs) for order in [order_rng.permutation(len(x_tr))]
               for b in range(cfg.steps_per_epoch)]
    state = {"step": 0}
    evaluator, history = LocalBackend(latency=LatencyModel.zero()), []

    def loss(points):
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        idx = batches[min(state["step"], len(batches) - 1)]
        res = manager.execute_batch([model.build_circuit(x, p) for p in pts for x in x_tr[idx]], shots)
        out = np.array([model.process_result(r) for r in res]).reshape(len(pts), len(idx))
        losses = ((out - y_tr[idx]) ** 2).mean(axis=1)
        return losses if np.ndim(points) == 2 or isinstance(points, list) else float(losses[0])

    def after_step(nfev, x, fx, step, accepted):  # a termination checker: called without extra evaluations
        state["step"] += 1
        if state["step"] % cfg.steps_per_epoch == 0:
            model.update_parameters(np.asarray(x))
            acc = accuracy(model, x_te, y_te, evaluator)[0]
            history.append({"epoch": len(history), "test_accuracy": float(acc), "modeled_s": manager.stats.modeled_s})
        return False

    spsa = SPSA(maxiter=len(batches), termination_checker=after_step)
    spsa.set_max_evals_grouped(2)
    spsa.minimize(loss, model.parameters.copy())
    return {"epochs": history, "jobs": manager.stats.jobs, "circuits": manager.stats.circuits}


def peer_gradient_jobs(latency: LatencyModel | None = None) -> list[dict]:
    """Jobs and circuits of one gradient of the batch loss for PennyLane's gradient transforms,
    counted by qml.Tracker (device calls = jobs)."""
    from pennylane import numpy as pnp

    x, y, _, _ = make_dataset(n_train=10, n_test=1)
    model = QuantumModel(seed=0)
    rows = []
    for name, method, kw in [("qml.gradients.spsa_grad (1 direction)", "spsa", {"num_directions": 1}),
                             ("qml.gradients.param_shift", "parameter-shift", {})]:
        dev, f = _batch_qnode("default.qubit", 1000, 0)
        f = qml.QNode(f.func, dev, diff_method=method, gradient_kwargs=kw) if kw else qml.QNode(f.func, dev, diff_method=method)
        f = qml.set_shots(f, 1000)
        w = pnp.array(model.parameters, requires_grad=True)
        with qml.Tracker(dev) as tr:
            qml.grad(lambda v: pnp.mean((f(x, v) - y) ** 2))(w)
        rows.append({"method": name, "jobs": tr.totals["batches"], "circuits": tr.totals["executions"]})
    return rows


def job_counts(latency_scale: float = 0.001) -> list[dict]:
    """Jobs and circuits per optimisation step, each counted where the work happens: the emulator
    for qnb's methods (through pennylane-ionq), qml.Tracker for PennyLane's."""
    rows = []
    for label, method, k in [("qnb spsa_sequential", "spsa_sequential", 5), ("qnb spsa_parallel", "spsa_parallel", 5),
                             ("qnb spsa_subsampled k=5", "spsa_subsampled", 5), ("qnb parameter_shift", "parameter_shift", 5)]:
        m = E.measure_on_emulator(method, k, latency_scale=latency_scale, steps=1)
        rows.append({"method": label, "counted by": "emulator", "jobs": m["jobs"], "circuits": m["circuits"]})
    peer = train_spsa_optimizer(0, epochs=1)
    rows.append({"method": "qml.SPSAOptimizer.step", "counted by": "qml.Tracker", "jobs": peer["jobs_per_step"],
                 "circuits": peer["circuits_per_step"]})
    rows += [{**r, "counted by": "qml.Tracker"} for r in peer_gradient_jobs()]
    return [{k: r[k] for k in ("method", "counted by", "jobs", "circuits")} for r in rows]


def emulator_overhead(latency_scale: float = 0.05, epochs: int = 5) -> dict:
    """A `balanced` training through pennylane-ionq against the emulator: wall time of the steps
    divided by latency_scale x their modeled time. 1.0 means qnb adds nothing to the cloud's time."""
    from .emulator import Emulator
    from .training import PRESETS

    with Emulator(latency_scale=latency_scale) as emu:
        cfg = PRESETS["balanced"].replace(backend="ionq", epochs=epochs)
        trainer = QuantumTrainer(cfg, backend=emu.backend(seed=0))
        h = trainer.fit(progress=False)
    wall = sum(s["wall_s"] for s in h["steps"])
    modeled = sum(s["modeled_s"] for s in h["steps"])
    return {"latency_scale": latency_scale, "steps": len(h["steps"]), "wall_s": wall,
            "scaled_modeled_s": latency_scale * modeled, "ratio": wall / (latency_scale * modeled)}


def iterate_averaging(seeds, preset: str = "fast", windows=(10, 30)) -> list[dict]:
    """Does averaging the last iterates (Polyak) beat the last iterate? Test accuracy over seeds."""
    from .training import PRESETS

    res = {"last iterate": []} | {f"mean of last {w} iterates": [] for w in windows}
    for seed in seeds:
        trainer = QuantumTrainer(PRESETS[preset].replace(seed=int(seed)))
        iterates = []
        trainer.fit(progress=False, callback=lambda t, r: iterates.append(t.model.parameters.copy()))
        x_te, y_te = trainer.dataset[2:]
        res["last iterate"].append(trainer.history["epochs"][-1]["test_accuracy"])
        for w in windows:
            trainer.model.update_parameters(np.mean(iterates[-w:], axis=0))
            res[f"mean of last {w} iterates"].append(accuracy(trainer.model, x_te, y_te, trainer.evaluator)[0])
    return [{"preset": preset, "parameters": k, "runs": len(v), "test_acc_mean": float(np.mean(v)),
             "test_acc_std": float(np.std(v))} for k, v in res.items()]


# -- time to quality ------------------------------------------------------------------------
def time_to_quality(epochs_records: list[dict], target: float) -> float:
    """Modeled seconds until test accuracy first reaches ``target`` (inf if never)."""
    return next((e["modeled_s"] for e in epochs_records if e["test_accuracy"] >= target), math.inf)


def ttq_summary(times: list[float]) -> dict:
    """Median and interquartile range of time to quality; a run that never reaches it counts as
    infinitely slow, so a median exists while more than half the runs reach the target."""
    t = np.array(times, dtype=float)
    q25, q50, q75 = (np.quantile(t, q, method="inverted_cdf") for q in (0.25, 0.5, 0.75))
    return {"reached": f"{int(np.isfinite(t).sum())}/{len(t)}", "median_min": q50 / 60,
            "iqr_min": (q75 - q25) / 60 if np.isfinite(q75) else math.inf}


CANDIDATES = {
    "spsa_parallel": dict(gradient_method="spsa_parallel"),
    "spsa_subsampled k=5 (balanced)": dict(gradient_method="spsa_subsampled", gradient_subsample_size=5),
    "spsa_subsampled k=2 (fast)": dict(gradient_method="spsa_subsampled", gradient_subsample_size=2),
    "spsa_subsampled k=5, 4 directions": dict(gradient_method="spsa_subsampled", gradient_subsample_size=5, n_directions=4),
    "spsa_parallel, 4 directions": dict(gradient_method="spsa_parallel", n_directions=4),
    "spsa_subsampled k=2, 8 directions": dict(gradient_method="spsa_subsampled", gradient_subsample_size=2, n_directions=8),
    "spsa_subsampled k=2, 2 directions (preset two_direction)": dict(gradient_method="spsa_subsampled",
                                                                      gradient_subsample_size=2, n_directions=2),
    "spsa_subsampled k=5, calibrated a (Qiskit's target 2pi/10)": dict(gradient_method="spsa_subsampled", calibrate=True),
    "spsa_subsampled k=5, calibrated a (target 0.1)": dict(gradient_method="spsa_subsampled", calibrate=True,
                                                           calibration_target=0.1),
}


def quality_race(dataset: str, seeds, epochs: int, exact_seeds, exact_epochs: int = 5) -> dict:
    """Time to quality for qnb's methods and PennyLane's SPSAOptimizer, against the exact ceiling
    (parameter shift with exact expectation values; parameter-shift runs use fewer seeds: each
    costs ~20x an SPSA run locally)."""
    ceiling_runs = E.train_many(TrainingConfig(gradient_method="parameter_shift", shots_per_circuit=None,
                                               dataset=dataset, epochs=exact_epochs, spsa_a=1.0), exact_seeds)
    ceiling = float(np.mean([h["epochs"][-1]["test_accuracy"] for h in ceiling_runs]))
    target = 0.95 * ceiling
    rows = []

    def add(name, epoch_lists):
        s = ttq_summary([time_to_quality(e, target) for e in epoch_lists])
        final = [e[-1]["test_accuracy"] for e in epoch_lists]
        rows.append({"method": name, "runs": len(epoch_lists), **s, "final_test_acc": float(np.mean(final)),
                     "run_min": float(np.mean([e[-1]["modeled_s"] for e in epoch_lists])) / 60})

    ps = E.train_many(TrainingConfig(gradient_method="parameter_shift", dataset=dataset, epochs=exact_epochs, spsa_a=1.0),
                      exact_seeds)
    add("parameter_shift (1000 shots, a=1.0)", [h["epochs"] for h in ps])
    for name, kw in CANDIDATES.items():
        hs = E.train_many(TrainingConfig(dataset=dataset, epochs=epochs, **kw), seeds)
        add("qnb " + name, [h["epochs"] for h in hs])
    for matched in (False, True):
        runs = [train_spsa_optimizer(int(s), dataset, epochs, matched_gains=matched) for s in seeds]
        add(f"qml.SPSAOptimizer ({'matched gains' if matched else 'defaults'})", [r["epochs"] for r in runs])
    qiskit = [train_qiskit_spsa(int(s), dataset, epochs) for s in seeds]
    if all(q is not None for q in qiskit):
        add("qiskit-algorithms SPSA (defaults, max_evals_grouped=2)", [q["epochs"] for q in qiskit])
    else:
        print("qiskit-algorithms is not installed: its SPSA is skipped (pip install -e '.[peers]')")
    return {"dataset": dataset, "ceiling_test_acc": ceiling, "target": target, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    quick = args.quick
    seeds = range(1 if quick else 10)
    out = {"throughput": throughput(n=48 if quick else 960, per_circuit_n=5 if quick else 60),
           "job_counts": job_counts(),
           "emulator_overhead": emulator_overhead(0.05, 1 if quick else 5),
           "iterate_averaging": iterate_averaging(seeds, "development" if quick else "fast"),
           "races": [quality_race(d, seeds, 1 if quick else 10, range(1 if quick else 3), 1 if quick else 5)
                     for d in (("blobs",) if quick else ("blobs", "xor"))]}
    tp = {r["path"]: r["circuits_per_s"] for r in out["throughput"]}
    batched = tp["qnb LocalBackend (default.qubit), one call per job"]
    per = tp["one QNode call per circuit (default.qubit)"]
    targets = [("LocalBackend >= 5,000 circuits/s batched", batched >= 5000, f"{batched:,.0f}/s"),
               ("batched >= 10x one QNode call per circuit", batched >= 10 * per, f"x{batched / per:.1f}")]
    ov = out["emulator_overhead"]
    targets.append((f"qnb overhead on the emulator (balanced, S={ov['latency_scale']}) within 10 % of the model",
                    ov["ratio"] <= 1.10, f"wall / (S x modeled) = {ov['ratio']:.3f} over {ov['steps']} steps"))
    jc = {r["method"]: r["jobs"] for r in out["job_counts"]}
    targets.append(("one job per step for spsa_parallel and spsa_subsampled",
                    jc["qnb spsa_parallel"] == 1 and jc["qnb spsa_subsampled k=5"] == 1,
                    f"{jc['qnb spsa_parallel']:.0f} and {jc['qnb spsa_subsampled k=5']:.0f}; qml.SPSAOptimizer {jc['qml.SPSAOptimizer.step']:.0f}"))
    for race in out["races"]:
        rows = {r["method"]: r for r in race["rows"]}
        qnb_best = min((r for r in race["rows"] if r["method"].startswith("qnb")), key=lambda r: r["median_min"])
        ps = rows["parameter_shift (1000 shots, a=1.0)"]["median_min"]
        race["best"] = qnb_best["method"]
        b = qnb_best["median_min"]
        ok = lambda ratio_to: bool(np.isfinite(b) and b <= ratio_to)
        who = qnb_best["method"] if np.isfinite(b) else "no qnb method reached the target in most runs"
        targets.append((f"[{race['dataset']}] best qnb time to quality <= 1/10 of parameter shift's", ok(ps / 10),
                        f"{who}: {b:.1f} vs {ps:.1f} min"))
        for peer in ("qml.SPSAOptimizer (defaults)", "qml.SPSAOptimizer (matched gains)"):
            p = rows[peer]["median_min"]
            targets.append((f"[{race['dataset']}] best qnb time to quality <= 1/2 of {peer}", ok(p / 2),
                            f"{b:.1f} vs {p:.1f} min"))
    out["targets"] = [{"target": t, "met": bool(m), "measured": v} for t, m, v in targets]
    out["seconds"] = time.perf_counter() - t0
    md = ["# qnb benchmark (one run on this machine)", "", "## Targets", E.table(out["targets"]), "",
          "## Local throughput (48-parameter model)", E.table(out["throughput"], floatfmt=",.0f"), "",
          "## Jobs and circuits per optimisation step (batch of 10)", E.table(out["job_counts"], floatfmt=".0f")]
    md += ["", "## Iterate averaging (kept out of qnb unless it helps)", E.table(out["iterate_averaging"], floatfmt=".3f")]
    for race in out["races"]:
        md += ["", f"## Time to quality, {race['dataset']} data: modeled minutes until test accuracy >= "
                   f"{race['target']:.3f} (95 % of the exact-gradient ceiling {race['ceiling_test_acc']:.3f})",
               E.table(race["rows"])]
    md += ["", f"Benchmark wall time: {out['seconds']:.0f} s"]
    text = "\n".join(md) + "\n"
    name, folder = "bench_quick" if quick else "bench", E.figures_dir()
    if folder:  # written only where asked (make bench sets QNB_FIGURES)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name + ".md"), "w") as f:
            f.write(text)
        with open(os.path.join(folder, name + ".json"), "w") as f:
            json.dump(out, f, indent=1, default=float)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
