"""Issue 28's measurements: PennyLane's optimizer form on a VQE energy, qnb against qml.SPSAOptimizer.

    .venv/bin/python tools/measure_pennylane_form.py [--out figures] [--steps 60] [--seeds 5]

Writes 28_pennylane_form_calls.{md,csv} (qml.Tracker batches and executions per step, and what
Braket's local simulator received: tasks, programs, shots) and 28_pennylane_form_energy.{md,csv}
(the exact energy at the parameters after each step, mean and spread over the seeds, for both
optimizers on default.qubit and on braket.local.qubit, 1000 shots each). Seeded: the directions
(qnb's seed; numpy's global seed for qml.SPSAOptimizer), default.qubit's shots (device seed) and the
Braket simulator's shots (its generator, seeded here: the plugin offers no seed).
"""
from __future__ import annotations

import argparse
import csv
import warnings
from pathlib import Path

import numpy as np
import pennylane as qml
from pennylane import numpy as pnp

import qnb
from qnb.research.vqe_race import H, ansatz  # noqa: F401 (the VQE problem make bench races on)

warnings.filterwarnings("ignore")
W0 = [0.1, 0.2, 0.3]
SHOTS, MAXITER, A_GAIN = 1000, 60, 0.6


def energy_on(name, shots, seed=None):
    kw = {"seed": seed} if name == "default.qubit" else {}
    dev = qml.device(name, wires=2, shots=shots, **kw) if shots else qml.device(name, wires=2, **kw)
    return qml.QNode(ansatz, dev)


EXACT = energy_on("default.qubit", None)


class BraketLog:
    """What braket's LocalSimulator receives (tasks: run calls and run_batch items), and a seeded
    generator for its shots."""

    def __init__(self):
        from braket.default_simulator import state_vector_simulation as svs
        from braket.devices import LocalSimulator
        self.entries, self.sim, self.svs = [], LocalSimulator, svs.StateVectorSimulation
        self.run, self.batch, self.init = LocalSimulator.run, LocalSimulator.run_batch, self.svs.__init__
        log, run, batch, init = self.entries, self.run, self.batch, self.init
        self.seeds = np.random.SeedSequence(0)

        def counted_run(sim, spec, *a, **k):
            ps = type(spec).__name__ == "ProgramSet"
            log.append((1, len(spec) if ps else 1, spec.total_shots if ps else k.get("shots", 0)))
            return run(sim, spec, *a, **k)

        def counted_batch(sim, specs, *a, **k):
            log.extend((1, 1, k.get("shots", 0)) for _ in specs)
            return batch(sim, specs, *a, **k)

        outer = self

        def seeded_init(sv, *a, **k):
            init(sv, *a, **k)
            sv._rng_generator = np.random.default_rng(outer.seeds.spawn(1)[0])
        LocalSimulator.run, LocalSimulator.run_batch, self.svs.__init__ = counted_run, counted_batch, seeded_init

    def reseed(self, seed):
        self.seeds = np.random.SeedSequence(seed)

    def take(self):
        out = (len(self.entries), sum(e[1] for e in self.entries), sum(e[2] for e in self.entries))
        self.entries.clear()
        return out


def calls_per_step(braket: BraketLog) -> list[dict]:
    rows = []
    for device in ("default.qubit", "braket.local.qubit"):
        for who in ("qnb", "qml"):
            for call in ("step", "step_and_cost"):
                energy = energy_on(device, SHOTS, seed=0)
                opt = (qnb.BatchSPSAOptimizer(a=A_GAIN, maxiter=MAXITER, seed=0) if who == "qnb" else
                       qml.SPSAOptimizer(maxiter=MAXITER, a=A_GAIN))
                np.random.seed(0)
                w = pnp.array(W0, requires_grad=True)
                getattr(opt, call)(energy, w)  # a first step, not counted
                braket.take()
                with qml.Tracker(energy.device) as tr:
                    getattr(opt, call)(energy, w)
                tasks, programs, shots = braket.take()
                row = {"device": device, "optimizer": "qnb.BatchSPSAOptimizer" if who == "qnb" else "qml.SPSAOptimizer",
                       "call": call, "batches": tr.totals.get("batches", 0), "executions": tr.totals.get("executions", 0),
                       "shots": tr.totals.get("shots", 0)}
                if device.startswith("braket"):
                    row.update(braket_tasks=tasks, braket_programs=programs, braket_shots=shots)
                rows.append(row)
    return rows


