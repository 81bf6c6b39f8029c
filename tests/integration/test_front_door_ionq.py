"""The PennyLane-native front door through the real pennylane-ionq device against the emulator:
one job per optimizer step, counted by qml.Tracker on the client and by the emulator on the server."""
import numpy as np
import pennylane as qml
import pytest
from pennylane_ionq import api_client

import qnb
from qnb.emulator import Emulator
from user_qnodes import seed_qnode

pytestmark = pytest.mark.integration


def test_an_ionq_qnode_step_is_one_job(monkeypatch):
    x, y, _, _ = qnb.make_dataset("blobs", n_train=20, n_test=1, seed=0)
    with Emulator(latency_scale=0.0005) as emu:
        monkeypatch.setattr(api_client.APIClient, "BASE_URL", emu.url)
        dev = qml.device("ionq.simulator", wires=4, api_key=emu.api_key)
        classifier = seed_qnode(dev, shots=500)

        opt = qnb.BatchSPSAOptimizer(subsample=5, num_directions=2, seed=0)
        w = np.random.default_rng(0).uniform(0, 2 * np.pi, (2, 4, 3))
        for step in range(2):
            with qml.Tracker(dev) as tracker:
                w, loss = opt.step_and_cost(classifier, w, x[10 * step:10 * step + 10], y[10 * step:10 * step + 10])
            assert tracker.totals["batches"] == 1 and tracker.totals["executions"] == 2 * 2 * 5
            assert emu.stats["jobs_created"] == step + 1
        assert emu.stats["circuits"] == 2 * 20 and emu.stats["shots"] == 2 * 20 * 500
