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

from conftest import interrupt_at_step
import qnb
from qnb.backends import sample_probabilities
from qnb.batching import BatchTimeoutError, RejectedSubmission, SubmissionUncertainError, TransientError
from qnb.emulator import Emulator
from qnb.ionq import IonQBackend, IonQResponseError
from qnb.ionq.answers import retry_after
from qnb.jobs import JobNotFoundError

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
        status, out = emu.create_job({"type": "ionq.circuit.v1", "backend": "simulator", "name": f"other-{i}",
                                      "shots": 100, "input": {"qubits": 1, "gateset": "qis",
                                                              "circuit": [{"gate": "h", "target": 0}]}})
        assert status == 201
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


# -- 1. a lost POST answer is found through the documented listing (no name filter) ----------------

def test_the_emulator_serves_the_documented_job_listing_only(emu):
    import http.client
    other_jobs(emu, 60)

    def get(query):
        conn = http.client.HTTPConnection(*emu.server.server_address, timeout=5)
        try:
            conn.request("GET", "/v0.4/jobs" + query, headers={"Authorization": f"apiKey {KEY}"})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    newest_first = [j["id"] for j in emu.jobs.values()][::-1]
    status, page = get("?name=other-3")  # no name filter: the parameter is ignored
    assert status == 200 and set(page) == {"jobs", "next"} and len(page["jobs"]) == 25  # default limit
    assert [j["id"] for j in page["jobs"]] == newest_first[:25] and page["next"] == newest_first[25]
    job = page["jobs"][0]
    assert {"id", "name", "status", "type", "submitted_at"} <= set(job)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", job["submitted_at"])
    seen, query = [], "?limit=7"
    for _ in range(20):  # the cursor chain covers every job once, newest first
        status, page = get(query)
        seen += [j["id"] for j in page["jobs"]]
        if page["next"] is None:
            break
        query = f"?limit=7&next={page['next']}"
    assert seen == newest_first
    for bad in ("?limit=0", "?limit=1001", "?limit=x", "?next=nope"):
        assert get(bad)[0] == 400, bad
    assert len(get(f"?ids={newest_first[5]},{newest_first[9]}")[1]["jobs"]) == 2
    assert get("?status=completed&limit=1000")[1]["next"] is None


def test_a_lost_post_answer_is_found_past_30_newer_jobs_on_25_job_pages(reference, tmp_path):
    with Emulator(latency_scale=0.0005) as emu:
        emu.list_page_max = 25  # the documented default page, whatever limit is asked for
        path, err, took = interrupt_at_step(emu, tmp_path, 3, lambda e: e.add_fault("drop@POST"), qnb.TrainingConfig(**SMALL))
        assert isinstance(err, SubmissionUncertainError) and "-s3-j0" in str(err)
        assert took < 3 * DEADLINE + 5
        other_jobs(emu, 30)  # the account goes on working before the resume
        posts, pages = emu.stats["POST 201"], []
        count_listing(emu, pages)
        t = time.perf_counter()
        resumed = qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        assert emu.stats["POST 201"] - posts == 4  # steps 4..7; step 3's job was found, not sent again
        # 34 jobs, newest first, 25 a page: found on the second page; then each new step's name is
        # looked up before its POST (a copy of the run may have made it), back to the step before last
        assert pages[:2] == [200, 200] and len(pages) <= 2 + 4 * 2
        assert len(ours(emu)) == len(delivered(emu)) == STEPS  # as many as an uninterrupted run
        assert np.array_equal(resumed.model.parameters, reference)
        assert resumed.history["steps"][3]["wall_s"] < DEADLINE
        assert time.perf_counter() - t < 5 * DEADLINE


def test_the_lookup_stops_at_jobs_older_than_the_submission(emu):
    emu.list_page_max = 25
    other_jobs(emu, 200, age_s=3600)  # an hour of older work: never read through
    be = IonQBackend(api_key=KEY, api_url=emu.url, seed=0)
    at = time.time()
    emu.add_fault("drop@POST")
    with pytest.raises(TransientError, match="after the request was sent"):
        be.submit(circuits(), shots=None, name="mine-j0", deadline=time.perf_counter() + 5)
    lost = next(j["id"] for j in emu.jobs.values() if j["name"] == "mine-j0")
    other_jobs(emu, 30)
    pages = []
    count_listing(emu, pages)
    deadline = time.perf_counter() + DEADLINE
    assert be.find_job("mine-j0", deadline=deadline, after=at) == lost
    assert len(pages) == 2  # 30 newer, then the lost job among older ones: stop there, not 10 pages
    pages.clear()
    assert be.find_job("mine-j0", deadline=deadline) == lost  # an older journal, without the time
    assert len(pages) == 2  # stops clock_skew_s before the match
    pages.clear()
    # not there: None (journaled longer ago than the listing's lag: its word is final)
    assert be.find_job("never-sent", deadline=deadline, after=time.time() - be.listing_lag_s) is None
    assert len(pages) == 2 and time.perf_counter() < deadline  # up to the first older job
    assert len(emu.jobs) == 231  # looking up creates nothing


