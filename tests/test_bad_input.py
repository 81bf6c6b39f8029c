"""Bad input gets a ValueError naming the field, the value and what is allowed, before any circuit runs."""
import re

import numpy as np
import pytest

import qnb
from conftest import manager
from qnb.research import defects as D


@pytest.mark.parametrize("field,value,message", [
    ("gradient_method", "adam", r"gradient_method: unknown method 'adam'; allowed: spsa_per_sample"),
    ("gradient_subsample_size", 0, r"gradient_subsample_size: must be an integer >= 1, got 0"),
    ("gradient_subsample_size", 11, r"gradient_subsample_size: 11 exceeds batch_size 10; allowed: 1..10"),
    ("batch_size", 0, r"batch_size: must be an integer >= 1, got 0"),
    ("shots_per_circuit", 0, r"shots_per_circuit: must be an integer >= 1, got 0"),
    ("epochs", 0, r"epochs: must be an integer >= 1, got 0"),
    ("batch_submission_timeout", 0.0, r"batch_submission_timeout: must be a finite number > 0, got 0.0"),
    ("batch_submission_timeout", float("nan"), r"batch_submission_timeout: must be a finite number > 0, got nan"),
    ("max_parallel_circuits", -5, r"max_parallel_circuits: must be an integer >= 1, got -5"),
    ("backend", "aws", r"backend: unknown backend 'aws'; allowed: local, ionq"),
    ("dataset", "mnist", r"dataset: unknown data set 'mnist'; allowed: blobs, xor"),
    ("defects", ("typo",), r"defects: the document's defects are a teaching layer: "
                           r"qnb\.research\.defects\.DocumentConfig\(config, defects\)"),
    ("defects", ("frozen_gains",), r"defects: the document's defects are a teaching layer"),
])
def test_config_rejects(field, value, message):
    with pytest.raises(ValueError, match=message):
        qnb.TrainingConfig(**{field: value})


@pytest.mark.parametrize("defects,method,message", [
    (("typo",), None, r"defects: unknown defect 'typo'; allowed: frozen_gains, summed_gradients, params_minus_leak"),
    (("frozen_gains", "typo"), "spsa_parallel", r"defects: unknown defect 'typo'"),
    ("frozen_gains", None, r"defects: expected a tuple of names, got the string 'frozen_gains'"),
    (("summed_gradients",), "spsa_parallel", r"defects: 'summed_gradients' does not apply to 'spsa_parallel'; "
                                             r"it applies to spsa_per_sample"),
    (("params_minus_leak",), "parameter_shift", r"defects: 'params_minus_leak' does not apply to 'parameter_shift'"),
])
def test_defect_names_are_checked_in_the_teaching_layer(defects, method, message):
    with pytest.raises(ValueError, match=message):
        D.check_defects(defects, method)
    cfg = qnb.TrainingConfig() if method is None else qnb.TrainingConfig(gradient_method=method)
    with pytest.raises(ValueError, match=message):
        D.DocumentConfig(cfg, defects)


def test_valid_defects_pass_the_check_unchanged():
    assert D.check_defects(["frozen_gains", "params_minus_leak"], "spsa_subsampled") == (
        "frozen_gains", "params_minus_leak")
    assert D.DocumentConfig(qnb.TrainingConfig(gradient_method="spsa_per_sample"),
                            ["summed_gradients"]).defects == ("summed_gradients",)


class CountingBackend(qnb.LocalBackend):
    submitted = 0

    def submit(self, circuits, shots, name=None, **kw):
        CountingBackend.submitted += 1
        return super().submit(circuits, shots, name)


@pytest.mark.parametrize("mutate,message", [
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 3, np.nan, x), y), r"x(_train)?: contains NaN or inf"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x), y), r"x(_train)?: contains NaN or inf"),
    (lambda x, y: (x[:, :3], y), r"x(_train)?: expected shape \(n_samples, 4\) for a model with 4 features, got \(10, 3\)"),
    (lambda x, y: (x, np.where(y > 0, 1, 0)), r"y(_train)?: labels must be -1 or \+1, got \[0\]"),
    (lambda x, y: (x, y[:5]), r"y(_train)?: expected shape \(10,\), one label per sample, got \(5,\)"),
])
def test_bad_data_is_refused_before_any_job(mutate, message):
    x, y, xt, yt = qnb.make_dataset(n_train=10, n_test=5)
    bx, by = mutate(x, y)
    backend = CountingBackend()
    CountingBackend.submitted = 0
    with pytest.raises(ValueError, match=message):
        qnb.make_estimator("spsa_parallel", qnb.CircuitBatchManager(backend)).estimate_batch_gradient(
            qnb.QuantumModel(seed=0), bx, by)
    with pytest.raises(ValueError, match=message):
        qnb.QuantumTrainer(qnb.TrainingConfig(), dataset=(bx, by, xt, yt), backend=backend,
                           model=qnb.QuantumModel(seed=0))
    assert CountingBackend.submitted == 0


