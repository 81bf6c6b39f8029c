"""Issue 27: where the money goes. The grid reading, the program-set sheet, the sheet's choice
under its limits, the adaptive-shots rule, and the unbiased square loss from two halves of a
circuit's shots."""
import math

import numpy as np
import pytest

import qnb
from qnb.backends import sample_halves, sample_probabilities
from qnb.losses import square_loss, square_loss_unbiased
from qnb.prices import PRICES
from qnb.research import dollars as D
from qnb.research.runs import GridClock


class _Acc:
    """A LazyAccuracy stand-in: the 'model' is a number, its accuracy the number itself."""

    def __init__(self):
        self.value = 0.0

    def snapshot(self):
        return self.value

    def at(self, params):
        return params


def test_the_grid_reads_the_last_state_completed_by_each_grid_time():
    acc, clock = _Acc(), GridClock((0.9, 100.0, 0.0, 10, 100.0))  # grid every 10 s
    assert not clock.record(acc, 0.0)
    for t, a in [(4.0, 0.2), (12.0, 0.5), (13.0, 0.95), (25.0, 0.1), (31.0, 0.97)]:
        acc.value = a
        if clock.record(acc, t, bill=[1, 2, 3, 4, 5]):
            break
    got = [(r["modeled_s"], r["test_accuracy"]) for r in clock.records]
    # at 10 s the state of 4 s; at 20 s the state of 13 s (at the target): it stops there
    assert got == [(0.0, 0.0), (10.0, 0.2), (20.0, 0.95)]
    assert clock.records[-1]["step"] == 3


def test_the_grid_clock_never_passes_its_budget():
    acc, clock = _Acc(), GridClock((2.0, 35.0, 0.0, 10, 100.0))  # a cap below the grid's budget
    clock.record(acc, 0.0)
    t, stopped = 0.0, False
    while not stopped:
        t += 7.0
        stopped = clock.record(acc, t)
    assert clock.records[-1]["modeled_s"] <= 35.0 and t <= 35.0


def test_a_program_set_pays_one_task_fee_per_100_circuits():
    ps = PRICES["braket-ionq-aria-program-set"]
    assert ps.job_usd(20, 10) == pytest.approx(0.30 + 20 * 10 * 0.03)
    assert ps.job_usd(250, 10) == pytest.approx(3 * 0.30 + 250 * 10 * 0.03)
    per_task = PRICES["braket-ionq-aria"]
    assert per_task.job_usd(20, 10) - ps.job_usd(20, 10) == pytest.approx(19 * 0.30)
    assert ps.source and ps.checked and PRICES["azure-ionq-error-mitigation"].min_shots == 500


def _summary(minutes, usd):
    return {"reached": "3/3", "median_min": minutes, "shots_per_circuit": 1.0, "usd": {p: usd for p in PRICES}}


def test_the_sheets_choice_is_the_cheapest_within_its_limits():
    kinds = ("a", "b")
    table = {D.TODAY: {k: _summary(10.0, 1000.0) for k in kinds},
             "cheap but slow": {k: _summary(30.0, 10.0) for k in kinds},
             "cheap": {k: _summary(15.0, 100.0) for k in kinds},
             "cheapest, 2 shots": {"a": _summary(12.0, 50.0), "b": _summary(12.0, 50.0)}}
    kws = {D.TODAY: {"shots_per_circuit": 500}, "cheap but slow": {"shots_per_circuit": 2},
           "cheap": {"shots_per_circuit": 500}, "cheapest, 2 shots": {"shots_per_circuit": 2}}
    out = D.choose_by_sheet(table, kws, kinds, {"a": 20.0, "b": 20.0})
    assert out["braket-ionq-aria"]["choice"] == "cheapest, 2 shots"
    assert out["braket-ionq-aria"]["score"] == pytest.approx(0.05)
    assert out["braket-ionq-aria"]["scores"]["cheap but slow"] is None  # past the minutes limit
    assert out["azure-ionq-error-mitigation"]["choice"] == "cheap"  # 2 shots: below the sheet's min_shots


def test_adaptive_shots_take_the_price_models_optimum():
    a = D.AdaptiveShots("braket-ionq-aria")
    a.shots = 20
    f = np.array([[0.2, -0.4], [0.1, -0.6]])  # one direction: +, - rows; two samples
    y = np.array([1.0, -1.0])
    a.observe(f, y, 0.1)
    plus, minus = f[0], f[1]
    v1 = np.mean(4 * (plus - y) ** 2 * (1 - plus ** 2) + 4 * (minus - y) ** 2 * (1 - minus ** 2)) / 0.2 ** 2
    d = ((plus - y) ** 2 - (minus - y) ** 2) / 0.2
    assert a.v1 == pytest.approx(v1) and a.vd == pytest.approx(max(np.var(d, ddof=1) - v1 / 20, 1e-12))
    c0, c1 = D.shot_prices(PRICES["braket-ionq-aria"], 4, (52, 16))
    assert (c0, c1) == (pytest.approx(0.30), pytest.approx(0.03))
    assert D.shot_prices(PRICES["azure-ionq"], 4, (52, 16))[0] == pytest.approx(12.4166 / 4)


