import math

import numpy as np
import pytest

import qnb
from qnb import bench


def test_numpy_yardstick_equals_the_model():
    rng = np.random.default_rng(0)
    model = qnb.QuantumModel(seed=0)
    X, P = rng.uniform(-1, 1, (5, 4)), rng.uniform(0, 6, (5, 48))
    exact = [qnb.QuantumModel.process_result(r) for r in qnb.LocalBackend().execute(
        [model.build_circuit(x, p) for x, p in zip(X, P)])]
    np.testing.assert_allclose(bench.numpy_statevector(X, P), exact, atol=1e-10)


def test_time_to_quality_is_the_first_epoch_at_target():
    epochs = [{"test_accuracy": a, "modeled_s": t} for a, t in [(0.5, 10), (0.9, 20), (0.8, 30), (0.95, 40)]]
    assert bench.time_to_quality(epochs, 0.9) == 20
    assert bench.time_to_quality(epochs, 0.96) == math.inf


def test_ttq_summary_counts_runs_that_never_reach_it():
    s = bench.ttq_summary([60, 120, 180, math.inf, 240])
    assert s["reached"] == "4/5" and s["median_min"] == pytest.approx(3.0) and s["iqr_min"] == pytest.approx(2.0)
    s = bench.ttq_summary([60, 120, math.inf, math.inf])
    assert s["median_min"] == pytest.approx(2.0) and s["iqr_min"] == math.inf
    assert bench.ttq_summary([math.inf, math.inf])["median_min"] == math.inf


def test_peer_jobs_are_counted_by_the_tracker():
    r = bench.train_spsa_optimizer(0, epochs=1)
    assert (r["jobs_per_step"], r["circuits_per_step"]) == (2, 20)  # two device calls per SPSAOptimizer step
    assert len(r["epochs"]) == 1 and 0 <= r["epochs"][0]["test_accuracy"] <= 1


def test_quick_benchmark_smoke(tmp_path, monkeypatch):
    monkeypatch.setenv("QNB_FIGURES", str(tmp_path))
    assert bench.main(["--quick"]) == 0
    text = (tmp_path / "bench_quick.md").read_text()
    assert "## Targets" in text and "qml.SPSAOptimizer" in text


# -- the numpy simulator and exact gradients ---------------------------------------------------
def test_numpy_backend_equals_default_qubit():
    import pennylane as qml
    from qnb.fastsim import NumpyBackend
    rng = np.random.default_rng(1)
    m = qnb.QuantumModel(seed=1)
    tapes = m.build_circuits(rng.uniform(-1.5, 1.5, (30, 4)), rng.uniform(0, 6, (30, 48)))
    np.testing.assert_allclose(NumpyBackend()._probabilities(tapes), qnb.LocalBackend()._probabilities(tapes), atol=1e-10)

    def circ(x, w):  # other gates, two read-out wires in a non-sorted order
        qml.AngleEmbedding(x, wires=range(3), rotation="Y")
        qml.BasicEntanglerLayers(w, wires=range(3), rotation=qml.RZ)
        qml.CZ([2, 0]); qml.Hadamard(1); qml.CNOT([2, 1])
    cm = qnb.CircuitModel(circ, 3, (2, 3), readout_wires=(2, 0), seed=0)
    tapes = cm.build_circuits(rng.uniform(-1, 1, (7, 3)), rng.uniform(0, 6, (7, 6)))
    np.testing.assert_allclose(NumpyBackend()._probabilities(tapes), qnb.LocalBackend()._probabilities(tapes), atol=1e-10)


def test_exact_gradient_is_parameter_shift_at_infinite_shots():
    from qnb.fastsim import exact_gradient
    x, y, _, _ = qnb.make_dataset("xor", n_train=10, n_test=1)
    m = qnb.QuantumModel(seed=3)
    ps = qnb.make_estimator("parameter_shift", qnb.CircuitBatchManager(qnb.LocalBackend())).estimate_batch_gradient(
        m, x, y, shots=None)
    g, loss = exact_gradient(m, x, y)
    np.testing.assert_allclose(g, ps.gradients, atol=1e-8)
    assert loss == pytest.approx(ps.function_value, abs=1e-12)


def test_trainer_on_the_numpy_backend_gives_the_same_history():
    cfg = qnb.TrainingConfig(epochs=2, gradient_subsample_size=2, n_directions=2, dataset="xor")
    ref = qnb.QuantumTrainer(cfg).fit(progress=False)
    fast = bench.make_trainer(cfg, "xor").fit(progress=False)
    assert [s["loss"] for s in fast["steps"]] == pytest.approx([s["loss"] for s in ref["steps"]], abs=1e-12)
    assert [e["test_accuracy"] for e in fast["epochs"]] == [e["test_accuracy"] for e in ref["epochs"]]


# -- optimisers on the SPSA gradient -----------------------------------------------------------
@pytest.mark.parametrize("opt", ["adam", "momentum"])
def test_optimizer_option_steps_and_resumes_exactly(tmp_path, opt):
    cfg = qnb.TrainingConfig(epochs=2, gradient_subsample_size=2, optimizer=opt)
    full = qnb.QuantumTrainer(cfg).fit(progress=False)
    sgd = qnb.QuantumTrainer(cfg.replace(optimizer="sgd")).fit(progress=False)
    assert full["steps"][-1]["loss"] != sgd["steps"][-1]["loss"]  # the option does something
    ck = tmp_path / "run.ckpt.json"
    half = qnb.QuantumTrainer(cfg)
    half.fit(epochs=1, checkpoint=ck, progress=False)
    resumed = qnb.QuantumTrainer.resume(ck, progress=False)
    assert [s["loss"] for s in resumed.history["steps"]] == [s["loss"] for s in full["steps"]]


def test_adam_rule_is_kingma_ba():
    from qnb.training import StepRule
    r = StepRule("adam", 0.9, 0.999)
    p = r.step(np.zeros(2), np.array([2.0, -0.5]), 0.1)
    np.testing.assert_allclose(p, [-0.1, 0.1], atol=1e-7)  # first step: a_k * sign(g)
    with pytest.raises(ValueError, match="optimizer"):
        qnb.TrainingConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="beta1"):
        qnb.TrainingConfig(beta1=1.0)


# -- scale out: identical results whatever the engine and the number of workers ----------------
def _tasks():
    stop = (0.99, 60.0, 0.0)  # a short budget: a few steps per run
    return [("qnb fast (k=2)", bench.QNB_METHODS["qnb fast (k=2)"], kind, s, stop) for kind in ("blobs", "xor")
            for s in (0, 1)]


def test_run_tasks_identical_for_any_number_of_workers():
    from qnb.parallel import run_tasks, worker_summary
    one = run_tasks(bench.race_task, _tasks(), workers=1)
    log = []
    two = run_tasks(bench.race_task, _tasks(), workers=2, log=log)
    assert one == two and len(one) == 4 and all(len(r) >= 1 for r in one)
    assert sum(w["tasks"] for w in worker_summary(log)) == 4


def test_dask_local_cluster_gives_the_same_results():
    distributed = pytest.importorskip("distributed")
    from qnb.parallel import run_tasks
    one = run_tasks(bench.race_task, _tasks(), workers=1)
    # worker processes on the loopback interface (threads in this process would share PennyLane's
    # global queuing lock with the rest of the test session)
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, timeout="60s") as client:
        log = []
        got = run_tasks(bench.race_task, _tasks(), client=client, log=log, timeout_s=240)
        assert {r["worker"].split("://")[0] for r in log} <= {"inproc", "tcp"}
    assert got == one
