"""Widget callbacks, tested directly (papermill would swallow their exceptions)."""
import numpy as np
import pytest

import qnb
from qnb.research import spend, widgets


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


# -- notebook 07: the dollars explorer reads a bench result's selection table -------------------
def _bench():
    """A bench result with the keys the dollars explorer reads: two data sets, three grid points
    and today's; one configuration never arrives on xor."""
    inf = float("inf")
    row = lambda m, usd: {"reached": "3/3" if usd < inf else "1/3", "median_min": m,
                          "usd": {p: usd * (2 if "forte" in p else 1) for p in qnb.PRICES}, "shots_per_circuit": 0}
    table = {spend.config_name(5, 2, 500): {"xor@1": row(4.0, 3060.0), "iris@1": row(1.0, 612.0)},
             spend.config_name(2, 1, 20): {"xor@1": row(6.0, 72.0), "iris@1": row(2.0, 36.0)},
             spend.config_name(1, 1, 2): {"xor@1": row(inf, inf), "iris@1": row(3.0, 7.2)},
             spend.config_name(1, 1, 20): {"xor@1": row(5.0, 90.0), "iris@1": row(1.5, 18.0)},
             "adaptive shots, k=2 (braket-ionq-aria)": {"xor@1": row(5.0, 50.0), "iris@1": row(1.0, 10.0)}}
    return {"selection_table": table, "selection_limit_min": {"xor@1": 8.0, "iris@1": 2.0},
            "selection_choice": {p: {"choice": spend.config_name(2, 1, 20), "score": 0.1} for p in qnb.PRICES}}


def config(row: dict) -> str:
    """The grid's name of the configuration a row shows in its own columns (each a control's)."""
    return spend.config_name(row["k"], row["directions"], row["shots"])


def test_the_dollars_rows_read_the_selection_table_and_price_one_step():
    rows = widgets.dollars_rows(_bench(), 2, 1, "20", "braket-ionq-aria")
    assert [(r["dataset"], config(r)) for r in rows] == [
        ("xor@1", "k=2, 1 dir, 20 shots"), ("xor@1", "k=5, 2 dir, 500 shots"),
        ("iris@1", "k=2, 1 dir, 20 shots"), ("iris@1", "k=5, 2 dir, 500 shots")]
    mine, today = rows[0], rows[1]
    assert mine["median USD"] == 72.0 and mine["median minutes"] == 6.0
    assert mine["USD per step"] == pytest.approx(4 * (0.30 + 20 * 0.03))  # 2k = 4 tasks of 20 shots
    assert today["USD per step"] == pytest.approx(20 * (0.30 + 500 * 0.03))
    assert mine["median steps"] == pytest.approx(20) and today["median steps"] == pytest.approx(10)
    never = widgets.dollars_rows(_bench(), 1, 1, "2", "braket-ionq-aria")[0]
    assert never["median USD"] == float("inf") and never["median steps"] == float("inf") and never["reached"] == "1/3"


def test_the_dollars_rows_say_what_the_bench_did_not_run_or_the_sheet_does_not_allow():
    assert widgets.dollars_rows(_bench(), 5, 1, "20", "azure-ionq") == [
        {"k": 5, "directions": 1, "shots": 20, "price sheet": "azure-ionq", "note": "not run by this bench (pruned grid)"}]
    rows = widgets.dollars_rows(_bench(), 2, 1, "20", "azure-ionq-error-mitigation")
    assert rows[0]["note"] == "below the sheet's 500 shots" and rows[1]["note"] == ""


def test_the_dollars_explorer_updates_its_table_and_figure():
    bench = _bench()
    ui = widgets.dollars_explorer(bench)
    (k, d, shots, sheet), out = ui.children[0].children, ui.children[1]
    assert list(k.options) == [1, 2, 5] and list(shots.options) == ["2", "20", "500"]
    assert config(ui.result[0]) == "k=2, 1 dir, 20 shots" and sheet.value == "braket-ionq-aria"
    k.value = 1
    assert config(ui.result[0]) == "k=1, 1 dir, 20 shots" and ui.result[0]["median USD"] == 90.0
    sheet.value = "braket-ionq-forte"  # 0.30 per task, 0.08 per shot
    assert ui.result[0]["median USD"] == 180.0 and ui.result[0]["USD per step"] == pytest.approx(2 * (0.30 + 20 * 0.08))
    shots.value = "2"
    assert ui.result[0]["median USD"] == float("inf")
    md, fig = out.outputs
    assert "| xor@1 | 1 | 1 | 2 | braket-ionq-forte | 1/3 |" in md["data"]["text/markdown"]
    assert "Figure" in fig["data"]["text/plain"]
    d.value = 2  # k=1 with 2 directions is not in this bench
    assert ui.result == [{"k": 1, "directions": 2, "shots": 2, "price sheet": "braket-ionq-forte",
                          "note": "not run by this bench (pruned grid)"}]
    assert len(out.outputs) == 2


