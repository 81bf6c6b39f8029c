"""The PennyLane-native front door: QNodes in, BatchSPSAOptimizer (one execution per step, state
restored bit for bit), QuantumClassifier (scikit-learn conventions), and the README's snippets."""
import json
import re
from pathlib import Path

import numpy as np
import pennylane as qml
import pytest

import qnb
from user_qnodes import seed_qnode

ROOT = Path(__file__).resolve().parent.parent
X, Y, XT, YT = qnb.make_dataset("blobs", n_train=60, n_test=40, seed=0)




# -- QNodes in ---------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", [lambda: qml.expval(qml.PauliZ(0)), lambda: qml.expval(qml.PauliX(1) @ qml.PauliY(3)),
                                     lambda: qml.expval(qml.Hermitian(np.diag([0.5, -2.0]), wires=2)),
                                     lambda: qml.probs(wires=[0, 2])])
def test_a_qnode_becomes_a_model_whose_outputs_are_the_qnodes(measure):
    qnode = seed_qnode(measure=measure)
    model = qnb.CircuitModel(qnode, n_wires=4, param_shape=(2, 4, 3), seed=0)
    tape = model.build_circuit(X[0])
    assert len(tape.operations) >= 20 and tape.num_params >= 28  # 4 RX + 8 Rot + 8 CNOT: never an empty circuit
    w = model.parameters.reshape(2, 4, 3)
    theirs = np.array([qnode(x, w) for x in X[:6]])
    if theirs.ndim == 2:  # probs: qnb reads them as the parity <Z0 Z2>
        theirs = theirs @ np.array([1, -1, -1, 1])
    np.testing.assert_allclose(model.outputs(X[:6], qnb.LocalBackend()), theirs, atol=1e-12)


def test_a_plain_function_returning_a_measurement_is_taken_too():
    def circuit(x, w):
        qml.AngleEmbedding(x, wires=range(4))
        qml.BasicEntanglerLayers(w, wires=range(4))
        return qml.expval(qml.PauliZ(1))
    model = qnb.CircuitModel(circuit, n_wires=4, param_shape=(3, 4), seed=1)
    ref = qml.QNode(circuit, qml.device("default.qubit", wires=4))
    np.testing.assert_allclose(model.outputs(X[:5], qnb.LocalBackend()),
                               [ref(x, model.parameters.reshape(3, 4)) for x in X[:5]], atol=1e-12)


@pytest.mark.parametrize("measure,message", [
    (lambda: qml.state(), "returns state"),
    (lambda: (qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliX(1))), "returns 2 measurements"),
    (lambda: qml.sample(wires=0), "returns sample"),
    (lambda: qml.var(qml.PauliZ(0)), "returns var"),
])
def test_what_cannot_be_one_job_is_refused_at_construction(measure, message):
    with pytest.raises(ValueError, match=message):
        qnb.CircuitModel(seed_qnode(measure=measure), n_wires=4, param_shape=(2, 4, 3))


def test_mid_circuit_measurements_are_refused_at_construction():
    @qml.qnode(qml.device("default.qubit", wires=2))
    def mcm(x, w):
        qml.RX(x[0], 0)
        qml.measure(0)
        qml.RY(w[0], 1)
        return qml.expval(qml.PauliZ(1))
    with pytest.raises(ValueError, match="mid-circuit measurements"):
        qnb.CircuitModel(mcm, n_wires=2, param_shape=(1,), n_features=1)


# -- the optimizer -----------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
def test_every_circuit_of_a_step_is_one_device_execution(device):
    qnode = seed_qnode(device)
    opt = qnb.BatchSPSAOptimizer(subsample=5, num_directions=2, seed=0)
    w = np.zeros((2, 4, 3))
    for step in range(3):
        with qml.Tracker(qnode.device) as tracker:
            w = opt.step(qnode, w, X[10 * step:10 * step + 10], Y[10 * step:10 * step + 10])
        assert tracker.totals["batches"] == 1 and tracker.totals["executions"] == 2 * 2 * 5
    assert w.shape == (2, 4, 3) and opt.k == 3


