"""Bring your own circuit and data: any PennyLane circuit, any loss, arrays of any size."""
import ast
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pennylane as qml
import pytest
from pennylane import numpy as pnp

import qnb
from qnb.research import experiments as E

ROOT = Path(__file__).resolve().parent.parent


def entangler(x, w):
    """A user circuit from templates: any width (from the weights), any parameter shape."""
    n = w.shape[1]
    qml.AngleEmbedding(x, wires=range(n))
    qml.BasicEntanglerLayers(w, wires=range(n))


def shared_angles(x, w):
    """Parameters that feed gates which are not single Pauli rotations, and a shared angle."""
    qml.AngleEmbedding(x, wires=range(3))
    qml.BasicEntanglerLayers(w[:2], wires=range(3))
    qml.CRX(w[2, 0], wires=[0, 1])
    qml.Rot(w[2, 1], w[2, 1], w[2, 2], wires=2)
    qml.CNOT([2, 0])


def reuploading(x, w):
    """Not affine in (x, params): data re-uploading with trainable scales (the recorded path)."""
    for layer in range(2):
        for i in range(3):
            qml.RY(w[layer, i] * x[i], wires=i)
            qml.RZ(w[layer, i] ** 2, wires=i)
        qml.CNOT([0, 1])
        qml.CNOT([1, 2])


def user_data(n, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=(n + 20, n_features))
    y = np.where(x[:, 0] + 0.3 * x[:, -1] > 0, 1, -1)
    return x[:n], y[:n], x[n:], y[n:]


def qnode_batch_loss(circuit, n_wires, shape, x, y, loss):
    """The same batch loss as a plain PennyLane QNode, for qml.grad."""
    @qml.qnode(qml.device("default.qubit", wires=n_wires))
    def f(xi, w):
        circuit(xi, w)
        return qml.expval(qml.PauliZ(0))

    return lambda p: pnp.mean(pnp.stack([loss(f(xi, p.reshape(shape)), yi) for xi, yi in zip(x, y)]))


# -- any data ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n,steps,last", [(30, 3, 10), (97, 10, 7), (400, 40, 10), (91, 10, 1)])
def test_every_sample_is_seen_once_per_epoch(n, steps, last):
    data = user_data(n)
    trainer = qnb.QuantumTrainer(qnb.PRESETS["fast"].replace(epochs=2, shots_per_circuit=None), dataset=data)
    seen, sizes = [Counter(), Counter()], []
    key = {row.tobytes(): i for i, row in enumerate(data[0])}
    train_batch = trainer.train_batch

    def counting(bx, by):
        seen[trainer.epoch].update(key[r.tobytes()] for r in bx)
        sizes.append(len(bx))
        return train_batch(bx, by)

    trainer.train_batch = counting
    h = trainer.fit(progress=False)
    assert trainer.steps_per_epoch == steps and len(h["steps"]) == 2 * steps
    assert all(s == Counter(range(n)) for s in seen)  # every sample exactly once, each epoch
    assert sizes[steps - 1] == last and len(h["epochs"]) == 2
    # the short batch still runs in one job (k clipped to the batch when it is shorter)
    assert all(s["jobs"] == 1 for s in h["steps"]) and h["steps"][steps - 1]["circuits"] == 2 * min(2, last)
    cfg = trainer.config  # nothing in the config contradicts the data
    assert (cfg.dataset, cfg.n_train, cfg.n_test, cfg.steps_per_epoch) == ("user", n, 20, steps)


class CountingBackend(qnb.LocalBackend):
    def __init__(self):
        super().__init__()
        self.submitted = 0

    def submit(self, circuits, shots, name=None, **kw):
        self.submitted += 1
        return super().submit(circuits, shots, name)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: (d[0][:, :3], d[1], d[2][:, :3], d[3]), r"x_train: expected shape \(n_samples, 4\) for a model with 4 features, got \(30, 3\)"),
    (lambda d: (d[0], (d[1] + 1) // 2, d[2], d[3]), r"y_train: labels must be -1 or \+1, got \[0\]"),
    (lambda d: (d[0], d[1], d[2], d[3] * 2), r"y_test: labels must be -1 or \+1, got \[-2, 2\]"),
    (lambda d: (d[0], d[1], d[2][:0], d[3][:0]), r"x_test: no samples"),
    (lambda d: (d[0] + 0j, d[1], d[2], d[3]), r"x_train: features must be real numbers, got dtype complex128"),
    (lambda d: d[:3], r"dataset: expected \(x_train, y_train, x_test, y_test\), got 3 items"),
])
def test_bad_user_data_is_refused_before_any_job(mutate, message):
    backend = CountingBackend()
    with pytest.raises(ValueError, match=message):
        qnb.QuantumTrainer(qnb.PRESETS["fast"], model=qnb.QuantumModel(seed=0), dataset=mutate(user_data(30)),
                           backend=backend).fit(progress=False)
    assert backend.submitted == 0


