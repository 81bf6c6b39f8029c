"""A loopback stand-in for the IonQ v0.4 job API, for offline rehearsals and integration tests.

    python -m qnb.emulator [--port 0] [--latency-scale S] [--fault KIND[@METHOD][:COUNT] ...]

It listens on 127.0.0.1 only and prints ``QNB_IONQ_URL=http://127.0.0.1:PORT/v0.4``. Jobs
(``ionq.circuit.v1`` and ``ionq.multi-circuit.v1``, qis gates) are simulated exactly; jobs run
one after another in a single queue, each taking ``S x LatencyModel.job_time`` seconds. Faults:

* ``429``, ``500``, ``503`` — the next COUNT requests (of METHOD, if given) get that status
  (429 with a Retry-After header);
* ``drop`` — the next COUNT requests are processed (a POST creates its job) and the connection is
  then closed without an answer: the worst case for a client;
* ``fail``, ``cancel``, ``hang`` — the next COUNT jobs end failed, canceled, or never finish;
* ``slow`` — the next COUNT jobs take 20 times longer.

In-process: ``with Emulator(latency_scale=0.01) as emu: emu.backend(seed=0), emu.url, emu.stats`` —
without ``api_key`` it makes a throwaway key that nothing prints.
"""
from __future__ import annotations

import argparse
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .latency import LatencyModel
from .qis import UnsupportedGate, probabilities

HTTP_FAULTS = ("429", "500", "503", "drop")
JOB_FAULTS = ("fail", "cancel", "hang", "slow")
DEFAULT_KEY = "qnb-emulator-key"


def parse_fault(spec: str) -> tuple[str, str | None, int]:
    m = re.fullmatch(r"(\w+)(?:@(GET|POST))?(?::(\d+))?", spec)
    if not m or m.group(1) not in HTTP_FAULTS + JOB_FAULTS:
        raise ValueError(f"fault: cannot parse {spec!r}; expected KIND[@GET|@POST][:COUNT] with KIND in "
                         f"{', '.join(HTTP_FAULTS + JOB_FAULTS)}")
    if m.group(2) and m.group(1) in JOB_FAULTS:
        raise ValueError(f"fault: {m.group(1)!r} applies to jobs, not to an HTTP method")
    return m.group(1), m.group(2), int(m.group(3) or 1)


