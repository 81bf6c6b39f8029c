"""The emulator against IonQ's documented v0.4 contract, request by request (raw HTTP, 127.0.0.1,
bounded). The contract and its sources are in qnb.emulator_api's docstring."""
import math
import time

import pytest
import requests

from qnb import emulator_api
from qnb.emulator import Emulator, main as emulator_main

pytestmark = pytest.mark.integration
KEY = "sk-test-contract-7c1e"
BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]
RECORD_FIELDS = {"id", "status", "type", "backend", "dry_run", "submitter_id", "project_id", "parent_job_id",
                 "session_id", "metadata", "name", "submitted_at", "started_at", "completed_at",
                 "predicted_wait_time_ms", "predicted_execution_duration_ms", "execution_duration_ms", "failure",
                 "cost_model", "output", "settings", "stats", "results", "child_job_ids"}


@pytest.fixture
def emu():
    with Emulator(api_key=KEY, latency_scale=0.0005) as e:
        yield e


def call(emu, method, path, body=None, key=KEY, **params):
    headers = {"Authorization": f"apiKey {key}"} if key else {}
    r = requests.request(method, emu.url + path, json=body, headers=headers, params=params, timeout=5)
    return r.status_code, r.json()


def job(circuit=BELL, n=2, **over):
    return {"type": "ionq.circuit.v1", "backend": "simulator", "shots": 100,
            "input": {"qubits": n, "gateset": "qis", "circuit": circuit}, **over}


def run(emu, body, deadline_s=5.0):
    """POST a job, wait until it is final, return (record, results or None)."""
    status, out = call(emu, "POST", "/jobs", body)
    assert status == 201 and set(out) == {"id", "status", "session_id"}, out
    end = time.monotonic() + deadline_s
    while True:
        status, rec = call(emu, "GET", f"/jobs/{out['id']}")
        assert status == 200
        if rec["status"] in ("completed", "failed", "canceled") or time.monotonic() > end:
            break
        time.sleep(0.005)
    results = None
    if rec["status"] == "completed" and rec["results"]:
        status, results = call(emu, "GET", rec["results"]["probabilities"]["url"].removeprefix("/v0.4"))
        assert status == 200
    return rec, results


def approx(hist, expected):
    assert set(hist) == set(expected) and all(math.isclose(hist[k], v, abs_tol=1e-12) for k, v in expected.items())


@pytest.mark.parametrize("circuit,n,expected", [
    (BELL, 2, {"0": 0.5, "3": 0.5}),
    ([{"gate": "h", "targets": [0]}, {"gate": "x", "controls": [0], "targets": [1]}], 2, {"0": 0.5, "3": 0.5}),
    ([{"gate": "x", "target": 0}, {"gate": "not", "target": 1}, {"gate": "x", "controls": [0, 1], "targets": [2]}],
     3, {"7": 1.0}),  # Toffoli, as qiskit-ionq sends ccx
    ([{"gate": "x", "target": 0}, {"gate": "x", "target": 1}, {"gate": "swap", "controls": [0], "targets": [1, 2]}],
     3, {"5": 1.0}),  # controlled swap: qubit 1's 1 moves to qubit 2
    ([{"gate": "ry", "targets": [0], "rotation": 1.0}], 1, {"0": math.cos(0.5) ** 2, "1": math.sin(0.5) ** 2}),
    ([{"gate": "h", "target": 0}, {"gate": "ry", "controls": [0], "targets": [1], "rotation": math.pi}], 2,
     {"0": 0.5, "3": 0.5}),  # controlled rotation
])
def test_qis_gates_singular_and_list_forms_multi_controlled(emu, circuit, n, expected):
    rec, hist = run(emu, job(circuit, n))
    assert rec["status"] == "completed"
    approx(hist, expected)