def energy_curves(device: str, steps: int, seeds: int, braket: BraketLog) -> dict:
    curves = {}
    for who in ("qnb", "qml"):
        runs = []
        for seed in range(seeds):
            braket.reseed(1000 + seed)
            energy = energy_on(device, SHOTS, seed=1000 + seed)
            np.random.seed(seed)
            opt = (qnb.BatchSPSAOptimizer(a=A_GAIN, maxiter=MAXITER, seed=seed) if who == "qnb" else
                   qml.SPSAOptimizer(maxiter=MAXITER, a=A_GAIN))
            w, curve = pnp.array(W0, requires_grad=True), [float(EXACT(pnp.array(W0)))]
            for _ in range(steps):
                w, _ = opt.step_and_cost(energy, w)
                curve.append(float(EXACT(w)))
            runs.append(curve)
        curves[who] = np.array(runs)
    braket.take()
    return curves


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="figures")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    braket = BraketLog()
    rows = calls_per_step(braket)
    keys = list(rows[-1])
    with open(out / "28_pennylane_form_calls.csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    (out / "28_pennylane_form_calls.md").write_text(
        f"One VQE step ({SHOTS} shots, H with non-commuting terms in 3 measurement bases), counted by qml.Tracker "
        "and, on braket.local.qubit, by the local simulator (tasks, programs in them, shots).\n\n"
        + "\n".join(lines) + "\n")
    ground = float(np.min(np.linalg.eigvalsh(qml.matrix(H, wire_order=[0, 1]))))
    from scipy.optimize import minimize  # the ansatz's lowest energy: Nelder-Mead from 20 seeded starts
    starts = np.random.default_rng(0).uniform(-np.pi, np.pi, (20, 3))
    reach = min(minimize(lambda v: float(EXACT(v)), s, method="Nelder-Mead").fun for s in starts)
    table, csv_rows = [], []
    marks = [s for s in (0, 5, 10, 20, 30, 40, 60, 100) if s <= args.steps]
    for device in ("default.qubit", "braket.local.qubit"):
        curves = energy_curves(device, args.steps, args.seeds, braket)
        for who, c in curves.items():
            name = "qnb.BatchSPSAOptimizer" if who == "qnb" else "qml.SPSAOptimizer"
            for s in range(c.shape[1]):
                csv_rows.append({"device": device, "optimizer": name, "step": s, "mean": c[:, s].mean(),
                                 "min": c[:, s].min(), "max": c[:, s].max()})
            table.append(f"| {device} | {name} | " + " | ".join(
                f"{c[:, s].mean():.3f} [{c[:, s].min():.3f}, {c[:, s].max():.3f}]" for s in marks) + " |")
    with open(out / "28_pennylane_form_energy.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(csv_rows[0]))
        w.writeheader()
        w.writerows(csv_rows)
    (out / "28_pennylane_form_energy.md").write_text(
        f"Exact energy after each step_and_cost (mean [min, max] over {args.seeds} seeds; {SHOTS} shots per circuit; "
        f"gains a={A_GAIN}, maxiter={MAXITER} for both; the ansatz reaches {reach:.3f} at best (Nelder-Mead, 20 "
        f"starts), H's ground state is {ground:.3f}).\n\n"
        "| device | optimizer | " + " | ".join(f"step {s}" for s in marks) + " |\n|" + "---|" * (2 + len(marks)) + "\n"
        + "\n".join(table) + "\n")
    print((out / "28_pennylane_form_calls.md").read_text())
    print((out / "28_pennylane_form_energy.md").read_text())


if __name__ == "__main__":
    main()
