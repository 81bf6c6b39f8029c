"""A user's template circuit of 3 and 6 qubits trains through the real pennylane-ionq client
against the emulator: one job per SPSA step, counted by the emulator, same numbers as locally."""
import numpy as np
import pennylane as qml
import pytest

import qnb
from qnb.emulator import Emulator

pytestmark = pytest.mark.integration


def entangler(x, w):
    n = w.shape[1]
    qml.AngleEmbedding(x, wires=range(n))
    qml.BasicEntanglerLayers(w, wires=range(n))


@pytest.mark.parametrize("n_wires", [3, 6])
def test_user_circuit_trains_on_the_emulator_one_job_per_step(n_wires):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.5, 1.5, (30, n_wires))
    y = np.where(x[:, 0] > 0, 1, -1)
    data = (x[:20], y[:20], x[20:], y[20:])
    cfg = qnb.PRESETS["balanced"].replace(backend="ionq", epochs=1, batch_size=10, shots_per_circuit=None)
    runs = {}
    for where in ("emulator", "local"):
        model = qnb.CircuitModel(entangler, n_wires=n_wires, param_shape=(2, n_wires), seed=0)
        if where == "emulator":
            with Emulator(latency_scale=0.0005) as emu:
                t = qnb.QuantumTrainer(cfg, model=model, dataset=data, backend=emu.backend(seed=0))
                h = t.fit(progress=False)
                assert emu.stats["jobs_created"] == len(h["steps"]) == 2  # one job per SPSA step
                assert emu.stats["circuits"] == 2 * 2 * 5
                assert {j["n"] for j in emu.jobs.values()} == {10}
        else:
            t = qnb.QuantumTrainer(cfg.replace(backend="local"), model=model, dataset=data,
                                   backend=qnb.LocalBackend(seed=0))
            h = t.fit(progress=False)
        runs[where] = t.model.parameters
    np.testing.assert_allclose(runs["emulator"], runs["local"], atol=1e-9)