class Emulator:
    """The emulated service: state, faults and an HTTP server on 127.0.0.1."""

    def __init__(self, port: int = 0, api_key: str | None = None, latency: LatencyModel | None = None,
                 latency_scale: float = 0.01, faults=(), retry_after_s: float = 0.05):
        if latency_scale < 0:
            raise ValueError(f"latency_scale: must be >= 0, got {latency_scale}")
        self.api_key = api_key or "qnb-local-" + secrets.token_hex(8)
        self.latency_scale, self.retry_after_s = latency_scale, retry_after_s
        self.latency = latency or LatencyModel.seed_calibrated()
        self.jobs: dict[str, dict] = {}
        self.stats = Counter()  # requests by method and status, jobs_created, circuits, shots
        self._faults: list[list] = []
        self._busy_until = 0.0
        self._lock = threading.Lock()
        for f in faults:
            self.add_fault(f)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
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
    def create_job(self, body: dict) -> tuple[int, dict]:
        kind = body.get("type")
        inp = body.get("input") or {}
        if kind == "ionq.circuit.v1":
            circuits = [inp.get("circuit")]
        elif kind == "ionq.multi-circuit.v1":
            circuits = [c.get("circuit") for c in inp.get("circuits") or []]
        else:
            return 400, {"error": f"unsupported job type {kind!r}"}
        n = inp.get("qubits")
        shots = body.get("shots")
        if not isinstance(n, int) or not 1 <= n <= 12 or not circuits or any(not isinstance(c, list) for c in circuits):
            return 400, {"error": "input needs qubits (1..12) and at least one circuit (a list of gates)"}
        if inp.get("gateset", "qis") != "qis":
            return 400, {"error": f"gateset {inp.get('gateset')!r} is not emulated; use qis"}
        start = time.monotonic()
        try:
            histograms = [probabilities(c, n) for c in circuits]
        except (UnsupportedGate, KeyError, TypeError, ValueError) as e:
            return 400, {"error": f"invalid circuit: {e}"}
        fault = self._take_fault(JOB_FAULTS)
        duration = self.latency_scale * self.latency.job_time(len(circuits), shots)
        job_id = str(uuid.uuid4())
        children = [str(uuid.uuid4()) for _ in circuits] if kind == "ionq.multi-circuit.v1" else []
        with self._lock:  # one queue: jobs run one after another, as the document says IonQ's do
            done_at = max(start, self._busy_until) + duration * (20 if fault == "slow" else 1)
            if fault != "hang":
                self._busy_until = done_at
            self.jobs[job_id] = {"id": job_id, "type": kind, "fault": fault, "n": len(circuits), "shots": shots,
                                 "done_at": done_at,
                                 "histograms": histograms, "children": children, "polls": 0}
            self.stats["jobs_created"] += 1
            self.stats["circuits"] += len(circuits)
            self.stats["shots"] += len(circuits) * (shots or 0)
        return 200, {"id": job_id, "status": "submitted"}

    def job_status(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": f"job {job_id} not found"}
        job["polls"] += 1
        out = {"id": job_id, "type": job["type"], "request": 0, "response": None}
        if job["children"]:
            out["child_job_ids"] = job["children"]
        finished = time.monotonic() >= job["done_at"]
        if job["fault"] == "hang" or not finished:
            out["status"] = ("submitted", "ready", "running")[min(job["polls"], 3) - 1]
        elif job["fault"] == "fail":
            out.update(status="failed", failure={"code": "SimulationError", "error": "emulated failure"})
        elif job["fault"] == "cancel":
            out["status"] = "canceled"
        else:
            out.update(status="completed", results={"probabilities": {"url": f"/v0.4/jobs/{job_id}/results/probabilities"}})
        return 200, out

    def job_probabilities(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if job is None or job["fault"] in ("fail", "cancel", "hang") or time.monotonic() < job["done_at"]:
            return 404, {"error": f"no results for job {job_id}"}
        if job["children"]:
            # in reverse order on purpose: a client must match children by id, not by dict order
            return 200, {cid: h for cid, h in reversed(list(zip(job["children"], job["histograms"])))}
        return 200, job["histograms"][0]


def _handler(emu: Emulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # silent: never echo request lines or headers
            pass

        def _send(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fault = emu._take_fault(HTTP_FAULTS, method)
            if fault in ("429", "500", "503"):
                emu.stats[f"{method} {fault}"] += 1
                headers = [("Retry-After", str(emu.retry_after_s))] if fault == "429" else []
                return self._send(int(fault), {"error": f"emulated HTTP {fault}"}, headers)
            if self.headers.get("Authorization") != f"apiKey {emu.api_key}":
                emu.stats[f"{method} 401"] += 1
                return self._send(401, {"error": "invalid API key"})
            path = self.path.split("?")[0].rstrip("/")
            if method == "POST" and path == "/v0.4/jobs":
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    status, out = 400, {"error": "body is not JSON"}
                else:
                    status, out = emu.create_job(body)
            elif method == "GET" and (m := re.fullmatch(r"/v0\.4/jobs/([\w-]+)", path)):
                status, out = emu.job_status(m.group(1))
            elif method == "GET" and (m := re.fullmatch(r"/v0\.4/jobs/([\w-]+)/results/probabilities", path)):
                status, out = emu.job_probabilities(m.group(1))
            elif method == "GET" and path == "/v0.4/_emulator/stats":
                status, out = 200, dict(emu.stats)
            else:
                status, out = 404, {"error": f"no route {method} {path}"}
            emu.stats[f"{method} {status}"] += 1
            if fault == "drop":  # the work is done, the answer is lost
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(status, out)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    return Handler


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--latency-scale", type=float, default=0.01, help="job time = S x the seed-calibrated model")
    ap.add_argument("--fault", action="append", default=[], help="KIND[@GET|@POST][:COUNT]; repeatable")
    ap.add_argument("--api-key-env", default="QNB_EMULATOR_KEY",
                    help=f"environment variable holding the accepted key (default key: {DEFAULT_KEY})")
    args = ap.parse_args(argv)
    import os
    emu = Emulator(args.port, os.environ.get(args.api_key_env, DEFAULT_KEY), latency_scale=args.latency_scale,
                   faults=args.fault)
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
