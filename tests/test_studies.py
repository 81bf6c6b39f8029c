"""The study cache that lets a notebook read its multi-seed studies instead of rerunning them."""
import json
from pathlib import Path

import pytest

import qnb
from qnb.research import experiments as E, widgets as W

ROOT = Path(__file__).resolve().parent.parent


def test_study_computes_writes_reads_and_recomputes_on_other_params(tmp_path, capsys):
    calls = []
    compute = lambda: calls.append(1) or {"x": [0.1 + 0.2, 1 / 3], "n": 3}
    a = E.study("s", compute, params={"seeds": range(2)}, folder=str(tmp_path))
    b = E.study("s", compute, params={"seeds": [0, 1]}, folder=str(tmp_path))
    assert a == b == {"x": [0.3, 0.333333], "n": 3} and len(calls) == 1   # floats stored to 6 significant digits
    E.study("s", compute, params={"seeds": [5, 6]}, folder=str(tmp_path))
    assert len(calls) == 2 and "other parameters" in capsys.readouterr().out
    E.study("s", compute, params={"seeds": [5, 6]}, recompute=True, folder=str(tmp_path))
    assert len(calls) == 3


def test_quick_never_reads_or_writes(tmp_path):
    E.study("q", lambda: {"v": 1}, params={}, quick=True, folder=str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_read_and_recomputed_print_the_same_line(tmp_path, capsys):
    E.study("s", lambda: [1], params={}, folder=str(tmp_path))
    first = capsys.readouterr().out
    E.study("s", lambda: [1], params={}, folder=str(tmp_path))
    assert capsys.readouterr().out == first  # so make reproduce's outputs equal a reading run's


def test_a_committed_study_is_what_its_code_computes():
    """The variance grid of notebook 03, recomputed from its recorded parameters, to its stored
    precision (the last digits of a float depend on the CPU's BLAS kernel)."""
    path = ROOT / "figures" / "studies" / "03_variance_grid.json"
    if not path.exists():
        pytest.skip("written by make reproduce")
    saved = json.loads(path.read_text())
    p = saved["params"]
    again = W.variance_grid(p["ks"], ("exact", "1000", "100"), repeats=p["repeats"], seed=p["seed"])
    again = E.rounded(json.loads(json.dumps(again)))
    assert E.same_study(again, saved["result"])
    assert not E.same_study(again, E.rounded(json.loads(json.dumps(again)), 3))  # the check can fail


def test_budget_is_never_overshot():
    budget = 120.0  # 24 steps of 4.9 s: stops mid-epoch
    h = qnb.QuantumTrainer(qnb.PRESETS["balanced"]).fit(epochs=50, progress=False, budget_s=budget)
    spent = sum(s["modeled_s"] for s in h["steps"])
    assert spent <= budget and budget - spent < h["steps"][-1]["modeled_s"]
    assert h["epochs"][-1].get("partial")


def test_a_method_whose_one_step_exceeds_the_budget_takes_none_and_spends_nothing():
    cfg = qnb.TrainingConfig(gradient_method="parameter_shift", epochs=1)
    t = qnb.QuantumTrainer(cfg)
    n, per_job = t.optimizer.next_step_size(t.model, t.model.parameters.copy(), *[a[:10] for a in t.dataset[:2]], t.loss)
    assert (n, per_job) == (970, None)
    one_step = t.manager.price_s(n, per_job, 1000)
    assert one_step == pytest.approx(qnb.LatencyModel.seed_calibrated().batch_time(970, 10))
    h = t.fit(progress=False, budget_s=0.9 * one_step)
    assert h["steps"] == [] and t.manager.stats.jobs == 0 and h["epochs"][-1]["partial"]
    h = qnb.QuantumTrainer(cfg).fit(progress=False, budget_s=1.5 * one_step)
    assert len(h["steps"]) == 1


def test_predicting_a_cost_does_not_move_the_random_generator():
    a, b = (qnb.QuantumTrainer(qnb.PRESETS["fast"].replace(epochs=1)) for _ in range(2))
    state = a.optimizer.rng.bit_generator.state
    a.optimizer.next_step_size(a.model, a.model.parameters.copy(), *[x[:10] for x in a.dataset[:2]], a.loss)
    assert a.optimizer.rng.bit_generator.state == state
    assert a.fit(progress=False)["steps"] == [dict(s, wall_s=s2["wall_s"]) for s, s2 in
                                              zip(b.fit(progress=False)["steps"], a.history["steps"])]


def test_train_all_gives_train_many_histories_run_by_run():
    small = dict(epochs=1, n_train=20, n_test=10)
    a = qnb.TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=2, **small)
    b = qnb.TrainingConfig(gradient_method="parameter_shift", batch_size=10, **small)
    grid = E.train_all({"a": (a, [0, 1]), "b": (b, [3])}, workers=1, exact_train_loss=True)
    for name, cfg, seeds in (("a", a, [0, 1]), ("b", b, [3])):
        alone = E.train_many(cfg, seeds, workers=1, exact_train_loss=True)
        assert E.deterministic(grid[name]) == E.deterministic(alone)


def test_a_document_config_crosses_to_a_worker_process():
    """Studies send configs to joblib's worker processes: the defects' config must pickle."""
    import pickle
    from qnb.research.defects import DocumentConfig
    d = DocumentConfig(qnb.TrainingConfig(gradient_method="spsa_parallel"), ("params_minus_leak",))
    back = pickle.loads(pickle.dumps(d))
    assert back == d and back.gradient_method == "spsa_parallel" and back.to_dict()["defects"] == ["params_minus_leak"]


def test_rounding_keeps_what_is_not_a_finite_float():
    data = {"f": 332.39263573385085, "i": 10**20, "b": True, "s": "x", "n": [float("inf"), -0.0, 1e-320, 1.5e300]}
    r = E.rounded(data)
    assert r == {"f": 332.393, "i": 10**20, "b": True, "s": "x", "n": [float("inf"), -0.0, 1e-320, 1.5e300]}
    assert type(r["i"]) is int and type(r["b"]) is bool
    assert E.same_study(332.39263573385085, 332.3926357338506) and not E.same_study(332.393, 332.5)
    assert not E.same_study({"a": 1}, {"a": 1, "b": 2}) and not E.same_study([1.0], [1.0, 2.0])


def test_a_table_escapes_a_bar_inside_a_cell():
    """`max |difference|` as a column once split the table in JupyterLab: every row must keep its cells."""
    md = E.table([{"max |difference|": 1.0, "note": "a|b"}])
    assert all(line.replace("\\|", "").count("|") == 3 for line in md.splitlines())


def test_parameters_are_compared_to_the_stored_precision(tmp_path):
    """A budget computed from the latency fit differs in its last digits on another CPU: the study is
    read, not recomputed; a parameter that really differs still recomputes."""
    calls = []
    compute = lambda: calls.append(1) or [1]
    E.study("p", compute, params={"budget_s": 245.99999999999997}, folder=str(tmp_path))
    E.study("p", compute, params={"budget_s": 246.00000000000003}, folder=str(tmp_path))
    assert len(calls) == 1
    E.study("p", compute, params={"budget_s": 246.1}, folder=str(tmp_path))
    assert len(calls) == 2
