"""Local throughput and jobs per step: how fast qnb runs circuits here, and how many jobs each
method (qnb's and its peers') sends per optimisation step."""
from __future__ import annotations

import time

import numpy as np
import pennylane as qml

from ..backends import LocalBackend
from ..circuits import CircuitModel
from ..config import PRESETS
from ..latency import LatencyModel
from ..model import QuantumModel, make_dataset
from ..trainer import QuantumTrainer
from . import experiments as E
from .peers import _batch_qnode, spsa_optimizer_jobs, train_spsa_optimizer


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


def user_circuit_throughput(n: int = 960, seed: int = 0) -> list[dict]:
    """Circuits per second for a 6-qubit user QNode (angle embedding, 3 basic entangler layers,
    <Z0 Z5>) through qnb's default LocalBackend and default.qubit's broadcast."""
    dev = qml.device("default.qubit", wires=6)

    @qml.qnode(dev)
    def user(x, w):
        qml.AngleEmbedding(x, wires=range(6))
        qml.BasicEntanglerLayers(w, wires=range(6), rotation=qml.RY)
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(5))

    model = CircuitModel(user, n_wires=6, param_shape=(3, 6), seed=seed)
    rng = np.random.default_rng(seed)
    X, P = rng.uniform(-1, 1, (n, 6)), rng.uniform(0, 2 * np.pi, (n, model.n_params))
    rows = []
    for label, backend in (("numpy simulator, the default", LocalBackend(latency=LatencyModel.zero())),
                           ("default.qubit broadcast, fast=False", LocalBackend(latency=LatencyModel.zero(), fast=False))):
        backend.execute([model.build_circuit(X[0], P[0])])
        t = time.perf_counter()
        out = model.outputs_from(backend.execute(model.build_circuits(X, P)))
        rows.append({"path": f"6-qubit user QNode, qnb LocalBackend ({label})", "circuits_per_s": n / (time.perf_counter() - t)})
        assert np.allclose(out[:4], [user(x, p.reshape(3, 6)) for x, p in zip(X[:4], P[:4])], atol=1e-9)
    return rows


def throughput(n: int = 960, per_circuit_n: int = 60, seed: int = 0) -> list[dict]:
    """Circuits per second on the 48-parameter model: qnb's batched LocalBackend (building the
    circuits from the compiled model included), one QNode call per circuit, and the plain-numpy
    yardstick."""
    rng = np.random.default_rng(seed)
    model = QuantumModel(seed=seed)
    X, P = rng.uniform(-1, 1, (n, 4)), rng.uniform(0, 2 * np.pi, (n, model.n_params))
    ref = numpy_statevector(X[:8], P[:8])
    rows = []
    for label, backend in (("numpy simulator, the default", LocalBackend(latency=LatencyModel.zero())),
                           ("default.qubit broadcast, fast=False", LocalBackend(latency=LatencyModel.zero(), fast=False)),
                           ("lightning.qubit", LocalBackend("lightning.qubit", latency=LatencyModel.zero()))):
        backend.execute([model.build_circuit(X[0], P[0])])  # warm-up
        t = time.perf_counter()
        out = backend.execute(model.build_circuits(X, P))  # built as the estimators build a step's circuits
        batched = n / (time.perf_counter() - t)
        assert np.allclose([o[0] - o[1] for o in out[:8]], ref, atol=1e-9)
        rows.append({"path": f"qnb LocalBackend ({label}), one call per job", "circuits_per_s": batched})
    for device in LocalBackend.DEVICES:
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
        rows.append({"path": f"one QNode call per circuit ({device})", "circuits_per_s": per_circuit_n / (time.perf_counter() - t)})
    rows += user_circuit_throughput(n, seed)
    t = time.perf_counter()
    numpy_statevector(X, P)
    rows.append({"path": "plain numpy batched state vector (yardstick)", "circuits_per_s": n / (time.perf_counter() - t)})
    return rows


# -- peers ----------------------------------------------------------------------------------
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