def test_the_status_record_has_every_documented_field(emu):
    meta = {"purpose": "contract", "shots": "100"}
    rec, _ = run(emu, job(name="bell", metadata=meta, settings={"compilation": {"opt": 1}}))
    assert RECORD_FIELDS <= set(rec) and rec["status"] == "completed"
    assert rec["name"] == "bell" and rec["metadata"] == meta and rec["settings"] == {"compilation": {"opt": 1}}
    assert rec["noise"] == {"model": "ideal"} and "shots" not in rec  # "not included with ideal simulator"
    for t in ("submitted_at", "started_at", "completed_at"):
        assert time.strptime(rec[t], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert rec["submitted_at"] <= rec["started_at"] <= rec["completed_at"] and rec["execution_duration_ms"] >= 0
    stats = rec["stats"]
    assert (stats["qubits"], stats["circuits"], stats["gate_counts"]) == (2, 1, {"1q": 1, "2q": 1})
    assert stats["predicted_quantum_compute_time_us"] > 0 and stats["billed_quantum_compute_time_us"] == 0
    assert rec["results"] == {"probabilities": {"url": f"/v0.4/jobs/{rec['id']}/results/probabilities"}}
    assert rec["failure"] is None and rec["child_job_ids"] is None and rec["cost_model"] == "QCT"


def test_status_goes_submitted_ready_started_then_completed(emu):
    emu.add_fault("hang")
    _, out = call(emu, "POST", "/jobs", job())
    seen = [call(emu, "GET", f"/jobs/{out['id']}")[1] for _ in range(4)]
    assert [r["status"] for r in seen] == ["submitted", "ready", "started", "started"]
    assert seen[0]["started_at"] is None and seen[2]["started_at"] and seen[3]["completed_at"] is None


def test_multi_circuit_job_children_in_order_and_reversed_on_request(emu):
    body = {"type": "ionq.multi-circuit.v1", "backend": "simulator", "shots": 100,
            "input": {"gateset": "qis", "qubits": 2, "circuits": [
                {"name": "bell", "circuit": BELL}, {"circuit": [{"gate": "x", "target": 1}]}]}}
    rec, hist = run(emu, body)
    assert rec["stats"]["circuits"] == 2 and rec["stats"]["gate_counts"] == {"1q": 2, "2q": 1}
    assert list(hist) == rec["child_job_ids"]  # keys in child_job_ids order, as the documented example
    approx(hist[rec["child_job_ids"][0]], {"0": 0.5, "3": 0.5})
    approx(hist[rec["child_job_ids"][1]], {"2": 1.0})
    emu.children_reversed = True
    status, again = call(emu, "GET", f"/jobs/{rec['id']}/results/probabilities")
    assert list(again) == rec["child_job_ids"][::-1] and again == hist


def test_qubits_are_optional_and_default_to_the_circuits_width(emu):
    body = job(BELL)
    del body["input"]["qubits"]
    rec, hist = run(emu, body)
    assert rec["stats"]["qubits"] == 2
    approx(hist, {"0": 0.5, "3": 0.5})


@pytest.mark.parametrize("model", emulator_api.IONQ_NOISE_MODELS)
def test_every_documented_noise_model_is_accepted_and_recorded(emu, model):
    rec, hist = run(emu, job(shots=200, noise={"model": model, "seed": 7}))
    assert rec["status"] == "completed" and rec["noise"] == {"model": model, "seed": 7}
    assert math.isclose(sum(hist.values()), 1.0)
    if model == "ideal":
        approx(hist, {"0": 0.5, "3": 0.5})
    else:  # sampled: shots draws under the model, the same seed the same histogram
        assert rec["shots"] == 200 and all(round(p * 200) == pytest.approx(p * 200) for p in hist.values())
        assert run(emu, job(shots=200, noise={"model": model, "seed": 7}))[1] == hist


def test_noise_on_a_qpu_backend_does_not_apply(emu):
    rec, hist = run(emu, job(backend="qpu.forte-1", noise={"model": "aria-1"}))
    assert "noise" not in rec and rec["shots"] == 100 and rec["backend"] == "qpu.forte-1"


BAD = {  # what IonQ documents it refuses (additionalProperties: false, enums, bounds), and the emulator's limits
    "noise model unknown": job(noise={"model": "harmony-3"}),
    "noise model missing": job(noise={"seed": 1}),
    "noise seed a string": job(noise={"model": "aria-1", "seed": "1"}),
    "noise seed past int32": job(noise={"model": "aria-1", "seed": 2 ** 31}),
    "noise extra field": job(noise={"model": "aria-1", "depolarizing": 0.1}),
    "unknown job field": job(target="simulator"),
    "backend missing": {k: v for k, v in job().items() if k != "backend"},
    "backend unknown": job(backend="qpu.harmony-9"),
    "gateset missing": job() | {"input": {"qubits": 2, "circuit": BELL}},
    "metadata not strings": job(metadata={"n": 1}),
    "settings unknown": job(settings={"turbo": {}}),
    "settings wrong type": job(settings={"error_mitigation": {"debiasing": "yes"}}),
    "debiasing under 500 shots": job(settings={"error_mitigation": {"debiasing": True}}),
    "dry_run not a boolean": job(dry_run="no"),
    "session_id (sessions not emulated)": job(session_id="s-1"),
    "target and targets": job([{"gate": "h", "target": 0, "targets": [0]}]),
    "controls not a list": job([{"gate": "x", "controls": 0, "targets": [1]}]),
    "cnot without a control": job([{"gate": "cnot", "targets": [1]}]),
    "control equals target": job([{"gate": "x", "controls": [1], "targets": [1]}]),
    "rotation on z (qiskit-ionq's phase gate)": job([{"gate": "z", "targets": [0], "rotation": 0.3}]),
    "unknown gate field": job([{"gate": "h", "target": 0, "angle": 1}]),
    "8 controls": job([{"gate": "x", "controls": list(range(8)), "targets": [8]}], n=9),
    "noisy over 10 qubits": job([{"gate": "h", "target": 10}], n=11, noise={"model": "aria-1"}),
    "circuit beside circuits": {"type": "ionq.multi-circuit.v1", "backend": "simulator",
                                "input": {"gateset": "qis", "circuit": BELL, "circuits": [{"circuit": BELL}]}},
}


@pytest.mark.parametrize("case", list(BAD))
def test_what_ionq_refuses_is_a_400_in_its_error_shape(emu, case):
    status, body = call(emu, "POST", "/jobs", BAD[case])
    assert status == 400 and set(body) == {"statusCode", "error", "message"}, body
    assert body["statusCode"] == 400 and body["error"] == "Bad Request" and body["message"].startswith("invalid job")
    assert emu.stats["jobs_created"] == 0 and emu.stats["internal_errors"] == 0


def test_a_null_noise_seed_is_accepted_as_qiskit_ionq_sends_it(emu):
    rec, _ = run(emu, job(noise={"model": "ideal", "seed": None}))
    assert rec["noise"] == {"model": "ideal"}


@pytest.mark.parametrize("fault,status", [("429", 429), ("500", 500), ("503", 503), ("409", 409)])
def test_faults_and_errors_answer_in_ionq_shape(emu, fault, status):
    emu.add_fault(f"{fault}@GET")
    code, body = call(emu, "GET", "/jobs")
    assert code == status and body["statusCode"] == status and isinstance(body["message"], str)
    assert call(emu, "GET", "/jobs", key="wrong")[1] == {"statusCode": 401, "error": "Unauthorized Error",
                                                         "message": "invalid API key"}
    code, body = call(emu, "GET", "/jobs/no-such-job")
    assert code == 404 and body["error"] == "Not Found Error"


def test_backends_are_public_and_name_the_simulator(emu):
    code, listed = call(emu, "GET", "/backends", key=None)
    assert code == 200 and [b["backend"] for b in listed] == list(emulator_api.BACKENDS)
    code, sim = call(emu, "GET", "/backends/simulator", key=None)
    assert code == 200 and sim["qubits"] == emulator_api.MAX_QUBITS and sim["status"] == "available"
    assert {"backend", "status", "qubits", "average_queue_time", "last_updated"} <= set(sim)
    code, body = call(emu, "GET", "/backends/qpu.nowhere", key=None)
    assert code == 404 and body["statusCode"] == 404


def test_cancel_delete_and_a_canceled_job_has_no_results(emu):
    emu.add_fault("hang")
    _, out = call(emu, "POST", "/jobs", job())
    assert call(emu, "PUT", f"/jobs/{out['id']}/status/cancel") == (200, {"id": out["id"], "status": "canceled"})
    assert call(emu, "GET", f"/jobs/{out['id']}")[1]["status"] == "canceled"
    assert call(emu, "GET", f"/jobs/{out['id']}/results/probabilities")[0] == 404
    done, _ = run(emu, job())
    call(emu, "PUT", f"/jobs/{done['id']}/status/cancel")  # a completed job stays completed
    assert call(emu, "GET", f"/jobs/{done['id']}")[1]["status"] == "completed"
    assert call(emu, "DELETE", f"/jobs/{done['id']}") == (200, {"id": done["id"], "status": "deleted"})
    assert call(emu, "GET", f"/jobs/{done['id']}")[0] == 404
    assert call(emu, "DELETE", f"/jobs/{done['id']}")[0] == 404


def test_a_failed_job_carries_failure_code_and_message(emu):
    emu.add_fault("fail")
    rec, hist = run(emu, job())
    assert rec["status"] == "failed" and rec["failure"] == {"code": "SimulationError", "message": "emulated failure"}
    assert hist is None and rec["results"] is None


def test_a_dry_run_completes_without_results_and_costs_nothing(emu):
    rec, hist = run(emu, job(dry_run=True, backend="qpu.forte-1"))
    assert rec["status"] == "completed" and rec["dry_run"] is True and rec["results"] is None and hist is None
    assert call(emu, "GET", f"/jobs/{rec['id']}/cost")[1]["estimated_cost"]["value"] == 0


def test_estimate_and_cost(emu):
    emu.rate_usd_per_s = 2.0
    code, est = call(emu, "GET", "/jobs/estimate", backend="qpu.forte-1", qubits=2, shots=1000,
                     **{"1q_gates": 10, "2q_gates": 4})
    assert code == 200 and est["estimated_unit"] == "usd" and est["estimate_context"]["2q_gates"] == 4
    seconds = emu.latency.job_time(1, 1000)
    assert est["estimated_total_cost"] == pytest.approx(2.0 * seconds, rel=1e-6)
    assert est["estimated_execution_time"] == math.ceil(seconds * 1000)
    assert call(emu, "GET", "/jobs/estimate", backend="simulator")[1]["estimated_total_cost"] == 0
    for bad in ({}, {"backend": "qpu.x"}, {"backend": "simulator", "shots": 0}, {"backend": "simulator", "qubits": "a"}):
        code, body = call(emu, "GET", "/jobs/estimate", **bad)
        assert code == 400 and body["statusCode"] == 400
    rec, _ = run(emu, job(backend="qpu.forte-1"))
    code, cost = call(emu, "GET", f"/jobs/{rec['id']}/cost")
    assert code == 200 and cost["dry_run"] is False and cost["cost"] == cost["estimated_cost"]
    assert cost["cost"]["value"] == pytest.approx(2.0 * rec["stats"]["predicted_quantum_compute_time_us"] / 1e6)


def test_the_listing_carries_the_same_records(emu):
    rec, _ = run(emu, job(name="listed"))
    code, page = call(emu, "GET", "/jobs", name="not-a-filter")
    assert code == 200 and page["next"] is None and [j["id"] for j in page["jobs"]] == [rec["id"]]
    assert RECORD_FIELDS <= set(page["jobs"][0])


def test_help_lists_every_fault_and_noise_model(capsys):
    with pytest.raises(SystemExit) as stop:
        emulator_main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    from qnb.emulator import HTTP_FAULTS, JOB_FAULTS
    assert all(f"``{f}``" in text for f in HTTP_FAULTS + JOB_FAULTS)
    assert all(m in text for m in emulator_api.IONQ_NOISE_MODELS)