@pytest.mark.parametrize("kwargs,message", [
    (dict(max_batch_size=0), r"max_batch_size: must be an integer >= 1, got 0"),
    (dict(timeout_s=-1), r"timeout_s: must be a finite number > 0, got -1"),
    (dict(max_retries=-1), r"max_retries: must be an integer >= 0, got -1"),
])
def test_manager_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        qnb.CircuitBatchManager(qnb.LocalBackend(), **kwargs)


def test_a_bad_subsample_size_is_refused_under_the_name_it_was_given():
    with pytest.raises(ValueError, match=r"subsample_size: must be an integer >= 1, got 0"):
        qnb.make_estimator("spsa_subsampled", manager(), subsample_size=0)


def test_estimator_and_call_arguments_are_checked(batch, model):
    with pytest.raises(ValueError, match=r"gradient_method: unknown method 'spsa'"):
        qnb.make_estimator("spsa", manager())
    with pytest.raises(ValueError, match=r"subsample_size: 11 exceeds the batch size 10"):
        qnb.make_estimator("spsa_subsampled", manager(), subsample_size=11).estimate_batch_gradient(model, *batch)
    with pytest.raises(ValueError, match=r"shots: must be a positive integer or None \(exact\), got 0"):
        qnb.make_estimator("spsa_parallel", manager()).estimate_batch_gradient(model, *batch, shots=0)
    with pytest.raises(ValueError, match=r"defects: 'summed_gradients' does not apply to 'spsa_parallel'"):
        D.make_estimator("spsa_parallel", manager(), defects=("summed_gradients",))
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\): defects"):  # the core has no defects
        qnb.make_estimator("spsa_parallel", manager(), defects=("summed_gradients",))
    with pytest.raises(ValueError, match=r"device: unknown local device 'gpu'"):
        qnb.LocalBackend("gpu")
    with pytest.raises(ValueError, match=r"kind: unknown data set 'mnist'"):
        qnb.make_dataset("mnist")


@pytest.mark.parametrize("name", ["max_batch_size", "timeout_s", "max_retries", "backoff_s", "poll_s"])
def test_manager_refuses_true_and_takes_numpy_numbers(name):
    with pytest.raises(ValueError, match=rf"^{name}: must be (an integer|a finite number) .*, got True$"):
        qnb.CircuitBatchManager(qnb.LocalBackend(), **{name: True})
    with pytest.raises(ValueError, match=rf"^{name}: must be"):
        qnb.CircuitBatchManager(qnb.LocalBackend(), **{name: np.bool_(True)})
    integral = name in ("max_batch_size", "max_retries")
    value = np.int64(3) if integral else np.float32(0.25)
    m = qnb.CircuitBatchManager(qnb.LocalBackend(), **{name: value})
    got = getattr(m, name)
    assert got == value and type(got) is (int if integral else float)  # stored as a Python number
    if integral:
        with pytest.raises(ValueError, match=rf"^{name}: must be an integer"):
            qnb.CircuitBatchManager(qnb.LocalBackend(), **{name: np.float64(3.0)})
    else:
        assert getattr(qnb.CircuitBatchManager(qnb.LocalBackend(), **{name: np.int64(2)}), name) == 2.0
        with pytest.raises(ValueError, match=rf"^{name}: must be a finite number > 0, got "):
            qnb.CircuitBatchManager(qnb.LocalBackend(), **{name: np.float64("nan")})


def test_a_manager_with_numpy_arguments_runs():
    import pennylane as qml
    from pennylane.tape import QuantumScript
    m = qnb.CircuitBatchManager(qnb.LocalBackend(seed=0), max_batch_size=np.int32(1), timeout_s=np.float64(5),
                                max_retries=np.uint8(2), backoff_s=np.float16(0.01), poll_s=np.int64(1))
    tapes = [QuantumScript([qml.RX(0.3 * i, 0)], [qml.probs(wires=[0])]) for i in range(3)]
    assert len(m.execute_batch(tapes, shots=100)) == 3 and m.stats.jobs == 3


IONQ = dict(api_key="sk-test-DO-NOT-LEAK-0bad1", api_url="http://127.0.0.1:9/v0.4")  # nothing is sent


@pytest.mark.parametrize("kwargs,message", [
    (dict(wires=True), r"wires: must be an integer >= 1 \(the minimum width\) or None, got True"),
    (dict(wires=np.bool_(True)), r"wires: must be an integer >= 1 \(the minimum width\) or None, got "),
    (dict(wires=0), r"wires: must be an integer >= 1 \(the minimum width\) or None, got 0"),
    (dict(wires=2.0), r"wires: must be an integer >= 1 \(the minimum width\) or None, got 2.0"),
    (dict(request_timeout_s=True), r"request_timeout_s: must be a finite number > 0, got True"),
    (dict(request_timeout_s=0), r"request_timeout_s: must be a finite number > 0, got 0"),
    (dict(request_timeout_s=np.float64("inf")), r"request_timeout_s: must be a finite number > 0, got "),
    (dict(request_timeout_s="30"), r"request_timeout_s: must be a finite number > 0, got '30'"),
])
def test_ionq_backend_rejects(kwargs, message):
    from qnb.ionq import IonQBackend
    with pytest.raises(ValueError, match=message):
        IonQBackend(**IONQ, **kwargs)