def test_a_lookup_that_cannot_reach_back_far_enough_is_uncertain_not_none(emu):
    emu.list_page_max = 25
    be = IonQBackend(api_key=KEY, api_url=emu.url, seed=0)
    at = time.time()
    other_jobs(emu, 100)
    be.list_max_pages = 2
    with pytest.raises(SubmissionUncertainError, match=r"50 jobs in 2 pages did not reach back.*not resubmitted"):
        be.find_job("mine-j0", deadline=time.perf_counter() + DEADLINE, after=at - 1000)


def test_a_listing_answer_that_is_not_the_documented_shape_is_refused(emu):
    be = IonQBackend(api_key=KEY, api_url=emu.url, seed=0)
    for answer in ({"jobs": [{"id": "a", "name": "x"}]}, {"jobs": "x", "next": None}, [],
                   {"jobs": [1], "next": None}, {"jobs": [], "next": 5}):
        emu.tamper = lambda m, p, s, b, answer=answer: (200, answer) if p == "/v0.4/jobs" else (s, b)
        with pytest.raises(IonQResponseError, match="not a job list"):
            be.find_job("x", deadline=time.perf_counter() + DEADLINE)
    loop = {"jobs": [{"id": "a", "name": "y"}], "next": "a"}  # a cursor that pages in a loop
    emu.tamper = lambda m, p, s, b: (200, loop) if p == "/v0.4/jobs" else (s, b)
    with pytest.raises(IonQResponseError, match="loop"):
        be.find_job("x", deadline=time.perf_counter() + DEADLINE)


def test_a_service_without_a_listing_stops_the_resume_with_a_clear_error_and_no_new_job(reference, tmp_path):
    with Emulator(latency_scale=0.0005) as emu:
        path, err, _ = interrupt_at_step(emu, tmp_path, 3, lambda e: e.add_fault("drop@POST"), qnb.TrainingConfig(**SMALL))
        assert isinstance(err, SubmissionUncertainError)
        emu.tamper = lambda m, p, s, b: (404, {"error": "not found"}) if p == "/v0.4/jobs" else (s, b)
        t = time.perf_counter()
        with pytest.raises(SubmissionUncertainError, match=r"no job listing \(GET /jobs: HTTP 404\).*-s3-j0|"
                                                           r"-s3-j0.*no job listing \(GET /jobs: HTTP 404\)"):
            qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        assert time.perf_counter() - t < DEADLINE
        assert len(ours(emu)) == 4  # steps 0..3: the resume sent nothing
        emu.tamper = None  # the listing is back: the same checkpoint resumes without a duplicate
        resumed = qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        assert len(ours(emu)) == len(delivered(emu)) == STEPS
        assert np.array_equal(resumed.model.parameters, reference)


def test_a_stalled_listing_ends_by_the_deadline(emu):
    be = IonQBackend(api_key=KEY, api_url=emu.url, seed=0)
    emu.add_fault("stall@GET")
    t = time.perf_counter()
    with pytest.raises(BatchTimeoutError, match="looking up the job named 'x'"):
        be.find_job("x", deadline=t + 1.0)
    assert time.perf_counter() - t < 1.0 + 0.5


# -- 2. a journaled job the service deleted is resubmitted once -----------------------------------

