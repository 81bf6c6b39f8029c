"""The price sheet's choice as the default: an explicit setting wins, then the QNode's own shots,
then the sheet's choice, then qnb's defaults (issue 27, item 4)."""
import numpy as np
import pennylane as qml
import pytest

import qnb

CHOICE = (("shots_per_circuit", 20), ("gradient_subsample_size", 2), ("num_directions", 2))


@pytest.fixture
def sheet(monkeypatch):
    s = qnb.PriceSheet("test-cheap", per_circuit=0.30, per_shot=0.03, source="a test", checked="2026-12-06", choice=CHOICE)
    monkeypatch.setitem(qnb.PRICES, s.name, s)
    return s


def test_a_config_that_names_a_sheet_trains_its_way(sheet):
    c = qnb.TrainingConfig(price=sheet.name)
    assert (c.shots_per_circuit, c.gradient_subsample_size, c.num_directions) == (20, 2, 2)
    assert c.to_dict()["shots_per_circuit"] == 20 and qnb.TrainingConfig.from_dict(c.to_dict()) == c


def test_what_the_user_gave_stands(sheet):
    c = qnb.TrainingConfig(price=sheet.name, shots_per_circuit=1000, gradient_subsample_size=5)
    assert (c.shots_per_circuit, c.gradient_subsample_size, c.num_directions) == (1000, 5, 2)
    assert qnb.TrainingConfig(price=sheet.name, shots_per_circuit=None).shots_per_circuit is None  # exact, as given
    # a preset already holds its values: priced on the sheet, trained the preset's way
    p = qnb.PRESETS["balanced"].replace(price=sheet.name)
    assert (p.shots_per_circuit, p.gradient_subsample_size) == (1000, 5)
    assert qnb.TrainingConfig(price=sheet.name, batch_size=1).gradient_subsample_size == 1  # never beyond the batch


def test_without_a_sheet_the_documents_values():
    c = qnb.TrainingConfig()
    assert (c.shots_per_circuit, c.gradient_subsample_size, c.num_directions) == (1000, 5, 1)
    assert (qnb.TrainingConfig(price="azure-ionq").shots_per_circuit ==
            dict(qnb.PRICES["azure-ionq"].choice).get("shots_per_circuit", 1000))


def test_the_estimate_names_the_sheet_with_its_source_and_date(sheet):
    e = qnb.QuantumTrainer(qnb.TrainingConfig(price=sheet.name, epochs=1)).estimate()
    assert (e["price"], e["price_source"], e["price_checked"]) == (sheet.name, "a test", "2026-12-06")
    assert e["per_step"]["circuits"] == 2 * 2 * 2 and e["per_step"]["shots"] == 8 * 20


def _data():
    X, y, _, _ = qnb.make_dataset("blobs", n_train=20, n_test=1, seed=0)
    return X[:, :2], y


def _qnode(shots):
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev, shots=shots)
    def circuit(x, w):
        qml.RX(x[0], 0); qml.RX(x[1], 1); qml.RY(w[0], 0); qml.CNOT([0, 1]); qml.RY(w[1], 1)
        return qml.expval(qml.PauliZ(0))
    return circuit


@pytest.mark.parametrize("shots, qnode_shots, expected, source", [
    ("auto", None, 20, "the test-cheap sheet's choice"),   # analytic QNode: the sheet decides
    ("auto", 50, 50, "the QNode"),                          # the QNode's own shots win over the sheet
    (7, 50, 7, "shots="),                                   # an explicit shots= wins over both
    (None, None, None, "shots="),                           # exact, as asked
])
def test_the_classifier_takes_shots_in_order(sheet, shots, qnode_shots, expected, source):
    X, y = _data()
    clf = qnb.QuantumClassifier(_qnode(qnode_shots), param_shape=(2,), epochs=1, shots=shots, price=sheet.name,
                                random_state=0).fit(X, y)
    ex = clf.history_["execution"]
    assert (ex["shots"], ex["shots_from"]) == (expected, source)
    step = clf.history_["steps"][0]
    assert step["circuits"] == 2 * 2 * 2  # the sheet's k = 2 and 2 directions, in one job
    assert step["jobs"] == 1


def test_the_classifier_without_a_sheet_keeps_its_defaults():
    X, y = _data()
    clf = qnb.QuantumClassifier(_qnode(None), param_shape=(2,), epochs=1, random_state=0).fit(X, y)
    ex = clf.history_["execution"]
    assert ex["shots"] is None and ex["shots_from"] == "the QNode"
    assert clf.history_["steps"][0]["circuits"] == 2 * 5  # k = 5, one direction
    clf = qnb.QuantumClassifier(epochs=1, random_state=0).fit(*_data())
    assert clf.history_["execution"]["shots"] == 1000 and clf.history_["execution"]["shots_from"] == "qnb's default"


def test_every_sheets_choice_is_what_make_bench_chose_for_it():
    """qnb.PRICES carries the selection's result (figures/bench.json): a bench run that chooses
    otherwise fails here until the sheets are updated."""
    import json
    from pathlib import Path
    from qnb.research import dollars as D
    bench = json.loads((Path(__file__).resolve().parent.parent / "figures" / "bench.json").read_text())
    candidates = D.grid_candidates(pruned=False)
    assert set(bench["selection_choice"]) == set(qnb.PRICES)
    for sheet, chosen in bench["selection_choice"].items():
        kw = {k: v for k, v in candidates[chosen["choice"]].items() if k != "gradient_method"}
        assert dict(qnb.PRICES[sheet].choice) == kw, sheet
        c = qnb.TrainingConfig(price=sheet)
        assert {k: getattr(c, k) for k in kw} == kw


def test_another_method_takes_only_the_sheets_shots(sheet):
    c = qnb.TrainingConfig(price=sheet.name, gradient_method="parameter_shift")
    assert (c.shots_per_circuit, c.num_directions, c.optimizer) == (20, 1, "sgd")
    c = qnb.TrainingConfig(price=sheet.name, gradient_method="spsa_parallel")
    assert (c.shots_per_circuit, c.num_directions, c.gradient_subsample_size) == (20, 1, 5)