def test_ionq_backend_takes_numpy_numbers():
    from qnb.ionq import IonQBackend
    be = IonQBackend(**IONQ, wires=np.int64(4), request_timeout_s=np.float32(2.5))
    assert be.min_wires == 4 and type(be.min_wires) is int
    assert be._client.TIMEOUT_SECONDS == 2.5 and type(be._client.TIMEOUT_SECONDS) is float
    assert IonQBackend(**IONQ, request_timeout_s=np.int64(3))._client.TIMEOUT_SECONDS == 3.0


def test_a_journal_record_with_an_absurd_time_is_looked_up_without_one():
    """journaled_at (unix seconds, from a checkpoint) of 401 digits overflowed math.isfinite: now it is
    treated as absent, like any value that is not a time."""
    import pennylane as qml
    from pennylane.tape import QuantumScript
    seen = []

    class Finder(qnb.LocalBackend):
        def find_job(self, name, deadline=None, after=None):
            seen.append(after)
            return None

    m = qnb.CircuitBatchManager(Finder(seed=0))
    tapes = [QuantumScript([qml.RX(0.3, 0)], [qml.probs(wires=[0])])]
    for at in (10 ** 400, -10 ** 400, float("inf"), float("nan"), -1, True, "1700000000", 1_700_000_000.5):
        m.begin_step("p", adopt=[{"name": "p-j0", "id": None, "journaled_at": at}])
        assert len(m.execute_batch(tapes, shots=100)) == 1
    assert seen == [None] * 7 + [1_700_000_000.5]


# -- the classifier's helpful refusals (issue 26) -----------------------------------------------
def test_raw_features_far_beyond_a_turn_warn_and_name_a_scaler():
    from qnb.classifier import FeatureScaleWarning
    from sklearn.datasets import load_breast_cancer
    x, y = load_breast_cancer(return_X_y=True)  # raw: 30 features, areas up to 4,254
    with pytest.warns(FeatureScaleWarning, match=r"feature 23: 185.2 .. 4254.*MinMaxScaler\(\(0, np.pi\)\)"):
        qnb.QuantumClassifier(epochs=1, random_state=0).fit(x, y)
    import warnings
    scaled = (x - x.min(0)) / (x.max(0) - x.min(0)) * np.pi
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureScaleWarning)
        qnb.QuantumClassifier(epochs=1, random_state=0).fit(scaled, y)


def test_the_warning_reads_the_circuits_own_scaling_of_a_feature():
    import pennylane as qml
    from qnb.classifier import FeatureScaleWarning

    @qml.qnode(qml.device("default.qubit", wires=2))
    def tenth(x, w):  # angles are x / 10: features up to 30 are 3 radians
        qml.AngleEmbedding(x / 10, wires=range(2))
        qml.BasicEntanglerLayers(w, wires=range(2))
        return qml.expval(qml.PauliZ(0))
    x = np.random.default_rng(0).uniform(0, 30, (20, 2))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureScaleWarning)
        qnb.QuantumClassifier(tenth, param_shape=(1, 2), epochs=1, random_state=0).fit(x, x[:, 0] > 15)
    with pytest.warns(FeatureScaleWarning, match="0.1 x feature radians"):
        qnb.QuantumClassifier(tenth, param_shape=(1, 2), epochs=1, random_state=0).fit(x * 10, x[:, 0] > 15)


@pytest.mark.parametrize("shape", [(2, 4), (12,), (2, 3, 3)])
def test_a_wrong_param_shape_names_the_shape_the_circuit_needs(shape):
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit", wires=4))
    def sel(x, w):
        qml.AngleEmbedding(x, wires=range(4))
        qml.StronglyEntanglingLayers(w, wires=range(4))
        return qml.expval(qml.PauliZ(0))
    layers = shape[0] if len(shape) > 1 else 1
    with pytest.raises(ValueError, match=re.escape(f"StronglyEntanglingLayers on 4 wires needs weights of shape "
                                                   f"({layers}, 4, 3)") + ".*" + re.escape(f"param_shape=({layers}, 4, 3)")):
        qnb.QuantumClassifier(sel, param_shape=shape, epochs=1).fit(*qnb.make_dataset("blobs", n_train=20)[:2])


def test_wire_labels_are_named_in_the_error():
    import pennylane as qml
    wires = ["a", "b", "c", "d"]

    @qml.qnode(qml.device("default.qubit", wires=wires))
    def lettered(x, w):
        qml.AngleEmbedding(x, wires=wires)
        qml.StronglyEntanglingLayers(w, wires=wires)
        return qml.expval(qml.PauliZ("a"))
    with pytest.raises(ValueError, match=re.escape("device has wires ['a', 'b', 'c', 'd']; qnb numbers wires 0..n-1")
                       + ".*wires=4"):
        qnb.QuantumClassifier(lettered, param_shape=(2, 4, 3), epochs=1).fit(*qnb.make_dataset("blobs", n_train=20)[:2])
