import pytest

import qnb


@pytest.fixture
def batch():
    x, y, _, _ = qnb.make_dataset("blobs", n_train=10, n_test=1, seed=3)
    return x, y


@pytest.fixture
def model():
    return qnb.QuantumModel(seed=7)


def manager(max_batch_size=100, seed=0):
    return qnb.CircuitBatchManager(qnb.LocalBackend(seed=seed), max_batch_size=max_batch_size)


def exact_gradient(model, x, y):
    est = qnb.make_estimator("parameter_shift", manager())
    return est.estimate_batch_gradient(model, x, y, shots=None).gradients


def strip_wall(history):
    """Histories without wall-clock seconds, the only field that may differ between runs."""
    return {k: [{f: v for f, v in r.items() if f != "wall_s"} for r in rows] if isinstance(rows, list) else rows
            for k, rows in history.items()}


def chain(e):
    """The exception and everything reachable through __cause__ and __context__."""
    out, todo = [], [e]
    while todo:
        x = todo.pop()
        if x is not None and all(x is not y for y in out):
            out.append(x)
            todo += [x.__cause__, x.__context__]
    return out


def interrupt_at_step(emu, tmp_path, step, fault, config):
    """Train ``config`` on the emulator with a checkpoint; ``fault(emu)`` is armed just before
    ``step``, and the run fails there with that step's one job journaled. Returns the checkpoint's
    path, the error and the seconds the run took."""
    import json
    import time
    path = tmp_path / "run.ckpt.json"

    def arm(trainer, rec):
        if rec["step"] == step - 1:
            fault(emu)

    trainer = qnb.QuantumTrainer(config, backend=emu.backend(seed=0))
    t = time.perf_counter()
    with pytest.raises(Exception) as err:
        trainer.fit(checkpoint=path, progress=False, callback=arm)
    pending = json.loads(path.read_text())["pending"]
    assert pending["step"] == step and len(pending["jobs"]) == 1
    assert pending["jobs"][0]["name"].endswith(f"-s{step}-j0")
    return path, err.value, time.perf_counter() - t