def test_the_optimizer_and_the_documents_estimator_are_one_code_path():
    """The same seed gives the same gradient through step_and_cost and estimate_batch_gradient."""
    model = qnb.QuantumModel(seed=3)
    est = qnb.make_estimator("spsa_subsampled", qnb.CircuitBatchManager(qnb.LocalBackend()), subsample_size=5, seed=4)
    g = est.estimate_batch_gradient(model, X[:10], Y[:10], shots=None)
    opt = qnb.BatchSPSAOptimizer(subsample=5, seed=4)
    new, loss = opt.step_and_cost(model, model.parameters, X[:10], Y[:10])
    np.testing.assert_allclose(new, model.parameters - g.metadata["a_k"] * g.gradients, atol=1e-12)
    assert loss == pytest.approx(g.function_value, abs=1e-12)


def test_training_with_the_optimizer_lowers_the_loss():
    qnode = seed_qnode()
    opt = qnb.BatchSPSAOptimizer(a=1.0, subsample=5, seed=0)
    w = np.random.default_rng(0).uniform(0, 2 * np.pi, (2, 4, 3))
    model = qnb.CircuitModel(qnode, n_wires=4, param_shape=(2, 4, 3))
    loss = lambda w: float(np.mean((model.outputs(X, qnb.LocalBackend(), params=w.ravel()) - Y) ** 2))
    start = loss(w)
    for epoch in range(5):
        for b in range(0, len(X), 10):
            w = opt.step(qnode, w, X[b:b + 10], Y[b:b + 10])
    assert loss(w) < 0.7 * start  # 1.02 -> 0.60 with this seed


@pytest.mark.parametrize("options", [dict(), dict(optimizer="adam", num_directions=2),
                                     dict(optimizer="momentum", blocking=True, regularization=0.1)])