def test_the_static_dollars_map_draws_every_arriving_configuration():
    fig = widgets.plot_dollars(_bench(), "braket-ionq-aria", mark=(2, 1, 20))
    xor, iris = fig.axes[:2]
    assert "1 of 4 never arrive" in xor.get_title() and "never" not in iris.get_title()
    assert widgets.grid_points(_bench()) == [(1, 1, 2), (1, 1, 20), (2, 1, 20), (5, 2, 500)]


def test_a_steps_parts_add_up_to_the_sheets_price():
    from qnb.research import spend
    bill = spend.step_bill(5, 2, 500)
    assert (bill["jobs"], bill["circuits"], bill["shots"]) == (1, 20, 10_000)
    for p, sheet in qnb.PRICES.items():
        parts = spend.parts(bill, p)
        assert parts["fee"] + parts["shots"] + parts["gate-shots"] == pytest.approx(parts["total"])
        g1, g2 = bill["gate_shots_1q"] // 500, bill["gate_shots_2q"] // 500
        assert parts["total"] == pytest.approx(sheet.job_usd(20, 500, g1, g2))
    assert spend.parts(bill, "braket-ionq-aria")["fee"] == pytest.approx(20 * 0.30)  # a task per circuit
    assert spend.parts(bill, "braket-ionq-aria-program-set")["fee"] == pytest.approx(0.30)  # one program set
    assert spend.parts(bill, "azure-ionq")["fee"] == pytest.approx(12.4166)  # one program
    assert all(r["job_usd agrees"] for r in spend.breakdown())


def test_notebook_07_reads_what_a_bench_file_has():
    from qnb.research import spend
    assert spend.missing_keys({"races": {}}) == list(spend.NEEDED) and spend.missing_keys(None) == list(spend.NEEDED)
    rows = spend.implied_steps(_bench(), configs=[(2, 1, 20), (5, 1, 20)])
    assert [r["median steps to quality"] for r in rows] == pytest.approx([20, 10])
    # another step rule: its own row of the selection table, the same step bill (c changes angles only)
    bench = _bench()
    bench["selection_table"]["k=2, 1 dir, 20 shots, c=0.4"] = {k: {**r, "usd": {p: 2 * u for p, u in r["usd"].items()}}
                                                              for k, r in bench["selection_table"]["k=2, 1 dir, 20 shots"].items()}
    bench["selection_choice"]["azure-ionq"] = {"choice": "k=2, 1 dir, 20 shots, c=0.4", "score": 0.1}
    by_name = spend.implied_steps(bench, configs=["k=2, 1 dir, 20 shots, c=0.4"])
    by_tuple = spend.implied_steps(bench, configs=[(2, 1, 20, "c=0.4")])
    assert by_name == by_tuple and [r["configuration"] for r in by_name] == ["k=2, 1 dir, 20 shots, c=0.4"] * 2
    assert [r["median steps to quality"] for r in by_name] == pytest.approx([40, 20])
    assert spend.configs_of(bench) == [(5, 2, 500, ""), (2, 1, 20, ""), (2, 1, 20, "c=0.4")]
    assert spend.configs_of(None) == [spend.parse(c) for c in spend.CONFIGS]
    assert spend.parse("qml.SPSAOptimizer (defaults) @ 20 shots") is None and spend.parse("k=2, 1 dir, 20 shots, adam") is None
    bills = {r["configuration"]: r["USD per step"] for r in spend.breakdown(spend.configs_of(bench), ["braket-ionq-aria"])}
    assert bills["k=2, 1 dir, 20 shots, c=0.4"] == bills["k=2, 1 dir, 20 shots"] == pytest.approx(4 * 0.30 + 80 * 0.03)
    assert spend.usd_label("$ / peer <= 1") == "USD / peer <= 1"


def test_the_shot_bias_verdicts_and_the_exact_bias_at_two_shots():
    from qnb.research import spend
    rows = spend.bias_verdicts([{"shots": 2, "predicted (1 - f^2)/s": 0.48, "square loss bias": 0.49,
                                 "95 % interval": "[0.4700, 0.5100]", "halves estimator bias": 0.02,
                                 "halves 95 % interval": "[0.0100, 0.0300]"},
                                {"shots": 1, "predicted (1 - f^2)/s": 0.9, "square loss bias": 0.8,
                                 "95 % interval": "[0.7000, 0.8500]", "halves estimator bias": None,
                                 "halves 95 % interval": "needs 2 shots"}])
    assert [(r["prediction inside"], r["halves: 0 inside"]) for r in rows] == [(True, False), (False, None)]
    exact = spend.exact_bias_at_two_shots()
    assert exact["two halves: largest |bias|"] < 1e-12 and exact["square loss: largest |bias - (1 - f^2)/2|"] < 1e-12
