"""What a hostile or careless world still got through (issue 19), each played by the emulator
(127.0.0.1 only, every wait bounded): a lost POST answer found through IonQ's documented job
listing, a journaled job the service deleted, Retry-After as an HTTP-date, histograms that are not
distributions, another job's answers, and a half-built backend's repr. Each test states the jobs
created against an uninterrupted run, how it ends, and (for waits) the seconds against the deadline."""
import json
import math
import re
import time
from email.utils import formatdate

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

import qnb
from qnb.backends import sample_probabilities
from qnb.batching import BatchTimeoutError, RejectedSubmission, SubmissionUncertainError, TransientError
from qnb.emulator import Emulator
from qnb.ionq import IonQBackend, IonQResponseError
from qnb.ionq.answers import retry_after

pytestmark = pytest.mark.integration
KEY = "sk-test-DO-NOT-LEAK-4f2a9c"
DEADLINE = 2.0  # seconds: every batch's deadline in the training runs below
SMALL = dict(backend="ionq", n_train=20, n_test=10, epochs=2, batch_size=5, gradient_subsample_size=2,
             shots_per_circuit=100, batch_submission_timeout=DEADLINE)
STEPS = 8  # jobs of an uninterrupted run of SMALL: one per step


def ours(emu):
    """Jobs of the training run (named qnb-<run>-s<step>-j<k>) that the service holds."""
    return [j for j in emu.jobs.values() if str(j["name"]).startswith("qnb-")]


def delivered(emu):
    now = time.monotonic()
    return [j for j in ours(emu) if j["fault"] is None and j["done_at"] <= now]


def other_jobs(emu, n, age_s=0.0):
    """``n`` jobs of someone else's (same account), submitted ``age_s`` seconds ago."""
    for i in range(n):
        status, out = emu.create_job({"type": "ionq.circuit.v1", "name": f"other-{i}", "shots": 100,
                                      "input": {"qubits": 1, "circuit": [{"gate": "h", "target": 0}]}})
        assert status == 200
        emu.jobs[out["id"]]["submitted_at"] -= age_s


def count_listing(emu, calls):
    """Record every GET /v0.4/jobs (the listing) in ``calls``; answers unchanged."""
    def tamper(method, path, status, body):
        if method == "GET" and path == "/v0.4/jobs":
            calls.append(status)
        return status, body
    emu.tamper = tamper


@pytest.fixture(scope="module")
def reference():
    with Emulator(latency_scale=0.0005) as emu:
        t = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0))
        t.fit(progress=False)
        assert len(delivered(emu)) == len(emu.jobs) == STEPS
        return t.model.parameters.copy()


def interrupt_at_step(emu, tmp_path, step, fault):
    """Train with a checkpoint; ``fault(emu)`` is armed just before ``step``; the run fails there."""
    path = tmp_path / "run.ckpt.json"

    def arm(trainer, rec):
        if rec["step"] == step - 1:
            fault(emu)

    trainer = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0))
    t = time.perf_counter()
    with pytest.raises(Exception) as err:
        trainer.fit(checkpoint=path, progress=False, callback=arm)
    pending = json.loads(path.read_text())["pending"]
    assert pending["step"] == step and len(pending["jobs"]) == 1
    return path, err.value, time.perf_counter() - t


def circuits(n=2, width=4):
    out = []
    for s in range(n):
        w = np.random.default_rng(s).uniform(-np.pi, np.pi, (2, width))
        out.append(QuantumScript([qml.Hadamard(0), qml.BasicEntanglerLayers(w, wires=range(width))],
                                 [qml.probs(wires=[0])]))
    return out


def manager(emu, timeout_s=5.0, **kw):
    be = IonQBackend(api_key=KEY, api_url=emu.url, seed=0)
    return qnb.CircuitBatchManager(be, timeout_s=timeout_s, backoff_s=0.01, **kw)


@pytest.fixture
def emu():
    with Emulator(api_key=KEY, latency_scale=0.0005) as e:
        yield e
    assert e.stats["internal_errors"] == 0


# -- 3. Retry-After as an HTTP-date, and never past the deadline ----------------------------------

def test_retry_after_reads_seconds_and_http_dates():
    now = 1_000_000_000.0  # 2001-09-09T01:46:40Z
    assert retry_after("2", now) == 2.0 and retry_after("0.05", now) == 0.05 and retry_after(" 120 ", now) == 120.0
    assert retry_after(formatdate(now + 3, usegmt=True), now) == 3.0  # IMF-fixdate
    assert retry_after("Sunday, 09-Sep-01 01:46:45 GMT", now) == 5.0  # RFC 850
    assert retry_after("Sun Sep  9 01:46:50 2001", now) == 10.0  # asctime: GMT
    assert retry_after(formatdate(now - 60, usegmt=True), now) == 0.0  # a date gone by: retry now
    for bad in (None, "", "soon", "-1", "nan", "inf", "1e3", "Sun, 99 Foo 2001 99:99:99 GMT", "x" * 5000):
        assert retry_after(bad, now) is None, bad


def test_an_http_date_retry_after_within_the_deadline_is_waited_out(emu):
    emu.retry_after_s, emu.retry_after_date = 2, True
    emu.add_fault("429@POST")
    m = manager(emu, timeout_s=5.0)
    t = time.perf_counter()
    got = m.execute_batch(circuits(), shots=None)
    took = time.perf_counter() - t
    assert 1.95 <= took < 5.0, took  # waited the hinted 2..3 s (whole seconds on the date), no more
    assert len(got) == 2 and m.stats.retries == 1
    assert emu.stats["POST 429"] == 1 and emu.stats["jobs_created"] == 1


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_retry_after_past_the_deadline_fails_at_once(emu, method):
    emu.retry_after_s, emu.retry_after_date = 10, True
    emu.add_fault(f"429@{method}")
    m = manager(emu, timeout_s=5.0)
    t = time.perf_counter()
    with pytest.raises(RejectedSubmission if method == "POST" else TransientError,
                       match=r"HTTP 429 \(Retry-After: .* GMT\): the service asks to wait (9|10|11)(\.\d+)? s, "
                             r"past the deadline \(\d(\.\d+)? s left\); not retried"):
        m.execute_batch(circuits(), shots=None)
    assert time.perf_counter() - t < 0.5  # at once, not after 0.06, 0.11, 0.2 s of retries
    assert m.stats.retries == 0 and emu.stats["jobs_created"] == (method == "GET")


# -- 6. a half-built backend has a repr ---------------------------------------------------------------

def test_the_repr_of_a_half_built_backend_is_safe():
    half = IonQBackend.__new__(IonQBackend)
    assert repr(half) == "IonQBackend(device=None, api_url=None)"
    with pytest.raises(ValueError, match="not an http"):
        half.__init__(api_key=KEY, api_url="ftp://127.0.0.1/v0.4")  # raises after device_name is set
    assert repr(half) == "IonQBackend(device='ionq.simulator', api_url=None)" and KEY not in repr(half)
