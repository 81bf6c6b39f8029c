"""Widget callbacks, tested directly (papermill would swallow their exceptions)."""
import numpy as np
import pytest

import qnb
from qnb.research import widgets


def test_variance_row_recomputes_for_k_and_shots():
    a = widgets.variance_row(2, "exact", repeats=20)
    b = widgets.variance_row(10, "100", repeats=20)
    assert (a["circuits"], a["shots"]) == (4, "exact") and (b["circuits"], b["shots"]) == (20, 100)
    # the row's statistics, recomputed from 20 estimates of the same seeded estimator at the same point
    x, y, _, _ = qnb.make_dataset(n_train=10, n_test=1, seed=0)
    model = qnb.QuantumModel(seed=0)
    exact = qnb.make_estimator("parameter_shift", qnb.CircuitBatchManager(qnb.LocalBackend())).estimate_batch_gradient(
        model, x, y, shots=None).gradients
    est = qnb.make_estimator("spsa_subsampled", qnb.CircuitBatchManager(qnb.LocalBackend(seed=0), max_batch_size=10_000),
                             subsample_size=2, seed=0, gains=qnb.Gains(c=0.05, gamma=1e-9))
    g = np.array([est.estimate_batch_gradient(model, x, y, shots=None).gradients for _ in range(20)])
    cosines = [v @ exact / np.linalg.norm(v) / np.linalg.norm(exact) for v in g]
    assert a["cosine"] == pytest.approx(np.mean(cosines), abs=1e-12) and a["cosine"] != 0
    assert a["variance"] == pytest.approx(np.sum(np.var(g, axis=0)), rel=1e-12)


def test_variance_row_is_the_tables_row():
    from qnb.research import experiments as E
    table_row = E.estimator_statistics(E.subsample_specs([1, 3]), shots=None, repeats=15, seed=0)[1]
    assert widgets.variance_row(3, "exact", repeats=15) == table_row


def test_cost_row_counts_circuits_and_models_time():
    lat = qnb.LatencyModel(2.0, 0.5)
    r = widgets.cost_row(3, "100", lat)
    assert (r["circuits/batch"], r["jobs/batch"]) == (6, 1)
    assert r["s/batch"] == pytest.approx(2.0 + 6 * 0.5) and r["s/epoch"] == pytest.approx(10 * r["s/batch"])


def test_shots_change_the_default_cost_and_agree_with_the_fit_at_1000():
    fitted = qnb.LatencyModel.seed_calibrated()
    r100, r1000, exact = (widgets.cost_row(5, s) for s in ("100", "1000", "exact"))
    assert r100["s/batch"] < r1000["s/batch"] == pytest.approx(fitted.batch_time(10, 1))
    assert exact["s/batch"] == pytest.approx(r1000["s/batch"])  # exact is charged as 1000 shots
    assert r100["s/batch"] == pytest.approx(fitted.job_overhead_s + 10 * fitted.per_circuit_s / 10)


def test_exact_is_a_string_choice_that_survives_the_dropdown():
    k, shots = widgets._controls()
    shots.value = "exact"
    assert shots.value == "exact" and shots.label == "exact"
    assert widgets.shots_value(shots.value) is None and widgets.shots_value("100") == 100
    assert k.style.description_width == "initial"


def test_the_explorers_display_a_row_and_a_figure():
    ui = widgets.cost_explorer(qnb.LatencyModel(1.0, 0.1))
    (k, shots, price), out = ui.children[0].children, ui.children[1]
    k.value, shots.value = 4, "100"
    assert ui.result["circuits/batch"] == 8 and ui.result["shots"] == 100
    price.value = "braket-ionq-aria"  # $0.30 per task (circuit) and $0.03 per shot
    assert ui.result["USD/batch"] == pytest.approx(8 * (0.30 + 100 * 0.03)) and ui.result["price sheet"] == "braket-ionq-aria"
    assert ui.result["USD/5 epochs"] == pytest.approx(ui.result["USD/batch"] * 10 * 5)
    shots.value = "exact"
    assert ui.result["shots"] == "exact (priced as 1000)" and shots.value == "exact"
    md, fig = out.outputs  # exactly a Markdown row and a figure, replaced on every change
    assert "| 4 | exact (priced as 1000) | 8 | 1 |" in md["data"]["text/markdown"]
    assert "Figure" in fig["data"]["text/plain"]
    v = widgets.variance_explorer(repeats=5, grid={"exact": [widgets.variance_row(2, "exact", 5)]})
    v.children[0].children[0].value = 1
    assert v.result["circuits"] == 2 and len(v.children[1].outputs) == 2


def test_an_update_never_shows_an_empty_area():
    """The output area goes from the old row and figure to the new ones in one change: a reader
    never sees it empty between them (it flickered when it was cleared first, then refilled)."""
    ui = widgets.cost_explorer(qnb.LatencyModel(1.0, 0.1))
    (k, shots, price), out = ui.children[0].children, ui.children[1]
    seen = []
    out.observe(lambda change: seen.append(len(change["new"])), "outputs")
    k.value, shots.value, price.value = 3, "100", "braket-ionq-aria"
    assert seen == [2, 2, 2]  # each change: one swap, to a table and a figure
