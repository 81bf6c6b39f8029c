"""PennyLane's optimizer form on BatchSPSAOptimizer: step(cost_fn, *args, **kwargs) for any scalar
cost, every circuit of a step in ONE device execution, the same mathematics as qml.SPSAOptimizer."""
import warnings

import numpy as np
import pennylane as qml
import pytest
from pennylane import numpy as pnp

import qnb
from user_qnodes import vqe_ansatz

warnings.filterwarnings("ignore", category=DeprecationWarning)

# non-commuting terms: qml.expval(H) needs more than one measurement basis
H = qml.Hamiltonian([0.5, -0.8, 0.3], [qml.PauliZ(0) @ qml.PauliZ(1), qml.PauliX(0), qml.PauliY(1)])


def vqe(shots=None, seed=None):
    dev = qml.device("default.qubit", wires=2, seed=seed)

    @qml.set_shots(shots=shots)
    @qml.qnode(dev)
    def energy(w, scale=1.0):
        return vqe_ansatz(w, H, scale)
    return energy


def w0():
    return pnp.array([0.1, 0.2, 0.3], requires_grad=True)


def test_a_vqe_step_is_one_batch_where_pennylane_spends_two_and_three():
    energy = vqe()
    counts = {}
    for name, call in [("qnb.step", lambda: qnb.BatchSPSAOptimizer(maxiter=20, seed=0).step(energy, w0())),
                       ("qnb.step_and_cost", lambda: qnb.BatchSPSAOptimizer(maxiter=20, seed=0).step_and_cost(energy, w0())),
                       ("qml.step", lambda: qml.SPSAOptimizer(maxiter=20).step(energy, w0())),
                       ("qml.step_and_cost", lambda: qml.SPSAOptimizer(maxiter=20).step_and_cost(energy, w0()))]:
        with qml.Tracker(energy.device) as tracker:
            call()
        counts[name] = tracker.totals["batches"]
    assert counts == {"qnb.step": 1, "qnb.step_and_cost": 1, "qml.step": 2, "qml.step_and_cost": 3}


def _same_directions(monkeypatch, opt):
    """qml.SPSAOptimizer draws Delta from np.random.choice: hand it the direction qnb draws next."""
    state = opt.rng.bit_generator.state
    delta = opt.rng.choice([-1.0, 1.0], size=(1, 4))[0]
    opt.rng.bit_generator.state = state
    parts = iter([delta[:3], delta[3:]])
    monkeypatch.setattr(np.random, "choice", lambda values, size: next(parts).reshape(size))


def test_the_same_step_and_cost_as_qml_spsa_with_several_trainable_arguments(monkeypatch):
    """Two trainable arrays, a non-trainable one and a keyword argument: the new arguments and the
    returned cost equal qml.SPSAOptimizer's to 1e-12 given the same direction."""
    energy = vqe()

    def cost(w, b, x, scale=1.0):
        return energy(w, scale=scale) + 0.5 * qml.math.sum(b ** 2) + x[0]

    args = (w0(), pnp.array([0.4], requires_grad=True), np.array([0.25]))
    ours = qnb.BatchSPSAOptimizer(maxiter=30, seed=3)
    _same_directions(monkeypatch, ours)
    ref = qml.SPSAOptimizer(maxiter=30)
    (rw, rb, rx), rcost = ref.step_and_cost(cost, *args, scale=0.7)
    monkeypatch.undo()
    with qml.Tracker(energy.device) as tracker:
        (w, b, x), c = ours.step_and_cost(cost, *args, scale=0.7)
    assert tracker.totals["batches"] == 1
    np.testing.assert_allclose(w, rw, atol=1e-12)
    np.testing.assert_allclose(b, rb, atol=1e-12)
    assert x is args[2] and isinstance(w, pnp.tensor) and w.requires_grad
    assert c == pytest.approx(float(rcost), abs=1e-12)
    assert (ours.gains.A, ours.gains.a) == (pytest.approx(ref.A), pytest.approx(ref.a))


def test_maxiter_sets_A_and_pennylanes_a_and_an_explicit_A_wins():
    opt = qnb.BatchSPSAOptimizer(maxiter=200)
    assert opt.gains.A == pytest.approx(20.0) and opt.gains.a == pytest.approx(0.05 * 21 ** 0.602)
    assert qnb.BatchSPSAOptimizer(maxiter=200, A=3.0).gains.A == 3.0
    plain = qnb.BatchSPSAOptimizer()
    assert (plain.gains.a, plain.gains.A) == (0.3, 5.0)
    with pytest.raises(ValueError, match="maxiter"):
        qnb.BatchSPSAOptimizer(maxiter=-1)