def test_a_journaled_job_the_service_deleted_is_resubmitted_once(reference, tmp_path):
    with Emulator(latency_scale=0.0005) as emu:
        path, err, took = interrupt_at_step(emu, tmp_path, 3, lambda e: e.add_fault("hang"), qnb.TrainingConfig(**SMALL))
        assert isinstance(err, BatchTimeoutError) and took < 4 * DEADLINE + 5
        journaled = json.loads(path.read_text())["pending"]["jobs"][0]
        assert journaled["id"] in emu.jobs and isinstance(journaled["journaled_at"], float)
        emu.delete_job(journaled["id"])  # deleted or expired: 404 on every read
        be, misses = emu.backend(seed=0), []  # the resume's own reads (a poll of the interrupted run
        status = be.status                    # may still reach the emulator late: not counted)

        def counted(job):
            try:
                return status(job)
            except JobNotFoundError:
                misses.append(job.id)
                raise
        be.status = counted
        be.listing_lag_s = 1.0  # gone only when the listing, older than its lag, does not show it either
        time.sleep(max(0.0, journaled["journaled_at"] + be.listing_lag_s - time.time()))
        resumed = qnb.QuantumTrainer.resume(path, backend=be, progress=False)
        assert misses == [journaled["id"]]  # the listing says it is gone: resubmitted
        assert resumed.history["steps"][3]["jobs"] == 2  # both billed: the deleted one and its resubmission
        assert emu.stats["jobs_created"] == STEPS + 1  # the deleted one, once
        assert len(ours(emu)) == len(delivered(emu)) == STEPS
        assert np.array_equal(resumed.model.parameters, reference)
        assert resumed.history["steps"][3]["wall_s"] < DEADLINE


def test_a_job_of_this_run_that_disappears_is_an_error_not_a_resubmission(emu):
    m = manager(emu)
    emu.tamper = lambda meth, p, s, b: (404, {"error": "gone"}) if re.fullmatch(r"/v0\.4/jobs/[\w-]+", p) else (s, b)
    t = time.perf_counter()
    # the listing shows it: a 404 is the service catching up (never "gone"), read again until the deadline
    with pytest.raises(BatchTimeoutError, match=r"job [\w-]+ still 'submitted'.*HTTP 404.*the listing shows it"):
        m.execute_batch(circuits(), shots=None)
    assert time.perf_counter() - t < m.timeout_s + 0.5 and emu.stats["jobs_created"] == 1


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


# -- 4. numbers that are not a probability distribution are refused, never renormalised ----------

def _first(body, value):
    return 200, {**body, next(iter(body)): value}


def sparse(n=2):
    """Circuits on 4 qubits with only 2 of the 16 outcomes possible: room for a spurious one."""
    return [QuantumScript([qml.RY(0.4 + s, 0), qml.CNOT([0, 3])], [qml.probs(wires=[0])]) for s in range(n)]


def _drop_one(body):
    h = dict(next(iter(body.values())))
    h.pop(max(h, key=h.get))
    return _first(body, h)


def _add_one(body):
    h = dict(next(iter(body.values())))
    return _first(body, {**h, next(str(k) for k in range(16) if str(k) not in h): 0.25})


BAD_HISTOGRAMS = {
    "sums to 0.5": (lambda b: _first(b, {"0": 0.25, "3": 0.25}), r"sum to 0.5, not 1"),
    "sums to 2": (lambda b: _first(b, {"0": 1.0, "3": 1.0}), r"sum to 2, not 1"),
    "sums to 1e-300": (lambda b: _first(b, {"0": 1e-300}), r"sum to 1e-300, not 1"),
    "an outcome missing": (_drop_one, r"sum to 0\.\d+, not 1.*missing or spurious"),
    "a spurious outcome": (_add_one, r"sum to 1\.25, not 1.*missing or spurious"),
    "a value over 1": (lambda b: _first(b, {"0": 1.5}), r"probability 1.5 of outcome 0 is over 1"),
    "one state twice": (lambda b: _first(b, {"1": 0.5, "01": 0.5}), r"outcomes '1' and '01' are the same"),
    # JSON integers past a float: math.isfinite raised OverflowError, not a clear error
    "a value of 401 digits": (lambda b: _first(b, {"0": 10 ** 400}), r"probability 1000000000\d* of outcome 0 is over 1"),
    "a value of -10**400": (lambda b: _first(b, {"0": -10 ** 400}), r"probability -100000\d* of outcome 0 is not a finite"),
}


@pytest.mark.parametrize("case", list(BAD_HISTOGRAMS))
def test_a_histogram_that_is_not_a_distribution_is_refused_naming_the_job(emu, case):
    rewrite, message = BAD_HISTOGRAMS[case]
    emu.tamper = lambda m, p, s, b: rewrite(b) if p.endswith("/results/probabilities") and s == 200 else (s, b)
    with pytest.raises(IonQResponseError, match=message) as err:
        manager(emu).execute_batch(sparse(), shots=100)
    assert re.match(rf"reading results of job {next(iter(emu.jobs))}, circuit \d: ", str(err.value))
    assert emu.stats["jobs_created"] == 1


