import math

import numpy as np
import pytest

import qnb
from qnb.research import bench, peers, race, runs, throughput


def test_numpy_yardstick_equals_the_model():
    rng = np.random.default_rng(0)
    model = qnb.QuantumModel(seed=0)
    X, P = rng.uniform(-1, 1, (5, 4)), rng.uniform(0, 6, (5, 48))
    exact = [qnb.QuantumModel.process_result(r) for r in qnb.LocalBackend().execute(
        [model.build_circuit(x, p) for x, p in zip(X, P)])]
    np.testing.assert_allclose(throughput.numpy_statevector(X, P), exact, atol=1e-10)


def test_time_to_quality_is_the_first_record_at_target():
    epochs = [{"test_accuracy": a, "modeled_s": t} for a, t in [(0.5, 10), (0.9, 20), (0.8, 30), (0.95, 40)]]
    assert race.time_to_quality(epochs, 0.9) == 20
    assert race.time_to_quality(epochs, 0.96) == math.inf


def test_ttq_summary_counts_runs_that_never_reach_it():
    s = race.ttq_summary([60, 120, 180, math.inf, 240])
    assert s["reached"] == "4/5" and s["median_min"] == pytest.approx(3.0) and s["iqr_min"] == pytest.approx(2.0)
    s = race.ttq_summary([60, 120, math.inf, math.inf])  # half arrive: no median
    assert s["median_min"] == math.inf and s["iqr_min"] == math.inf and s["reached"] == "2/4"
    assert race.ttq_summary([60, 120, 180, math.inf])["median_min"] == pytest.approx(2.5)
    assert race.ttq_summary([math.inf, math.inf])["median_min"] == math.inf


def test_peer_jobs_are_counted_by_the_tracker_and_the_manager_alike():
    assert peers.spsa_optimizer_jobs() == {"jobs": 2, "circuits": 20}  # a QNode objective: 2 device calls
    r = peers.train_spsa_optimizer(0, "blobs", (2.0, 60.0, 0.0))  # the race's objective, a few steps
    n = len(r["steps"]) - 1
    assert n >= 5 and (r["jobs"], r["circuits"]) == (2 * n, 20 * n)
    # the first record is the initial model's exact test accuracy, recomputed here on default.qubit
    data = runs.bench_data("blobs")
    start = qnb.QuantumModel(n_features=data[0].shape[1], seed=runs._seeds(0)[0])
    out = start.outputs(data[2], qnb.LocalBackend(fast=False))
    assert r["steps"][0]["test_accuracy"] == np.mean(np.where(out >= 0, 1, -1) == data[3])
    n_test = len(data[3])  # every record is an accuracy: a whole number of correct test samples
    assert all(e["test_accuracy"] * n_test == pytest.approx(round(e["test_accuracy"] * n_test), abs=1e-9)
               for e in r["steps"])


@pytest.mark.parametrize("name,kw", [("qnb fast (k=2)", race.QNB_METHODS["qnb fast (k=2)"]),
                                     ("qnb calibrated", dict(gradient_method="spsa_subsampled", gradient_subsample_size=2,
                                                             calibrate=True)),
                                     ("qml.SPSAOptimizer (defaults)", None),
                                     ("qml.SPSAOptimizer (matched gains)", dict(a=1.0, c=0.2, A=5.0)),
                                     (race.QISKIT, None)])
def test_race_rule_never_overshoots_and_stops_at_the_target(name, kw):
    if name == race.QISKIT:
        pytest.importorskip("qiskit_algorithms")
    for budget in (200.0, 400.0):  # an unreachable target: the budget ends every run (Qiskit calibrates ~60 s)
        r = race.race_task((name, kw, "xor", 0, (2.0, budget, 0.0)))
        assert r[0]["modeled_s"] == 0.0 and r[-1]["modeled_s"] <= budget  # never past the budget
        steps = np.diff([e["modeled_s"] for e in r])
        assert (steps > 0).all()  # one record per step
    assert len(r) > 3 and r[-1]["modeled_s"] > 400.0 - 2 * steps[1:].max()  # and it used the budget
    first = race.race_task((name, kw, "blobs", 0, (0.0, 1e9, 30.0)))
    # at the target at once: it stops at its first record past the equal-time mark
    assert first[-1]["modeled_s"] >= 30.0 and all(e["modeled_s"] < 30.0 for e in first[:-1])


