"""A checkpoint is checked before it is trusted, and a paid step is never lost to one that cannot be written."""
import json

import numpy as np
import pytest

import qnb
from conftest import strip_wall

SMALL = dict(n_train=20, n_test=10, epochs=2, batch_size=5, gradient_subsample_size=2, shots_per_circuit=100)


class CountingBackend(qnb.LocalBackend):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.submitted = 0

    def submit(self, circuits, shots, name=None, **kw):
        self.submitted += 1
        return super().submit(circuits, shots, name)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "run.ckpt.json"
    qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL)).fit(epochs=1, checkpoint=path, progress=False)
    return path


def _edit(path, change):
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


@pytest.mark.parametrize("corrupt,message", [
    (lambda p: p.write_text(p.read_text()[:200]), r"not a readable JSON checkpoint \(JSONDecodeError"),
    (lambda p: p.write_text(""), r"not a readable JSON checkpoint"),
    (lambda p: p.write_text("[1, 2]"), r"\(top level\): expected a JSON object, got list"),
    (lambda p: _edit(p, lambda s: s.update(batch=4)), r"batch: must be in 0..3 \(4 steps per epoch\), got 4"),
    (lambda p: _edit(p, lambda s: s.update(batch=10**6)), r"batch: must be in 0..3"),
    (lambda p: _edit(p, lambda s: s.update(epoch=-1)), r"epoch: must be >= 0, got -1"),
    (lambda p: _edit(p, lambda s: s.update(order=list(range(19)) + [25])), r"order: must be a permutation of the 20"),
    (lambda p: _edit(p, lambda s: s["dataset"].pop()), r"dataset: written for another data set \(or holds only part"),
    (lambda p: _edit(p, lambda s: s["dataset"].__setitem__(0, s["dataset"][0][:10])), r"dataset: written for another"),
    (lambda p: _edit(p, lambda s: s.update(parameters=[0.0] * 47)), r"parameters: expected 48 finite numbers"),
    (lambda p: _edit(p, lambda s: s.update(parameters="x")), r"parameters: missing or not a JSON list"),
    (lambda p: _edit(p, lambda s: s.update(order_rng={"bit_generator": "nope"})),
     r"order_rng: not a generator state \(ValueError\)"),
    (lambda p: _edit(p, lambda s: s.pop("order_rng")), r"order_rng: not a generator state"),
    (lambda p: _edit(p, lambda s: s["optimizer"].update(rng={"bit_generator": "nope"})),
     r"optimizer: not a valid optimizer state \(ValueError: rng: not a generator state"),
    (lambda p: _edit(p, lambda s: s["optimizer"].update(k=-1)),
     r"optimizer: not a valid optimizer state \(ValueError: k: expected an integer >= 0, got -1\)"),
    (lambda p: _edit(p, lambda s: s.pop("optimizer")), r"optimizer: missing or not a JSON dict"),
    (lambda p: _edit(p, lambda s: s["backend"].update(rng={"bit_generator": "nope"})),
     r"backend: not a valid backend state \(ValueError: rng: not a generator state"),
    (lambda p: _edit(p, lambda s: s["backend"].pop("rng")), r"backend: not a valid backend state \(ValueError: rng: "),
])
def test_a_damaged_checkpoint_is_refused_with_the_field_named(saved, corrupt, message):
    corrupt(saved)
    backend = CountingBackend()
    trainer = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=backend)
    with pytest.raises(ValueError, match=rf"checkpoint run.ckpt.json: .*{message}|{message}"):
        trainer.fit(checkpoint=saved, progress=False)
    assert backend.submitted == 0


def test_resume_refuses_a_damaged_file_with_its_name(saved):
    saved.write_text("{")
    with pytest.raises(ValueError, match=r"checkpoint run.ckpt.json: not a readable JSON checkpoint \(JSONDecodeError"):
        qnb.QuantumTrainer.resume(saved, progress=False)


@pytest.mark.parametrize("where,message", [
    (lambda tmp: tmp, r"checkpoint: .* is a directory"),
    (lambda tmp: tmp / "missing" / "run.json", r"checkpoint: folder .* does not exist"),
])
def test_an_unwritable_checkpoint_path_fails_before_any_job(tmp_path, where, message):
    backend = CountingBackend()
    with pytest.raises(ValueError, match=message):
        qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=backend).fit(checkpoint=where(tmp_path), progress=False)
    assert backend.submitted == 0


def test_fit_again_after_an_interrupt_continues_exactly_as_resume(tmp_path):
    cfg = qnb.TrainingConfig(**SMALL)
    full = qnb.QuantumTrainer(cfg)
    full.fit(progress=False)
    path = tmp_path / "run.ckpt.json"
    trainer = qnb.QuantumTrainer(cfg)
    real_step = trainer.train_batch

    def interrupted(bx, by):  # KeyboardInterrupt after the step's job ran, before it was recorded
        real_step(bx, by)
        raise KeyboardInterrupt

    trainer.train_batch = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(checkpoint=path, progress=False)
    del trainer.train_batch
    trainer.fit(checkpoint=path, progress=False)
    assert np.array_equal(trainer.model.parameters, full.model.parameters)
    assert strip_wall(trainer.history) == strip_wall(full.history)


def test_numpy_numbers_in_the_config_are_made_json_safe(tmp_path):
    cfg = qnb.TrainingConfig(**{**SMALL, "epochs": np.int64(1), "spsa_a": np.float32(0.25), "seed": np.uint8(3),
                                "calibrate": np.bool_(False)})
    assert type(cfg.epochs) is int and type(cfg.spsa_a) is float and type(cfg.seed) is int
    qnb.QuantumTrainer(cfg).fit(checkpoint=tmp_path / "c.json", progress=False)
    assert json.loads((tmp_path / "c.json").read_text())["config"]["epochs"] == 1


