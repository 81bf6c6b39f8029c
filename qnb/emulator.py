"""A loopback stand-in for the IonQ v0.4 job API, for offline rehearsals and integration tests.

    python -m qnb.emulator [--port 0] [--latency-scale S] [--fault KIND[@METHOD][:COUNT] ...]

It listens on 127.0.0.1 only, prints ``QNB_IONQ_URL=http://127.0.0.1:PORT/v0.4`` and serves IonQ's
documented v0.4 contract (details and sources: ``qnb.emulator_api``): ``POST /jobs`` (201),
``GET /jobs/{id}``, ``GET /jobs/{id}/results/probabilities``, ``GET /jobs/{id}/cost``,
``PUT /jobs/{id}/status/cancel``, ``DELETE /jobs/{id}``, ``GET /jobs`` (newest first, ``limit``
1..1000 default 25, ``next`` cursor, ``ids``/``status`` filters, no name filter), ``GET /jobs/estimate``,
``GET /backends`` and ``GET /backends/{backend}`` (no key needed). Jobs (``ionq.circuit.v1``,
``ionq.multi-circuit.v1``; qis gates with target(s), control(s), multi-controlled) are simulated
exactly, or under ``noise: {model, seed}`` with a model of: ideal, harmony, aria-1, aria-2, forte-1,
forte-enterprise-1 (any other is a 400). aria-1 and aria-2 apply ``qnb.noise``'s channels at Aria's
published fidelities, sampled with the job's shots from the noise seed; for the others qnb has no
published figures, so their exact probabilities are sampled with the shots, and the job says so. Jobs run one after another in a single queue, each taking
``S x LatencyModel.job_time`` seconds; status goes submitted, ready, started, then completed. Errors
are IonQ's ``{"statusCode", "error", "message"}``: a malformed request is a 4xx (a bad job 400, a bad
Content-Length 400, a body over 16 MB 413), never a traceback or a dropped connection. Faults:

* ``409``, ``429``, ``500``, ``503`` - the next COUNT requests (of METHOD, if given) get that status
  (429 with a Retry-After header: ``retry_after_s`` seconds, or that as an HTTP-date if
  ``retry_after_date`` is set);
* ``drop`` - the next COUNT requests are processed (a POST creates its job) and the connection is
  then closed without an answer: the worst case for a client;
* ``stall`` - processed, then answered only after ``stall_s`` seconds (or when the emulator stops);
* ``drip``, ``driphead`` - processed, then the body (``drip``) or the whole answer (``driphead``) is
  sent one byte every ``drip_s`` seconds: every socket read succeeds, the answer never ends in time;
* ``fail``, ``cancel``, ``hang`` - the next COUNT jobs end failed, canceled, or never finish;
* ``slow`` - the next COUNT jobs take 20 times longer.

``delete_job(id)`` plays a job the service deleted or let expire (404 on every read);
``clock_offset_s`` sets the service's clock (its job stamps and ``Date`` header) ahead or behind.
Eventual consistency, as a real service may show it (``--list-lag-s``, ``--not-found-s``,
``--stamps-behind-s``; attributes of the same names): ``list_lag_s`` - a job appears in ``GET /jobs``
only that many seconds after its POST; ``not_found_s`` - ``GET /jobs/{id}`` and its results answer
404 for that many seconds after the POST; ``stamps_behind_s`` - a job's time stamps lag the ``Date``
header by that many seconds (a ``(lo, hi)`` pair: drawn per job, seeded).

Clients: pennylane-ionq (``api_client.APIClient.BASE_URL = URL``; key ``IONQ_API_KEY``) and
qiskit-ionq (``IonQProvider(token=KEY, url=URL)``, and ``IONQ_API_URL=URL`` for its backend lookup).

In-process: ``with Emulator(latency_scale=0.01) as emu: emu.backend(seed=0), emu.url, emu.stats`` —
without ``api_key`` it makes a throwaway key that nothing prints. Tests may set
``emu.tamper = f(method, path, status, body) -> (status, body[, headers])`` to rewrite answers
(``body`` may be bytes, sent as is) and so play a misbehaving service.
"""
from __future__ import annotations