def test_race_rule_budget_is_parameter_shifts_slowest_arrival():
    runs = [[{"test_accuracy": 0.5, "modeled_s": 0.0, "bill": [0] * 5}, {"test_accuracy": a, "modeled_s": t,
                                                                       "bill": [0] * 5}] for a, t in
            [(0.9, 100.0), (0.9, 300.0), (0.5, 900.0), (0.9, 200.0)]]
    target, budget, t_eq = race.race_rule({"target": 0.85, "runs": runs})
    assert (target, budget) == (0.85, 300.0) and t_eq == pytest.approx(25.0)  # slowest arrival; median (200+300)/2
    cut = race.under_rule(runs[2], (0.85, 300.0, 20.0))
    assert cut == runs[2][:1]  # the record at 900 s lies past the budget
    spent = [{"test_accuracy": 0.5, "modeled_s": 0.0, "bill": [0] * 5},
             {"test_accuracy": 0.9, "modeled_s": 100.0, "bill": [1, 970, 970_000, 5, 6]}]
    assert race.under_rule(spent, (0.85, 300.0, 20.0)) == spent  # held to the rule, a run keeps what it spent


def _runs(ttq, spent=50.0):
    return [{"ttq_s": t, "spent_s": spent, "usd": {k: t for k in qnb.PRICES}, "spent_usd": {k: spent for k in qnb.PRICES}}
            for t in ttq]


def test_ratio_targets_carry_intervals_and_a_never_arriving_peer_makes_a_bound():
    ours, ps = _runs([60.0, 120.0, 120.0, 180.0]), _runs([1800.0, 1800.0, 1900.0, 1700.0])
    per = {"ours": ours, race.PS_NAME: ps, "qml.SPSAOptimizer (matched gains)": _runs([math.inf] * 4, spent=3000.0)}
    out = race.ratio_targets({"d": {"per_run": per}}, "ours")
    assert len(out) == 2 + len(qnb.PRICES) and {r["measure"] for r in out[2:]} == {f"USD {k}" for k in qnb.PRICES}
    assert out[0]["ratio"] == pytest.approx(2 / 30) and out[0]["lo"] <= out[0]["ratio"] <= out[0]["hi"]
    assert out[0]["verdict"] == "met" and not out[0]["bound"]  # the whole interval below 1/10
    assert out[1]["bound"] and out[1]["ratio"] == pytest.approx(120 / 3000) and out[1]["verdict"] == "met"
    slow = dict(per, ours=_runs([2400.0] * 4))
    out = race.ratio_targets({"d": {"per_run": slow}}, "ours")
    assert out[0]["verdict"] == "missed" and out[1]["verdict"] == "undecided"  # a bound above the limit decides nothing
    mixed = dict(per, ours=_runs([60.0, 60.0, 900.0, 900.0]))
    assert race.ratio_targets({"d": {"per_run": mixed}}, "ours")[0]["verdict"] == "undecided"


def test_without_a_peer_every_data_set_gets_only_the_parameter_shift_time_target():
    """The 1/2 target is the peer's: with no peer, no data set gets one (the loop once rebound the
    peer's name to parameter shift's, so every data set after the first got a 1/2 target against it)."""
    per = {"ours": _runs([60.0] * 4), race.PS_NAME: _runs([1800.0] * 4)}
    out = race.ratio_targets({"a": {"per_run": per}, "b": {"per_run": per}, "c": {"per_run": per}}, "ours", peer=None)
    minutes = [r for r in out if r["measure"] == "minutes"]
    assert [(r["dataset"], r["against"], r["limit"]) for r in minutes] == [(k, race.PS_NAME, 0.1) for k in "abc"]


def test_dollars_to_quality_prices_the_bill_of_the_first_record_at_the_target():
    recs = [{"test_accuracy": 0.5, "modeled_s": 0.0, "bill": [0, 0, 0, 0, 0]},
            {"test_accuracy": 0.9, "modeled_s": 10.0, "bill": [2, 40, 40_000, 100_000, 30_000]},
            {"test_accuracy": 0.95, "modeled_s": 20.0, "bill": [4, 80, 80_000, 200_000, 60_000]}]
    sheet = qnb.PRICES["azure-ionq"]
    assert race.usd_to_quality(recs, 0.85, sheet) == pytest.approx(2 * 12.4166 + 100_000 * 0.00022 + 30_000 * 0.000975)
    assert race.usd_to_quality(recs, 0.99, sheet) == math.inf
    braket = qnb.PRICES["braket-ionq-aria"]
    assert race.usd_to_quality(recs, 0.85, braket) == pytest.approx(40 * 0.30 + 40_000 * 0.03)