def test_the_adaptive_k_reads_the_gradient_out_of_the_noise():
    # per-sample directional derivatives G + noise: the mean of k has E[mean^2] = G^2 + sigma^2/k,
    # and the estimate subtracts the second term (without it the mean would be 1.2, not 1)
    rng, G, sigma, k = np.random.default_rng(0), 1.0, 1.0, 5
    est = []
    for _ in range(4000):
        a = D.AdaptiveShots("braket-ionq-aria", memory=0.0, step_value=10.0)
        a.shots = 20
        a.observe_derivatives(G + sigma * rng.standard_normal((1, k)), v1=0.0)
        est.append(a.g2)
    assert np.mean(est) == pytest.approx(G ** 2, abs=0.04)


def test_the_adaptive_k_takes_the_step_price_optimum_and_grows_as_the_gradient_shrinks():
    a = D.AdaptiveShots("braket-ionq-aria", step_value=30.0)
    a.shots, a.v1, a.vd = 20, 40.0, 2.0
    c0, c1 = 0.30, 0.03
    ks = []
    for g2 in (40.0, 4.0, 0.5, 0.0):
        a.g2 = g2
        want = 10 if g2 == 0 else min(10, max(2, round(math.sqrt(30.0 * (2.0 + 40.0 / 20) / (2 * (c0 + c1 * 20) * g2)))))
        ks.append(a.next_k(c1, directions=1, batch=10))
        assert ks[-1] == want
    assert ks == [2, 4, 10, 10]
    # a fee per job is paid once a step whatever k: it weighs with the step's time, not with the samples
    ps = D.AdaptiveShots("braket-ionq-aria-program-set", step_value=30.0)
    ps.shots, ps.v1, ps.vd, ps.g2 = 20, 40.0, 2.0, 4.0
    sheet = PRICES["braket-ionq-aria-program-set"]
    assert sheet.per_job > 0 and sheet.per_circuit == 0
    want = round(math.sqrt((30.0 + sheet.per_job) * 4.0 / (2 * sheet.per_shot * 20 * 4.0)))
    assert ps.next_k(sheet.per_shot, directions=1, batch=10) == min(10, max(2, want))


def test_an_adaptive_k_run_changes_its_subsample_and_is_billed_for_it():
    kw = D.grid_candidates()[D.adaptive_k_name(30.0, "braket-ionq-aria")]
    r = D.run_candidate(kw, "blobs", 0, (2.0, 120.0, 0.0))  # an unreachable target: two minutes of steps
    circuits = np.diff(np.array([e["bill"] for e in r[1:]], dtype=float)[:, 1])  # circuits of each step
    assert len(set(circuits)) > 1 and circuits.min() >= 4 and circuits.max() <= 20 and np.all(circuits % 2 == 0)


def test_an_adaptive_run_changes_its_shots_and_is_billed_for_them():
    kw = D.grid_candidates()["adaptive shots, k=2 (braket-ionq-aria)"]
    r = D.run_candidate(kw, "blobs", 0, (2.0, 60.0, 0.0))  # an unreachable target: a minute of steps
    bills = np.array([e["bill"] for e in r[1:]], dtype=float)
    per_step = np.diff(bills[:, 2]) / np.diff(bills[:, 1])  # shots per circuit of each step
    assert len(set(np.round(per_step))) > 1 and per_step.min() >= 2 and per_step.max() <= 500


