"""The noise models: exact channels against closed forms, seeds, and where a model reaches."""
import numpy as np
import pennylane as qml
import pytest

import qnb
from qnb import fastsim, noise
from qnb.noise import NOISE_MODELS, NoiseModel

ARIA = NOISE_MODELS["aria-1"]
BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]


def test_the_ideal_model_is_the_exact_simulator():
    ops = [qml.RY(0.3, 0), qml.Rot(0.1, 0.2, 0.3, 1), qml.CNOT([0, 1]), qml.CZ([1, 2]), qml.RX(0.7, 2),
           qml.Hadamard(1), qml.PauliY(0)]
    angles = np.random.default_rng(0).uniform(-3, 3, (9, 5))
    for wires in ([0, 1, 2], [2, 0], [1]):
        assert np.abs(noise.simulate(ops, angles, 3, wires, "ideal") - fastsim.simulate(ops, angles, 3, wires)).max() < 1e-12


@pytest.mark.parametrize("theta", [0.0, 0.8, 2.5])
def test_one_rotation_loses_what_the_channels_predict(theta):
    # <Z> after RY(theta): cos(theta) shrunk by the gate's depolarising (1 - p1) and the read-out (1 - 2e)
    p = noise.simulate([qml.RY(0.0, 0)], np.array([[theta]]), 1, [0], ARIA)[0]
    assert p[0] - p[1] == pytest.approx((1 - ARIA.p1) * (1 - 2 * ARIA.readout) * np.cos(theta), abs=1e-12)
    assert ARIA.p1 == pytest.approx(2 * (1 - 0.9995)) and ARIA.p2 == pytest.approx(4 / 3 * (1 - 0.996))


def test_a_bell_pair_leaks_into_odd_parity_as_predicted():
    h = noise.noisy_histogram(BELL, 2, "aria-1", shots=None)
    odd = ARIA.p2 / 2  # H's channel keeps parity even; the CNOT's two-qubit channel leaves p2/2 odd
    flip = 2 * ARIA.readout * (1 - ARIA.readout)  # exactly one of the two bits flipped
    assert h["1"] + h["2"] == pytest.approx(odd * (1 - flip) + (1 - odd) * flip, abs=1e-12)
    assert sum(h.values()) == pytest.approx(1, abs=1e-12)
    assert h["0"] == pytest.approx(h["3"], abs=1e-12)


def test_the_same_seed_gives_the_same_histogram():
    a, b = (noise.noisy_histogram(BELL, 2, "aria-1", shots=1000, seed=5) for _ in range(2))
    c = noise.noisy_histogram(BELL, 2, "aria-1", shots=1000, seed=6)
    assert a == b and a != c
    assert all(abs(v * 1000 - round(v * 1000)) < 1e-9 for v in a.values()) and sum(a.values()) == pytest.approx(1)


def test_a_noisy_density_matrix_stays_a_density_matrix():
    rho = noise._initial(1, 3)
    for g in BELL + [{"gate": "ry", "target": 2, "rotation": 1.1}, {"gate": "cnot", "control": 2, "target": 0}]:
        m, w = qnb.qis.gate_matrix(g, 3)
        rho = noise._depolarize(noise._apply(rho, m, w, 3), w, 0.3, 3)
    r = rho.reshape(8, 8)
    assert np.trace(r).real == pytest.approx(1) and np.allclose(r, r.conj().T)
    assert np.linalg.eigvalsh(r).min() > -1e-12


def test_waiting_one_qubit_channels_give_the_state_of_a_channel_after_every_gate():
    # the template path composes one-qubit channels until a two-qubit gate; the qis path applies each
    # right after its gate: the same circuit (Rot = RZ RY RZ) must give the same state
    a = np.random.default_rng(1).uniform(-3, 3, 6)
    ops = [qml.RY(0, 0), qml.Rot(0, 0, 0, 1), qml.CNOT([0, 1]), qml.RX(0, 2), qml.CNOT([1, 2]), qml.RZ(0, 0)]
    qis = [{"gate": "ry", "target": 0, "rotation": a[0]}, {"gate": "rz", "target": 1, "rotation": a[1]},
           {"gate": "ry", "target": 1, "rotation": a[2]}, {"gate": "rz", "target": 1, "rotation": a[3]},
           {"gate": "cnot", "control": 0, "target": 1}, {"gate": "rx", "target": 2, "rotation": a[4]},
           {"gate": "cnot", "control": 1, "target": 2},
           {"gate": "rz", "target": 0, "rotation": a[5]}]
    mine = NoiseModel("loud", 0.98, 0.9, 0.97)  # loud enough that a misplaced channel shows
    fast = noise.simulate(ops, a[None], 3, [0, 1, 2], mine)[0]
    assert np.abs(fast - noise.qis_probabilities(qis, 3, mine)).max() < 1e-12
    assert np.abs(fast - noise.simulate(ops, a[None], 3, [0, 1, 2], "ideal")[0]).max() > 0.01