def test_time_to_quality_is_measured_after_every_exact_step():
    r = runs.run_exact("blobs", 0, 7)
    spe = len(r["steps"]) // len(r["epochs"])
    assert len(r["steps"]) == len(r["epochs"]) * spe + 1 and r["epochs"] == r["steps"][spe::spe]
    assert len({round(e["modeled_s"], 6) for e in r["steps"]}) == len(r["steps"])
    acc = [e["test_accuracy"] for e in r["epochs"]]  # stopped at its plateau, or at the 7-epoch cap
    assert len(acc) == 7 or abs(np.mean(acc[-3:]) - np.mean(acc[-6:-3])) <= runs.PLATEAU_TOL


def test_choose_takes_the_smallest_score_and_breaks_ties_by_name():
    rows = [{"candidate": "c", "score": 0.4}, {"candidate": "a", "score": 0.9}, {"candidate": "b", "score": 0.4}]
    assert min(rows, key=lambda r: r["score"])["candidate"] == "c"  # the first of the tie: not the rule
    assert race.choose(rows) == "b"
    assert race.choose(rows[::-1]) == "b"  # whatever the order of the rows


def test_choose_ranks_by_censored_share_of_the_budget(monkeypatch):
    """go_beyond's score: per data set, the mean time to quality as a share of the budget, a run
    that misses (or arrives past the budget) counted as the whole budget; summed over data sets.
    A candidate that is fastest when it arrives but misses a run loses to one that always arrives
    later: the fastest median would choose the other."""
    z, jobs = [0] * 5, lambda t: [int(t), 0, 0, 0, 0]  # bills: a job per modeled second
    arrive = lambda t: [{"test_accuracy": 0.5, "modeled_s": 0.0, "bill": z},
                        {"test_accuracy": 0.95, "modeled_s": t, "bill": jobs(t)}]
    miss = [{"test_accuracy": 0.5, "modeled_s": 0.0, "bill": z}, {"test_accuracy": 0.6, "modeled_s": 90.0, "bill": jobs(90)}]
    runs = {"misses": [arrive(10.0)] * 3 + [miss], "sure": [arrive(30.0)] * 4, "late": [arrive(150.0)] * 4}
    budgets = {"a": 100.0, "b": 200.0}
    monkeypatch.setattr(race, "GO_BEYOND", {n: {} for n in runs})
    monkeypatch.setattr(race, "race_rule", lambda ceil, *a: (0.9, budgets[ceil], 10.0))
    monkeypatch.setattr(race, "run_tasks", lambda fn, tasks, **kw: [runs[m[len("qnb "):]][s] for m, _, _, s, _ in tasks])
    rows = race.go_beyond(["a", "b"], {"a": "a", "b": "b"}, seeds=range(4))
    got = {r["candidate"]: r for r in rows}
    assert got["misses"]["score"] == pytest.approx((3 * 0.1 + 1) / 4 + (3 * 0.05 + 1) / 4)
    assert got["sure"]["score"] == pytest.approx(0.3 + 0.15)
    assert got["late"]["score"] == pytest.approx(1.0 + 0.75)  # 150 s of a 100 s budget counts as 100 s
    assert (got["misses"]["a reached"], got["sure"]["a reached"], got["late"]["b reached"]) == ("3/4", "4/4", "4/4")
    assert min(rows, key=lambda r: r["a median_min"])["candidate"] == "misses"
    assert race.choose(rows) == "sure"
    # in dollars on Azure (a fee per job): the same censoring, at the most any run spent on that data set
    assert got["sure"]["USD score azure-ionq"] == pytest.approx(30 / 150 + 30 / 150)
    assert race.choose(rows, "USD score azure-ionq") == "sure"
    # each score with its 95 % interval over the seeds: none for runs that all take the same time,
    # a wide one for a candidate that sometimes misses (each data set's seeds resampled on their own)
    assert got["sure"]["score lo"] == got["sure"]["score hi"] == pytest.approx(0.45)
    assert got["misses"]["score lo"] == pytest.approx(0.15) and got["misses"]["score hi"] <= 2.0  # all arrive .. all miss
    assert got["misses"]["score lo"] < got["misses"]["score"] < got["misses"]["score hi"]


