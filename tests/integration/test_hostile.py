"""A hostile or flaky IonQ service, played by the emulator (127.0.0.1 only; every wait bounded)."""
import copy
import http.client
import http.server
import json
import math
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pennylane as qml
import pytest
import requests
from pennylane.tape import QuantumScript

from conftest import chain
import qnb
from qnb.batching import BatchTimeoutError, JobFailedError, RejectedSubmission, SubmissionUncertainError, TransientError
from qnb.emulator import Emulator, main as emulator_main
from qnb.ionq import IonQAuthError, IonQBackend, IonQConnectError, IonQResponseError

pytestmark = pytest.mark.integration
KEY = "sk-test-DO-NOT-LEAK-4f2a9c"
DEADLINE = 1.0  # seconds: the batch timeout of the deadline tests


@pytest.fixture
def emu():
    with Emulator(api_key=KEY, latency_scale=0.0005) as e:
        yield e
    assert e.stats["internal_errors"] == 0  # the emulator answered everything on purpose


def backend(url, **kw):
    return IonQBackend(api_key=KEY, api_url=url, seed=0, **kw)


def manager(url, timeout_s=5.0, **kw):
    return qnb.CircuitBatchManager(backend(url), timeout_s=timeout_s, backoff_s=0.01, **kw)


def layers(n, readout=(0,), seed=0, decomposed=False):
    """BasicEntanglerLayers on n wires (else the backend decomposes it), probabilities of ``readout``."""
    w = np.random.default_rng(seed).uniform(-np.pi, np.pi, (2, n))
    wires = qml.wires.Wires(range(n))
    template = (qml.BasicEntanglerLayers.compute_decomposition(w, wires=wires, rotation=qml.RX) if decomposed
                else [qml.BasicEntanglerLayers(w, wires=wires)])
    ops = [qml.Hadamard(0), qml.RY(0.3, n - 1), *template]
    return QuantumScript(ops, [qml.probs(wires=list(readout))])


def exact(tapes):
    """Plain PennyLane default.qubit, one device per width: the reference."""
    return [np.asarray(qml.execute([t], qml.device("default.qubit", wires=1 + max(t.wires)))[0]) for t in tapes]


def circuits(n=2):
    return [layers(4, seed=s) for s in range(n)]


