"""Amazon Braket's PennyLane device (braket.local.qubit, offline): the optimizer's step is one
execution, and the local simulator receives it as ONE program set (the plugin alone would send one
task per circuit); dollars as Braket bills the submission."""
import warnings

import numpy as np
import pennylane as qml
import pytest
from pennylane import numpy as pnp

import qnb
from user_qnodes import vqe_ansatz

braket_devices = pytest.importorskip("braket.devices")
pytestmark = pytest.mark.integration
warnings.filterwarnings("ignore", category=DeprecationWarning)

H = qml.Hamiltonian([0.5, -0.8, 0.3], [qml.PauliZ(0) @ qml.PauliZ(1), qml.PauliX(0), qml.PauliY(1)])


def ansatz(w):
    return vqe_ansatz(w, H)


def vqe(**device_kwargs):
    return qml.qnode(qml.device("braket.local.qubit", wires=2, **device_kwargs))(ansatz)


def exact_energy(w):
    return float(qml.qnode(qml.device("default.qubit", wires=2))(ansatz)(w))


@pytest.fixture
def received(monkeypatch):
    """What the local simulator received: one entry per quantum task (a circuit, or a program set)."""
    log = []
    sim = braket_devices.LocalSimulator
    run, run_batch = sim.run, sim.run_batch

    def counted_run(self, spec, *a, **k):
        is_set = type(spec).__name__ == "ProgramSet"
        log.append(("program_set" if is_set else "task", len(spec) if is_set else 1,
                    spec.total_shots if is_set else k.get("shots")))
        return run(self, spec, *a, **k)

    def counted_batch(self, specs, *a, **k):
        log.extend(("task", 1, k.get("shots")) for _ in specs)
        return run_batch(self, specs, *a, **k)
    monkeypatch.setattr(sim, "run", counted_run)
    monkeypatch.setattr(sim, "run_batch", counted_batch)
    return log


def test_a_vqe_step_on_braket_is_one_batch_and_one_program_set_priced_as_one_task(received):
    energy = vqe(shots=400)
    opt = qnb.BatchSPSAOptimizer(maxiter=20, seed=0, price="braket-ionq-aria")
    w = pnp.array([0.1, 0.2, 0.3], requires_grad=True)
    with qml.Tracker(energy.device) as tracker:
        new, e = opt.step_and_cost(energy, w)
    circuits = 3 * 2  # theta+, theta-, theta; H's terms in two measurement bases
    assert tracker.totals["batches"] == 1
    assert received == [("program_set", circuits, circuits * 400)]
    meta = opt.last_step.metadata
    assert meta["submission"]["kind"] == "program_set" and (meta["n_jobs"], meta["shots"]) == (1, circuits * 400)
    assert meta["usd"] == pytest.approx(0.30 * 1 + 0.03 * circuits * 400)  # one task fee, not six
    assert e == pytest.approx(exact_energy(w), abs=0.25)  # 400 shots per basis
    assert np.all(np.isfinite(new)) and not np.allclose(new, w)


def test_the_plugin_alone_sends_one_task_per_circuit(received):
    """Without qnb, qml.execute on braket.local.qubit sends each circuit as its own task (the
    plugin switches program sets off locally); parallel=True makes it a task batch."""
    for parallel in (False, True):
        received.clear()
        energy = vqe(shots=100, parallel=parallel)
        tapes = [qml.workflow.construct_tape(energy)(np.array([0.1, 0.2, 0.3]) + i) for i in range(2)]
        qml.execute(tapes, energy.device)
        assert received == [("task", 1, 100)] * 4


def test_a_step_of_more_than_100_circuits_is_split_into_program_sets_and_priced_per_set(received):
    energy = vqe(shots=20)
    opt = qnb.BatchSPSAOptimizer(num_directions=26, seed=1, price="braket-ionq-forte")
    opt.step_and_cost(energy, pnp.array([0.1, 0.2, 0.3], requires_grad=True))
    n = (2 * 26 + 1) * 2
    assert [r[0] for r in received] == ["program_set", "program_set"]
    assert sum(r[1] for r in received) == n and max(r[1] for r in received) <= 100
    assert opt.last_step.metadata["usd"] == pytest.approx(2 * 0.30 + 0.08 * 20 * n)


def test_exact_simulation_runs_but_is_no_program_set_and_costs_nothing(received):
    energy = vqe()  # shots=None: a program set needs shots; the plugin runs the circuits one by one
    opt = qnb.BatchSPSAOptimizer(seed=0, price="braket-ionq-aria")
    w = pnp.array([0.1, 0.2, 0.3], requires_grad=True)
    _, e = opt.step_and_cost(energy, w)
    assert e == pytest.approx(exact_energy(w), abs=1e-9)
    assert opt.last_step.metadata["submission"]["kind"] == "tasks" and opt.last_step.metadata["usd"] == 0.0
    assert all(r[0] == "task" for r in received)


def classifier_qnode(shots=200):
    dev = qml.device("braket.local.qubit", wires=2, shots=shots)

    @qml.qnode(dev)
    def clf(x, w):
        qml.AngleEmbedding(x, wires=[0, 1])
        qml.RY(w[0], 0)
        qml.CNOT([0, 1])
        qml.RY(w[1], 1)
        return qml.expval(qml.PauliZ(1))
    return clf


def test_the_classifier_form_on_braket_is_one_program_set_per_step(received):
    clf = classifier_qnode()
    X, y, _, _ = qnb.make_dataset("blobs", n_train=20, n_test=1, seed=0)
    X = X[:, :2]
    opt = qnb.BatchSPSAOptimizer(subsample=4, seed=0, price="braket-ionq-aria")
    w = np.array([0.3, -0.2])
    planned = opt.estimate(clf, w, X[:10], y[:10], price="braket-ionq-aria")["per_step"]
    assert received == [] and (planned["jobs"], planned["circuits"]) == (1, 8)  # planned, nothing sent
    with qml.Tracker(clf.device) as tracker:
        for step in range(2):
            w, loss = opt.step_and_cost(clf, w, X[10 * step:10 * step + 10], y[10 * step:10 * step + 10])
    assert tracker.totals["batches"] == 2 and np.isfinite(loss)
    assert received == [("program_set", 8, 8 * 200)] * 2
    assert opt.last_step.metadata["usd"] == pytest.approx(0.30 + 0.03 * 8 * 200) == pytest.approx(planned["usd"])


def test_the_classifier_fits_a_braket_qnode(received):
    """QuantumClassifier(braket QNode) fits and predicts on the QNode's own device: each training
    step reaches Braket's local simulator as one program set."""
    clf_qnode = classifier_qnode(shots=100)
    X, y, _, _ = qnb.make_dataset("blobs", n_train=20, n_test=1, seed=0)
    clf = qnb.QuantumClassifier(clf_qnode, param_shape=(2,), epochs=1, batch_size=10, subsample=3, random_state=0)
    clf.fit(X[:, :2], y)
    assert clf.predict(X[:5, :2]).shape == (5,) and len(clf.history_["steps"]) == 2
    sets = [r for r in received if r[0] == "program_set"]
    assert len(sets) >= 2 and sets[0][1] == 2 * 3
