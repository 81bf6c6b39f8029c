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
