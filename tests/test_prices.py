"""Dollars: price sheets as data, an estimate before the first job that equals what the run then
spends, a dollar budget never passed, and the one-job advantage where the sheet has it."""
import json

import numpy as np
import pytest

import qnb
from qnb.prices import IONQ_GATES, PRICES, PriceSheet, gate_counts

SMALL = dict(n_train=30, n_test=10, epochs=2, batch_size=10, shots_per_circuit=100, gradient_subsample_size=5,
             num_directions=1)  # given, so a sheet's choice does not change these steps


def test_the_gate_set_is_the_one_pennylane_ionq_sends():
    from pennylane_ionq.device import SimulatorDevice
    assert IONQ_GATES == set(SimulatorDevice(wires=2).operations)


def test_gates_are_counted_after_compilation_to_ionqs_set():
    tape = qnb.QuantumModel(seed=0).build_circuit(np.zeros(4))
    assert gate_counts(tape) == (4 + 16 * 3, 16)  # RX embedding, Rot = RZ RY RZ, one CNOT per wire and layer
    import pennylane as qml
    toffoli = qml.tape.QuantumScript([qml.MultiControlledX(wires=[0, 1, 2, 3])], [qml.probs(wires=[0])])
    assert gate_counts(toffoli)[1] >= 1


@pytest.mark.parametrize("price", list(PRICES))
@pytest.mark.parametrize("method,kw", [("spsa_subsampled", {}), ("spsa_sequential", {}), ("parameter_shift", {}),
                                       ("spsa_parallel", dict(num_directions=2, regularization=0.1)),
                                       ("spsa_subsampled", dict(calibrate=True, calibration_directions=2))])
def test_the_estimate_equals_what_the_run_then_spends(price, method, kw):
    cfg = qnb.TrainingConfig(gradient_method=method, price=price, **{**SMALL, **kw})
    trainer = qnb.QuantumTrainer(cfg)
    estimate = trainer.estimate()
    assert trainer.manager.stats.jobs == 0  # nothing was sent
    h = trainer.fit(progress=False)
    steps = h["steps"] + ([h["calibration"]] if h["calibration"] else [])
    spent = {k: sum(s[k] for s in steps) for k in ("jobs", "circuits", "shots")}
    assert {k: estimate["per_run"][k] for k in spent} == spent == {
        "jobs": trainer.manager.stats.jobs, "circuits": trainer.manager.stats.circuits, "shots": trainer.manager.stats.shots}
    assert estimate["per_run"]["usd"] == pytest.approx(trainer.usd_spent, rel=1e-12) and trainer.usd_spent > 0
    assert trainer.usd_spent == pytest.approx(trainer.manager.stats.usd, rel=1e-12)
    assert estimate["per_run"]["modeled_min"] * 60 == pytest.approx(trainer.modeled_s, rel=1e-12)


def test_the_braket_sheet_prices_a_step_by_hand():
    """k = 5 of 10: 10 circuits of 100 shots, each a Braket task: 10 x (0.30 + 100 x 0.03) = 33 dollars."""
    t = qnb.QuantumTrainer(qnb.TrainingConfig(price="braket-ionq-aria", **SMALL))
    assert t.estimate()["per_step"]["usd"] == pytest.approx(33.0)
    azure = t.estimate(price="azure-ionq")["per_step"]
    assert azure["usd"] == pytest.approx(12.4166 + 0.000220 * azure["gate_shots_1q"] + 0.000975 * azure["gate_shots_2q"])
    assert azure["gate_shots_1q"] == 10 * 52 * 100 and azure["gate_shots_2q"] == 10 * 16 * 100


def test_one_job_saves_dollars_only_where_the_sheet_charges_per_job():
    est = lambda method, price: qnb.QuantumTrainer(qnb.TrainingConfig(gradient_method=method, **SMALL)).estimate(
        price)["per_step"]["usd"]
    assert est("spsa_parallel", "braket-ionq-aria") == pytest.approx(est("spsa_sequential", "braket-ionq-aria"))
    assert est("spsa_sequential", "azure-ionq") - est("spsa_parallel", "azure-ionq") == pytest.approx(19 * 12.4166)