def test_batch_larger_than_the_data_and_a_mismatched_model_are_refused():
    with pytest.raises(ValueError, match=r"batch_size: 10 exceeds the 6 training samples"):
        qnb.QuantumTrainer(qnb.PRESETS["fast"], dataset=user_data(6))
    model = qnb.CircuitModel(entangler, n_wires=3, param_shape=(2, 3))
    with pytest.raises(ValueError, match=r"x_train: expected shape \(n_samples, 3\) for a model with 3 features"):
        qnb.QuantumTrainer(qnb.PRESETS["fast"], model=model, dataset=user_data(30))


def test_a_six_feature_data_set_gets_a_six_qubit_seed_model():
    trainer = qnb.QuantumTrainer(qnb.PRESETS["fast"].replace(epochs=1), dataset=user_data(20, n_features=6))
    assert (trainer.model.n_wires, trainer.model.n_params) == (6, 4 * 6 * 3)
    assert len(trainer.fit(progress=False)["steps"]) == 2


# -- any circuit -------------------------------------------------------------------------------
@pytest.mark.parametrize("n_wires", [3, 6])
def test_template_circuits_of_any_width_train_in_one_job_per_step(n_wires):
    model = qnb.CircuitModel(entangler, n_wires=n_wires, param_shape=(2, n_wires), seed=0)
    assert model.compiled is not None and model.n_params == 2 * n_wires
    data = user_data(40, n_features=n_wires)
    trainer = qnb.QuantumTrainer(qnb.PRESETS["balanced"].replace(epochs=2), model=model, dataset=data)
    first = trainer.evaluate()["train_loss"]
    h = trainer.fit(progress=False)
    assert [(s["circuits"], s["jobs"]) for s in h["steps"]] == [(10, 1)] * 8
    assert h["epochs"][-1]["train_loss"] < first


def test_the_compiled_circuit_equals_the_recorded_one():
    model = qnb.CircuitModel(shared_angles, n_wires=3, param_shape=(3, 3), seed=2)
    x = np.array([0.3, -1.2, 2.0])
    fast = model.build_circuit(x)
    slow = qml.tape.QuantumScript(qnb.recording.record(shared_angles, x, model.parameters.reshape(3, 3)),
                                  fast.measurements)
    assert [op.name for op in fast.operations] == [op.name for op in slow.operations]
    np.testing.assert_allclose(fast.get_parameters(), slow.get_parameters(), atol=1e-12)
    np.testing.assert_allclose(*qnb.LocalBackend().execute([fast, slow]), atol=1e-12)


def test_the_seed_model_is_one_instance_and_keeps_its_48_parameters():
    m = qnb.QuantumModel(seed=0)
    assert isinstance(m, qnb.CircuitModel) and m.n_params == 48 and m.compiled is not None
    assert np.array_equal(m.parameters, np.random.default_rng(0).uniform(0, 2 * np.pi, 48))
    # the compiled map is exact: features and parameters enter their gates bit for bit
    x = np.array([0.1, 0.2, 0.3, 0.4])
    assert m.build_circuit(x).get_parameters() == list(x) + list(m.parameters)
    assert qnb.QuantumModel(n_qubits=6, n_layers=2).n_params == 36