def test_the_square_loss_of_few_shots_is_biased_and_the_halves_estimator_is_not():
    rng = np.random.default_rng(1)
    f = np.array([-0.6, 0.1, 0.8])
    probs = np.stack([(1 + f) / 2, (1 - f) / 2], axis=1)
    y = np.array([1.0, -1.0, 1.0])
    n, s = 200_000, 2
    rep, yy = np.repeat(probs, n, axis=0), np.repeat(y, n)
    fhat = qnb.QuantumModel.process_result  # <Z0> = p0 - p1
    one = sample_probabilities(rep, s, rng)
    plain = (square_loss(one[:, 0] - one[:, 1], yy)).reshape(3, n).mean(1)
    h1, h2 = sample_halves(rep, s, rng)
    halves = square_loss_unbiased(h1[:, 0] - h1[:, 1], h2[:, 0] - h2[:, 1], yy).reshape(3, n)
    exact = (f - y) ** 2
    np.testing.assert_allclose(plain - exact, (1 - f ** 2) / s, atol=0.02)  # the bias (1 - f^2)/s
    se = halves.std(1, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(halves.mean(1) - exact) < 4 * se)  # unbiased within 4 standard errors
    assert fhat([0.75, 0.25]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least 2 shots"):
        sample_halves(probs, 1, rng)


def test_floats_are_rounded_to_six_significant_digits():
    out = D.round_floats({"a": [1.23456789, math.inf, 0.0], "b": {"c": 123456.789}, "d": "x", "e": 3})
    assert out == {"a": [1.23457, math.inf, 0.0], "b": {"c": 123457.0}, "d": "x", "e": 3}


def test_dollar_targets_carry_intervals_and_verdicts():
    run = lambda usd, t=60.0: {"ttq_s": t, "spent_s": t, "usd": {p: usd for p in PRICES},
                               "spent_usd": {p: usd for p in PRICES}}
    per = {"cheap": [run(100.0)] * 5, "today": [run(5000.0, 30.0)] * 5, "peer @ 20 shots": [run(1000.0)] * 5}
    rows = D.dollar_targets({"iris": {"per_run": per}, "xor": {"per_run": per}}, "cheap", "today", ["peer @ 20 shots"])
    got = {(r["dataset"], r["target"].split(" <=")[0]): r for r in rows}
    assert got[("iris", "median $")]["verdict"] == "met" and got[("iris", "median $")]["value"] == 100.0
    assert got[("iris", "$ / peer @ 20 shots")]["verdict"] == "met"  # 0.1 <= 1/3
    assert got[("xor", "$ / today")]["value"] == pytest.approx(0.02) and ("xor", "median $") not in got
    assert got[("iris", "minutes / today's")]["verdict"] == "met"  # 2 x today's minutes at most


def test_more_seeds_go_to_the_entrants_of_undecided_targets_only():
    rows = [{"dataset": "iris", "verdict": "undecided", "against": None},
            {"dataset": "iris", "verdict": "met", "against": "peer A"},
            {"dataset": "iris", "verdict": "undecided", "against": "peer B"},
            {"dataset": "blobs", "verdict": "missed", "against": "today"},
            {"dataset": "xor", "verdict": "undecided", "against": "today"}]
    assert D.undecided_entrants(rows, "cheap") == {"iris": ["cheap", "peer B"], "xor": ["cheap", "today"]}
    assert D.undecided_entrants(rows[1:2] + rows[3:4], "cheap") == {}


def test_a_second_look_keeps_the_first_runs_and_adds_seeds_to_the_named_entrants_only():
    from qnb.research import race
    ps = [[{"test_accuracy": 0.5, "modeled_s": 0.0, "bill": [0] * 5},
           {"test_accuracy": 0.6, "modeled_s": 40.0, "bill": [1, 970, 970_000, 5, 6]}]] * 2
    ceil = {"blobs": {"target": 2.0, "runs": ps, "ceiling": 0.6, "ceiling_sd": 0.0, "plateau_change": 0.0}}
    kw = dict(D._RULE, gradient_subsample_size=2, shots_per_circuit=20)
    entrants = {"qnb a": kw, "qnb b": dict(kw, gradient_subsample_size=5)}
    first = race.race(["blobs"], range(2), ceil, entrants, peers=(), workers=1, grid=20)
    second = race.race(["blobs"], range(2, 3), ceil, entrants, peers=(), workers=1, grid=20, prior=first,
                       only={"blobs": ["qnb a"]})
    runs = {r["method"]: r["runs"] for r in second["blobs"]["rows"]}
    assert runs == {race.PS_NAME: 2, "qnb a": 3, "qnb b": 2}
    assert second["blobs"]["per_run"]["qnb a"][:2] == first["blobs"]["per_run"]["qnb a"]
    assert second["blobs"]["per_run"]["qnb b"] == first["blobs"]["per_run"]["qnb b"]
    again = race.race(["blobs"], range(3), ceil, {"qnb a": kw}, peers=(), workers=1, grid=20)
    assert again["blobs"]["per_run"]["qnb a"] == second["blobs"]["per_run"]["qnb a"]  # seed 2 as if run at first
    alone = race.race(["blobs"], range(1), ceil, entrants, peers=(), workers=1, grid=20, only={"blobs": ["qnb b"]})
    assert [r["method"] for r in alone["blobs"]["rows"]] == [race.PS_NAME, "qnb b"]  # no empty entrant


def test_the_vqe_race_bills_what_the_tracker_counts_and_reads_the_first_step_at_the_target():
    from qnb.research import vqe_race as V
    r = V.vqe_run(("qnb BatchSPSAOptimizer", 20, 3))
    jobs, circuits, shots = np.diff(np.array([e["bill"] for e in r]), axis=0).T
    assert (jobs == 1).all() and (circuits == 6).all() and (shots == 120).all()  # one job: +-, 3 bases, 20 shots
    aria = PRICES["braket-ionq-aria"]
    assert V.usd(aria, r[1]) == pytest.approx(6 * 0.30 + 120 * 0.03)
    first = next(i for i, e in enumerate(r) if e["energy"] <= r[0]["target"])
    assert first == len(r) - 1 and V.usd_to_target(r) == pytest.approx(V.usd(aria, r[first]))
    assert V.usd_to_target([dict(r[0], energy=0.0), dict(r[1], energy=r[0]["target"] + 1e-9)]) == math.inf
