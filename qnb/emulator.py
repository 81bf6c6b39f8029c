"""A loopback stand-in for the IonQ v0.4 job API, for offline rehearsals and integration tests.

    python -m qnb.emulator [--port 0] [--latency-scale S] [--fault KIND[@METHOD][:COUNT] ...]

It listens on 127.0.0.1 only and prints ``QNB_IONQ_URL=http://127.0.0.1:PORT/v0.4``. Jobs
(``ionq.circuit.v1`` and ``ionq.multi-circuit.v1``, qis gates) are simulated exactly; jobs run
one after another in a single queue, each taking ``S x LatencyModel.job_time`` seconds. Faults:

* ``409``, ``429``, ``500``, ``503`` — the next COUNT requests (of METHOD, if given) get that status
  (429 with a Retry-After header: ``retry_after_s`` seconds, or that as an HTTP-date if
  ``retry_after_date`` is set);
* ``drop`` — the next COUNT requests are processed (a POST creates its job) and the connection is
  then closed without an answer: the worst case for a client;
* ``stall`` — processed, then answered only after ``stall_s`` seconds (or when the emulator stops);
* ``drip``, ``driphead`` — processed, then the body (``drip``) or the whole answer (``driphead``) is
  sent one byte every ``drip_s`` seconds: every socket read succeeds, the answer never ends in time;
* ``fail``, ``cancel``, ``hang`` — the next COUNT jobs end failed, canceled, or never finish;
* ``slow`` — the next COUNT jobs take 20 times longer.

The job list (``GET /v0.4/jobs``) serves IonQ's documented contract only: newest first, paged by
``limit`` (default 25, at most 1000; fewer if ``list_page_max`` is lower) and the ``next`` cursor
of the previous page, filtered by ``ids`` and ``status``; any other parameter (such as ``name``) is
ignored. ``delete_job(id)`` plays a job the service deleted or let expire (404 on every read).

Requests are checked like a strict service: a malformed job (not a JSON object, wrong types,
bad shots, non-finite angles, bad qubits, unknown gates, more than 12 qubits, 10,000 gates per
circuit or 1,000 circuits) gets a 400 with a JSON error, a bad Content-Length a 400, a body over
16 MB a 413; never a traceback or a dropped connection.

In-process: ``with Emulator(latency_scale=0.01) as emu: emu.backend(seed=0), emu.url, emu.stats`` —
without ``api_key`` it makes a throwaway key that nothing prints. Tests may set
``emu.tamper = f(method, path, status, body) -> (status, body[, headers])`` to rewrite answers
(``body`` may be bytes, sent as is) and so play a misbehaving service.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import secrets
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from email.utils import formatdate
from http.client import responses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .latency import LatencyModel
from .qis import UnsupportedGate, probabilities

STATUS_FAULTS = ("409", "429", "500", "503")
HTTP_FAULTS = STATUS_FAULTS + ("drop", "stall", "drip", "driphead")
JOB_FAULTS = ("fail", "cancel", "hang", "slow")
DEFAULT_KEY = "qnb-emulator-key"
MAX_QUBITS, MAX_GATES, MAX_CIRCUITS, MAX_SHOTS = 12, 10_000, 1_000, 1_000_000
MAX_BODY = 16 << 20  # bytes
# GET /jobs as IonQ documents it: https://docs.ionq.com/api-reference/v0.4/jobs/get-jobs, built from
# the v0.4 OpenAPI document https://api.ionq.co/v0.4/api-docs (operation GetJobs; the copy read was
# "Last updated: April 30, 2026", and the one vendored in github.com/ionq/ionq-core-python,
# openapi.json, agrees). Query parameters: ids, parent_job_id, status, target, session_id,
# submitter_id, limit (int32; v0.4 states no default or bound) and next (string); NO name filter.
# Answer: GetJobsResponse {"jobs": [BaseJob], "next": string or null}, both required; each BaseJob
# has id, status, type, backend, name (nullable), submitted_at (ISO 8601, "2025-05-28T20:47:05.440Z")
# and more. The v0.3 reference (https://docs.ionq.com/api-reference/v0.3/jobs/get-jobs) gives limit
# "default: 25" and next as the "ID of next batch of resources to load": so here, 25 by default and
# the id of the next page's first job. The maximum 1000 is this emulator's choice (none documented),
# and newest first is the order qnb relies on (the example shows one job; the order is not stated).
LIST_DEFAULT, LIST_MAX = 25, 1000


class BadRequest(ValueError):
    """A request the service refuses with HTTP 400."""


def _short(v) -> str:
    return repr(v)[:40]


def _nonnegative(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"{name}: must be a finite number >= 0, got {v!r}")
    return float(v)


def job_input(body) -> tuple[str, list, int, int | None]:
    """(type, circuits, qubits, shots) of a job body; BadRequest names the first thing wrong."""
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(body).__name__}")
    kind, inp = body.get("type"), body.get("input")
    if not isinstance(inp, dict):
        raise BadRequest("input must be a JSON object")
    if kind == "ionq.circuit.v1":
        circuits = [inp.get("circuit")]
    elif kind == "ionq.multi-circuit.v1":
        items = inp.get("circuits")
        if not isinstance(items, list) or not items or not all(isinstance(c, dict) for c in items):
            raise BadRequest("input.circuits must be a non-empty list of objects")
        circuits = [c.get("circuit") for c in items]
    else:
        raise BadRequest(f"unsupported job type {_short(kind)}")
    if len(circuits) > MAX_CIRCUITS:
        raise BadRequest(f"{len(circuits)} circuits; at most {MAX_CIRCUITS} per job")
    if not all(isinstance(c, list) for c in circuits):
        raise BadRequest("each circuit must be a list of gates")
    if max(len(c) for c in circuits) > MAX_GATES:
        raise BadRequest(f"a circuit has more than {MAX_GATES} gates")
    n = inp.get("qubits")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_QUBITS:
        raise BadRequest(f"input.qubits must be an integer in 1..{MAX_QUBITS}, got {_short(n)}")
    if inp.get("gateset", "qis") != "qis":
        raise BadRequest(f"gateset {_short(inp.get('gateset'))} is not emulated; use qis")
    if not isinstance(body.get("name", ""), str):
        raise BadRequest("name must be a string")
    shots = body.get("shots")
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or not 1 <= shots <= MAX_SHOTS):
        raise BadRequest(f"shots must be an integer in 1..{MAX_SHOTS}, got {_short(shots)}")
    return kind, circuits, n, shots


def parse_fault(spec: str) -> tuple[str, str | None, int]:
    """(kind, method or None, count) of ``KIND[@GET|@POST][:COUNT]``; COUNT is 1..10**9 (default 1)."""
    m = re.fullmatch(r"(\w+)(?:@(GET|POST))?(?::([0-9]{1,10}))?", spec) if isinstance(spec, str) else None
    if not m or m.group(1) not in HTTP_FAULTS + JOB_FAULTS:
        raise ValueError(f"fault: cannot parse {str(spec)[:60]!r}; expected KIND[@GET|@POST][:COUNT] with KIND in "
                         f"{', '.join(HTTP_FAULTS + JOB_FAULTS)}")
    if m.group(2) and m.group(1) in JOB_FAULTS:
        raise ValueError(f"fault: {m.group(1)!r} applies to jobs, not to an HTTP method")
    count = int(m.group(3) or 1)
    if not 1 <= count <= 10 ** 9:
        raise ValueError(f"fault: COUNT must be in 1..{10 ** 9}, got {count}")
    return m.group(1), m.group(2), count


class Emulator:
    """The emulated service: state, faults and an HTTP server on 127.0.0.1."""

    def __init__(self, port: int = 0, api_key: str | None = None, latency: LatencyModel | None = None,
                 latency_scale: float = 0.01, faults=(), retry_after_s: float = 0.05):
        self.latency_scale = _nonnegative("latency_scale", latency_scale)
        self.retry_after_s = _nonnegative("retry_after_s", retry_after_s)
        self.api_key = api_key or "qnb-local-" + secrets.token_hex(8)
        self.stall_s, self.drip_s = 60.0, 0.25  # ``stall`` and ``drip`` faults
        self.retry_after_date = False  # 429's Retry-After as an HTTP-date (now + retry_after_s) instead of seconds
        self.list_page_max = LIST_MAX  # a service may give fewer jobs per page than the limit asked for
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
        try:
            kind, circuits, n, shots = job_input(body)
            start = time.monotonic()
            histograms = [probabilities(c, n) for c in circuits]
        except (BadRequest, UnsupportedGate) as e:
            return 400, {"error": f"invalid job: {str(e)[:300]}"}
        except OverflowError:  # a JSON integer too large for a float (a rotation of 10**400): no number
            return 400, {"error": "invalid job: a number is too large to be a float (more than about 1.8e308)"}
        fault = self._take_fault(JOB_FAULTS)
        duration = self.latency_scale * self.latency.job_time(len(circuits), shots)
        job_id = str(uuid.uuid4())
        children = [str(uuid.uuid4()) for _ in circuits] if kind == "ionq.multi-circuit.v1" else []
        with self._lock:  # one queue: jobs run one after another, as the document says IonQ's do
            done_at = max(start, self._busy_until) + duration * (20 if fault == "slow" else 1)
            if fault != "hang":
                self._busy_until = done_at
            self.jobs[job_id] = {"id": job_id, "name": body.get("name"), "type": kind, "fault": fault,
                                 "n": len(circuits), "shots": shots, "qubits": n, "submitted_at": time.time(),
                                 "done_at": done_at,
                                 "histograms": histograms, "children": children, "polls": 0}
            self.stats["jobs_created"] += 1
            self.stats["circuits"] += len(circuits)
            self.stats["shots"] += len(circuits) * (shots or 0)
        return 200, {"id": job_id, "status": "submitted"}

    def delete_job(self, job_id: str) -> None:
        """The service forgets a job (deleted, or expired): every read of it is a 404 from now on."""
        with self._lock:
            self.jobs.pop(job_id, None)

    @staticmethod
    def _iso(t: float) -> str:
        return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"

    def _record(self, job: dict, polls: int) -> dict:
        """A job as the service describes it, after ``polls`` reads of its status."""
        out = {"id": job["id"], "type": job["type"], "name": job["name"], "backend": "simulator",
               "submitted_at": self._iso(job["submitted_at"]), "shots": job["shots"],
               "stats": {"qubits": job["qubits"], "circuits": job["n"]}, "request": 0, "response": None}
        finished = time.monotonic() >= job["done_at"]
        if job["fault"] == "hang" or not finished:
            out["status"] = ("submitted", "ready", "running")[min(max(polls, 1), 3) - 1]
        elif job["fault"] == "fail":
            out.update(status="failed", failure={"code": "SimulationError", "error": "emulated failure"})
        elif job["fault"] == "cancel":
            out["status"] = "canceled"
        else:
            out.update(status="completed",
                       results={"probabilities": {"url": f"/v0.4/jobs/{job['id']}/results/probabilities"}})
        return out

    def job_status(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": f"job {job_id} not found"}
        job["polls"] += 1
        out = self._record(job, job["polls"])
        if job["children"]:
            out["child_job_ids"] = job["children"]
        return 200, out

    def list_jobs(self, query: str) -> tuple[int, dict]:
        """``GET /jobs``: newest first, ``limit`` per page from the ``next`` cursor on, filtered by
        ``ids`` (repeated or comma-separated) and ``status``; other parameters are ignored."""
        q = parse_qs(query, keep_blank_values=True)
        limit = q.get("limit", [str(LIST_DEFAULT)])[-1]
        if not re.fullmatch(r"[0-9]{1,5}", limit) or not 1 <= int(limit) <= LIST_MAX:
            return 400, {"error": f"limit must be an integer in 1..{LIST_MAX}"}
        ids = {i for v in q.get("ids", []) + q.get("ids[]", []) for i in v.split(",") if i}
        status = q.get("status", [None])[-1]
        with self._lock:
            jobs = list(self.jobs.values())[::-1]  # newest first: the order they were created in, reversed
        out = []
        for job in jobs:
            if ids and job["id"] not in ids:
                continue
            record = self._record(job, job["polls"])
            if status is None or record["status"] == status:
                out.append(record)
        start = 0
        cursor = q.get("next", [None])[-1]
        if cursor is not None:  # the id of the first job of the page asked for
            start = next((i for i, r in enumerate(out) if r["id"] == cursor), None)
            if start is None:
                return 400, {"error": "next: not a cursor of this job list"}
        n = min(int(limit), self.list_page_max)
        page = out[start:start + n]
        return 200, {"jobs": page, "next": out[start + n]["id"] if start + n < len(out) else None}

    def job_probabilities(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if job is None or job["fault"] in ("fail", "cancel", "hang") or time.monotonic() < job["done_at"]:
            return 404, {"error": f"no results for job {job_id}"}
        if job["children"]:
            # in reverse order on purpose: a client must match children by id, not by dict order
            return 200, {cid: h for cid, h in reversed(list(zip(job["children"], job["histograms"])))}
        return 200, job["histograms"][0]


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

        def send_error(self, code, message=None, explain=None):  # JSON, like every other answer
            self.close_connection = True
            self._send(code, {"error": f"{code} {message or responses.get(code, '')}"})

        def _send(self, status, body, headers=(), drip=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            lines = [f"HTTP/1.1 {status} {responses.get(status, 'Unknown')}", "Content-Type: application/json",
                     f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in headers)]
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
                self._send(problem[0], {"error": problem[1]})
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
                self._send(500, {"error": "internal emulator error"})

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
                return self._send(int(fault), {"error": f"emulated HTTP {fault}"}, headers)
            if self.headers.get("Authorization") != f"apiKey {emu.api_key}":
                emu.stats[f"{method} 401"] += 1
                return self._send(401, {"error": "invalid API key"})
            path = self.path.split("?")[0].rstrip("/")
            if method == "POST" and path == "/v0.4/jobs":
                try:
                    body = json.loads(raw or b"{}")
                except (ValueError, RecursionError):
                    status, out = 400, {"error": "body is not JSON"}
                else:
                    status, out = emu.create_job(body)
            elif method == "GET" and (m := re.fullmatch(r"/v0\.4/jobs/([\w-]+)", path)):
                status, out = emu.job_status(m.group(1))
            elif method == "GET" and (m := re.fullmatch(r"/v0\.4/jobs/([\w-]+)/results/probabilities", path)):
                status, out = emu.job_probabilities(m.group(1))
            elif method == "GET" and path == "/v0.4/jobs":  # the documented listing: no name filter
                status, out = emu.list_jobs(urlsplit(self.path).query)
            elif method == "GET" and path == "/v0.4/_emulator/stats":
                status, out = 200, dict(emu.stats)
            else:
                status, out = 404, {"error": f"no route {method} {path[:100]}"}
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

    return Handler


# -- the command line: every bad flag is an argparse error (usage, one line, exit code 2), no traceback
def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    try:
        return _nonnegative("latency scale", value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text.strip()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port in 0..65535 (0 picks a free one), got {text[:40]!r}")
    return int(text)


def _fault(text: str) -> str:
    try:
        parse_fault(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("fault: ")) from None
    return text


def _env_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", text):
        raise argparse.ArgumentTypeError(f"not an environment variable name: {text[:40]!r}")
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qnb.emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=_port, default=0, help="0 picks a free port")
    ap.add_argument("--latency-scale", type=_scale, default=0.01, help="job time = S x the seed-calibrated model")
    ap.add_argument("--fault", type=_fault, action="append", default=[], help="KIND[@GET|@POST][:COUNT]; repeatable")
    ap.add_argument("--api-key-env", type=_env_name, default="QNB_EMULATOR_KEY",
                    help=f"environment variable holding the accepted key (default key: {DEFAULT_KEY})")
    args = ap.parse_args(argv)
    import os
    try:
        emu = Emulator(args.port, os.environ.get(args.api_key_env, DEFAULT_KEY), latency_scale=args.latency_scale,
                       faults=args.fault)
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