def test_state_survives_json_and_the_next_step_is_bit_identical(options):
    qnode = seed_qnode(shots=200)
    a = qnb.BatchSPSAOptimizer(a=2.0, subsample=5, seed=1, **options)
    w = np.zeros((2, 4, 3))
    for b in range(0, 40, 10):
        w = a.step(qnode, w, X[b:b + 10], Y[b:b + 10])
    b_ = qnb.BatchSPSAOptimizer(a=2.0, subsample=5, seed=999, **options)
    b_.load_state(json.loads(json.dumps(a.state())))
    qml.math.random.seed = None
    dev_seeded = lambda: np.random.seed(5)  # pennylane's sampler draws from the device's own generator
    results = []
    for opt in (a, b_):
        dev_seeded()
        q = seed_qnode(shots=None)
        results.append(opt.step_and_cost(q, w, X[40:50], Y[40:50]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


@pytest.mark.parametrize("change,message", [
    (lambda s: s.update(k=-1), "k: expected an integer >= 0"),
    (lambda s: s.update(rng={"bit_generator": "nope"}), "rng"),
    (lambda s: s["rule"].update(t=2, m=[0.0] * 3), "m: expected None or 24"),
    (lambda s: s.update(last_point=[float("nan")] * 24), "last_point"),
    (lambda s: s.update(metric=[[0.0]], metric_steps=1), "metric"),
])
def test_a_bad_state_is_refused_and_changes_nothing(change, message):
    opt = qnb.BatchSPSAOptimizer(optimizer="momentum", blocking=True, regularization=0.1, seed=0)
    model = qnb.QuantumModel(n_qubits=2, n_layers=4, seed=0)
    w = model.parameters
    for b in range(0, 20, 10):
        w = opt.step(model, w, X[b:b + 10, :2], Y[b:b + 10])
    before = json.dumps(opt.state())
    state = json.loads(before)
    change(state)
    with pytest.raises(ValueError, match=message):
        opt.load_state(state)
    assert json.dumps(opt.state()) == before


# -- the classifier ----------------------------------------------------------------------------
def test_the_classifier_trains_on_any_two_labels_and_maps_them_back():
    labels = np.where(Y > 0, "cat", "dog")
    clf = qnb.QuantumClassifier(seed_qnode(), param_shape=(2, 4, 3), a=1.0, epochs=3, random_state=0).fit(X, labels)
    assert set(clf.predict(XT)) <= {"cat", "dog"} and list(clf.classes_) == ["cat", "dog"]
    assert clf.score(XT, np.where(YT > 0, "cat", "dog")) >= 0.8
    assert clf.n_jobs_ == len(clf.history_["steps"]) == 3 * 6  # one job per step
    assert clf.params_.shape == (2, 4, 3)


def test_the_classifier_follows_scikit_learns_conventions():
    from sklearn.base import clone
    from sklearn.model_selection import KFold, cross_val_score
    clf = qnb.QuantumClassifier(seed_qnode(), param_shape=(2, 4, 3), epochs=2, random_state=0)
    assert clf.get_params()["epochs"] == 2 and clf.set_params(epochs=1).epochs == 1
    assert not hasattr(clone(clf), "model_")
    with pytest.raises(AttributeError, match="not fitted"):
        clf.predict(XT)
    folds = KFold(3)
    scores = cross_val_score(clf, X, Y, cv=folds)
    by_hand = [clone(clf).fit(X[tr], Y[tr]).score(X[te], Y[te]) for tr, te in folds.split(X)]
    np.testing.assert_array_equal(scores, by_hand)


def test_the_classifier_refuses_bad_input_before_any_job():
    clf = qnb.QuantumClassifier(seed_qnode(), param_shape=(2, 4, 3))
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        clf.fit(X[:9], np.zeros(9))
    with pytest.raises(ValueError, match="param_shape"):
        qnb.QuantumClassifier(seed_qnode()).fit(X, Y)


# -- the README runs as written ------------------------------------------------------------------
def readme_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize("index", range(1, len(readme_snippets())))
def test_every_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a snippet may write a checkpoint
    from pennylane_ionq import api_client  # a snippet may point the clients at an emulator: restored after
    monkeypatch.setattr(api_client.APIClient, "BASE_URL", api_client.APIClient.BASE_URL)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    exec(compile(readme_snippets()[index], f"README snippet {index}", "exec"), {})


def test_the_readme_quick_start_runs_as_written(capsys):
    first = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    exec(compile(first, "README quick start", "exec"), {})
    first_line, execution = capsys.readouterr().out.splitlines()
    score, jobs, circuits = first_line.split()
    assert float(score) >= 0.8 and int(jobs) == 50 and int(circuits) == 500
    assert "'shots': None, 'shots_from': 'the QNode'" in execution  # an analytic QNode: exact, not qnb's 1000


# -- what an adversarial review found (each failed before its fix) -------------------------------
def two_wire(measure, device="default.qubit", wires=2, shots=None):
    @qml.qnode(qml.device(device, wires=wires), shots=shots)
    def f(x, w):
        qml.RX(x[0], 0)
        qml.RY(w[0], 0)
        qml.CNOT([0, 1])
        qml.RY(x[1] + w[1], 1)
        return measure(x, w)
    return f


@pytest.mark.parametrize("measure", [lambda x, w: qml.expval(w[2] * qml.PauliZ(1)),
                                     lambda x, w: qml.expval(qml.Hamiltonian([w[1], 1.0], [qml.PauliZ(0), qml.PauliZ(1)])),
                                     lambda x, w: qml.expval(qml.Hermitian(np.diag([x[0], -1.0]), wires=0))])
def test_an_observable_that_depends_on_x_or_params_is_refused(measure):
    with pytest.raises(ValueError, match="observable depends on x or the parameters"):
        qnb.CircuitModel(two_wire(measure), n_wires=2, param_shape=(3,))


@pytest.mark.parametrize("measure,message", [(lambda x, w: qml.probs(), "names no wires"),
                                             (lambda x, w: qml.expval(qml.PauliZ(0)), None)])
def test_probs_without_wires_is_refused_and_a_plain_expval_is_not(measure, message):
    if message:
        with pytest.raises(ValueError, match=message):
            qnb.CircuitModel(two_wire(measure), n_wires=2, param_shape=(3,))
    else:
        qnb.CircuitModel(two_wire(measure), n_wires=2, param_shape=(3,))


def test_empty_circuits_shot_vectors_and_odd_wire_labels_are_refused():
    @qml.qnode(qml.device("default.qubit", wires=2))
    def empty(x, w):
        return qml.expval(qml.PauliZ(1))
    with pytest.raises(ValueError, match="no operations"):
        qnb.CircuitModel(empty, n_wires=2, param_shape=(1,))
    with pytest.raises(ValueError, match="shot vector"):
        qnb.CircuitModel(two_wire(lambda x, w: qml.expval(qml.PauliZ(0)), shots=[100, 200]), n_wires=2, param_shape=(3,))
    with pytest.raises(ValueError, match=r"wires labelled 0..1"):
        qnb.CircuitModel.from_qnode(two_wire(lambda x, w: qml.expval(qml.PauliZ("b")), wires=["a", "b"]), (3,))


def test_an_embedding_that_needs_unit_norm_x_is_recorded_and_keeps_its_measurement():
    @qml.qnode(qml.device("default.qubit", wires=2), shots=100)
    def amp(x, w):
        qml.AmplitudeEmbedding(x, wires=[0, 1])
        qml.RY(w[0], 0)
        return qml.expval(qml.PauliZ(0))
    model = qnb.CircuitModel(amp, n_wires=2, param_shape=(1,), n_features=4)
    assert model.qnode_shots == 100 and model.readout_wires == (0,)

    @qml.qnode(qml.device("default.qubit", wires=2))
    def broken(x, w):
        raise RuntimeError("user bug")
    with pytest.raises(ValueError, match=r"cannot be recorded .* \(RuntimeError: user bug\)"):
        qnb.CircuitModel(broken, n_wires=2, param_shape=(1,))


def test_qnspsa_runs_circuits_with_gates_that_have_no_adjoint_method():
    @qml.qnode(qml.device("default.qubit", wires=2))
    def f(x, w):
        qml.RX(x[0], 0)
        qml.T(1)
        qml.RY(w[0], 1)
        qml.CNOT([0, 1])
        qml.RX(w[1], 0)
        return qml.expval(qml.PauliY(1))  # diagonalised with S
    opt = qnb.BatchSPSAOptimizer(regularization=0.1, seed=0)
    with qml.Tracker(f.device) as tracker:
        opt.step(f, np.array([0.3, 0.2]), X[:10, :2], Y[:10])
    assert tracker.totals["batches"] == 1 and tracker.totals["executions"] == 2 * 10 + 4


def test_the_optimizer_refuses_bad_params_before_any_execution():
    qnode = seed_qnode()
    opt = qnb.BatchSPSAOptimizer(optimizer="adam", seed=0)
    with qml.Tracker(qnode.device) as tracker:
        with pytest.raises(ValueError, match="params: must be finite"):
            opt.step(qnode, np.full((2, 4, 3), np.nan), X[:10], Y[:10])
        opt.step(qnode, np.zeros((2, 4, 3)), X[:10], Y[:10])
        with pytest.raises(ValueError, match="params: 36 parameters, but this optimizer's state is for 24"):
            opt.step(qnode, np.zeros((3, 4, 3)), X[:10], Y[:10])
    assert tracker.totals["batches"] == 1 and opt.k == 1


@pytest.mark.parametrize("other,field", [(dict(optimizer="sgd"), "optimizer='adam', this one has 'sgd'"),
                                         (dict(optimizer="adam", blocking=True), "blocking"),
                                         (dict(optimizer="adam", c=0.1), "c=0.2, this one has 0.1")])
def test_a_state_is_restored_only_into_the_same_options(other, field):
    a = qnb.BatchSPSAOptimizer(optimizer="adam", seed=0)
    a.step(qnb.QuantumModel(seed=0), qnb.QuantumModel(seed=0).parameters, X[:10], Y[:10])
    b = qnb.BatchSPSAOptimizer(**other)
    before = json.dumps(b.state())
    with pytest.raises(ValueError, match=re.escape(field)):
        b.load_state(a.state())
    assert json.dumps(b.state()) == before


@pytest.mark.parametrize("change,message", [(lambda s: s["rule"].update(v=[-1.0] * 48), "v: a second moment"),
                                            (lambda s: s.update(k=10**30), "k: expected a step count"),
                                            (lambda s: s["rng"]["state"].update(state=-5), "rng: not a generator")])
def test_impossible_states_are_refused(change, message):
    a = qnb.BatchSPSAOptimizer(optimizer="adam", seed=0)
    a.step(qnb.QuantumModel(seed=0), qnb.QuantumModel(seed=0).parameters, X[:10], Y[:10])
    state = json.loads(json.dumps(a.state()))
    change(state)
    with pytest.raises(ValueError, match=message):
        qnb.BatchSPSAOptimizer(optimizer="adam").load_state(state)


@pytest.mark.parametrize("budget", [dict(budget_usd=400.0), dict(budget_s=1.0)])
def test_a_budget_covers_the_calibration_job(budget):
    t = qnb.QuantumTrainer(qnb.TrainingConfig(epochs=1, calibrate=True, price="braket-ionq-aria", n_train=30,
                                              n_test=10, shots_per_circuit=100, gradient_subsample_size=5,
                                              num_directions=1))  # given: the calibration job dearer than 400 $
    h = t.fit(progress=False, **budget)
    assert t.manager.stats.jobs == 0 and h["calibration"] is None and h["epochs"][-1]["partial"]


def test_the_classifier_takes_any_number_of_features_and_refuses_nan_or_none_labels():
    qnode = two_wire(lambda x, w: qml.expval(qml.PauliZ(1)))
    clf = qnb.QuantumClassifier(qnode, param_shape=(3,), epochs=1, random_state=0).fit(X[:, :2], Y)
    assert clf.n_features_in_ == 2 and clf.predict(XT[:, :2]).shape == (len(XT),)
    assert qnb.QuantumClassifier(epochs=1).fit(X[:, :3], Y).model_.n_features == 3
    with pytest.raises(ValueError, match="NaN"):
        qnb.QuantumClassifier(epochs=1).fit(X, np.where(Y > 0, 1.0, np.nan))
    with pytest.raises(ValueError, match="no None"):
        qnb.QuantumClassifier(epochs=1).fit(X, np.array([1 if v > 0 else None for v in Y], dtype=object))


def test_a_price_sheet_object_in_a_config_is_refused_and_an_estimate_needs_a_sheet():
    with pytest.raises(ValueError, match="price: the name of a sheet"):
        qnb.TrainingConfig(price=qnb.PRICES["azure-ionq"])
    t = qnb.QuantumTrainer(qnb.TrainingConfig(n_train=30, n_test=10))
    with pytest.raises(ValueError, match="price: name a price sheet"):
        t.estimate()
    with pytest.raises(ValueError, match="epochs: must be an integer >= 1"):
        t.estimate("azure-ionq", epochs=0)


# -- the classifier on the user's device and shots (issue 26) ------------------------------------
def mixed_qnode(shots=None, p=0.05):
    dev = qml.device("default.mixed", wires=4)

    @qml.qnode(dev, shots=shots)
    def noisy(x, w):
        qml.AngleEmbedding(x, wires=range(4))
        qml.StronglyEntanglingLayers(w, wires=range(4))
        qml.DepolarizingChannel(p, wires=0)
        return qml.expval(qml.PauliZ(0))
    return noisy


def test_a_noisy_qnode_on_default_mixed_runs_every_step_on_its_device_as_one_batch():
    qnode = mixed_qnode()
    with qml.Tracker(qnode.device) as tracker:
        clf = qnb.QuantumClassifier(qnode, param_shape=(2, 4, 3), epochs=1, random_state=0).fit(X[:40], Y[:40])
    steps = len(clf.history_["steps"])
    assert steps == 4 and clf.n_jobs_ == steps and clf.n_circuits_ == steps * 2 * 5
    assert tracker.totals["batches"] == clf.n_jobs_ and tracker.totals["executions"] == clf.n_circuits_
    assert clf.history_["execution"]["device"] == "default.mixed" and "QNode's device" in clf.history_["execution"]["runs_on"]
    # exact predictions include the channel: they are the QNode's own values at the fitted parameters
    np.testing.assert_allclose(clf.decision_function(XT[:5]), [qnode(x, clf.params_) for x in XT[:5]], atol=1e-10)
    ideal = seed_qnode()
    assert not np.allclose(clf.decision_function(XT[:5]), [ideal(x, clf.params_) for x in XT[:5]], atol=1e-3)


def test_hardware_predictions_are_one_job_on_the_device_at_the_fits_shots():
    qnode = mixed_qnode(shots=100)
    clf = qnb.QuantumClassifier(qnode, param_shape=(2, 4, 3), epochs=1, predict_on="device", random_state=0)
    clf.fit(X[:20], Y[:20])
    with qml.Tracker(qnode.device) as tracker:
        f = clf.decision_function(XT[:7])
    assert tracker.totals["batches"] == 1 and tracker.totals["executions"] == 7 and tracker.totals["shots"] == 700
    assert np.all(np.abs(np.round(f * 50) - f * 50) < 1e-9)  # (n+ - n-)/100 from 100 shots: a multiple of 1/50


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
def test_a_state_vector_qnode_runs_on_qnbs_simulator_and_says_so(device):
    qnode = seed_qnode(device)
    with qml.Tracker(qnode.device) as tracker:
        clf = qnb.QuantumClassifier(qnode, param_shape=(2, 4, 3), epochs=1, random_state=0).fit(X[:20], Y[:20])
    assert tracker.totals.get("batches", 0) == 0 and clf.n_jobs_ == 2
    assert clf.history_["execution"]["runs_on"].startswith("qnb's numpy simulator (the same probabilities as " + device)


@pytest.mark.parametrize("qnode_shots,shots,expect,source", [
    (None, "auto", None, "the QNode"), (200, "auto", 200, "the QNode"), (200, 50, 50, "shots="),
    (200, None, None, "shots=")])
def test_shots_come_from_shots_then_the_qnode(qnode_shots, shots, expect, source):
    clf = qnb.QuantumClassifier(seed_qnode(shots=qnode_shots), param_shape=(2, 4, 3), shots=shots, epochs=1,
                                random_state=0).fit(X[:20], Y[:20])
    assert clf.history_["execution"]["shots"] == expect and clf.history_["execution"]["shots_from"] == source
    assert [s["shots"] for s in clf.history_["steps"]] == [10 * (expect or 0)] * 2


def test_qnbs_own_circuit_has_qnbs_default_shots_said_as_such():
    clf = qnb.QuantumClassifier(epochs=1, random_state=0).fit(X[:20], Y[:20])
    assert clf.history_["execution"]["shots"] == 1000 and clf.history_["execution"]["shots_from"] == "qnb's default"


@pytest.mark.parametrize("qnode,backend", [
    (lambda: mixed_qnode(), "local"), (lambda: seed_qnode(), "ionq"),
    (lambda: seed_qnode(), lambda: qnb.IonQBackend(api_key="never-used", api_url="http://127.0.0.1:9/v0.4"))])
def test_a_backend_that_contradicts_the_qnodes_device_is_refused_before_any_job(qnode, backend):
    qnode = qnode()
    backend = backend() if callable(backend) else backend
    with qml.Tracker(qnode.device) as tracker, pytest.raises(ValueError, match="change one: drop backend= to run on"):
        qnb.QuantumClassifier(qnode, param_shape=(2, 4, 3), backend=backend, epochs=1).fit(X[:20], Y[:20])
    assert tracker.totals.get("batches", 0) == 0


def test_backend_strings_are_qnbs_backends_and_others_are_refused():
    clf = qnb.QuantumClassifier(backend="local", epochs=1, random_state=0).fit(X[:20], Y[:20])
    assert clf.n_jobs_ == 2 and isinstance(clf.trainer_.backend, qnb.LocalBackend)
    with pytest.raises(ValueError, match="backend: unknown backend 'aws'; allowed: 'local', 'ionq'"):
        qnb.QuantumClassifier(backend="aws").fit(X[:20], Y[:20])


@pytest.mark.integration
def test_an_ionq_qnode_and_backend_ionq_send_one_job_per_step_to_the_emulator(monkeypatch):
    from pennylane_ionq import api_client
    from qnb.emulator import Emulator
    with Emulator(latency_scale=0.0005) as emu:
        monkeypatch.setattr(api_client.APIClient, "BASE_URL", emu.url)
        dev = qml.device("ionq.simulator", wires=4, api_key=emu.api_key)
        classifier = seed_qnode(dev, shots=300)
        with qml.Tracker(dev) as tracker:
            clf = qnb.QuantumClassifier(classifier, param_shape=(2, 4, 3), epochs=1, random_state=0).fit(X[:30], Y[:30])
        assert clf.n_jobs_ == len(clf.history_["steps"]) == 3 == emu.stats["jobs_created"] == tracker.totals["batches"]
        assert emu.stats["circuits"] == clf.n_circuits_ == 30 and emu.stats["shots"] == 30 * 300
        assert clf.history_["execution"]["shots"] == 300 and clf.history_["execution"]["device"] == "ionq.simulator"
        clf.score(XT, YT)  # exact and local: no job
        assert emu.stats["jobs_created"] == 3
        # backend="ionq" (a string): qnb's IonQ backend, through QNB_IONQ_URL and the key's variable
        monkeypatch.setenv("QNB_IONQ_URL", emu.url)
        monkeypatch.setenv("PENNYLANE_IONQ_API_KEY", emu.api_key)
        clf = qnb.QuantumClassifier(backend="ionq", shots=100, epochs=1, random_state=0).fit(X[:20], Y[:20])
        assert clf.n_jobs_ == 2 and emu.stats["jobs_created"] == 3 + 2


def test_three_classes_share_every_steps_job_and_beat_chance_on_iris():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler
    x, y = load_iris(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(MinMaxScaler((0, np.pi)).fit_transform(x), y, test_size=0.3, stratify=y,
                                          random_state=0)
    clf = qnb.QuantumClassifier(epochs=5, random_state=0).fit(xtr, ytr)
    steps = len(clf.history_["steps"])
    assert clf.n_jobs_ == steps and clf.n_circuits_ == steps * 2 * 5 * 3  # 5 samples x 3 heads, +-, ONE job
    assert clf.history_["execution"]["heads"] == 3 and clf.params_.shape == (3, 4, 4, 3)
    assert clf.score(xte, yte) >= 0.9  # 0.933 at random_state=0; chance is 1/3 (tools/multiclass.py: the comparison)
    p = clf.predict_proba(xte)
    np.testing.assert_allclose(p.sum(axis=1), 1) and np.testing.assert_array_equal(clf.classes_[p.argmax(1)],
                                                                                   clf.predict(xte))


def test_predict_proba_is_one_plus_f_over_two_and_log_loss_scoring_works():
    from sklearn.model_selection import cross_val_score
    clf = qnb.QuantumClassifier(epochs=1, random_state=0).fit(X[:20], Y[:20])
    np.testing.assert_allclose(clf.predict_proba(XT)[:, 1], (1 + clf.decision_function(XT)) / 2)
    assert np.all(np.isfinite(cross_val_score(qnb.QuantumClassifier(epochs=1, random_state=0), X, Y, cv=3,
                                              scoring="neg_log_loss")))


def test_sample_weight_zero_drops_a_row_and_equal_weights_change_nothing():
    a = qnb.QuantumClassifier(epochs=1, random_state=0).fit(X[:30], Y[:30])
    b = qnb.QuantumClassifier(epochs=1, random_state=0).fit(X[:30], Y[:30], sample_weight=np.full(30, 2.5))
    c = qnb.QuantumClassifier(epochs=1, random_state=0).fit(np.vstack([X[:30], X[30:40]]), np.r_[Y[:30], Y[30:40]],
                                                            sample_weight=np.r_[np.ones(30), np.zeros(10)])
    np.testing.assert_array_equal(a.params_, b.params_) and np.testing.assert_array_equal(a.params_, c.params_)
    d = qnb.QuantumClassifier(epochs=1, random_state=0).fit(X[:30], Y[:30], sample_weight=np.arange(1, 31))
    assert not np.array_equal(a.params_, d.params_)


def test_seed_still_works_as_a_deprecated_name_of_random_state():
    with pytest.warns(FutureWarning, match="renamed random_state"):
        old = qnb.QuantumClassifier(epochs=1, seed=3).fit(X[:20], Y[:20])
    np.testing.assert_array_equal(old.params_, qnb.QuantumClassifier(epochs=1, random_state=3).fit(X[:20], Y[:20]).params_)


def test_pandas_column_names_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X[:20], columns=["a", "b", "c", "d"])
    clf = qnb.QuantumClassifier(epochs=1, random_state=0).fit(frame, Y[:20])
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame.rename(columns={"a": "z"}))


def test_predicting_before_fit_is_scikit_learns_not_fitted_error():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        qnb.QuantumClassifier().predict(XT)


FIT_AND_DUMP = """
import joblib, pickle, sys
import numpy as np
import qnb
{define}
X, Y, XT, _ = qnb.make_dataset("blobs", n_train=20, n_test=10, seed=0)
clf = qnb.QuantumClassifier({circuit}, param_shape=(2, 2, 3), epochs=1, random_state=0).fit(X[:, :2], Y)
joblib.dump(clf, sys.argv[1])
again = pickle.loads(pickle.dumps(clf))
assert np.array_equal(again.decision_function(XT[:, :2]), clf.decision_function(XT[:, :2]))
print(clf.decision_function(XT[:, :2]).tolist())
"""
IN_MAIN = """
import pennylane as qml
dev = qml.device("default.qubit", wires=2)

@qml.qnode(dev)
def sel(x, w):
    qml.AngleEmbedding(x, wires=range(2))
    qml.StronglyEntanglingLayers(w, wires=range(2))
    return qml.expval(qml.PauliZ(0))
"""


@pytest.mark.parametrize("define,circuit", [(IN_MAIN, "sel"), ("from user_qnodes import two_wire", "two_wire")])
def test_a_fitted_classifier_on_a_module_level_qnode_is_saved_and_loaded(define, circuit, tmp_path):
    import subprocess
    import sys
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parent)}
    path = tmp_path / "clf.joblib"
    out = subprocess.run([sys.executable, "-c", FIT_AND_DUMP.format(define=define, circuit=circuit), str(path)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    if circuit == "two_wire":  # a real module: another process loads it and predicts the same
        import joblib
        clf = joblib.load(path)
        expected = np.array(eval(out.stdout.strip().splitlines()[-1]))
        np.testing.assert_array_equal(clf.decision_function(qnb.make_dataset("blobs", n_train=20, n_test=10,
                                                                             seed=0)[2][:, :2]), expected)


def test_an_explicit_device_backend_of_the_qnodes_own_device_is_taken():
    from qnb.devices import DeviceBackend
    qnode = mixed_qnode()
    with qml.Tracker(qnode.device) as tracker:
        clf = qnb.QuantumClassifier(qnode, param_shape=(2, 4, 3), backend=DeviceBackend(qnode.device), epochs=1,
                                    random_state=0).fit(X[:20], Y[:20])
    assert clf.n_jobs_ == tracker.totals["batches"] == 2
    np.testing.assert_allclose(clf.decision_function(XT[:3]), [qnode(x, clf.params_) for x in XT[:3]], atol=1e-10)
