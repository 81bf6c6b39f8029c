"""IonQ's own Qiskit provider, qiskit-ionq 1.1.1 (the test extra), against the emulator on 127.0.0.1.

What the client does, read from its source (qiskit_ionq/ionq_client.py, exceptions.py, helpers.py)
and checked here: ``get_backend("simulator")`` asks ``GET /backends/simulator`` (at
``IONQ_API_URL``, no key) for the qubit count; jobs go out as ``ionq.circuit.v1`` /
``ionq.multi-circuit.v1`` with ``targets``/``controls`` lists, ``noise``, ``metadata`` (its
``qiskit_header`` maps results back) and ``settings``; for the ideal simulator it samples counts
locally from the returned probabilities. HTTP 429, 502, 503, 504 (and 409 on GET) are
``IonQRetriableError``: a POST is tried up to 5 times at once, a GET without end (jitter up to 1 s);
any other error status is ``IonQAPIError`` read from IonQ's error shape. A dropped answer to a POST
is a ``requests`` ConnectionError, not retried (the job exists); to a GET, retried.
"""
import math

import pytest
import requests

pytest.importorskip("qiskit_ionq")
from qiskit import QuantumCircuit  # noqa: E402
from qiskit_ionq import IonQProvider  # noqa: E402
from qiskit_ionq.exceptions import (IonQAPIError, IonQJobFailureError, IonQJobStateError,  # noqa: E402
                                    IonQJobTimeoutError)

from qnb.emulator import Emulator  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]
KEY = "sk-test-qiskit-91d0"
THETA = 1.0  # RY(θ)|0>: P(0) = cos²(θ/2)
SHOTS = 2000


@pytest.fixture
def emu(monkeypatch):
    with Emulator(api_key=KEY, latency_scale=0.0005) as e:
        monkeypatch.setenv("IONQ_API_URL", e.url)  # where get_backend asks for the qubit count
        monkeypatch.delenv("IONQ_API_KEY", raising=False)
        yield e


@pytest.fixture
def backend(emu):
    return IonQProvider(token=KEY, url=emu.url).get_backend("simulator")


def bell():
    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def ry():
    qc = QuantumCircuit(1, 1, name="ry")
    qc.ry(THETA, 0)
    qc.measure(0, 0)
    return qc


def result(job, timeout=5.0):
    return job.result(timeout=timeout, wait=0.01)


def within_shot_noise(counts, key, p, shots=SHOTS):
    """A count within 5 standard deviations of shots x p."""
    return abs(counts.get(key, 0) - shots * p) <= 5 * math.sqrt(shots * p * (1 - p)) + 1


def test_the_backend_asks_the_emulator_for_its_qubits(backend, emu):
    assert backend.num_qubits == 12 and emu.stats["GET 200"] >= 1 and emu.stats["GET 401"] == 0


def test_bell_and_a_rotation_single_circuit_jobs(backend, emu):
    r = result(backend.run(bell(), shots=SHOTS))
    assert r.get_probabilities() == pytest.approx({"00": 0.5, "11": 0.5}, abs=1e-12)
    counts = r.get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == SHOTS and within_shot_noise(counts, "00", 0.5)
    r = result(backend.run(ry(), shots=SHOTS))
    p0 = math.cos(THETA / 2) ** 2
    assert r.get_probabilities() == pytest.approx({"0": p0, "1": 1 - p0}, abs=1e-12)
    assert within_shot_noise(r.get_counts(), "0", p0)
    records = list(emu.jobs.values())
    assert [j["type"] for j in records] == ["ionq.circuit.v1"] * 2 and records[0]["metadata"]["qiskit_header"]


def test_a_multi_circuit_job(backend, emu):
    r = result(backend.run([bell(), ry()], shots=SHOTS))
    p0 = math.cos(THETA / 2) ** 2
    assert r.get_probabilities(0) == pytest.approx({"00": 0.5, "11": 0.5}, abs=1e-12)
    assert r.get_probabilities(1) == pytest.approx({"0": p0, "1": 1 - p0}, abs=1e-12)
    assert within_shot_noise(r.get_counts(1), "0", p0)
    (job,) = emu.jobs.values()
    assert job["type"] == "ionq.multi-circuit.v1" and job["n"] == 2


def test_a_multi_circuit_answer_in_another_key_order_is_misread_by_the_client(backend, emu):
    """qiskit-ionq reads a multi-circuit answer by its JSON key order, not by child_job_ids: a
    service that sent the keys in another order would swap the circuits' results silently."""
    emu.children_reversed = True
    r = result(backend.run([bell(), ry()], shots=SHOTS))
    p0 = math.cos(THETA / 2) ** 2
    assert r.get_probabilities(0) == pytest.approx({"00": p0, "01": 1 - p0}, abs=1e-12)  # the RY's, as Bell's


