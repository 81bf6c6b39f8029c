"""The real pennylane-ionq client against the loopback emulator (127.0.0.1 only, bounded waits)."""
import logging
import time

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

import qnb
from qnb.batching import BatchTimeoutError, JobFailedError, SubmissionUncertainError
from qnb.emulator import Emulator
from qnb.ionq import IonQAuthError, IonQBackend

pytestmark = pytest.mark.integration
KEY = "sk-test-DO-NOT-LEAK-4f2a9c"


@pytest.fixture
def emu():
    with Emulator(api_key=KEY, latency_scale=0.0005) as e:
        yield e


def backend(emu, **kw):
    return IonQBackend(api_key=KEY, api_url=emu.url, seed=0, **kw)


def manager(emu, timeout_s=5.0, **kw):
    return qnb.CircuitBatchManager(backend(emu), timeout_s=timeout_s, backoff_s=0.01, **kw)


def model_circuits(n=6):
    model = qnb.QuantumModel(seed=3)
    x, _, _, _ = qnb.make_dataset(n_train=n, n_test=1, seed=2)
    return [model.build_circuit(xi) for xi in x]


def every_gate_circuit():
    ops = [qml.Hadamard(0), qml.PauliX(1), qml.PauliY(2), qml.PauliZ(3), qml.RX(0.3, 0), qml.RY(-0.7, 1),
           qml.RZ(1.1, 2), qml.S(3), qml.T(0), qml.SX(1), qml.CNOT([0, 2]), qml.SWAP([1, 3]),
           qml.IsingXX(0.4, [0, 1]), qml.IsingYY(-0.9, [2, 3]), qml.IsingZZ(1.3, [1, 2]),
           qml.Rot(0.2, 0.5, -0.3, 3), qml.RY(0.8, 0), qml.Hadamard(2)]
    return QuantumScript(ops, [qml.probs(wires=[0])])


def test_exact_histograms_equal_the_local_simulator(emu):
    circuits = model_circuits() + [every_gate_circuit()]
    for job in (circuits, circuits[:1], [every_gate_circuit()]):  # multi- and single-circuit jobs
        got = manager(emu).execute_batch(job, shots=None)
        np.testing.assert_allclose(got, qnb.LocalBackend().execute(job), atol=1e-9)
    types = {j["type"] for j in emu.jobs.values()}
    assert types == {"ionq.multi-circuit.v1", "ionq.circuit.v1"}


def test_every_gate_reaches_the_service_as_the_plugin_emits_it(emu):
    body = backend(emu)._payload([every_gate_circuit()], 100)
    gates = {g["gate"] for g in body["input"]["circuit"]}
    assert {"h", "x", "y", "z", "rx", "ry", "rz", "s", "t", "v", "cnot", "swap", "xx", "yy", "zz"} <= gates


@pytest.mark.parametrize("method,posts", [("spsa_parallel", 1), ("spsa_subsampled", 1), ("spsa_sequential", 20),
                                          ("spsa_per_sample", 20)])
def test_jobs_per_step_seen_by_the_service(emu, method, posts):
    x, y, _, _ = qnb.make_dataset(n_train=10, n_test=1)
    est = qnb.make_estimator(method, manager(emu), subsample_size=5, seed=0)
    est.estimate_batch_gradient(qnb.QuantumModel(seed=0), x, y, shots=100)
    assert emu.stats["jobs_created"] == posts


@pytest.mark.parametrize("fault", ["429@GET:2", "500@GET:1", "503@GET:2", "drop@GET:1", "429@POST:2", "slow:1"])
def test_transient_faults_are_survived_with_the_right_result(emu, fault):
    emu.add_fault(fault)
    circuits = model_circuits(4)
    m = manager(emu)
    got = m.execute_batch(circuits, shots=None)
    np.testing.assert_allclose(got, qnb.LocalBackend().execute(circuits), atol=1e-9)
    assert emu.stats["jobs_created"] == 1  # never a duplicate job
    if fault != "slow:1":
        assert m.stats.retries >= 1


@pytest.mark.parametrize("fault,status", [("fail", "failed"), ("cancel", "canceled")])
def test_final_states_raise_a_clear_error_within_the_deadline(emu, fault, status):
    emu.add_fault(fault)
    t = time.perf_counter()
    with pytest.raises(JobFailedError) as err:
        manager(emu, timeout_s=3.0).execute_batch(model_circuits(2), shots=10)
    assert time.perf_counter() - t < 3.0
    job_id = next(iter(emu.jobs))
    assert err.value.job_id == job_id and err.value.status == status and job_id in str(err.value)
    if fault == "fail":
        assert "emulated failure" in str(err.value)  # failure {code, message}: qnb shows the service's message


def test_a_job_that_never_finishes_ends_at_the_deadline(emu):
    emu.add_fault("hang")
    t = time.perf_counter()
    with pytest.raises(BatchTimeoutError, match=r"still 'started' after the 0.5 s deadline"):
        manager(emu, timeout_s=0.5).execute_batch(model_circuits(2), shots=10)
    assert 0.4 < time.perf_counter() - t < 1.5


def test_a_status_read_cut_off_by_the_deadline_reports_the_last_status(emu):
    emu.add_fault("hang")
    polls = []

    def tamper(method, path, status, body):  # the 3rd status read ('started') stalls past the deadline
        if method == "GET" and path.count("/") == 3 and status == 200:
            polls.append(body["status"])
            if len(polls) == 2:
                emu.add_fault("stall@GET")
        return status, body
    emu.tamper = tamper
    t = time.perf_counter()
    with pytest.raises(BatchTimeoutError, match=r"job [\w-]+ still 'ready' after the 0.5 s deadline \(the last "
                                                r"status read was cut off by it: .*no answer before the batch deadline"):
        manager(emu, timeout_s=0.5).execute_batch(model_circuits(2), shots=10)
    assert 0.4 < time.perf_counter() - t < 1.0 and emu.stats["jobs_created"] == 1