def test_rounding_is_accepted_and_the_results_are_the_exact_ones(emu):
    emu.tamper = lambda m, p, s, b: ((s, {c: {k: v * (1 + 1e-9) for k, v in h.items()} for c, h in b.items()})
                                     if p.endswith("/results/probabilities") and s == 200 else (s, b))
    got = manager(emu).execute_batch(circuits(), shots=None)
    np.testing.assert_allclose(got, qnb.LocalBackend().execute(circuits()), atol=1e-8)


def test_spurious_results_beside_the_child_jobs_are_refused(emu):
    emu.tamper = lambda m, p, s, b: ((s, {**b, "another-child": {"0": 1.0}})
                                     if p.endswith("/results/probabilities") and s == 200 else (s, b))
    with pytest.raises(IonQResponseError, match="not this job's circuits"):
        manager(emu).execute_batch(circuits(), shots=None)


def test_sample_probabilities_refuses_rows_that_are_not_distributions():
    rng = np.random.default_rng(0)
    for row in ([0.25, 0.25], [1.0, 1.0], [1e-300, 0.0], [1.2, -0.2], [math.nan, 1.0]):
        with pytest.raises(ValueError, match="not a probability distribution"):
            sample_probabilities(np.array([row]), 100, rng)
    np.testing.assert_allclose(sample_probabilities(np.array([[0.5 + 1e-9, 0.5, -1e-12]]), None, rng),
                               [[0.5, 0.5, 0.0]], atol=1e-8)


# -- 5. another job's answers are refused -----------------------------------------------------------

def test_a_post_answered_with_another_steps_job_id_is_uncertain_and_resumes_without_a_duplicate(reference, tmp_path):
    with Emulator(latency_scale=0.0005) as emu:
        def older_id(e):
            first = next(iter(e.jobs))  # step 0's job: the same size as step 3's
            e.tamper = lambda m, p, s, b: (200, {"id": first, "status": "submitted"}) if m == "POST" else (s, b)
        path, err, took = interrupt_at_step(emu, tmp_path, 3, older_id, qnb.TrainingConfig(**SMALL))
        assert isinstance(err, SubmissionUncertainError) and took < 3 * DEADLINE + 5
        assert re.search(r"job qnb-\w+-s3-j0: the submission was answered with the id [\w-]+, a job this run "
                         r"already has \(another step's\).*not resubmitted", str(err))
        assert len(ours(emu)) == 4  # step 3's real job exists, under its name
        emu.tamper = None
        resumed = qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        assert len(ours(emu)) == len(delivered(emu)) == STEPS  # found by name: no duplicate
        assert np.array_equal(resumed.model.parameters, reference)


def test_a_status_naming_another_job_is_refused(emu):
    def tamper(m, p, s, b):
        if m == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", p) and s == 200:
            return 200, {**b, "name": "someone-else"}
        return s, b
    emu.tamper = tamper
    with pytest.raises(IonQResponseError, match=r"reading job [\w-]+: the answer is for a job named 'someone-else', "
                                                r"not 'qnb-[0-9a-f]{12}-j0': another job's status"):
        manager(emu).execute_batch(circuits(), shots=None)
    assert emu.stats["jobs_created"] == 1


def test_a_single_circuit_job_whose_results_url_names_another_job_is_refused(emu):
    m = manager(emu)
    first = m.execute_batch(circuits(1), shots=None)
    older = next(iter(emu.jobs))

    def tamper(meth, p, s, b):
        if meth == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", p) and b.get("status") == "completed" \
                and b["id"] != older:
            return 200, {**b, "results": {"probabilities": {"url": f"/v0.4/jobs/{older}/results/probabilities"}}}
        return s, b
    emu.tamper = tamper
    with pytest.raises(IonQResponseError, match=r"refused the results URL .*: it names another job") as err:
        m.execute_batch(circuits(1, width=3), shots=None)
    newer = list(emu.jobs)[1]
    assert f"reading results of job {newer}" in str(err.value) and older in str(err.value)
    assert emu.stats["jobs_created"] == 2 and len(first) == 1


# -- 6. a half-built backend has a repr ---------------------------------------------------------------

def test_the_repr_of_a_half_built_backend_is_safe():
    half = IonQBackend.__new__(IonQBackend)
    assert repr(half) == "IonQBackend(device=None, api_url=None)"
    with pytest.raises(ValueError, match="not an http"):
        half.__init__(api_key=KEY, api_url="ftp://127.0.0.1/v0.4")  # raises after device_name is set
    assert repr(half) == "IonQBackend(device='ionq.simulator', api_url=None)" and KEY not in repr(half)