@pytest.mark.parametrize("circuit,shape,affine", [(shared_angles, (3, 3), True), (reuploading, (2, 3), False)])
@pytest.mark.parametrize("loss,ref_loss", [
    (qnb.square_loss, qnb.square_loss),
    (qnb.logistic_loss, lambda o, y: pnp.log(1 + pnp.exp(-4 * y * o)) / 4),
])
def test_parameter_shift_equals_qml_grad_of_the_batch_loss(circuit, shape, affine, loss, ref_loss):
    model = qnb.CircuitModel(circuit, n_wires=3, param_shape=shape, seed=1)
    assert (model.compiled is not None) == affine
    x, y = user_data(6, n_features=3)[:2]
    L = qnode_batch_loss(circuit, 3, shape, x, y, ref_loss)
    exact = qml.grad(L)(pnp.array(model.parameters, requires_grad=True))
    r = qnb.make_estimator("parameter_shift", qnb.CircuitBatchManager(qnb.LocalBackend())).estimate_batch_gradient(
        model, x, y, loss, shots=None)
    np.testing.assert_allclose(r.gradients, exact, atol=1e-8)
    assert r.function_value == pytest.approx(float(L(pnp.array(model.parameters))), abs=1e-12)


def test_spsa_on_a_user_circuit_agrees_with_the_exact_gradient():
    model = qnb.CircuitModel(shared_angles, n_wires=3, param_shape=(3, 3), seed=3)
    x, y = user_data(4, n_features=3)[:2]
    exact = qnb.make_estimator("parameter_shift", qnb.CircuitBatchManager(qnb.LocalBackend())).estimate_batch_gradient(
        model, x, y, shots=None).gradients
    est = qnb.make_estimator("spsa_subsampled", qnb.CircuitBatchManager(qnb.LocalBackend(), max_batch_size=10_000),
                             subsample_size=2, n_directions=50, seed=0, gains=qnb.Gains(c=0.01, gamma=1e-9))
    mean = np.mean([est.estimate_batch_gradient(model, x, y, shots=None).gradients for _ in range(200)], axis=0)
    rel = np.linalg.norm(mean - exact) / np.linalg.norm(exact)
    # 10,000 directions; the check fails for a sign flip or a 2x scale
    assert rel < 0.15 and np.linalg.norm(-mean - exact) / np.linalg.norm(exact) > 1.5
    assert np.linalg.norm(2 * mean - exact) / np.linalg.norm(exact) > 0.7


def test_a_custom_loss_drives_the_gradient_and_the_reported_loss():
    calls = []

    def absolute_loss(output, y):
        calls.append(np.shape(output))
        return np.abs(output - y)

    data = user_data(20)
    trainer = qnb.QuantumTrainer(qnb.PRESETS["accurate"].replace(epochs=1, shots_per_circuit=None), dataset=data,
                                 loss=absolute_loss)
    h = trainer.fit(progress=False)
    assert calls and all(len(s) >= 1 for s in calls)  # called on arrays
    out = trainer.model.outputs(data[2], trainer.evaluator)
    assert h["epochs"][-1]["test_loss"] == pytest.approx(np.mean(np.abs(out - data[3])))
    assert h["epochs"][-1]["test_loss"] != pytest.approx(np.mean((out - data[3]) ** 2))


def test_a_loss_that_is_not_vectorised_is_refused_before_any_job():
    backend = CountingBackend()
    scalar_only = lambda o, y: float((o - y) ** 2)
    with pytest.raises((ValueError, TypeError), match=r"loss_function|only length-1|only 0-dimensional"):
        qnb.QuantumTrainer(qnb.PRESETS["fast"], dataset=user_data(30), backend=backend, loss=scalar_only)
    assert backend.submitted == 0


def test_wires_outside_the_declared_range_are_refused():
    def wide(x, w):
        qml.RX(w[0], wires=5)
    with pytest.raises(ValueError, match=r"circuit: uses wires \[5\]; expected integers 0..2"):
        qnb.CircuitModel(wide, n_wires=3, param_shape=(1,), n_features=1)


# -- real data ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,n", [("iris", 100), ("breast_cancer", 569)])
def test_real_data_sets_ship_with_the_package_and_split_without_leakage(kind, n):
    x_tr, y_tr, x_te, y_te = qnb.make_dataset(kind, seed=0)
    assert len(x_tr) + len(x_te) == n and x_tr.shape[1] == 4 and set(y_tr) | set(y_te) == {-1, 1}
    np.testing.assert_allclose(x_tr.mean(axis=0), 0, atol=1e-12)  # scaled by the training split only
    again = qnb.make_dataset(kind, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, (x_tr, y_tr, x_te, y_te)))
    raw_x, raw_y, _ = qnb.data.load_real(kind)
    assert abs(np.mean(y_tr == 1) - np.mean(raw_y == 1)) < 0.02  # stratified
    with pytest.raises(ValueError, match=rf"n_train \+ n_test: {kind} has {n} samples"):
        qnb.make_dataset(kind, n_train=n, n_test=1)


