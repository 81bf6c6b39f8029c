"""Widget callbacks, tested directly (papermill would swallow their exceptions)."""
import pytest

import qnb
from qnb import widgets


def test_variance_row_recomputes_for_k_and_shots():
    a = widgets.variance_row(2, None, repeats=20)
    b = widgets.variance_row(10, 100, repeats=20)
    assert (a["circuits"], a["shots"]) == (4, "exact") and (b["circuits"], b["shots"]) == (20, 100)
    assert a["variance"] > 0 and -1 <= a["cosine"] <= 1


def test_cost_row_counts_circuits_and_models_time():
    lat = qnb.LatencyModel(2.0, 0.5)
    r = widgets.cost_row(3, 100, lat)
    assert (r["circuits/batch"], r["jobs/batch"]) == (6, 1)
    assert r["s/batch"] == pytest.approx(2.0 + 6 * 0.5) and r["s/epoch"] == pytest.approx(10 * r["s/batch"])


def test_the_explorers_drive_headlessly():
    ui = widgets.cost_explorer(qnb.LatencyModel(1.0, 0.1))
    k, shots = ui.children[:2]
    k.value, shots.value = 4, 100
    ui.update()
    assert ui.result["circuits/batch"] == 8 and ui.result["shots"] == 100
    v = widgets.variance_explorer(repeats=5)
    v.children[0].value = 1
    v.update()
    assert v.result["circuits"] == 2