@pytest.mark.parametrize("fault,created", [("drop@POST", 1), ("500@POST", 0), ("503@POST", 0)])
def test_an_uncertain_submission_is_never_resubmitted(emu, fault, created):
    emu.add_fault(fault)
    with pytest.raises(SubmissionUncertainError, match="not resubmitted"):
        manager(emu).execute_batch(model_circuits(2), shots=10)
    time.sleep(0.05)
    assert emu.stats["jobs_created"] == created


def test_a_wrong_key_is_refused_without_echoing_it(emu):
    wrong = "sk-wrong-key-77"
    be = IonQBackend(api_key=wrong, api_url=emu.url)
    with pytest.raises(IonQAuthError) as err:
        qnb.CircuitBatchManager(be).execute_batch(model_circuits(1), shots=10)
    assert "401" in str(err.value) and wrong not in str(err.value) and wrong not in repr(be)


def test_no_key_at_all_is_a_clear_error(monkeypatch):
    for v in ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    with pytest.raises(IonQAuthError, match="no IonQ API key"):
        IonQBackend(api_url="http://127.0.0.1:9/v0.4")


SMALL = dict(backend="ionq", device="ionq.simulator", n_train=20, n_test=10, epochs=2, batch_size=5,
             gradient_subsample_size=2, shots_per_circuit=100, batch_submission_timeout=5.0)


def test_config_backend_ionq_trains_and_resumes_after_a_fault(emu, monkeypatch, tmp_path, caplog):
    from conftest import strip_wall
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PENNYLANE_IONQ_API_KEY", KEY)
    monkeypatch.setenv("QNB_IONQ_URL", emu.url)
    cfg = qnb.TrainingConfig(**SMALL)
    full = qnb.QuantumTrainer(cfg)
    full.fit(progress=False)
    assert emu.stats["jobs_created"] == 8  # one job per step

    path = tmp_path / "ionq.ckpt.json"
    trainer = qnb.QuantumTrainer(cfg)

    def inject(tr, rec):
        if rec["step"] == 4:
            emu.add_fault("fail")

    with pytest.raises(JobFailedError) as err:
        trainer.fit(checkpoint=path, progress=False, callback=inject)
    resumed = qnb.QuantumTrainer.resume(path, progress=False)
    assert np.array_equal(resumed.model.parameters, full.model.parameters)
    got, want = strip_wall(resumed.history), strip_wall(full.history)
    failed = got["steps"][5]  # the failed job and its resubmission: both created, both counted as billed
    assert failed["jobs"] == 2 and failed["circuits"] == 2 * want["steps"][5]["circuits"]
    got["steps"][5] = want["steps"][5] = {k: v for k, v in failed.items() if k not in ("jobs", "circuits", "shots",
                                                                                       "modeled_s")}
    for e in got["epochs"] + want["epochs"]:  # (modeled seconds add up the steps': the extra job's too)
        e.pop("modeled_s")
    assert got == want
    # key hygiene: not in logs, exceptions, reprs, histories or checkpoints
    texts = [caplog.text, str(err.value), repr(err.value), repr(resumed.backend), repr(resumed.manager),
             str(resumed.history), path.read_text(), str(cfg)]
    assert all(KEY not in t for t in texts)


def test_the_command_line_emulator_serves_the_plugin(monkeypatch):
    import os
    import subprocess
    import sys
    env = {**os.environ, "QNB_EMULATOR_KEY": KEY}
    proc = subprocess.Popen([sys.executable, "-m", "qnb.emulator", "--port", "0", "--latency-scale", "0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()  # printed at once; readline returns at EOF if it dies
        assert line.startswith("QNB_IONQ_URL=http://127.0.0.1:"), line
        be = IonQBackend(api_key=KEY, api_url=line.split("=", 1)[1])
        got = qnb.CircuitBatchManager(be, timeout_s=5).execute_batch(model_circuits(2), shots=None)
        np.testing.assert_allclose(got, qnb.LocalBackend().execute(model_circuits(2)), atol=1e-9)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_qnspsa_step_with_blocking_is_one_job_at_the_service_with_the_local_answer(emu):
    """QN-SPSA's overlap circuits (every wire measured) and blocking's check travel in the SAME job
    as the gradient's circuits (one wire measured): 10 + 4 + 10 circuits, one POST, and the same
    estimate as the local simulator (exact)."""
    x, y, _, _ = qnb.make_dataset(n_train=10, n_test=1)
    ests = [qnb.make_estimator("spsa_subsampled", m, subsample_size=5, seed=0, blocking=True, metric_regularization=0.1)
            for m in (manager(emu), qnb.CircuitBatchManager(qnb.LocalBackend()))]
    model = qnb.QuantumModel(seed=0)
    out = []
    for est in ests:
        model.update_parameters(qnb.QuantumModel(seed=0).parameters)
        est.estimate_batch_gradient(model, x, y, shots=None)
        model.update_parameters(model.parameters + 0.05)
        out.append(est.estimate_batch_gradient(model, x, y, shots=None))
    assert emu.stats["jobs_created"] == 2 and emu.stats["circuits"] == 14 + 24
    np.testing.assert_allclose(out[0].gradients, out[1].gradients, atol=1e-7)
    assert out[0].metadata["blocked"] == out[1].metadata["blocked"]