def test_real_data_trains_through_the_config():
    trainer = qnb.QuantumTrainer(qnb.PRESETS["fast"].replace(dataset="iris", epochs=1))
    assert trainer.steps_per_epoch == 7 and len(trainer.fit(progress=False)["steps"]) == 7


# -- each concept in its room ------------------------------------------------------------------
def _imports(module):
    tree = ast.parse((ROOT / "qnb" / f"{module}.py").read_text())
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}


def test_no_import_circle_between_backends_and_batching():
    assert "backends" not in _imports("batching") and "batching" not in _imports("jobs")
    assert "jobs" in _imports("batching") and "jobs" in _imports("backends")


def test_figures_are_written_only_where_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("QNB_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    E.table([{"a": 1}], "should_not_exist")
    assert not list(tmp_path.rglob("should_not_exist*")) and not list((ROOT / "qnb").rglob("should_not_exist*"))
    monkeypatch.setenv("QNB_FIGURES", str(tmp_path / "out"))
    E.table([{"a": 1}], "asked")
    assert (tmp_path / "out" / "asked.md").read_text().startswith("| a |")


def test_the_readme_section_runs_as_written(monkeypatch, tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Bring your own circuit and data", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
    assert "qnb.CircuitModel" in code and "fit(" in code
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    epochs = namespace["history"]["epochs"]
    assert namespace["trainer"].steps_per_epoch == 8 and epochs[-1]["train_loss"] < 0.9 * epochs[0]["train_loss"]


def test_raw_template_tapes_with_array_parameters_run_locally():
    from pennylane.tape import QuantumScript
    tapes = [QuantumScript([qml.BasicEntanglerLayers(np.full((1, 3), a), wires=range(3))], [qml.probs(wires=[0])])
             for a in (0.1, 0.2)]
    got = qnb.LocalBackend().execute(tapes)
    one_by_one = [qml.execute([t], qml.device("default.qubit", wires=3))[0] for t in tapes]
    np.testing.assert_allclose(got, one_by_one, atol=1e-12)
    assert not np.allclose(got[0], got[1])


# -- found by an adversarial review: each was a silent wrong answer or a crash after a paid job ---
def basis_encoding(x, w):
    for i in range(2):
        if x[i]:
            qml.PauliX(i)
    qml.RY(w[0], 0)
    qml.CNOT([1, 0])


def clipped(x, w):
    qml.RX(np.clip(x[0], -np.pi, np.pi), 0)
    qml.RY(w[0], 0)


def wrapped_parameter(x, w):
    qml.RX(x[0], 0)
    qml.CRY(np.arctan2(np.sin(w[0]), np.cos(w[0])), wires=[0, 1])


def double_control(x, w):
    qml.AngleEmbedding(x, wires=range(3))
    qml.Hadamard(0)
    qml.Hadamard(1)
    qml.ctrl(qml.RY, control=[0, 1])(w[0], wires=2)
    qml.CNOT([2, 0])


def plain_qnode_outputs(circuit, n_wires, X, w):
    @qml.qnode(qml.device("default.qubit", wires=n_wires))
    def f(x):
        circuit(x, w)
        return qml.expval(qml.PauliZ(0))
    return np.array([f(x) for x in X])


@pytest.mark.parametrize("circuit,n_wires,n_features,X,w", [
    (basis_encoding, 2, 2, [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]], [0.7]),
    (clipped, 1, 1, [[4.0], [-5.0], [0.5]], [0.3]),
    (wrapped_parameter, 2, 1, [[0.3], [1.2]], [4.0]),
])
def test_circuits_that_are_not_affine_everywhere_are_never_compiled_wrong(circuit, n_wires, n_features, X, w):
    model = qnb.CircuitModel(circuit, n_wires=n_wires, param_shape=(1,), n_features=n_features)
    model.update_parameters(np.array(w))
    got = model.outputs(np.array(X), qnb.LocalBackend())
    np.testing.assert_allclose(got, plain_qnode_outputs(circuit, n_wires, X, np.array(w)), atol=1e-12)


def test_a_changed_global_is_not_served_from_a_stale_compilation():
    global DEPTH
    DEPTH = 1

    def deep(x, w):
        qml.RX(x[0], 0)
        for _ in range(DEPTH):
            qml.RY(w[0], 0)
            qml.RZ(w[0], 0)

    qnb.CircuitModel(deep, 1, (1,))
    DEPTH = 3
    model = qnb.CircuitModel(deep, 1, (1,), seed=0)
    np.testing.assert_allclose(model.outputs([[0.7]], qnb.LocalBackend()),
                               plain_qnode_outputs(deep, 1, [[0.7]], model.parameters), atol=1e-12)


def test_parameter_shift_refuses_a_gradient_it_cannot_map_before_any_job():
    model = qnb.CircuitModel(double_control, n_wires=3, param_shape=(1,), seed=0)
    backend = CountingBackend()
    x, y = user_data(2, n_features=3)[:2]
    with pytest.raises(ValueError, match=r"parameter_shift: .* decomposes differently under autodiff|"
                                         r"parameter_shift: cannot differentiate"):
        qnb.make_estimator("parameter_shift", qnb.CircuitBatchManager(backend)).estimate_batch_gradient(
            model, x, y, shots=None)
    assert backend.submitted == 0


def test_a_sample_whose_gates_do_not_depend_on_the_parameters_adds_zero():
    def scaled(x, w):
        qml.RY(w[0] * x[0], 0)
        qml.RX(x[1], 0)

    model = qnb.CircuitModel(scaled, n_wires=1, param_shape=(1,), n_features=2, seed=0)
    x, y = np.array([[0.0, 0.3], [1.0, 1.0]]), np.array([1, -1])
    L = qnode_batch_loss(scaled, 1, (1,), x, y, qnb.square_loss)
    r = qnb.make_estimator("parameter_shift", qnb.CircuitBatchManager(qnb.LocalBackend())).estimate_batch_gradient(
        model, x, y, shots=None)
    np.testing.assert_allclose(r.gradients, qml.grad(L)(pnp.array(model.parameters, requires_grad=True)), atol=1e-8)


def test_a_circuit_that_returns_a_measurement_is_measured_as_written_and_a_second_readout_refused():
    """qnb used to refuse a circuit with its own measurement; it now measures what the circuit
    returns (the observable's basis change, then the job's probabilities): <X> after RY(x + w) is
    sin(x + w). A read-out given beside it would say two things: refused."""
    def measured(x, w):
        qml.RY(x[0], 0)
        qml.RY(w[0], 0)
        return qml.expval(qml.PauliX(0))
    model = qnb.CircuitModel(measured, 1, (1,), n_features=1, seed=0)
    x = np.array([[0.3], [-1.1], [2.5]])
    np.testing.assert_allclose(model.outputs(x, qnb.LocalBackend()), np.sin(x[:, 0] + model.parameters[0]), atol=1e-12)
    for kw in (dict(readout=lambda p: p[:, 0]), dict(readout_wires=(0, 1))):
        with pytest.raises(ValueError, match=r"readout, readout_wires: the circuit returns its own measurement"):
            qnb.CircuitModel(measured, 2, (1,), n_features=1, **kw)


def test_a_circuit_that_draws_random_numbers_is_refused():
    def noisy(x, w):
        qml.RX(x[0] + np.random.uniform(), wires=0)
        qml.RY(w[0], wires=0)
    with pytest.raises(ValueError, match="gives different gates for the same x and params"):
        qnb.CircuitModel(noisy, n_wires=1, param_shape=(1,), n_features=1)


def test_a_circuit_that_ignores_x_or_some_parameters_is_named_in_a_warning():
    def blind(x, w):
        qml.RY(w[0], wires=0)
        qml.RX(w[1], wires=1)
    with pytest.warns(UserWarning, match="no gate depends on x") as caught:
        qnb.CircuitModel(blind, n_wires=2, param_shape=(4,))
    assert any("2 of 4 parameters reach no gate (flat indices [2, 3])" in str(w.message) for w in caught)


def test_labels_of_one_class_are_refused_before_any_job():
    x, y, xt, yt = qnb.make_dataset("blobs", n_train=20, n_test=10, seed=0)
    with pytest.raises(ValueError, match="every label is 1"):
        qnb.QuantumTrainer(qnb.TrainingConfig(), dataset=(x, np.ones(20, int), xt, yt))