def test_a_function_of_two_qnodes_is_one_batch_and_its_value_is_the_functions():
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def zz(w):
        qml.RY(w[0], 0)
        qml.CNOT([0, 1])
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

    @qml.qnode(dev)
    def probs(w):
        qml.RX(w[1], 1)
        return qml.probs(wires=[1])

    def cost(w):
        p = probs(w)
        return zz(w) ** 2 + 0.5 * p[1] - 0.1 * zz(2 * w)

    w = pnp.array([0.3, -0.6], requires_grad=True)
    opt = qnb.BatchSPSAOptimizer(num_directions=2, seed=1)
    with qml.Tracker(dev) as tracker:
        _, c = opt.step_and_cost(cost, w)
    assert tracker.totals["batches"] == 1
    assert tracker.totals["executions"] == 3 * (2 * 2 + 1)  # three calls at 5 points
    assert c == pytest.approx(float(cost(w)), abs=1e-12)


def test_recording_runs_no_circuit(monkeypatch):
    """Each step is one call of the device's execute, holding every tape of the step."""
    energy = vqe()
    calls = []
    real = type(energy.device).execute

    def execute(self, circuits, execution_config=None):
        calls.append(len(circuits))
        return real(self, circuits, execution_config)
    monkeypatch.setattr(type(energy.device), "execute", execute)
    opt = qnb.BatchSPSAOptimizer(num_directions=3, seed=0)
    opt.step_and_cost(energy, w0())
    assert len(calls) == 1 and opt.last_step.metadata["tapes"] == 7


def test_calls_that_depend_on_earlier_results_are_refused_and_nothing_moves():
    dev = qml.device("default.qubit", wires=1)

    @qml.qnode(dev)
    def first(w):
        qml.RX(w[0], 0)
        return qml.expval(qml.PauliZ(0))

    @qml.qnode(dev)
    def second(angle):
        qml.RY(angle, 0)
        return qml.expval(qml.PauliZ(0))

    opt = qnb.BatchSPSAOptimizer(seed=0)
    w = pnp.array([0.4], requires_grad=True)
    with pytest.raises(ValueError, match="depend on the results"):
        opt.step(lambda v: second(first(v)), w)
    assert opt.k == 0 and opt.rng.bit_generator.state == np.random.default_rng(0).bit_generator.state


def test_a_nan_energy_raises_naming_the_step_and_moves_nothing():
    energy = vqe()
    opt = qnb.BatchSPSAOptimizer(optimizer="adam", seed=0)
    w = opt.step(energy, w0())
    before = (opt.k, opt.rng.bit_generator.state, opt.rule.state())

    def broken(v):
        return pnp.log(energy(v) - 5.0)  # the log of a negative number: NaN
    with pytest.raises(qnb.NonFiniteError, match="step 1: the cost is NaN") as err:
        opt.step_and_cost(broken, w)
    assert err.value.step == 1
    assert (opt.k, opt.rng.bit_generator.state, opt.rule.state()) == before
    again = opt.step(energy, w)  # the optimizer goes on as if the failed step had not been tried
    twin = qnb.BatchSPSAOptimizer(optimizer="adam", seed=0)
    np.testing.assert_array_equal(again, twin.step(energy, twin.step(energy, w0())))


def two_wire_classifier():
    """A QNode in the classifier form qnode(x, w): two features, one trainable angle."""
    @qml.qnode(qml.device("default.qubit", wires=2))
    def clf(x, w):
        qml.AngleEmbedding(x, wires=[0, 1])
        qml.RY(w[0], 0)
        return qml.expval(qml.PauliZ(0))
    return clf


def test_an_infinite_batch_loss_in_the_classifier_form_raises_before_the_parameters_move():
    clf = two_wire_classifier()
    X, y = np.random.default_rng(0).uniform(-1, 1, (6, 2)), np.array([1, -1] * 3)
    opt = qnb.BatchSPSAOptimizer(seed=0)
    w = np.array([0.2])
    with pytest.raises(qnb.NonFiniteError, match="step 0: the batch loss is infinite"):
        opt.step(clf, w, X, y, loss=lambda out, t: np.where(out != 0, np.inf, 0.0))  # finite on qnb's dummy outputs (zeros) only
    assert opt.k == 0 and w[0] == 0.2
    assert opt.step(clf, w, X, y).shape == (1,)