@pytest.mark.parametrize("budget", [0.0, 20.0, 33.0, 100.0, 1000.0])
def test_a_dollar_budget_is_never_passed_the_first_step_included(budget):
    t = qnb.QuantumTrainer(qnb.TrainingConfig(price="braket-ionq-aria", **SMALL))
    h = t.fit(progress=False, budget_usd=budget)
    assert t.usd_spent <= budget and t.manager.stats.usd == t.usd_spent
    full = len(h["steps"]) == 2 * 3
    assert full or t.usd_spent + 33.0 > budget  # it stopped only where one more step would pass the budget
    assert len(h["steps"]) == min(6, int(budget // 33.0))


def test_a_resumed_run_spends_what_an_uninterrupted_one_spends(tmp_path):
    cfg = qnb.TrainingConfig(price="azure-ionq", **SMALL)
    full = qnb.QuantumTrainer(cfg)
    full.fit(progress=False)

    class Stop(Exception):
        pass

    def stop(trainer, rec):
        if rec["step"] == 2:
            raise Stop
    path = tmp_path / "run.ckpt.json"
    with pytest.raises(Stop):
        qnb.QuantumTrainer(cfg).fit(checkpoint=path, progress=False, callback=stop)
    assert sum(s["usd"] for s in json.loads(path.read_text())["history"]["steps"]) > 0
    resumed = qnb.QuantumTrainer.resume(path, progress=False)
    assert resumed.usd_spent == pytest.approx(full.usd_spent, rel=1e-12)


@pytest.mark.parametrize("kw,fit,message", [
    (dict(price="aws"), {}, "price: unknown price sheet 'aws'"),
    ({}, dict(budget_usd=10.0), "budget_usd: the config names no price sheet"),
    (dict(price="azure-ionq"), dict(budget_usd=float("nan")), "budget_usd: must be a finite number"),
    (dict(price="azure-ionq"), dict(budget_usd="10"), "budget_usd: must be a finite number"),
    (dict(price="azure-ionq"), dict(budget_s=float("nan")), "budget_s: must be a finite number"),
])
def test_bad_prices_and_budgets_are_refused_before_any_job(kw, fit, message):
    trainers = []
    with pytest.raises(ValueError, match=message):
        trainers.append(qnb.QuantumTrainer(qnb.TrainingConfig(**{**SMALL, **kw})))
        trainers[0].fit(progress=False, **fit)
    assert all(t.manager.stats.jobs == 0 for t in trainers)


def test_a_users_own_sheet_and_bad_sheets():
    with pytest.raises(ValueError, match="per_shot: must be a finite number of dollars"):
        PriceSheet("bad", per_shot=-1.0)
    PRICES["test-flat"] = PriceSheet("test-flat", per_job=1.0, source="a test", checked="2026-11-29")
    try:
        t = qnb.QuantumTrainer(qnb.TrainingConfig(price="test-flat", **SMALL))
        t.fit(progress=False)
        assert t.usd_spent == pytest.approx(6.0)  # 6 steps, one job each
    finally:
        del PRICES["test-flat"]


def test_the_classifier_estimates_before_it_fits():
    X, y, _, _ = qnb.make_dataset("blobs", n_train=30, n_test=10, seed=0)
    clf = qnb.QuantumClassifier(epochs=1, shots=100, price="braket-ionq-aria")
    est = clf.estimate(X, y)
    clf.fit(X, y)
    assert est["per_run"]["usd"] == pytest.approx(clf.trainer_.usd_spent) and est["per_run"]["jobs"] == clf.n_jobs_ == 3


def test_the_optimizer_estimates_a_step_in_dollars_and_then_spends_that():
    import pennylane as qml
    dev = qml.device("default.qubit", wires=2)

    @qml.set_shots(500)
    @qml.qnode(dev)
    def circuit(x, w):
        qml.RY(x[0], 0)
        qml.RY(x[1], 1)
        qml.CNOT([0, 1])
        qml.RY(w[0], 0)
        qml.RY(w[1], 1)
        return qml.expval(qml.PauliZ(0))
    X = np.array([[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.2, 0.9]])
    y = np.array([1, -1, 1, -1])
    opt = qnb.BatchSPSAOptimizer(subsample=2, num_directions=2, seed=3)
    w = np.array([0.3, -0.2])
    before = json.dumps(opt.state())
    est = opt.estimate(circuit, w, X, y, price="azure-ionq", steps=5)
    assert json.dumps(opt.state()) == before  # planned without moving the generator or the step count
    with qml.Tracker(dev) as tr:
        opt.step(circuit, w, X, y)
    assert est["per_step"]["circuits"] == tr.totals["executions"] == 8 and tr.totals["batches"] == 1
    assert est["per_step"]["shots"] == 8 * 500 and est["per_run"]["usd"] == pytest.approx(5 * est["per_step"]["usd"])
    g1, g2 = est["per_step"]["gate_shots_1q"] / 500, est["per_step"]["gate_shots_2q"] / 500
    assert (g1, g2) == (8 * 4, 8 * 1)  # four RY and a CNOT per circuit
    assert est["per_step"]["usd"] == pytest.approx(12.4166 + 500 * (0.00022 * g1 + 0.000975 * g2))
    with pytest.raises(ValueError, match="exact values have no price"):
        opt.estimate(qml.set_shots(circuit, None), w, X, y, price="azure-ionq")