def test_quick_benchmark_smoke(tmp_path, monkeypatch):
    monkeypatch.setenv("QNB_FIGURES", str(tmp_path))
    assert bench.main(["--quick"]) == 0
    text = (tmp_path / "bench_quick.md").read_text()
    assert "## Targets" in text and "qml.SPSAOptimizer" in text
    import json
    out = json.loads((tmp_path / "bench_quick.json").read_text())
    from qnb.research import dollars as D
    assert out["chosen"].startswith("qnb ") and out["chosen_config"] == D.grid_candidates()[D.TODAY]
    for kind, r in out["races"].items():
        assert r["rows"][0]["method"] == race.PS_NAME and set(r["histories"]) == {x["method"] for x in r["rows"]}
        assert all(x["runs"] == 2 for x in r["rows"]) and r["budget_min"] * 60 <= 120.0 + 1e-6
        for runs in r["histories"].values():  # no record past the budget
            assert all(e["modeled_s"] <= r["budget_min"] * 60 + 1e-6 for h in runs for e in h)
    per_race = 1 + len(qnb.PRICES) + (out["peer_best_shots"]["qml.SPSAOptimizer (matched gains)"]["braket-ionq-aria"]
                                      is not None)
    assert len(out["ratio_targets"]) == per_race * len(out["races"])
    assert all(r["verdict"] in ("met", "missed", "undecided") for r in out["ratio_targets"] + out["noisy_ratio_targets"]
               + out["dollar_targets"])
    # issue 27: a choice per sheet, the frontier of every entrant, the bias table, the selection's table
    assert set(out["chosen_by_sheet"]) == set(qnb.PRICES) and set(out["frontier"]) == set(out["races"])
    assert [r["shots"] for r in out["bias"]] == [1, 2, 10, 100] and out["selection_table"]
    assert (tmp_path / "bench_quick_frontier.png").exists()
    assert list(out["noisy_races"]) == ["blobs~aria-1"] and out["noisy_ceilings"]["blobs~aria-1"]["ceiling"] > 0.5


# -- the numpy simulator and exact gradients ---------------------------------------------------
def test_numpy_backend_equals_default_qubit():
    import pennylane as qml
    from qnb.backends import NumpyBackend
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
    fast = runs.make_trainer(cfg, "xor").fit(progress=False)
    assert [s["loss"] for s in fast["steps"]] == pytest.approx([s["loss"] for s in ref["steps"]], abs=1e-12)
    assert [e["test_accuracy"] for e in fast["epochs"]] == [e["test_accuracy"] for e in ref["epochs"]]


def test_exact_outputs_without_circuit_objects_equal_default_qubit():
    rng = np.random.default_rng(2)
    m = qnb.QuantumModel(seed=2)
    X = rng.uniform(-2, 2, (25, 4))
    from qnb.backends import NumpyBackend
    fast, ref = NumpyBackend(), qnb.LocalBackend()
    np.testing.assert_allclose(m.outputs(X, fast), m.outputs(X, ref), atol=1e-10)
    assert fast.clock_s > 0 and fast._n_jobs == 1  # still one job on the backend's clock


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


def _kingma_ba(grads, gains, beta1, beta2, eps=1e-8):
    """Adam as Kingma & Ba's Algorithm 1 writes it, the step size alpha_t = a_k of each step."""
    theta, m, v, out = np.zeros(len(grads[0])), 0.0, 0.0, []
    for t, (g, alpha) in enumerate(zip(grads, gains), start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        theta = theta - alpha * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


@pytest.mark.parametrize("beta1,beta2", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_rule_is_kingma_ba(beta1, beta2):
    from qnb.optimizer import StepRule
    rng = np.random.default_rng(4)
    grads = [rng.normal(0, s, 3) for s in (2.0, 0.1, 5.0, 1.0, 0.01, 3.0, 0.5, 1.5)]  # scales that change
    gains = [0.3 / (k + 6) ** 0.602 for k in range(len(grads))]
    want = _kingma_ba(grads, gains, beta1, beta2)
    r, p = StepRule("adam", beta1, beta2), np.zeros(3)
    for k, (g, a_k) in enumerate(zip(grads, gains)):
        p = r.step(p, g, a_k)
        np.testing.assert_allclose(p, want[k], rtol=1e-12, atol=1e-15, err_msg=f"step {k + 1}")
        if k == 3:  # a saved and restored rule continues the same
            again = StepRule("adam", beta1, beta2)
            again.load_state(r.state(), 3)
            r = again
    first = StepRule("adam", beta1, beta2).step(np.zeros(2), np.array([2.0, -0.5]), 0.1)
    np.testing.assert_allclose(first, [-0.1, 0.1], atol=1e-7)  # first step: a_k * sign(g)
    with pytest.raises(ValueError, match="optimizer"):
        qnb.TrainingConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="beta1"):
        qnb.TrainingConfig(beta1=1.0)


def test_momentum_rule_is_the_heavy_ball_it_documents():
    from qnb.optimizer import StepRule
    rng = np.random.default_rng(5)
    r, p, m, want = StepRule("momentum", 0.8), np.zeros(3), np.zeros(3), np.zeros(3)
    for k in range(6):
        g, a_k = rng.normal(size=3), 0.2 / (k + 1)
        m = 0.8 * m + 0.2 * g
        want = want - a_k * m
        p = r.step(p, g, a_k)
        np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-15)


