"""Verdicts with their uncertainty (qnb.research.stats) and the latency model's out-of-sample test."""
import math

import numpy as np
import pytest

from qnb.latency import SEED_TIMING_ROWS, fit_latency
from qnb.research import experiments as E, stats as S


def test_verdict_needs_the_whole_interval_on_one_side():
    assert S.verdict(0.1, 0.4, 0.5) == "met" and S.verdict(0.6, 0.9, 0.5) == "missed"
    assert S.verdict(0.4, 0.6, 0.5) == "undecided"
    assert S.verdict(0.96, 0.99, 0.95, at_least=True) == "met"
    assert S.verdict(0.80, 0.94, 0.95, at_least=True) == "missed"
    assert S.verdict(0.90, 0.99, 0.95, at_least=True) == "undecided"


def test_difference_tells_apart_only_what_the_data_separate():
    rng = np.random.default_rng(1)
    far = S.difference(rng.normal(1.0, 0.05, 10), rng.normal(0.5, 0.05, 10))
    assert far["verdict"] == "higher" and far["lo"] < 0.5 < far["hi"]
    near = S.difference(rng.normal(0.5, 0.1, 5), rng.normal(0.5, 0.1, 5))
    assert near["verdict"] == "undecided" and near["lo"] < 0 < near["hi"]
    assert S.difference([0.5] * 4, [0.9] * 4)["verdict"] == "lower"


def test_ratio_interval_is_the_delta_method_on_the_log_scale():
    r, lo, hi = S.ratio_interval(30.0, 3.0, 150.0, 15.0)
    assert r == pytest.approx(0.2) and lo * hi == pytest.approx(r * r)
    assert math.log(hi / r) == pytest.approx(1.959964 * math.hypot(0.1, 0.1))
    assert S.fmt(0.1234, 0.1, 0.2) == "0.12 [0.10, 0.20]"


def test_leave_one_out_predicts_each_row_from_the_others():
    loo = E.latency_leave_one_out()
    assert [r["row"] for r in loo] == [r[0] for r in SEED_TIMING_ROWS]
    for r, (name, circuits, jobs, claimed) in zip(loo, SEED_TIMING_ROWS):
        rest = [q for q in SEED_TIMING_ROWS if (q[1], q[2]) != (circuits, jobs)]
        overhead, per_circuit = fit_latency(rest)["params"]
        assert r["predicted s"] == pytest.approx(jobs * overhead + circuits * per_circuit)
        assert r["rel"] == pytest.approx(claimed / r["predicted s"] - 1)
    # the two identical rows (20 circuits in 20 jobs) are left out together, so neither predicts the other
    v33, seq = loo[1], loo[2]
    assert v33["predicted s"] == seq["predicted s"] != pytest.approx(fit_latency()["modeled_s"][1])


def test_leave_one_out_on_rows_a_model_explains_exactly():
    rows = [(f"r{i}", c, j, 2.0 * j + 0.25 * c) for i, (c, j) in enumerate([(4, 1), (10, 1), (20, 20), (960, 10), (50, 5)])]
    assert all(abs(r["rel"]) < 1e-9 and abs(r["in_sample"]) < 1e-9 for r in E.latency_leave_one_out(rows))


def test_the_central_result_compares_the_one_job_rows_with_v33():
    from qnb.research import experiments as E
    runs = {"v3.2 Parameter Shift": {"acc": [0.5, 0.5]}, "v3.3 (buggy)": {"acc": [0.6, 0.62]},
            "v3.3.1 Sequential": {"acc": [0.61, 0.6]}, "v3.3.1 Parallel": {"acc": [0.9, 0.96]},
            "v3.3.1 Subsampled (k=5)": {"acc": [0.95, 0.97]}}
    r = E.one_job_vs_v33(runs)
    assert (r["lo"], r["hi"], r["v33"]) == pytest.approx((0.93, 0.96, 0.61))   # Sequential and parameter shift excluded
    assert r["parallel_minus_v33"]["diff"] == pytest.approx(0.32) and r["parallel_minus_v33"]["lo"] > 0
