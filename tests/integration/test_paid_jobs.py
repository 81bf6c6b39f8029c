"""No duplicate paid job: a run interrupted by any cloud fault, or killed, and then resumed ends with
exactly the completed jobs of an uninterrupted run and bit-identical parameters. Jobs are counted
by the emulator's own job list (loopback only, bounded waits)."""
import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import interrupt_at_step
import qnb
from qnb.emulator import Emulator

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(backend="ionq", n_train=20, n_test=10, epochs=2, batch_size=5, gradient_subsample_size=2,
             shots_per_circuit=100, batch_submission_timeout=2.0)
STEPS = 8


def completed(emu):
    """Jobs the service ran to completion: what was paid for and delivered."""
    now = time.monotonic()
    return sum(1 for j in emu.jobs.values() if j["fault"] is None and j["done_at"] <= now)


@pytest.fixture(scope="module")
def reference():
    with Emulator(latency_scale=0.0005) as emu:
        t = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0))
        t.fit(progress=False)
        assert completed(emu) == len(emu.jobs) == STEPS
        return t.model.parameters.copy()


def status_429(emu):
    """The next read of a job's status is answered 429 with Retry-After: 60 (past the deadline)."""
    def tamper(m, p, s, b):
        if m == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", p):
            emu.tamper = None
            return 429, {"error": "rate limited"}, [("Retry-After", "60")]
        return s, b
    emu.tamper = tamper


def finish_hung_jobs(emu):
    for j in emu.jobs.values():
        if j["fault"] == "hang":
            j["fault"], j["done_at"] = None, 0.0


@pytest.mark.parametrize("label,fault,after", [
    ("POST answer dropped", lambda e: e.add_fault("drop@POST"), None),
    ("429 with Retry-After past the deadline", lambda e: status_429(e), None),
    ("job never finishes (deadline)", lambda e: e.add_fault("hang"), finish_hung_jobs),
    ("job failed", lambda e: e.add_fault("fail"), None),
])
def test_an_interrupted_run_resumes_without_a_duplicate_paid_job(reference, tmp_path, label, fault, after):
    with Emulator(latency_scale=0.0005) as emu:
        start = time.perf_counter()
        path, err, _ = interrupt_at_step(emu, tmp_path, 3, fault, qnb.TrainingConfig(**SMALL))
        assert time.perf_counter() - start < 2.0 * 3 + 5  # every wait ended within its deadline
        if label == "POST answer dropped":
            assert isinstance(err, qnb.SubmissionUncertainError) and "-s3-j0" in str(err) and "resume" in str(err)
        if after:
            after(emu)
        resumed = qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        assert completed(emu) == STEPS, label  # a failed job is resubmitted once: never a second delivered job
        assert len(emu.jobs) == STEPS + (label == "job failed")
        assert np.array_equal(resumed.model.parameters, reference)
        assert "pending" not in json.loads(path.read_text())


@pytest.mark.parametrize("fault", ["drop@GET", "409@GET", "503@GET"])
def test_read_faults_are_survived_in_the_same_run(reference, fault):
    with Emulator(latency_scale=0.0005, faults=[fault + ":2"]) as emu:
        t = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0))
        t.fit(progress=False)
        assert completed(emu) == len(emu.jobs) == STEPS
        assert np.array_equal(t.model.parameters, reference)


SCRIPT = """
import sys, qnb
cfg = qnb.TrainingConfig(**{small})
path = sys.argv[1]
if sys.argv[2] == "fit":
    qnb.QuantumTrainer(cfg, backend=qnb.IonQBackend(seed=0)).fit(checkpoint=path, progress=False)
else:
    t = qnb.QuantumTrainer.resume(path, backend=qnb.IonQBackend(seed=0), progress=False)
    print(repr(t.model.parameters.tolist()))
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_killed_process_resumes_in_a_new_one_without_a_duplicate(reference, tmp_path, sig):
    script = SCRIPT.format(small={**SMALL, "batch_submission_timeout": 30.0})
    with Emulator(latency_scale=0.2) as emu:  # ~0.6 s per job: the kill lands while one runs
        env = {**os.environ, "QNB_IONQ_URL": emu.url, "PENNYLANE_IONQ_API_KEY": emu.api_key,
               "PYTHONPATH": str(ROOT)}
        path = tmp_path / "run.ckpt.json"
        proc = subprocess.Popen([sys.executable, "-c", script, str(path), "fit"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:  # wait for step 2's job to be journaled with its id
                try:
                    p = json.loads(path.read_text()).get("pending")
                except (OSError, ValueError):
                    p = None
                if p and p["step"] == 2 and p["jobs"][0]["id"]:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the run never reached step 2")
            proc.send_signal(sig)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        emu.latency_scale = 0.0005
        out = subprocess.run([sys.executable, "-c", script, str(path), "resume"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        params = np.array(eval(out.stdout.strip().splitlines()[-1]))
        deadline = time.monotonic() + 30
        while completed(emu) < len(emu.jobs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(emu.jobs) == completed(emu) == STEPS
        assert np.array_equal(params, reference)


def test_the_gain_calibration_job_is_journaled_too(tmp_path):
    cfg = qnb.TrainingConfig(**SMALL, calibrate=True, calibration_directions=2, calibration_target=0.1)
    with Emulator(latency_scale=0.0005) as emu:
        ref = qnb.QuantumTrainer(cfg, backend=emu.backend(seed=0))
        ref.fit(progress=False)
        assert completed(emu) == STEPS + 1
    with Emulator(latency_scale=0.0005, faults=["drop@POST"]) as emu:  # the calibration's POST answer is lost
        path = tmp_path / "cal.ckpt.json"
        with pytest.raises(qnb.SubmissionUncertainError, match=r"-cal-j0"):
            qnb.QuantumTrainer(cfg, backend=emu.backend(seed=0)).fit(checkpoint=path, progress=False)
        assert json.loads(path.read_text())["pending"]["step"] == -1
        resumed = qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        assert completed(emu) == len(emu.jobs) == STEPS + 1
        assert np.array_equal(resumed.model.parameters, ref.model.parameters)