import argparse
import os
import json
import math
import re
import sys
import secrets
import threading
import time
import uuid
from collections import Counter
from email.utils import formatdate
from http.client import responses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .emulator_api import (BACKENDS, HTTP_FAULTS, JOB_FAULTS, LIST_MAX, STATUS_FAULTS, BadRequest, _env_name, _fault,
                           _nonnegative, _port, _scale, backend_record, error, estimate, gate_counts, iso, job_input,
                           list_page, parse_fault, sample)
from .latency import LatencyModel
from .noise import NOISE_MODELS, noisy_histogram
from .qis import UnsupportedGate, probabilities

DEFAULT_KEY = "qnb-emulator-key"
MAX_BODY = 16 << 20  # bytes


class Emulator:
    """The emulated service: state, faults and an HTTP server on 127.0.0.1."""

    def __init__(self, port: int = 0, api_key: str | None = None, latency: LatencyModel | None = None,
                 latency_scale: float = 0.01, faults=(), retry_after_s: float = 0.05, rate_usd_per_s: float = 0.0):
        self.rate_usd_per_s = _nonnegative("rate_usd_per_s", rate_usd_per_s)  # a QPU's price, for estimates and costs
        self.latency_scale = _nonnegative("latency_scale", latency_scale)
        self.retry_after_s = _nonnegative("retry_after_s", retry_after_s)
        self.api_key = api_key or "qnb-local-" + secrets.token_hex(8)
        self.stall_s, self.drip_s = 60.0, 0.25  # ``stall`` and ``drip`` faults
        self.retry_after_date = False  # 429's Retry-After as an HTTP-date (now + retry_after_s) instead of seconds
        self.children_reversed = False  # a multi-circuit answer's keys in reverse order (JSON gives no order)
        self.list_page_max = LIST_MAX  # a service may give fewer jobs per page than the limit asked for
        self.clock_offset_s = 0.0  # the service's clock ahead (+) or behind (-): its timestamps and Date header
        self.list_lag_s = self.not_found_s = 0.0  # eventual consistency (see the module's docstring)
        self.stamps_behind_s = 0.0  # or (lo, hi): per job, from a seeded generator
        self._stamp_rng = __import__("random").Random(0)
        self.tamper = None  # tests: f(method, path, status, body) -> (status, body[, headers])
        self._stopping = threading.Event()  # wakes stalled and dripping answers at stop()
        self.latency = latency or LatencyModel.seed_calibrated()
        self.jobs: dict[str, dict] = {}
        self.stats = Counter()  # requests by method and status, jobs_created, circuits, shots
        self._faults: list[list] = []
        self._busy_until = 0.0
        self._lock = threading.Lock()
        for f in faults:
            self.add_fault(f)
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self._thread = None

    # -- life cycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v0.4"

    def backend(self, **kwargs):
        """An IonQBackend (the real plugin) pointed at this emulator with its key."""
        from .ionq import IonQBackend
        return IonQBackend(api_key=self.api_key, api_url=self.url, **kwargs)

    def start(self) -> "Emulator":
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- faults ---------------------------------------------------------------------------
    def add_fault(self, spec: str) -> None:
        kind, method, count = parse_fault(spec)
        with self._lock:
            self._faults.append([kind, method, count])

    def _take_fault(self, kinds, method=None):
        with self._lock:
            for f in self._faults:
                if f[0] in kinds and f[2] > 0 and (f[1] is None or f[1] == method):
                    f[2] -= 1
                    return f[0]
        return None

    # -- the job API ----------------------------------------------------------------------
    def create_job(self, body) -> tuple[int, dict]:
        """``POST /jobs``: 201 and ``{id, status, session_id}``, or 400 naming what is wrong."""
        try:
            job = job_input(body)
            start = time.monotonic()
            job["histograms"] = [_packed(h) for h in self._results_for(job)]  # every gate checked here: a bad one is a 400
        except (BadRequest, UnsupportedGate) as e:
            return 400, error(400, f"invalid job: {e}")
        except OverflowError:  # a JSON integer too large for a float (a rotation of 10**400): no number
            return 400, error(400, "invalid job: a number is too large to be a float (more than about 1.8e308)")
        fault = self._take_fault(JOB_FAULTS)
        n, shots = len(job["circuits"]), job["shots"]
        duration = self.latency_scale * self.latency.job_time(n, shots)
        job_id = str(uuid.uuid4())
        children = [str(uuid.uuid4()) for _ in range(n)] if job["type"] == "ionq.multi-circuit.v1" else []
        with self._lock:  # one queue: jobs run one after another, as the document says IonQ's do
            begins = max(start, self._busy_until)
            done_at = begins + duration * (20 if fault == "slow" else 1)
            if fault != "hang":
                self._busy_until = done_at
            lag = self.stamps_behind_s
            lag = self._stamp_rng.uniform(*lag) if isinstance(lag, tuple) else lag
            now = time.time() + self.clock_offset_s - lag
            job.update(created=time.monotonic(), id=job_id, fault=fault, n=n, submitted_at=now, starts_at=now + begins - start,
                       done_at=done_at, ends_at=now + done_at - start, children=children, polls=0, canceled=False,
                       gate_counts=gate_counts(self._widths(job["circuits"])),
                       predicted_us=math.ceil(self.latency.job_time(n, shots) * 1e6))
            del job["circuits"]
            self.jobs[job_id] = job
            self.stats["jobs_created"] += 1
            self.stats["circuits"] += n
            self.stats["shots"] += n * shots
        return 201, {"id": job_id, "status": "submitted", "session_id": None}

    def _results_for(self, job: dict) -> list[dict]:
        """THE call site for results: exact probabilities for the ideal simulator (and a QPU: the
        emulator has no model of its noise); for another model, ``qnb.noise.noisy_histogram``
        sampled with the job's shots and noise seed (circuit i: a generator seeded [seed, i]). A
        model IonQ names but qnb.noise has no figures for gets the exact probabilities sampled
        with the shots, and the job's ``output.emulator`` says so."""
        exact = [probabilities(c, job["qubits"]) for c in job["circuits"]]
        model = (job["noise"] or {}).get("model", "ideal")
        job["output"] = {}
        if model == "ideal" or job["dry_run"]:
            return exact
        seed = job["noise"].get("seed")
        seeds = [None if seed is None else [seed % 2 ** 32, i] for i in range(len(exact))]
        if model in NOISE_MODELS:
            try:
                return [noisy_histogram(c, job["qubits"], model, job["shots"], s)
                        for c, s in zip(job["circuits"], seeds)]
            except ValueError as e:
                raise BadRequest(f"noise model {model!r}: {e}") from None
        job["output"] = {"emulator": f"no local noise model for {model!r}: exact probabilities sampled with the shots"}
        return [sample(h, job["shots"], s) for h, s in zip(exact, seeds)]

    @staticmethod
    def _widths(circuits):
        for c in circuits:
            for g in c:
                yield sum(1 if k in g else len(g.get(k + "s", [])) for k in ("target", "control"))

    def delete_job(self, job_id: str) -> None:
        """The service forgets a job (deleted, or expired): every read of it is a 404 from now on."""
        with self._lock:
            self.jobs.pop(job_id, None)

    def cancel_job(self, job_id: str) -> tuple[int, dict]:
        """``PUT /jobs/{id}/status/cancel``: a job not yet final ends canceled; a final one is unchanged."""
        job = self.jobs.get(job_id)
        if job is None:
            return 404, error(404, f"job {job_id} not found")
        if self._status(job, job["polls"]) not in ("completed", "failed"):
            job["canceled"] = True
        return 200, {"id": job_id, "status": "canceled"}

    def _status(self, job: dict, polls: int) -> str:
        if job["canceled"]:
            return "canceled"
        if job["fault"] == "hang" or time.monotonic() < job["done_at"]:
            return ("submitted", "ready", "started")[min(max(polls, 1), 3) - 1]
        return {"fail": "failed", "cancel": "canceled"}.get(job["fault"], "completed")

    def _record(self, job: dict, polls: int) -> dict:
        """A job as the service describes it (v0.4 ``SingleCircuitJob``/``MultiCircuitJob``), after
        ``polls`` reads of its status."""
        status = self._status(job, polls)
        ran, done = status in ("started", "completed", "failed"), status in ("completed", "failed")
        sim = job["backend"] == "simulator"
        ideal = sim and job["noise"]["model"] == "ideal"
        stats = {"qubits": job["qubits"], "circuits": job["n"], "gate_counts": job["gate_counts"],
                 "predicted_quantum_compute_time_us": job["predicted_us"]}
        if done and not job["dry_run"]:
            stats["billed_quantum_compute_time_us"] = 0 if sim else job["predicted_us"]
        out = {"id": job["id"], "status": status, "type": job["type"], "backend": job["backend"],
               "dry_run": job["dry_run"], "submitter_id": "qnb-emulator", "project_id": None, "parent_job_id": None,
               "session_id": None, "metadata": job["metadata"], "name": job["name"],
               "submitted_at": iso(job["submitted_at"]), "started_at": iso(job["starts_at"]) if ran else None,
               "completed_at": iso(job["ends_at"]) if done else None, "predicted_wait_time_ms": None,
               "predicted_execution_duration_ms": math.ceil(job["predicted_us"] / 1000),
               "execution_duration_ms": math.ceil((job["ends_at"] - job["starts_at"]) * 1000) if done else None,
               "failure": {"code": "SimulationError", "message": "emulated failure"} if status == "failed" else None,
               "cost_model": "QCT", "output": job["output"], "settings": job["settings"], "stats": stats, "results": None,
               "child_job_ids": job["children"] or None}
        if not ideal:  # "shots are not included with ideal simulator backend"
            out["shots"] = job["shots"]
        if sim:  # "only present in the response when backend is simulator"
            out["noise"] = job["noise"]
        if status == "completed" and not job["dry_run"]:
            out["results"] = {"probabilities": {"url": f"/v0.4/jobs/{job['id']}/results/probabilities"}}
        return out

    def _unseen(self, job: dict | None, lag: float) -> bool:
        """Is ``job`` absent, or created less than ``lag`` seconds ago (not yet visible there)?"""
        return job is None or time.monotonic() - job["created"] < lag

    def job_status(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if self._unseen(job, self.not_found_s):
            return 404, error(404, f"job {job_id} not found")
        job["polls"] += 1
        return 200, self._record(job, job["polls"])

    def job_cost(self, job_id: str) -> tuple[int, dict]:
        """``GET /jobs/{id}/cost``: the estimate from the model, the cost once the job has run."""
        job = self.jobs.get(job_id)
        if job is None:
            return 404, error(404, f"job {job_id} not found")
        rate = 0.0 if job["backend"] == "simulator" or job["dry_run"] else self.rate_usd_per_s
        usd = {"value": round(rate * job["predicted_us"] / 1e6, 6), "unit": "usd"}
        out = {"dry_run": job["dry_run"], "estimated_cost": usd}
        if self._status(job, job["polls"]) in ("completed", "failed"):
            out["cost"] = dict(usd)
        return 200, out

    def list_jobs(self, query: str) -> tuple[int, dict]:
        """``GET /jobs`` as documented (see ``qnb.emulator_api.list_page``)."""
        with self._lock:
            jobs = [j for j in list(self.jobs.values())[::-1]  # newest first: the order they were created in, reversed
                    if not self._unseen(j, self.list_lag_s)]
        return list_page([self._record(job, job["polls"]) for job in jobs], parse_qs(query, keep_blank_values=True),
                         self.list_page_max)

    def job_probabilities(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if self._unseen(job, self.not_found_s) or self._status(job, job["polls"]) != "completed" or job["dry_run"]:
            return 404, error(404, f"no results for job {job_id}")
        if job["children"]:  # child job id -> histogram, in child_job_ids order (as the documented example);
            pairs = list(zip(job["children"], map(_unpacked, job["histograms"])))  # reversed: match by id
            return 200, dict(pairs[::-1] if self.children_reversed else pairs)
        return 200, _unpacked(job["histograms"][0])

    def route(self, method: str, path: str, query: str, raw: bytes, authorized: bool) -> tuple[int, dict]:
        """The answer to one request (after faults): the documented routes, 404 for any other."""
        if method == "GET" and path == "/v0.4/backends":  # public, as documented (security: [])
            return 200, [backend_record(b, 0.0, time.time()) for b in BACKENDS]
        if method == "GET" and (m := re.fullmatch(r"/v0\.4/backends/([\w.-]+)", path)):
            if m.group(1) not in BACKENDS:
                return 404, error(404, f"no backend {m.group(1)[:60]!r}; backends: {', '.join(BACKENDS)}")
            return 200, backend_record(m.group(1), 0.0, time.time())
        if not authorized:
            return 401, error(401, "invalid API key")
        if method == "POST" and path == "/v0.4/jobs":
            try:
                body = json.loads(raw or b"{}")
            except (ValueError, RecursionError):
                return 400, error(400, "body is not JSON")
            return self.create_job(body)
        if method == "GET" and path == "/v0.4/jobs/estimate":
            try:
                return 200, estimate(parse_qs(query), self.latency.job_time, self.rate_usd_per_s, time.time())
            except BadRequest as e:
                return 400, error(400, str(e))
        m = re.fullmatch(r"/v0\.4/jobs/([\w-]+)(/results/probabilities|/cost|/status/cancel)?", path)
        routes = {("GET", None): self.job_status, ("GET", "/results/probabilities"): self.job_probabilities,
                  ("GET", "/cost"): self.job_cost, ("PUT", "/status/cancel"): self.cancel_job}
        if m and (method, m.group(2)) in routes:
            return routes[method, m.group(2)](m.group(1))
        if m and method == "DELETE" and m.group(2) is None:
            if m.group(1) not in self.jobs:
                return 404, error(404, f"job {m.group(1)} not found")
            self.delete_job(m.group(1))
            return 200, {"id": m.group(1), "status": "deleted"}
        if method == "GET" and path == "/v0.4/jobs":  # the documented listing: no name filter
            return self.list_jobs(query)
        if method == "GET" and path == "/v0.4/_emulator/stats":
            return 200, dict(self.stats)
        return 404, error(404, f"no route {method} {path[:100]}")


def _packed(hist: dict) -> tuple:
    """A histogram kept as two arrays (outcomes, probabilities): 12 bytes an outcome, not the ~120 of
    a dict of strings (a job of 1,000 circuits on 12 qubits held ~476 MB as dicts, ~50 MB so)."""
    return np.fromiter(map(int, hist), dtype=np.int32, count=len(hist)), np.fromiter(hist.values(), float, len(hist))


def _unpacked(packed: tuple) -> dict:
    outcomes, probs = packed
    return dict(zip(map(str, outcomes.tolist()), probs.tolist()))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a client gone is no news
            super().handle_error(request, client_address)


def _handler(emu: Emulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # seconds a client may take to send what it announced

        def log_message(self, *args):  # silent: never echo request lines or headers
            pass

        def date_time_string(self, timestamp=None):  # the Date header (as every HTTP server sends), on its clock
            return formatdate(time.time() + emu.clock_offset_s if timestamp is None else timestamp, usegmt=True)

        def send_error(self, code, message=None, explain=None):  # JSON, like every other answer
            self.close_connection = True
            self._send(code, error(code, f"{code} {message or responses.get(code, '')}"))

        def _send(self, status, body, headers=(), drip=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            lines = [f"HTTP/1.1 {status} {responses.get(status, 'Unknown')}", f"Date: {self.date_time_string()}",
                     "Content-Type: application/json", f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in headers)]
            if self.close_connection:
                lines.append("Connection: close")
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
            start = len(raw) if drip is None else len(raw) - len(data) if drip == "drip" else 0
            self.wfile.write(raw[:start])
            for i in range(start, len(raw)):  # one byte at a time: each read succeeds, the whole never ends
                if emu._stopping.wait(emu.drip_s):
                    return
                self.wfile.write(raw[i:i + 1])

        def _body(self):
            """The request body, or None once a 4xx has been sent (the connection is then closed)."""
            lengths = self.headers.get_all("Content-Length") or []
            problem = None
            if "Transfer-Encoding" in self.headers:
                problem = 411, "send the body with a Content-Length"
            elif len(lengths) > 1 or (lengths and not re.fullmatch(r"[0-9]{1,12}", lengths[0].strip())):
                problem = 400, "Content-Length must be one non-negative integer"
            elif lengths and int(lengths[0]) > MAX_BODY:
                problem = 413, f"body over {MAX_BODY} bytes"
            if problem:
                self.close_connection = True  # the body was not read: this connection cannot go on
                self._send(problem[0], error(*problem))
                return None
            length = int(lengths[0]) if lengths else 0
            return self.rfile.read(length) if length else b""

        def _handle(self, method):
            try:
                self._serve(method)
            except (ConnectionError, TimeoutError):  # the client went away or stalled: nobody to answer
                self.close_connection = True
            except Exception:  # never a traceback or a silently dropped connection
                emu.stats["internal_errors"] += 1
                self.close_connection = True
                self._send(500, error(500, "internal emulator error"))

        def _serve(self, method):
            raw = self._body()
            if raw is None:
                emu.stats[f"{method} refused"] += 1
                return
            fault = emu._take_fault(HTTP_FAULTS, method)
            if fault in STATUS_FAULTS:
                emu.stats[f"{method} {fault}"] += 1
                hint = (formatdate(math.ceil(time.time() + emu.retry_after_s), usegmt=True) if emu.retry_after_date
                        else str(emu.retry_after_s))
                headers = [("Retry-After", hint)] if fault == "429" else []
                return self._send(int(fault), error(int(fault), f"emulated HTTP {fault}"), headers)
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/")
            authorized = self.headers.get("Authorization") == f"apiKey {emu.api_key}"
            status, out = emu.route(method, path, parts.query, raw, authorized)
            emu.stats[f"{method} {status}"] += 1
            headers = ()
            if emu.tamper is not None:
                status, out, *extra = emu.tamper(method, path, status, out)
                headers = extra[0] if extra else ()
            if fault == "drop":  # the work is done, the answer is lost
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault == "stall" and emu._stopping.wait(emu.stall_s):
                self.close_connection = True
                return
            self._send(status, out, headers, drip=fault if fault in ("drip", "driphead") else None)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PUT(self):
            self._handle("PUT")

        def do_DELETE(self):
            self._handle("DELETE")

    return Handler


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qnb.emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=_port, default=0, help="0 picks a free port")
    ap.add_argument("--latency-scale", type=_scale, default=0.01, help="job time = S x the seed-calibrated model")
    ap.add_argument("--fault", type=_fault, action="append", default=[], help="KIND[@GET|@POST][:COUNT]; repeatable")
    ap.add_argument("--api-key-env", type=_env_name, default="QNB_EMULATOR_KEY",
                    help=f"environment variable holding the accepted key (default key: {DEFAULT_KEY})")
    for flag in ("list-lag-s", "not-found-s", "stamps-behind-s"):
        ap.add_argument(f"--{flag}", type=_scale, default=0.0, help="eventual consistency: see above")
    args = ap.parse_args(argv)
    try:
        emu = Emulator(args.port, os.environ.get(args.api_key_env, DEFAULT_KEY), latency_scale=args.latency_scale,
                       faults=args.fault)
        emu.list_lag_s, emu.not_found_s, emu.stamps_behind_s = args.list_lag_s, args.not_found_s, args.stamps_behind_s
    except OSError as e:  # the port is taken, or needs privileges: an error of --port, said as argparse says it
        ap.error(f"argument --port: cannot listen on 127.0.0.1:{args.port}: {e.strerror or type(e).__name__}")
    print(f"QNB_IONQ_URL={emu.url}", flush=True)
    try:
        emu.server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        emu.server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