def qnspsa_jobs() -> dict:
    """Jobs and circuits of one ``qml.QNSPSAOptimizer`` step (blocking on, its default), counted by
    qml.Tracker. It needs a cost that is ONE QNode's expectation value, so it cannot optimise a
    batch loss (here: one sample's <Z0>); and through pennylane-ionq (against the emulator) it fails
    in PennyLane 0.45: its metric and blocking tapes carry no shots and the IonQ device refuses
    analytic tapes. Returns the row, with that failure recorded as measured."""
    from pennylane import numpy as pnp

    from ..emulator import Emulator

    x, _, _, _ = make_dataset("xor", n_train=10, n_test=1)

    def qnode(dev):
        @qml.qnode(dev)
        def cost(w):
            qml.AngleEmbedding(x[0], wires=range(4), rotation="X")
            qml.StronglyEntanglingLayers(w.reshape(4, 4, 3), wires=range(4))
            return qml.expval(qml.PauliZ(0))
        return cost

    w = pnp.array(QuantumModel(seed=0).parameters, requires_grad=True)
    dev = qml.device("default.qubit", wires=4, seed=0)
    with qml.Tracker(dev) as tr:
        qml.QNSPSAOptimizer(stepsize=0.01, seed=0).step(qml.set_shots(qnode(dev), 1000), w)
    from pennylane_ionq import api_client
    with Emulator(latency_scale=0.001) as emu:
        old, api_client.APIClient.BASE_URL = api_client.APIClient.BASE_URL, emu.url
        try:
            ionq = qml.device("ionq.simulator", wires=4, api_key=emu.api_key, shots=1000)
            qml.QNSPSAOptimizer(stepsize=0.01, seed=0).step(qnode(ionq), w)
            on_ionq = f"runs: {emu.stats['jobs_created']} jobs"
        except ValueError as e:
            on_ionq = f"fails on the emulator ({str(e)[:60]}); {emu.stats['jobs_created']} jobs sent"
        finally:
            api_client.APIClient.BASE_URL = old
    return {"method": "qml.QNSPSAOptimizer.step (one sample)", "counted by": f"qml.Tracker; pennylane-ionq {on_ionq}",
            "jobs": tr.totals["batches"], "circuits": tr.totals["executions"]}


def job_counts(latency_scale: float = 0.001) -> list[dict]:
    """Jobs and circuits per optimisation step, each counted where the work happens: the emulator
    for qnb's methods (through pennylane-ionq), qml.Tracker for PennyLane's."""
    rows = []
    for label, method, k in [("qnb spsa_sequential", "spsa_sequential", 5), ("qnb spsa_parallel", "spsa_parallel", 5),
                             ("qnb spsa_subsampled k=5", "spsa_subsampled", 5), ("qnb parameter_shift", "parameter_shift", 5)]:
        m = E.measure_on_emulator(method, k, latency_scale=latency_scale, steps=1)
        rows.append({"method": label, "counted by": "emulator", "jobs": m["jobs"], "circuits": m["circuits"]})
    rows.append({"method": "qml.SPSAOptimizer.step", "counted by": "qml.Tracker", **spsa_optimizer_jobs()})
    peer = train_spsa_optimizer(0, "blobs", (2.0, 60.0, 0.0))  # the race's objective: a few steps
    n = len(peer["steps"]) - 1
    rows.append({"method": "qml.SPSAOptimizer.step (the race's objective)", "counted by": "CircuitBatchManager",
                 "jobs": peer["jobs"] / n, "circuits": peer["circuits"] / n})
    rows += [{**r, "counted by": "qml.Tracker"} for r in peer_gradient_jobs()] + [qnspsa_jobs()]
    return [{k: r[k] for k in ("method", "counted by", "jobs", "circuits")} for r in rows]


def emulator_overhead(latency_scale: float = 0.05, epochs: int = 5) -> dict:
    """A `balanced` training through pennylane-ionq against the emulator: wall time of the steps
    divided by latency_scale x their modeled time. 1.0 means qnb adds nothing to the cloud's time."""
    from ..emulator import Emulator

    with Emulator(latency_scale=latency_scale) as emu:
        cfg = PRESETS["balanced"].replace(backend="ionq", epochs=epochs)
        trainer = QuantumTrainer(cfg, backend=emu.backend(seed=0))
        h = trainer.fit(progress=False)
    wall = sum(s["wall_s"] for s in h["steps"])
    modeled = sum(s["modeled_s"] for s in h["steps"])
    return {"latency_scale": latency_scale, "steps": len(h["steps"]), "wall_s": wall,
            "scaled_modeled_s": latency_scale * modeled, "ratio": wall / (latency_scale * modeled)}