def test_multi_controlled_gates_as_qiskit_ionq_sends_them(backend, emu):
    qc = QuantumCircuit(4, 4)
    qc.x([0, 1, 2])
    qc.mcx([0, 1, 2], 3)  # -> {"gate": "x", "controls": [0, 1, 2], "targets": [3]}
    qc.cry(math.pi, 3, 2)
    qc.measure(range(4), range(4))
    r = result(backend.run(qc, shots=100))
    assert r.get_probabilities() == pytest.approx({"1011": 1.0}, abs=1e-12)  # q3..q0: cry flips q2 back to 0
    (job,) = emu.jobs.values()
    assert job["gate_counts"] == {"1q": 3, "2q": 1, "4q": 1}  # x x x, cry, mcx


def test_a_phase_gate_is_refused_as_the_reference_gives_z_no_rotation(backend, emu):
    qc = QuantumCircuit(1, 1)
    qc.p(0.3, 0)  # qiskit-ionq sends {"gate": "z", "rotation": 0.3}
    qc.measure(0, 0)
    with pytest.raises(IonQAPIError) as err:
        backend.run(qc, shots=10)
    assert err.value.status_code == 400 and err.value.error_type == "Bad Request"
    assert "takes no rotation" in err.value.message and emu.stats["jobs_created"] == 0


def test_noise_models_reach_the_emulator_and_unknown_ones_are_a_400(backend, emu):
    # the noise seed qiskit-ionq sends is the backend's sampler_seed option (a run() keyword does not reach
    # it): without one the service, and the emulator, draw the noise anew on every run
    backend.set_options(sampler_seed=11)
    r = result(backend.run(bell(), shots=500, noise_model="aria-1"))
    (job,) = emu.jobs.values()
    assert job["noise"] == {"model": "aria-1", "seed": 11} and sum(r.get_counts().values()) == 500
    assert set(r.get_probabilities()) - {"00", "11"}  # noise: outcomes beyond the Bell pair
    with pytest.raises(IonQAPIError) as err:
        backend.run(bell(), shots=10, noise_model="harmony-9")
    assert err.value.status_code == 400 and "noise.model" in err.value.message


def test_a_failed_job_is_an_ionq_job_failure_error(backend, emu):
    emu.add_fault("fail")
    with pytest.raises(IonQJobFailureError, match="SimulationError"):
        result(backend.run(bell(), shots=10))


def test_a_canceled_job_is_an_ionq_job_state_error(backend, emu):
    emu.add_fault("cancel")
    with pytest.raises(IonQJobStateError, match="canceled"):
        result(backend.run(bell(), shots=10))
    emu.add_fault("hang")
    job = backend.run(bell(), shots=10)
    job.cancel()  # PUT /jobs/{id}/status/cancel
    with pytest.raises(IonQJobStateError):
        result(job)


def test_a_job_that_never_finishes_is_an_ionq_job_timeout_error(backend, emu):
    emu.add_fault("hang")
    with pytest.raises(IonQJobTimeoutError):
        result(backend.run(bell(), shots=10), timeout=0.3)


@pytest.mark.parametrize("fault", ["429@POST:2", "503@POST:2"])
def test_a_retriable_status_on_submit_is_retried_and_makes_one_job(backend, emu, fault):
    emu.add_fault(fault)
    r = result(backend.run(bell(), shots=100))
    assert r.get_probabilities() == pytest.approx({"00": 0.5, "11": 0.5}, abs=1e-12)
    assert emu.stats["jobs_created"] == 1 and emu.stats[f"POST {fault[:3]}"] == 2


@pytest.mark.parametrize("fault", ["500@POST", "409@POST"])
def test_another_status_on_submit_is_an_ionq_api_error(backend, emu, fault):
    emu.add_fault(fault)
    with pytest.raises(IonQAPIError) as err:
        backend.run(bell(), shots=100)
    assert err.value.status_code == int(fault[:3]) and "emulated HTTP" in err.value.message
    assert emu.stats["jobs_created"] == 0


def test_a_dropped_submit_answer_raises_and_leaves_the_job_behind(backend, emu):
    emu.add_fault("drop@POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        backend.run(bell(), shots=100)
    assert emu.stats["jobs_created"] == 1  # created, unknown to the client, never resubmitted


@pytest.mark.parametrize("fault", ["429@GET", "503@GET", "409@GET", "drop@GET"])
def test_a_retriable_fault_while_polling_is_retried(backend, emu, fault):
    job = backend.run(bell(), shots=100)
    emu.add_fault(fault)
    assert result(job).get_probabilities() == pytest.approx({"00": 0.5, "11": 0.5}, abs=1e-12)
    assert emu.stats["jobs_created"] == 1


def test_a_500_while_polling_is_an_ionq_api_error(backend, emu):
    job = backend.run(bell(), shots=100)
    emu.add_fault("500@GET")
    with pytest.raises(IonQAPIError) as err:
        result(job)
    assert err.value.status_code == 500 and err.value.error_type == "Internal Server Error"

