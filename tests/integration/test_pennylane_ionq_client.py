"""pennylane-ionq's own device (``ionq.simulator``, the plugin's client, not qnb's) against the
emulator on 127.0.0.1: the same known circuits, final states and faults as test_qiskit_ionq.

What the client does (pennylane_ionq/api_client.py, device.py, checked here): ``qml.probs`` is the
returned histogram itself; a batch is one ``ionq.multi-circuit.v1`` job read in the answer's key
order; its wait loop polls every 10 ms with no deadline and raises ``JobExecutionError`` on
``failed`` but never ends on ``canceled``. HTTP 429, 500, 502, 503, 504 (and 409) are retried on
GET only (``max_retries`` times, ``retry_delay`` doubling); an error status on POST raises a bare
``Exception(response.text)`` (IonQ's error body); a dropped answer is retried for POST too, which
makes a second job.
"""
import math
import threading
import time

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript
from pennylane_ionq import api_client
from pennylane_ionq.api_client import JobExecutionError

from qnb.emulator import Emulator

pytestmark = pytest.mark.integration
THETA = 1.0
P0 = math.cos(THETA / 2) ** 2


@pytest.fixture
def emu(monkeypatch):
    with Emulator(latency_scale=0.0005) as e:
        monkeypatch.setattr(api_client.APIClient, "BASE_URL", e.url)
        yield e


def device(emu, **kw):
    return qml.device("ionq.simulator", wires=2, api_key=emu.api_key, timeout=5, max_retries=3, retry_delay=0.01,
                      **kw)


BELL = QuantumScript([qml.Hadamard(0), qml.CNOT([0, 1])], [qml.probs(wires=[0, 1])], shots=1000)
RY = QuantumScript([qml.RY(THETA, 0)], [qml.probs(wires=[0])], shots=1000)


def test_single_and_multi_circuit_jobs_give_exact_probabilities(emu):
    dev = device(emu)
    np.testing.assert_allclose(qml.execute([BELL], dev)[0], [0.5, 0, 0, 0.5], atol=1e-12)
    np.testing.assert_allclose(qml.execute([RY], dev)[0], [P0, 1 - P0], atol=1e-12)
    bell, ry = qml.execute([BELL, RY], dev)
    np.testing.assert_allclose(bell, [0.5, 0, 0, 0.5], atol=1e-12)
    np.testing.assert_allclose(ry, [P0, 1 - P0], atol=1e-12)
    assert [j["type"] for j in emu.jobs.values()] == ["ionq.circuit.v1"] * 2 + ["ionq.multi-circuit.v1"]


def test_an_expectation_is_sampled_by_the_client_within_shot_noise(emu):
    tape = QuantumScript([qml.RY(THETA, 0)], [qml.expval(qml.PauliZ(0))], shots=4000)
    (z,) = qml.execute([tape], device(emu))
    assert abs(z - math.cos(THETA)) < 5 * math.sin(THETA) / math.sqrt(4000)


def test_a_multi_circuit_answer_in_another_key_order_is_misread_by_the_client(emu):
    emu.children_reversed = True
    bell, ry = qml.execute([BELL, RY], device(emu))
    np.testing.assert_allclose(ry, [0.5, 0.5], atol=1e-12)  # the Bell pair's marginal on wire 0, as the RY's


def test_a_noise_model_reaches_the_emulator(emu):
    (probs,) = qml.execute([BELL], device(emu, noise_model="aria-1", noise_seed=5))
    (job,) = emu.jobs.values()
    assert job["noise"] == {"model": "aria-1", "seed": 5} and math.isclose(sum(probs), 1.0)
    assert probs[1] + probs[2] > 0  # noise: outcomes beyond the Bell pair


def test_a_failed_job_is_a_job_execution_error(emu):
    emu.add_fault("fail")
    with pytest.raises(JobExecutionError, match="Job failed"):
        qml.execute([BELL], device(emu))


def test_a_canceled_job_is_waited_for_without_end(emu):
    """The plugin has no deadline and no 'canceled' case: it polls on. The test ends the wait by
    turning the job into a failed one once the spinning is seen."""
    emu.add_fault("cancel")
    errors = []

    def run():
        try:
            qml.execute([BELL], device(emu))
        except Exception as e:  # noqa: BLE001 -- recorded for the assertion below
            errors.append(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.5)
    assert t.is_alive() and emu.stats["GET 200"] > 10  # still polling a canceled job
    emu.tamper = lambda m, p, s, b: (s, {**b, "status": "failed"}) if isinstance(b, dict) and "status" in b else (s, b)
    t.join(5)
    assert not t.is_alive() and isinstance(errors[0], JobExecutionError)


@pytest.mark.parametrize("fault", ["429@POST", "500@POST", "503@POST"])
def test_an_error_status_on_submit_is_a_bare_exception_with_ionqs_error_body(emu, fault):
    emu.add_fault(fault)
    with pytest.raises(Exception) as err:
        qml.execute([BELL], device(emu))
    assert type(err.value) is Exception and f'"statusCode": {fault[:3]}' in str(err.value)
    assert emu.stats["jobs_created"] == 0  # never retried


def test_a_dropped_submit_answer_is_retried_and_makes_a_second_job(emu):
    emu.add_fault("drop@POST")
    np.testing.assert_allclose(qml.execute([BELL], device(emu))[0], [0.5, 0, 0, 0.5], atol=1e-12)
    assert emu.stats["jobs_created"] == 2  # the first one, whose answer was lost, runs (and is paid) too


@pytest.mark.parametrize("fault", ["429@GET:2", "500@GET", "503@GET", "409@GET", "drop@GET"])
def test_a_fault_while_polling_is_retried(emu, fault):
    emu.add_fault(fault)
    np.testing.assert_allclose(qml.execute([BELL], device(emu))[0], [0.5, 0, 0, 0.5], atol=1e-12)
    assert emu.stats["jobs_created"] == 1