# -- scale out: identical results whatever the engine and the number of workers ----------------
def _tasks():
    stop = (0.99, 60.0, 0.0)  # a short budget: a few steps per run
    return [("qnb fast (k=2)", race.QNB_METHODS["qnb fast (k=2)"], kind, s, stop) for kind in ("blobs", "xor")
            for s in (0, 1)]


def test_run_tasks_identical_for_any_number_of_workers():
    from qnb.research.parallel import run_tasks, worker_summary
    one = run_tasks(race.race_task, _tasks(), workers=1)
    log = []
    two = run_tasks(race.race_task, _tasks(), workers=2, log=log)
    assert one == two and len(one) == 4 and all(len(r) >= 1 for r in one)
    assert sum(w["tasks"] for w in worker_summary(log)) == 4


def test_dask_local_cluster_gives_the_same_results():
    distributed = pytest.importorskip("distributed")
    from qnb.research.parallel import run_tasks
    one = run_tasks(race.race_task, _tasks(), workers=1)
    # worker processes on the loopback interface (threads in this process would share PennyLane's
    # global queuing lock with the rest of the test session)
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, timeout="60s") as client:
        log = []
        got = run_tasks(race.race_task, _tasks(), client=client, log=log, timeout_s=240)
        assert {r["worker"].split("://")[0] for r in log} <= {"inproc", "tcp"}
    assert got == one


def test_the_race_clock_prices_shots_and_equals_the_seed_model_at_1000():
    seed = qnb.LatencyModel.seed_calibrated()
    for n in (1, 10, 970):
        assert runs.LATENCY.job_time(n, 1000) == pytest.approx(seed.job_time(n, 1000), rel=1e-12)
        assert runs.LATENCY.job_time(2 * n, 500) == pytest.approx(seed.job_time(n, 1000), rel=1e-12)  # same shots
    assert runs.LATENCY.job_time(10, None) == pytest.approx(seed.job_time(10))  # exact: charged as 1000 shots
    for kw in race.GO_BEYOND.values():  # every candidate is a valid configuration
        qnb.TrainingConfig(**kw)


def test_the_price_aware_choice_is_adopted_only_where_its_interval_says_cheaper():
    cheap, dear = _runs([100.0] * 6), _runs([400.0, 380.0, 420.0, 390.0, 410.0, 400.0])
    races = {"d": {"per_run": {"time choice": dear, "k=10, 500 shots": cheap}}}
    by_sheet = {p: ("k=10, 500 shots" if p.startswith("braket") else "time choice") for p in qnb.PRICES}
    rows = bench.chooser_verdicts(races, "time choice", by_sheet)
    got = {r["sheet"]: r["verdict"] for r in rows}
    assert got["braket-ionq-aria"] == "adopted: cheaper" and got["azure-ionq"] == "same"
    races["d"]["per_run"]["k=10, 500 shots"] = _runs([100.0, 900.0, 100.0, 900.0, 500.0, 300.0])
    assert bench.chooser_verdicts(races, "time choice", by_sheet)[0]["verdict"] == "not adopted: undecided"
    rows = [{"candidate": "a", "score": 0.2, "USD score x": 0.9}, {"candidate": "b", "score": 0.4, "USD score x": 0.1}]
    assert race.choose(rows) == "a" and race.choose(rows, "USD score x") == "b"


