"""The fourth attack (issue 19's last round): each break it found, as a test against the emulator.

Quadratic key scrubbing on runs of backslashes, another job's results through dot segments,
duplicate keys in a histogram, a lost POST answer against an oldest-first listing or a service
clock far behind, one trainer's fit from two threads, one run resumed twice through a copy or a
hard link, and an integer too large for a float in a checkpoint."""
import json
import os
import shutil
import threading
import time

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

import qnb
from qnb.emulator import Emulator
from qnb.ionq.answers import _names_job
from qnb.ionq.transport import IonQResponseError, Secret
from qnb.jobs import BatchTimeoutError, TransientError

SMALL = dict(backend="ionq", n_train=20, n_test=10, epochs=2, batch_size=5, gradient_subsample_size=2,
             shots_per_circuit=100, batch_submission_timeout=3.0)
STEPS = 8  # an uninterrupted SMALL run: 2 epochs of 4 steps, one job each


def circuit(theta=0.3):
    return QuantumScript([qml.RY(theta, 0), qml.CNOT([0, 1])], [qml.probs(wires=[0, 1])])


def qnb_jobs(emu) -> list[str]:
    return [j["name"] for j in emu.jobs.values() if (j.get("name") or "").startswith("qnb-")]


def test_scrubbing_a_run_of_backslashes_is_linear_and_still_finds_the_key():
    key = Secret("qnb-local-0123456789abcdef")
    t = time.perf_counter()
    assert key.scrub("\\" * 60_000) == "\\" * 60_000  # no key in it: left as it is
    assert time.perf_counter() - t < 0.5  # a minute before
    for shown in ("qnb-local-0123456789abcdef", "\\\\\\/qnb-local-0123456789ABCDEF", "\\\\u0071nb-local-0123456789abcdef"):
        assert "0123456789" not in key.scrub(f"x {shown} y")


def test_an_error_body_of_backslashes_ends_by_the_deadline():
    with Emulator(latency_scale=0.0) as emu:
        emu.tamper = lambda m, p, s, b: ((500, b'{"error":"' + b"\\" * 60_000 + b'"}') if m == "GET" else (s, b))
        manager = qnb.CircuitBatchManager(emu.backend(seed=0), timeout_s=3.0, backoff_s=0.01)
        t = time.perf_counter()
        with pytest.raises((BatchTimeoutError, TransientError, RuntimeError)):
            manager.execute_batch([circuit()], shots=None)
        assert time.perf_counter() - t < 4.0  # 57 s before
        assert emu.stats["jobs_created"] == 1


@pytest.mark.parametrize("path", ["/v0.4/jobs/ME/../OTHER/results/probabilities",
                                  "http://127.0.0.1:1/v0.4/jobs/ME/%2e%2e/OTHER/results/probabilities",
                                  "/v0.4/jobs/ME/results/probabilities/../../../../jobs/ME/../OTHER/x",
                                  "/v0.4/jobs/ME/%252e%252e/OTHER/results/probabilities",
                                  "/v0.4/jobs/ME/./results/probabilities",
                                  "/v0.4/jobs/ME/..%2FOTHER/results/probabilities",  # for a server that decodes
                                  "/v0.4/jobs/ME/..%5COTHER/results/probabilities",
                                  "/v0.4/jobs/ME/..;/OTHER/results/probabilities",
                                  "/v0.4/jobs/ME/..\\OTHER/results/probabilities"])
def test_a_results_url_with_a_dot_segment_names_no_job(path):
    assert not _names_job(path, "ME")
    assert _names_job("/v0.4/jobs/ME/results/probabilities", "ME")


def test_another_jobs_results_through_dot_segments_are_refused():
    with Emulator(latency_scale=0.0) as emu:
        be = emu.backend(seed=0)
        other = be.submit([circuit(np.pi)], None, name="other")  # its histogram is [0, 1]: not ours
        while be.status(other) != "completed":
            time.sleep(0.005)

        def tamper(m, p, s, b):  # our job's completed status points at the other job's results
            if m == "GET" and isinstance(b, dict) and b.get("status") == "completed" and b.get("id") != other.id:
                url = f"/v0.4/jobs/{b['id']}/../{other.id}/results/probabilities"
                return s, {**b, "results": {"probabilities": {"url": url}}}
            return s, b
        emu.tamper = tamper
        manager = qnb.CircuitBatchManager(be, timeout_s=3.0, backoff_s=0.01)
        with pytest.raises(IonQResponseError, match="another job|results URL|not this job"):
            manager.execute_batch([circuit(0.0)], shots=None)


def test_a_histogram_naming_an_outcome_twice_is_refused():
    with Emulator(latency_scale=0.0) as emu:
        emu.tamper = lambda m, p, s, b: ((s, b'{"0": 0.9, "0": 0.2, "1": 0.067, "2": 0.545, "3": 0.188}')
                                         if m == "GET" and p.endswith("/probabilities") else (s, b))
        manager = qnb.CircuitBatchManager(emu.backend(seed=0), timeout_s=3.0, backoff_s=0.01)
        with pytest.raises(IonQResponseError, match="twice"):
            manager.execute_batch([circuit()], shots=None)


class OldestFirst(Emulator):
    """A listing in the other order (the documented contract does not state one)."""

    def list_jobs(self, query):
        with self._lock:
            saved = dict(self.jobs)
            self.jobs = dict(reversed(list(saved.items())))
        try:
            return super().list_jobs(query)
        finally:
            with self._lock:
                self.jobs = {**saved, **{k: v for k, v in self.jobs.items() if k not in saved}}


class StampsBehind(Emulator):
    """Job stamps 400 s behind the service's own Date header (two clocks that disagree)."""

    def _record(self, job, polls):
        from qnb.emulator_api import iso
        return {**super()._record(job, polls), "submitted_at": iso(job["submitted_at"] - 400)}