def assert_clean(err, key=KEY):
    """No request (so no headers) and no key anywhere in an exception's chain."""
    for x in chain(err):
        assert not isinstance(x, requests.exceptions.RequestException), repr(x)
        assert not hasattr(x, "request") and not hasattr(x, "response"), repr(x)
        for text in (str(x), repr(x), repr(x.args), repr(getattr(x, "__dict__", {}))):
            assert key not in text


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Listener:
    """A second loopback server that only records whether anything reached it."""

    def __init__(self):
        hits = self.hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                hits.append((self.path, "Authorization" in self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


def on_status(emu, fn, when=lambda body: True):
    """Make the emulator rewrite its status answers (GET jobs/{id}): fn(body) -> (status, body[, headers])."""
    def tamper(method, path, status, body):
        if method == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", path) and status == 200 and when(body):
            return fn(body)
        return status, body
    emu.tamper = tamper


def on_results(emu, fn):
    """Make the emulator rewrite its results answers (GET jobs/{id}/results/probabilities)."""
    def tamper(method, path, status, body):
        return fn(body) if path.endswith("/results/probabilities") and status == 200 else (status, body)
    emu.tamper = tamper


def completed(body):
    return body.get("status") == "completed"


def results_url_is(emu, form):
    """Completed jobs point their results at ``form`` ({id} is replaced by the job id)."""
    on_status(emu, lambda b: (200, {**b, "results": {"probabilities": {"url": form.replace("{id}", b["id"])}}}),
              when=completed)


# -- 1. the key goes only to the configured host ---------------------------------------------------

@pytest.mark.parametrize("form", ["http://127.0.0.1:{lport}/v0.4/jobs/{id}/results/probabilities",
                                  "http://127.0.0.1:{lport}/steal", "//127.0.0.1:{lport}/steal",
                                  "https://127.0.0.1:{eport}/v0.4/jobs/{id}/results/probabilities",
                                  "http://localhost:{eport}/v0.4/jobs/{id}/results/probabilities",
                                  "/v0.4/http://127.0.0.1:{lport}/steal"])
def test_a_foreign_results_url_never_receives_the_key(emu, listener, form):
    eport = emu.server.server_address[1]
    results_url_is(emu, form.replace("{lport}", str(listener.port)).replace("{eport}", str(eport)))
    with pytest.raises(IonQResponseError) as err:
        manager(emu.url).execute_batch(circuits(), shots=None)
    job_id = next(iter(emu.jobs))
    assert job_id in str(err.value) and "refused" in str(err.value)
    assert listener.hits == [] and emu.stats["jobs_created"] == 1
    assert_clean(err.value)


@pytest.mark.parametrize("form", ["/v0.4/jobs/{id}/results/probabilities", "jobs/{id}/results/probabilities",
                                  "http://127.0.0.1:{eport}/v0.4/jobs/{id}/results/probabilities"])
def test_results_urls_on_the_configured_host_are_followed(emu, form):
    results_url_is(emu, form.replace("{eport}", str(emu.server.server_address[1])))
    got = manager(emu.url).execute_batch(circuits(), shots=None)
    np.testing.assert_allclose(got, exact(circuits()), atol=1e-9)


def test_a_redirect_is_not_followed(emu, listener):
    on_results(emu, lambda body: (302, {}, [("Location", f"http://127.0.0.1:{listener.port}/steal")]))
    with pytest.raises(RuntimeError, match="HTTP 302") as err:
        manager(emu.url).execute_batch(circuits(), shots=None)
    assert listener.hits == [] and next(iter(emu.jobs)) in str(err.value)


@pytest.mark.parametrize("bad", ["sk-\u2019quote", "sk-\u043a\u043b\u044e\u0447", "sk-abc\n", " sk-abc", "sk-abc ",
                                 "sk-a\tb", "sk-a\r\nX-Evil: 1", "sk-caf\u00e9"])
def test_a_malformed_key_is_refused_up_front_without_showing_it(bad, monkeypatch):
    for v in ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    for kw in ({"api_key": bad}, {}):
        if not kw:
            monkeypatch.setenv("IONQ_API_KEY", bad)
        with pytest.raises(IonQAuthError, match="API key") as err:
            IonQBackend(api_url="http://127.0.0.1:9/v0.4", **kw)
        assert_clean(err.value, key=bad.strip() or bad)
        assert bad.strip() not in str(err.value)


def test_a_plain_http_url_to_another_host_is_refused():
    with pytest.raises(ValueError, match="unencrypted"):
        IonQBackend(api_key=KEY, api_url="http://api.example.com/v0.4")
    with pytest.raises(ValueError, match="not an http"):
        IonQBackend(api_key=KEY, api_url="ftp://127.0.0.1/v0.4")


@pytest.mark.parametrize("case", ["401", "500@POST", "drop@POST", "drop@GET:9", "closed port", "400 echoing the key"])
def test_errors_carry_neither_the_request_nor_the_key(emu, case):
    url, key = emu.url, KEY
    if case == "401":
        key = "sk-wrong-key-77"
    elif case == "closed port":
        url = f"http://127.0.0.1:{closed_port()}/v0.4"
    elif case == "400 echoing the key":
        emu.tamper = lambda m, p, s, b: (400, {"error": f"bad key apiKey {KEY}"}) if m == "POST" else (s, b)
    else:
        emu.add_fault(case)
    be = IonQBackend(api_key=key, api_url=url, seed=0)
    with pytest.raises(Exception) as err:
        qnb.CircuitBatchManager(be, timeout_s=2.0, backoff_s=0.01).execute_batch(circuits(), shots=None)
    assert_clean(err.value, key)
    assert_clean(err.value, KEY)


def test_a_backend_does_not_pickle_its_key(emu):
    be = backend(emu.url)
    for dump in (pickle.dumps, copy.deepcopy, copy.copy, lambda b: pickle.dumps(b._client)):
        try:
            out = dump(be)
        except TypeError as e:
            assert "API key" in str(e) and KEY not in str(e)
        else:  # pragma: no cover - only if pickling were ever allowed
            assert KEY.encode() not in pickle.dumps(out)


# -- 2. a closed port is "not submitted", a lost answer "may have created a job" ---------------------

def test_a_closed_port_is_not_an_uncertain_submission():
    m = manager(f"http://127.0.0.1:{closed_port()}/v0.4", timeout_s=2.0)
    t = time.perf_counter()
    with pytest.raises(IonQConnectError, match=r"Connection refused\); nothing was sent") as err:
        m.execute_batch(circuits(), shots=None)
    assert isinstance(err.value, RejectedSubmission) and not isinstance(err.value, SubmissionUncertainError)
    assert m.stats.retries == m.max_retries and time.perf_counter() - t < 2.0


def test_a_submission_refused_at_connect_is_retried_once_the_port_opens():
    port = closed_port()
    later = []
    threading.Timer(0.1, lambda: later.append(Emulator(port=port, api_key=KEY, latency_scale=0).start())).start()
    try:
        be = backend(f"http://127.0.0.1:{port}/v0.4")
        m = qnb.CircuitBatchManager(be, timeout_s=5, backoff_s=0.05, max_retries=5)
        got = m.execute_batch(circuits(), shots=None)
        np.testing.assert_allclose(got, exact(circuits()), atol=1e-9)
        assert m.stats.retries >= 1 and later[0].stats["jobs_created"] == 1
    finally:
        time.sleep(0.15)
        for e in later:
            e.stop()


def test_an_uncertain_submission_names_the_job(emu):
    emu.add_fault("drop@POST")
    with pytest.raises(SubmissionUncertainError, match="after the request was sent") as err:
        qnb.CircuitBatchManager(backend(emu.url, job_name="exp-42")).execute_batch(circuits(), shots=None)
    time.sleep(0.05)
    assert emu.stats["jobs_created"] == 1
    assert f"job named {next(iter(emu.jobs.values()))['name']!r}" in str(err.value)


def test_a_job_is_named_on_the_service():
    with Emulator(api_key=KEY, latency_scale=0) as emu:
        be = backend(emu.url, job_name="exp-42")
        be.submit(circuits(), shots=None)
        be.submit(circuits(), shots=None, name="exp-42-j7")
        assert [j["name"] for j in emu.jobs.values()] == ["exp-42", "exp-42-j7"]


# -- 3. the deadline holds while a request is in flight --------------------------------------------

@pytest.mark.parametrize("fault,raises", [("stall@GET", BatchTimeoutError), ("drip@GET", BatchTimeoutError),
                                          ("driphead@GET", BatchTimeoutError), ("stall results", BatchTimeoutError),
                                          ("drip results", BatchTimeoutError),
                                          ("stall@POST", SubmissionUncertainError),
                                          ("drip@POST", SubmissionUncertainError)])
def test_the_deadline_holds_while_a_request_is_in_flight(emu, fault, raises):
    if fault.endswith("results"):  # a stalled or dripping results read, after good status reads
        def arm(body):
            emu.add_fault(f"{fault.split()[0]}@GET")  # the next GET: the results
            return 200, body
        on_status(emu, arm, when=completed)
    else:
        emu.add_fault(fault)
    m = manager(emu.url, timeout_s=DEADLINE)
    t = time.perf_counter()
    with pytest.raises(raises) as err:
        m.execute_batch(circuits(), shots=None)
    took = time.perf_counter() - t
    assert took < DEADLINE + 1.0, (took, str(err.value))
    assert emu.stats["jobs_created"] == 1
    assert "deadline" in str(err.value) or "no answer" in str(err.value)


def test_a_request_without_a_deadline_is_bounded_by_its_own_timeout(emu):
    be = backend(emu.url, request_timeout_s=0.5)
    job = be.submit(circuits(), shots=None)
    emu.add_fault("drip@GET")
    t = time.perf_counter()
    with pytest.raises(TransientError, match="no answer within 0.5 s"):
        be.status(job)
    assert time.perf_counter() - t < 1.5


# -- 4. service answers are checked ----------------------------------------------------------------

def _children(body, fn):
    return 200, {**body, "child_job_ids": fn(body["child_job_ids"])}


def _first_histogram(body, value):
    return 200, {**body, next(iter(body)): value}


BAD_ANSWERS = {  # case: (which answer, rewrite)
    "status is a JSON array": (on_status, lambda b: (200, [b])),
    "status is null": (on_status, lambda b: (200, None)),
    "status is not JSON": (on_status, lambda b: (200, b"<html>maintenance</html>")),
    "status without a status": (on_status, lambda b: (200, {"id": b["id"]})),
    "status a number": (on_status, lambda b: (200, {**b, "status": 3})),
    "status of another job": (on_status, lambda b: (200, {**b, "id": "another-job"})),
    "results URL not a string": (on_status, lambda b: (200, {**b, "results": {"probabilities": {"url": 5}}}
                                                       if completed(b) else b)),
    "duplicated child id": (on_status, lambda b: _children(b, lambda c: [c[0]] * len(c))),
    "child ids a string": (on_status, lambda b: _children(b, lambda c: "abc")),
    "child ids of numbers": (on_status, lambda b: _children(b, lambda c: list(range(len(c))))),
    "too few child ids": (on_status, lambda b: _children(b, lambda c: c[:-1])),
    "missing child results": (on_results, lambda b: (200, dict(list(b.items())[1:]))),
    "results a JSON array": (on_results, lambda b: (200, list(b.values()))),
    "results not JSON": (on_results, lambda b: (200, b"{'0': 1}")),
    "NaN probability": (on_results, lambda b: _first_histogram(b, {"0": math.nan, "1": 0.5})),
    "infinite probability": (on_results, lambda b: _first_histogram(b, {"0": math.inf})),
    "string probability": (on_results, lambda b: _first_histogram(b, {"0": "0.5", "1": 0.5})),
    "boolean probability": (on_results, lambda b: _first_histogram(b, {"0": True})),
    "negative probability": (on_results, lambda b: _first_histogram(b, {"0": -0.5, "1": 1.5})),
    "all-zero histogram": (on_results, lambda b: _first_histogram(b, {"0": 0.0})),
    "empty histogram": (on_results, lambda b: _first_histogram(b, {})),
    "histogram a list": (on_results, lambda b: _first_histogram(b, [0.5, 0.5])),
    "outcome out of range": (on_results, lambda b: _first_histogram(b, {"16": 1.0})),
    "outcome not an integer": (on_results, lambda b: _first_histogram(b, {"0x1": 1.0})),
    "huge outcome": (on_results, lambda b: _first_histogram(b, {"9" * 5000: 1.0})),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_malformed_answer_is_a_clear_error_naming_the_job(emu, case):
    where, fn = BAD_ANSWERS[case]
    where(emu, fn)
    with pytest.raises(IonQResponseError) as err:
        manager(emu.url).execute_batch(circuits(), shots=None)
    assert next(iter(emu.jobs)) in str(err.value), str(err.value)
    assert emu.stats["jobs_created"] == 1
    assert_clean(err.value)


def test_a_completed_status_without_a_results_reference_reads_the_standard_path(emu):
    on_status(emu, lambda b: (200, {**b, "results": "x"}), when=completed)
    np.testing.assert_allclose(manager(emu.url).execute_batch(circuits(), shots=None), exact(circuits()), atol=1e-9)


@pytest.mark.parametrize("answer", [[{"0": 1.0}], None, {"0": math.nan}])
def test_a_malformed_single_circuit_result_is_a_clear_error(emu, answer):
    on_results(emu, lambda b: (200, answer))
    with pytest.raises(IonQResponseError) as err:
        manager(emu.url).execute_batch(circuits(1), shots=None)
    assert next(iter(emu.jobs)) in str(err.value)


@pytest.mark.parametrize("answer", [{}, {"id": None}, {"id": 5}, {"id": "../../x"}, [], b"not json"])
def test_a_submission_answer_without_a_job_id_is_uncertain(emu, answer):
    emu.tamper = lambda m, p, s, b: (200, answer) if m == "POST" else (s, b)
    with pytest.raises(SubmissionUncertainError, match="may exist.*not resubmitted") as err:
        manager(emu.url).execute_batch(circuits(), shots=None)
    assert emu.stats["jobs_created"] == 1
    assert f"job named {next(iter(emu.jobs.values()))['name']!r}" in str(err.value)


@pytest.mark.parametrize("failure", ["a plain string", ["a", "list"], {"code": "E1"}, None])
def test_any_failure_shape_gives_a_job_failed_error(emu, failure):
    emu.add_fault("fail")
    on_status(emu, lambda b: (200, {**b, "failure": failure}), when=lambda b: b.get("status") == "failed")
    with pytest.raises(JobFailedError, match="failed"):
        manager(emu.url).execute_batch(circuits(), shots=10)


def test_409_on_a_read_is_retried(emu):
    emu.add_fault("409@GET:2")
    m = manager(emu.url)
    np.testing.assert_allclose(m.execute_batch(circuits(), shots=None), exact(circuits()), atol=1e-9)
    assert m.stats.retries == 2 and emu.stats["GET 409"] == 2 and emu.stats["jobs_created"] == 1


def test_a_nan_angle_is_refused_before_anything_is_sent(emu):
    bad = QuantumScript([qml.RX(math.nan, 0)], [qml.probs(wires=[0])])
    with pytest.raises(ValueError, match="NaN"):
        manager(emu.url).execute_batch([bad], shots=None)
    assert emu.stats["POST 201"] == 0 and emu.stats["jobs_created"] == 0


# -- 5. any width ----------------------------------------------------------------------------------

def test_circuits_of_any_width_give_the_exact_probabilities(emu):
    tapes = [layers(3), layers(6, seed=1), layers(6, readout=(4, 1), seed=2)]
    for job in ([tapes[0]], [tapes[1]], tapes):  # single- and multi-circuit jobs, mixed widths in one job
        got = manager(emu.url).execute_batch(job, shots=None)
        for g, want in zip(got, exact(job)):
            np.testing.assert_allclose(g, want, atol=1e-9)
    for n in (3, 6):  # and the local backend agrees (given primitive gates: it broadcasts them)
        job = [layers(n, seed=s, decomposed=True) for s in range(3)]
        np.testing.assert_allclose(manager(emu.url).execute_batch(job, shots=None),
                                   qnb.LocalBackend().execute(job), atol=1e-9)


def test_wires_is_a_minimum_and_labels_must_be_qubit_numbers(emu):
    be = backend(emu.url, wires=5)
    assert be._payload([layers(3)], 10)["input"]["qubits"] == 5
    with pytest.raises(ValueError, match="labelled 0"):
        be.submit([QuantumScript([qml.Hadamard("a")], [qml.probs(wires=["a"])])], shots=10)
    with pytest.raises(ValueError, match="qml.probs"):
        be.submit([QuantumScript([qml.Hadamard(0)], [qml.expval(qml.PauliZ(0))])], shots=10)
    with pytest.raises(RuntimeError, match="HTTP 400.*qubits"):  # wider than the service allows
        manager(emu.url).execute_batch([layers(13)], shots=None)


# -- 6. the emulator refuses malformed requests with a 400 and a JSON error --------------------------

def raw(emu, body: bytes, headers=None, method="POST", path="/v0.4/jobs"):
    host, port = emu.server.server_address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.putrequest(method, path)
        hdrs = {"Authorization": f"apiKey {KEY}", "Content-Length": str(len(body))}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            for one in (v if isinstance(v, list) else [v]):
                conn.putheader(k, one)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def job(circuit=None, n=2, shots=100, **over):
    circuit = [{"gate": "h", "target": 0}] if circuit is None else circuit
    body = {"type": "ionq.circuit.v1", "backend": "simulator", "shots": shots,
            "input": {"qubits": n, "gateset": "qis", "circuit": circuit}}
    body.update(over)
    return json.dumps(body).encode()


BAD_BODIES = {
    "JSON array": b"[]", "JSON null": b"null", "number": b"5", "string": b'"x"', "not JSON": b"{",
    "not UTF-8": b"\xff\xfe{", "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "type a number": job(type=5), "type unknown": job(type="ionq.other.v1"), "no input": job(input=None),
    "input a list": job(input=[1]), "circuit a dict": job(circuit={"gate": "h"}),
    "circuits empty": job(type="ionq.multi-circuit.v1", input={"qubits": 2, "circuits": []}),
    "circuits of numbers": job(type="ionq.multi-circuit.v1", input={"qubits": 2, "circuits": [1]}),
    "qubits a string": job(n="4"), "qubits boolean": job(n=True), "qubits 0": job(n=0), "qubits 13": job(n=13),
    "qubits fractional": job(n=2.0),
    "shots negative": job(shots=-1), "shots 0": job(shots=0), "shots fractional": job(shots=1.5),
    "shots boolean": job(shots=True), "shots a string": job(shots="100"), "shots huge": job(shots=10 ** 30),
    "gateset native": job(input={"qubits": 2, "gateset": "native", "circuit": []}),
    "unknown gate": job([{"gate": "foo", "target": 0}]), "gate a string": job(["h"]),
    "gate name a list": job([{"gate": ["rx"], "target": 0}]), "pauliexp": job([{"gate": "pauliexp", "targets": [0]}]),
    "NaN angle": job([{"gate": "rx", "target": 0, "rotation": math.nan}]),  # json.dumps writes NaN
    "infinite angle": job([{"gate": "rx", "target": 0, "rotation": -math.inf}]),
    "angle a string": job([{"gate": "rx", "target": 0, "rotation": "0.5"}]),
    "angle boolean": job([{"gate": "ry", "target": 0, "rotation": True}]),
    "angle missing": job([{"gate": "rz", "target": 0}]),
    "target fractional": job([{"gate": "h", "target": 1.5}]), "target a string": job([{"gate": "h", "target": "1"}]),
    "target boolean": job([{"gate": "h", "target": True}]), "target negative": job([{"gate": "x", "target": -1}]),
    "target out of range": job([{"gate": "x", "target": 2}]), "target missing": job([{"gate": "x"}]),
    "cnot on one qubit": job([{"gate": "cnot", "control": 1, "target": 1}]),
    "targets one qubit": job([{"gate": "xx", "targets": [0], "rotation": 0.1}]),
    "targets repeated": job([{"gate": "swap", "targets": [1, 1]}]),
    "targets not a list": job([{"gate": "zz", "targets": "01", "rotation": 0.1}]),
    "name a number": job(name=5),
    "10,001 gates": job([{"gate": "x", "target": 0}] * 10_001),
    # JSON numbers past a float: an integer of 401 digits (OverflowError as a float: was HTTP 500), 1e400 (inf)
    "angle 10**400": job([{"gate": "rx", "target": 0, "rotation": 10 ** 400}]),
    "angle -10**400, two-qubit gate": job([{"gate": "zz", "targets": [0, 1], "rotation": -10 ** 400}]),
    "angle 1e400": job([{"gate": "rx", "target": 0, "rotation": 1}]).replace(b'"rotation": 1', b'"rotation": 1e400'),
    "target 10**400": job([{"gate": "x", "target": 10 ** 400}]), "qubits 10**400": job(n=10 ** 400),
    "shots 10**400": job(shots=10 ** 400),
    "1,001 circuits": job(type="ionq.multi-circuit.v1", input={"qubits": 1, "circuits": [{"circuit": []}] * 1_001}),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_the_emulator_answers_a_malformed_job_with_400(emu, case):
    status, body = raw(emu, BAD_BODIES[case])
    assert status == 400 and isinstance(body.get("error"), str), (status, body)
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == 400  # IonQ's error shape
    assert len(body["message"]) <= 400  # short
    assert emu.stats["jobs_created"] == 0 and emu.stats["internal_errors"] == 0


@pytest.mark.parametrize("length,status", [("-5", 400), ("abc", 400), ("1.5", 400), ("0x10", 400),
                                           (["2", "2"], 400), (str(20 << 20), 413)])
def test_the_emulator_refuses_a_bad_content_length(emu, length, status):
    assert raw(emu, b"", {"Content-Length": length})[0] == status


def test_the_emulator_refuses_chunked_bodies_and_unknown_methods(emu):
    assert raw(emu, b"", {"Transfer-Encoding": "chunked"})[0] == 411
    assert raw(emu, b"", method="PATCH")[0] == 501
    assert raw(emu, b"", method="GET", path="/v0.4/nowhere")[0] == 404
    assert raw(emu, job())[0] == 201  # and a good job still goes through (201 Created, as documented)


@pytest.mark.parametrize("scale", [math.nan, math.inf, -1.0, True, "1"])
def test_latency_scale_must_be_finite_and_nonnegative(scale):
    with pytest.raises(ValueError, match="latency_scale"):
        Emulator(latency_scale=scale)


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "x"])
def test_the_command_line_refuses_a_bad_latency_scale(text, capsys):
    with pytest.raises(SystemExit) as exit_:
        emulator_main(["--latency-scale", text])
    assert exit_.value.code == 2 and "--latency-scale" in capsys.readouterr().err


BAD_FLAGS = {
    "port negative": ["--port", "-1"], "port over 65535": ["--port", "70000"],
    "port of 20 digits": ["--port", "9" * 20], "port not a number": ["--port", "http"], "port 1e3": ["--port", "1e3"],
    "port in use": ["--port", "{busy}"],
    "fault unknown": ["--fault", "bogus"], "fault empty": ["--fault", ""], "fault method PUT": ["--fault", "500@PUT"],
    "fault of a job with a method": ["--fault", "fail@GET"], "fault count 0": ["--fault", "500:0"],
    "fault count not a number": ["--fault", "500:x"], "fault count negative": ["--fault", "500:-1"],
    "fault count of 30 digits": ["--fault", "drop:" + "9" * 30], "second fault bad": ["--fault", "500", "--fault", "x"],
    "latency scale 1e400": ["--latency-scale", "1e400"], "latency scale -0.5": ["--latency-scale", "-0.5"],
    "latency scale empty": ["--latency-scale", ""], "api key variable empty": ["--api-key-env", ""],
    "api key variable with =": ["--api-key-env", "A=B"], "unknown flag": ["--verbose"], "port without a value": ["--port"],
}


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _flags(case, busy_port):
    return [a.replace("{busy}", str(busy_port)) for a in BAD_FLAGS[case]]


def assert_argparse_error(code, out, err):
    """usage, then one line ``python -m qnb.emulator: error: ...``, exit code 2; no traceback, nothing served."""
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err and "QNB_IONQ_URL" not in out, (code, out, err)
    assert lines[0].startswith("usage: python -m qnb.emulator") and lines[-1].startswith("python -m qnb.emulator: error: ")
    assert sum("error:" in line for line in lines) == 1, err


@pytest.mark.parametrize("case", BAD_FLAGS)
def test_every_bad_command_line_flag_is_an_argparse_error(case, busy_port, capsys, monkeypatch):
    def served(self, *a, **kw):  # bounded: flags taken by mistake would serve forever
        raise AssertionError("the flags were accepted: the emulator started serving")
    monkeypatch.setattr(qnb.emulator._Server, "serve_forever", served)
    with pytest.raises(SystemExit) as exit_:
        emulator_main(_flags(case, busy_port))
    out = capsys.readouterr()
    assert_argparse_error(exit_.value.code, out.out, out.err)


@pytest.mark.parametrize("case", ["port over 65535", "port in use", "fault unknown", "fault of a job with a method",
                                  "fault count 0"])
def test_bad_flags_of_python_m_qnb_emulator_print_no_traceback(case, busy_port):
    """The flags that printed a Python traceback (exit code 1), as a user runs them."""
    r = subprocess.run([sys.executable, "-m", "qnb.emulator", *_flags(case, busy_port)], capture_output=True,
                       text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert_argparse_error(r.returncode, r.stdout, r.stderr)


# -- 7. threads: one IonQBackend per thread ---------------------------------------------------------

def test_one_backend_per_thread_runs_concurrently(emu):
    assert "one IonQBackend per thread" in IonQBackend.__doc__
    work = {i: [layers(3 + i, seed=10 * i + k) for k in range(3)] for i in range(3)}
    want = {i: exact(t) for i, t in work.items()}
    got, errors = {}, []

    def run(i):
        try:
            m = manager(emu.url)  # its own backend and manager
            got[i] = [m.execute_batch(work[i], shots=None) for _ in range(3)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and set(got) == set(work)
    for i in work:
        for rnd in got[i]:
            np.testing.assert_allclose(rnd, want[i], atol=1e-9)
    assert emu.stats["jobs_created"] == 9


@pytest.mark.parametrize("where", ["results", "status"])
def test_an_answer_larger_than_the_job_can_hold_is_refused_early(emu, where):
    """250 MB once took 10.8 s against a 3 s deadline and 2.2 GB: the read stops at what the job
    can truthfully hold (results: its circuits' 2^n outcomes; any other answer: 16 MB)."""
    import time
    padding = b'{"pad": "' + b"x" * (40 << 20) + b'"}'  # 40 MB
    if where == "results":
        on_results(emu, lambda body: (200, padding))
    else:
        on_status(emu, lambda body: (200, padding))
    start = time.perf_counter()
    with pytest.raises(IonQResponseError, match=r"the answer is over \d+ bytes"):
        manager(emu.url, timeout_s=3.0, max_retries=0).execute_batch(circuits(2), shots=100)
    assert time.perf_counter() - start < 3.0