def test_a_model_is_checked_and_unknown_names_say_why():
    with pytest.raises(ValueError, match="fidelity in"):
        NoiseModel("bad", one_qubit_fidelity=1.2)
    with pytest.raises(ValueError, match="no published fidelities"):
        noise.noise_model("forte-1")
    with pytest.raises(ValueError, match="allowed: ideal, aria-1"):
        noise.noise_model("aria-9")
    mine = NoiseModel("mine", 0.999, 0.99, 0.98)
    assert noise.noise_model(mine) is mine and mine.readout == pytest.approx(0.02)


def test_config_routes_the_model_to_each_backend():
    local = qnb.make_backend(qnb.TrainingConfig(noise_model="aria-1"), seed=0)
    assert local.noise is ARIA
    with pytest.raises(ValueError, match="noise_seed"):
        qnb.TrainingConfig(noise_seed=3)
    with pytest.raises(ValueError, match="simulator only"):
        qnb.TrainingConfig(backend="ionq", device="ionq.qpu", noise_model="aria-1")
    with pytest.raises(ValueError, match="noise_seed"):
        qnb.TrainingConfig(backend="ionq", noise_model="aria-1", noise_seed=2 ** 31)
    cfg = qnb.TrainingConfig(backend="ionq", noise_model="forte-1", noise_seed=7)  # IonQ's names on IonQ
    assert qnb.TrainingConfig.from_dict(cfg.to_dict()) == cfg


def test_the_model_reaches_pennylane_ionq_s_payload_unchanged():
    from qnb.ionq import IonQBackend
    be = IonQBackend(api_key="k" * 32, api_url="http://127.0.0.1:9/v0.4", noise_model="aria-1", noise_seed=7)
    tape = qml.tape.QuantumScript([qml.Hadamard(0), qml.CNOT([0, 1])], [qml.probs(wires=[0, 1])])
    assert be._payload([tape], 100)["noise"] == {"model": "aria-1", "seed": 7}
    assert be.sampled and "noise_model='aria-1'" in repr(be)
    with pytest.raises(ValueError, match="noisy simulation cannot give exact"):
        be.submit([tape], None)


def test_a_local_noisy_run_is_seeded_and_scores_under_noise():
    cfg = qnb.TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=5, epochs=1, noise_model="aria-1")
    runs = [qnb.QuantumTrainer(cfg) for _ in range(2)]
    h = [r.fit(progress=False) for r in runs]
    same = lambda hist: [{k: v for k, v in s.items() if k != "wall_s"} for s in hist["steps"]]
    assert same(h[0]) == same(h[1])
    assert runs[0].evaluator.noise is ARIA
    ideal = qnb.QuantumTrainer(cfg.replace(noise_model=None))
    assert ideal.fit(progress=False)["steps"][-1]["loss"] != h[0]["steps"][-1]["loss"]


def test_the_noisy_simulator_refuses_gates_it_cannot_run():
    be = qnb.LocalBackend(noise="aria-1")
    tape = qml.tape.QuantumScript([qml.IsingXX(0.3, [0, 1])], [qml.probs(wires=[0, 1])])
    with pytest.raises(ValueError, match="IsingXX"):
        be.execute([tape])
    with pytest.raises(ValueError, match="numpy simulator only"):
        qnb.LocalBackend("lightning.qubit", noise="aria-1")


def test_the_model_reaches_the_service_and_changes_results_as_predicted():
    from qnb.emulator import Emulator
    tape = qml.tape.QuantumScript([qml.Hadamard(0), qml.CNOT([0, 1])], [qml.probs(wires=[0, 1])])
    with Emulator(latency_scale=0.0) as emu:
        runs = []
        for seed in (7, 7, 8):
            be = emu.backend(seed=0, noise_model="aria-1", noise_seed=seed)
            runs.append(qnb.CircuitBatchManager(be, timeout_s=5.0).execute_batch([tape], shots=2000)[0])
        noises = [j["noise"] for j in emu.jobs.values()]
    assert noises == [{"model": "aria-1", "seed": 7}] * 2 + [{"model": "aria-1", "seed": 8}]  # counted at the service
    np.testing.assert_array_equal(runs[0], runs[1])  # the same seed, the same histogram
    assert not np.array_equal(runs[0], runs[2])
    exact_odd = noise.qis_probabilities(BELL, 2, ARIA)[[1, 2]].sum()
    odd = runs[0][1] + runs[0][2]  # |01> and |10>: absent without noise
    assert abs(odd - exact_odd) < 5 * np.sqrt(exact_odd / 2000) and odd > 0