@pytest.mark.parametrize("service", ["oldest first", "clock 400 s behind", "Date 10 min ahead", "stamps 400 s behind"])
def test_a_lost_post_answer_is_paid_once_whatever_the_listing_order_or_the_service_clock(tmp_path, service,
                                                                                        monkeypatch):
    cls = {"oldest first": OldestFirst, "stamps 400 s behind": StampsBehind}.get(service, Emulator)
    if service == "Date 10 min ahead":  # the Date header alone runs ahead
        import email.utils
        monkeypatch.setattr("qnb.emulator.formatdate", lambda t=None, **k: email.utils.formatdate(t + 600, usegmt=True))
    emu = cls(latency_scale=0.0005)
    with emu:
        if service == "clock 400 s behind":
            emu.clock_offset_s = -400.0  # its job stamps and its Date header alike
        emu.list_page_max = 5
        other = emu.backend(seed=1)
        for _ in range(10):  # the account's older jobs
            other.submit([circuit()], None, name="yesterday")
        for j in emu.jobs.values():
            j["submitted_at"] -= 86_400
        path = tmp_path / "run.ckpt.json"

        def arm(trainer, rec):
            if rec["step"] == 2:
                emu.add_fault("drop@POST")
        with pytest.raises(Exception):
            qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0)).fit(
                checkpoint=path, progress=False, callback=arm)
        for _ in range(7):  # the account keeps working meanwhile
            other.submit([circuit()], None, name="other-run")
        qnb.QuantumTrainer.resume(path, backend=emu.backend(seed=0), progress=False)
        names = qnb_jobs(emu)
        assert len(names) == STEPS and len(set(names)) == STEPS


def test_one_trainers_fit_from_two_threads_is_refused_for_the_second():
    with Emulator(latency_scale=0.002) as emu:
        trainer = qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0))
        errors, go = [], threading.Barrier(2)

        def fit():
            go.wait()
            try:
                trainer.fit(progress=False)
            except RuntimeError as e:
                errors.append(str(e))
        threads = [threading.Thread(target=fit) for _ in range(2)]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
        assert len(errors) == 1 and "already running" in errors[0]
        assert len(qnb_jobs(emu)) == STEPS and len(trainer.history["steps"]) == STEPS


@pytest.mark.parametrize("how", ["copy", "hard link"])
def test_one_run_resumed_through_two_names_at_once_is_refused_for_the_second(tmp_path, how):
    with Emulator(latency_scale=0.0) as emu:
        a = tmp_path / "a.json"
        qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0)).fit(epochs=1, checkpoint=a,
                                                                                      progress=False)
        b = tmp_path / "b.json"
        shutil.copy(a, b) if how == "copy" else os.link(a, b)
        first = qnb.checkpoint.Lock(a).__enter__()
        try:
            with pytest.raises(RuntimeError, match="another copy|another run"):
                qnb.QuantumTrainer.resume(b, backend=emu.backend(seed=0), progress=False)
        finally:
            first.__exit__()
        assert len(qnb_jobs(emu)) == STEPS // 2  # the refused resume sent nothing


def test_a_fresh_runs_checkpoint_copied_while_it_trains_cannot_be_resumed_at_once(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    refused = []
    with Emulator(latency_scale=0.0) as emu:
        def copy_and_resume(trainer, rec):
            if rec["step"] == 1:
                shutil.copy(a, b)
                with pytest.raises(RuntimeError, match="another copy") as e:
                    qnb.QuantumTrainer.resume(b, backend=emu.backend(seed=0), progress=False)
                refused.append(str(e.value))
        qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL), backend=emu.backend(seed=0)).fit(
            checkpoint=a, progress=False, callback=copy_and_resume)
        assert refused and len(qnb_jobs(emu)) == STEPS


def test_answer_headers_of_megabytes_do_not_hold_the_deadline():
    with Emulator(latency_scale=0.0) as emu:
        emu.tamper = lambda m, p, s, b: (s, b, [(f"X-{i}", "." * 60_000) for i in range(95)]) if m == "GET" else (s, b)
        manager = qnb.CircuitBatchManager(emu.backend(seed=0), timeout_s=2.0, backoff_s=0.01)
        t = time.perf_counter()
        manager.execute_batch([circuit()], shots=None)  # the headers qnb does not read are not kept
        assert time.perf_counter() - t < 2.0


def test_a_checkpoint_integer_too_large_for_a_float_is_a_clear_error(tmp_path):
    path = tmp_path / "run.json"
    trainer = qnb.QuantumTrainer(qnb.TrainingConfig(n_train=20, n_test=10, epochs=1, batch_size=5))
    trainer.fit(checkpoint=path, progress=False)
    state = json.loads(path.read_text())
    state["history"]["steps"][0]["epoch"] = 10 ** 29
    path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"steps\[0\]\.epoch"):
        qnb.QuantumTrainer.resume(path, progress=False)


def test_a_status_parsed_past_the_deadline_ends_there(monkeypatch):
    with Emulator(latency_scale=0.0) as emu:
        be = emu.backend(seed=0)
        job = be.submit([circuit()], None, name="x", deadline=time.perf_counter() + 3)
        slow_parse = json.loads

        def parse(*a, **k):  # parsing takes 0.3 s: the answer arrived in time, its parse ends past the deadline
            time.sleep(0.3)
            return slow_parse(*a, **k)
        monkeypatch.setattr("qnb.ionq.backend.json.loads", parse)
        t = time.perf_counter()
        with pytest.raises(BatchTimeoutError, match="after the batch deadline"):
            be._request("GET", f"jobs/{job.id}", "reading", deadline=t + 0.2)
        assert time.perf_counter() - t < 0.5