@pytest.mark.parametrize("field,value,message", [
    ("calibrate", "False", r"calibrate: must be True or False, got 'False'"),
    ("enable_circuit_batching", "no", r"enable_circuit_batching: must be True or False, got 'no'"),
    ("epochs", "5", r"epochs: must be an integer >= 1, got '5'"),
    ("batch_size", None, r"batch_size: must be an integer >= 1, got None"),
    ("spsa_a", "0.3", r"spsa_a: must be a finite number > 0, got '0.3'"),
    ("spsa_a", None, r"spsa_a: must be a finite number > 0, got None"),
    ("spsa_a", 1e308, r"spsa gains|spsa_a"),
    ("spsa_alpha", 1e308, r"spsa gains"),
    ("spsa_A", float("inf"), r"spsa_A: must be a finite number >= 0"),
    ("device", "default.qubit", None),
    ("defects", "frozen_gains", r"defects: the document's defects are a teaching layer"),
    ("n_train", 10**9, r"n_train"),
])
def test_bad_config_values_are_refused_never_guessed(field, value, message):  # the defects' names: test_bad_input
    if field == "device":  # backend='ionq' with a local device: refused, not silently ionq.simulator
        with pytest.raises(ValueError, match=r"device: 'default.qubit' is not a ionq device"):
            qnb.TrainingConfig(backend="ionq", device=value)
        return
    with pytest.raises(ValueError, match=message):
        qnb.TrainingConfig(**{field: value})


def test_a_second_run_on_the_same_checkpoint_is_refused_before_any_job(tmp_path):
    """One writer at a time: while a run trains on a checkpoint (here: inside its callback), a
    second trainer on the same file is refused at once and sends nothing."""
    path = tmp_path / "run.ckpt.json"
    second = CountingBackend()
    refused = []

    def try_second(trainer, rec):
        if rec["step"] == 1:
            with pytest.raises(RuntimeError, match="another run is training on it"):
                qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=second).fit(checkpoint=path, progress=False)
            refused.append(True)
    qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL)).fit(checkpoint=path, progress=False, callback=try_second)
    assert refused and second.submitted == 0
    qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL)).fit(checkpoint=path, progress=False)  # released at the end


def test_a_second_process_is_refused_while_the_first_trains(tmp_path):
    import subprocess
    import sys
    import time
    path = tmp_path / "run.ckpt.json"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, qnb.checkpoint as c\n"
        f"with c.Lock({str(path)!r}):\n    print('locked', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        backend = CountingBackend()
        start = time.perf_counter()
        with pytest.raises(RuntimeError, match="another run is training on it"):
            qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=backend).fit(checkpoint=path, progress=False)
        assert backend.submitted == 0 and time.perf_counter() - start < 5
    finally:
        holder.kill()
        holder.wait(timeout=10)
    qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL)).fit(epochs=1, checkpoint=path, progress=False)  # the OS freed it


def test_a_symlinked_checkpoint_stays_a_link_and_concurrent_saves_never_collide(tmp_path):
    import threading
    target = tmp_path / "store" / "real.json"
    target.parent.mkdir()
    link = tmp_path / "run.ckpt.json"
    link.symlink_to(target)
    trainer = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL))
    trainer.fit(epochs=1, checkpoint=link, progress=False)
    assert link.is_symlink() and json.loads(target.read_text())["epoch"] == 1
    errors = []

    def save():
        try:
            for _ in range(50):
                trainer.save(target)
                json.loads(target.read_text())  # never a broken file
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not list(target.parent.glob("*.tmp"))


@pytest.mark.parametrize("change,message", [
    (lambda s: s["history"].update(steps=[1, 2]), r"history: steps\[0\]: expected the record of step 0"),
    (lambda s: s["history"]["steps"][0].update(modeled_s="3.0"), r"steps\[0\].modeled_s: expected a finite number"),
    (lambda s: s["history"]["steps"][1].update(jobs=1.5), r"steps\[1\].jobs: expected a finite integer"),
    (lambda s: s["history"]["steps"][0].update(loss=float("nan")), r"steps\[0\].loss"),
    (lambda s: s["history"].update(calibration={"a": 99.0, "gradient_magnitude": 1.0, "modeled_s": 1.0}),
     r"calibration: expected none \(calibrate=False\)"),
    (lambda s: s.update(run_id=None), r"run_id: expected 12 hexadecimal digits"),
    (lambda s: s.update(run_id="x" * 100_000), r"run_id: expected 12 hexadecimal digits"),
    (lambda s: s.update(order=[float(i) for i in range(20)]), r"order: must be a permutation"),
    (lambda s: s.update(pending={"step": 0, "jobs": [{"name": "qnb-abc-s0-j0", "id": None}]}), r"pending: expected jobs of"),
    (lambda s: s.update(pending={"step": len(s["history"]["steps"]),
                                 "jobs": [{"name": f"qnb-{s['run_id']}-s{len(s['history']['steps'])}-j0", "id": "../x?y"}]}),
     r"pending: expected jobs of this run's next step"),
])
def test_checkpoint_contents_are_checked_before_any_job(saved, change, message):
    _edit(saved, change)
    backend = CountingBackend()
    with pytest.raises(ValueError, match=message):
        qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=backend).fit(checkpoint=saved, progress=False)
    assert backend.submitted == 0