def test_how_the_two_forms_are_told_apart():
    clf = two_wire_classifier()
    X, y = np.random.default_rng(1).uniform(-1, 1, (4, 2)), np.array([1, -1, 1, -1])
    w = pnp.array([0.2], requires_grad=True)
    for call in (lambda o: o.step(clf, w, X, y), lambda o: o.step(clf, w, X=X, y=y),
                 lambda o: o.step(clf, params=w, X=X, y=y, loss=qnb.square_loss)):
        opt = qnb.BatchSPSAOptimizer(seed=0)
        call(opt)
        assert opt.last_step.method == "spsa_parallel"  # the classifier form

    def cost(v, X, y):  # PennyLane's form with data passed by name, as PennyLane's demos do
        return sum((clf(x, v) - t) ** 2 for x, t in zip(X, y)) / len(y)
    opt = qnb.BatchSPSAOptimizer(seed=0)
    new, c = opt.step_and_cost(cost, w, X=X, y=y)
    assert opt.last_step.method == "spsa_pennylane" and c == pytest.approx(float(cost(w, X, y)), abs=1e-12)


def test_what_the_pennylane_form_refuses_before_any_execution():
    energy = vqe()
    opt = qnb.BatchSPSAOptimizer(seed=0)
    with qml.Tracker(energy.device) as tracker:
        with pytest.raises(ValueError, match="nothing to train"):
            opt.step(energy, np.array([0.1, 0.2, 0.3]))  # plain NumPy: PennyLane does not train it
        with pytest.raises(ValueError, match="must be a scalar"):
            opt.step(lambda v: qml.math.stack([energy(v), energy(v)]), w0())
        with pytest.raises(ValueError, match="calls no QNode"):
            opt.step(lambda v: qml.math.sum(v ** 2), w0())
        with pytest.raises(ValueError, match="params: must be finite"):
            opt.step(energy, pnp.array([np.nan, 0.0, 0.0], requires_grad=True))
        with pytest.raises(ValueError, match="subsample"):
            qnb.BatchSPSAOptimizer(subsample=2).step(energy, w0())
        other = vqe()
        with pytest.raises(ValueError, match="2 devices"):
            opt.step(lambda v: energy(v) + other(v), w0())
    assert tracker.totals.get("batches", 0) == 0 and opt.k == 0


def test_the_step_only_form_spends_no_circuit_on_the_cost_and_cost_at_perturbed_neither():
    energy = vqe()
    sizes = {}
    for name, opt, call in [("step", qnb.BatchSPSAOptimizer(seed=0), "step"),
                            ("params", qnb.BatchSPSAOptimizer(seed=0), "step_and_cost"),
                            ("perturbed", qnb.BatchSPSAOptimizer(seed=0, cost_at="perturbed"), "step_and_cost")]:
        out = getattr(opt, call)(energy, w0())
        sizes[name] = opt.last_step.metadata["tapes"]
        if name == "perturbed":
            e_plus_minus = out[1]
    assert sizes == {"step": 2, "params": 3, "perturbed": 2}
    assert e_plus_minus != pytest.approx(float(energy(w0())), abs=1e-6)
    with pytest.raises(ValueError, match="cost_at"):
        qnb.BatchSPSAOptimizer(cost_at="middle")


def test_finite_shots_the_state_round_trip_and_vqe_converges():
    energy = vqe(shots=2000, seed=7)
    exact = vqe()
    opt = qnb.BatchSPSAOptimizer(a=0.6, maxiter=60, seed=2)
    w = w0()
    for _ in range(30):
        w = opt.step(energy, w)
    twin = qnb.BatchSPSAOptimizer(a=0.6, maxiter=60)
    twin.load_state(opt.state())
    assert twin.k == 30
    for _ in range(30):
        w = opt.step(energy, w)
    assert float(exact(w0())) == pytest.approx(0.452, abs=1e-3) and float(exact(w)) < -0.75  # fell by > 1.2


def test_a_qnode_with_its_own_transform_is_recorded_with_it():
    """construct_batch at the user level: a QNode that splits its Hamiltonian itself runs its own
    tapes, still in one batch, and its value is the QNode's."""
    dev = qml.device("default.qubit", wires=2)

    @qml.transforms.split_non_commuting
    @qml.qnode(dev)
    def energy(w):
        return vqe_ansatz(w, H)

    opt = qnb.BatchSPSAOptimizer(seed=0)
    with qml.Tracker(dev) as tracker:
        _, e = opt.step_and_cost(energy, w0())
    assert tracker.totals["batches"] == 1 and opt.last_step.metadata["tapes"] > 3
    assert e == pytest.approx(float(energy(w0())), abs=1e-12)


def test_import_qnb_and_a_step_on_default_qubit_load_no_braket():
    import subprocess
    import sys
    code = ("import sys, qnb, pennylane as qml; from pennylane import numpy as pnp\n"
            "dev = qml.device('default.qubit', wires=1)\n"
            "f = qml.QNode(lambda w: (qml.RX(w[0], 0), qml.expval(qml.PauliZ(0)))[1], dev)\n"
            "qnb.BatchSPSAOptimizer(seed=0).step(f, pnp.array([0.1], requires_grad=True))\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] == 'braket'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
