"""IonQBackend: one ``ionq.multi-circuit.v1`` job per submission, through pennylane-ionq.

The payload is built by the plugin's own device (gate mapping, qubit order; one device per circuit
width) and sent with the plugin client's headers. The wait is not the plugin's (no deadline, never
ends on a canceled job): ``submit``/``status``/``results`` let the CircuitBatchManager own deadline
and retries. Nor is the transport, which a flaky or hostile service would get past:

* every request ends by the deadline the manager lends (``backend.deadline``), however slowly the
  answer drips: per-read timeouts cannot bound that, so a watchdog shuts the socket;
* the API key goes only to the configured scheme, host and port: no redirects, no foreign URLs;
* a connection never made (nothing sent: safe to resubmit) is told apart from an answer lost after
  the request went out (a job may exist);
* every answer is checked (JSON object, job id, child ids, histograms) before it is used.

The key is checked up front, never put in a repr, a log line or an exception (nor in their
``__cause__``/``__context__`` chains), and a backend refuses to be pickled.
Threads: use one IonQBackend per thread (each batch lends it its deadline; its devices are reused).
"""
from __future__ import annotations

import json
import math
import os
import re
import socket
import threading
import time

import numpy as np
import requests
import requests.adapters
import urllib3
import urllib3.connection
from pennylane.measurements import ProbabilityMP
from pennylane.wires import Wires
from pennylane_ionq.api_client import APIClient
from pennylane_ionq.device import QPUDevice, SimulatorDevice
from urllib3.exceptions import NewConnectionError
from urllib3.util import parse_url

from .backends import Backend, sample_probabilities
from .jobs import BatchTimeoutError, Job, RejectedSubmission, SubmissionUncertainError, TransientError
from .latency import LatencyModel

KEY_VARIABLES = ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY")
RETRIABLE = {429, 500, 502, 503, 504, *range(520, 530)}
RETRIABLE_GET = RETRIABLE | {409}  # the plugin's rule: 409 (a Cloudflare hiccup) is retried on reads only
MAX_ANSWER_BYTES = 1 << 28
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_NO_PICKLE = "an IonQ backend cannot be pickled or copied: it holds the API key; make a new one where it is needed"


class IonQAuthError(PermissionError):
    pass


class IonQResponseError(RuntimeError):
    """The service answered something malformed, or something unsafe to follow."""


class IonQConnectError(RejectedSubmission):
    """No connection could be made: nothing was sent, so no job exists and resubmitting is safe."""


def _origin(url: str):
    """(scheme, host, port) of a URL, parsed as requests will parse it; None if it cannot be."""
    try:
        u = parse_url(url)
    except ValueError:
        return None
    scheme = (u.scheme or "").lower()
    return scheme, (u.host or "").lower(), u.port or {"http": 80, "https": 443}.get(scheme)


def _check_key(key) -> None:
    """Refuse a key that cannot be a header value: requests would put it in its error message, and
    the failure would come only after the manager had called the submission uncertain."""
    if not isinstance(key, str):
        raise IonQAuthError(f"API key: must be a string, got {type(key).__name__}")
    if key != key.strip():
        raise IonQAuthError("API key: starts or ends with whitespace or a line break; remove it (key not shown)")
    if not all(33 <= ord(c) <= 126 for c in key):
        raise IonQAuthError("API key: may hold only printable ASCII characters (no spaces, line breaks or "
                            "characters outside Latin-1, e.g. typographic ones pasted with it); key not shown")


def _api_url(url) -> str:
    url = str(url).rstrip("/")
    origin = _origin(url)
    if origin is None or origin[0] not in ("http", "https") or not origin[1]:
        raise ValueError(f"api_url: not an http(s) URL: {url[:200]!r}")
    if origin[0] == "http" and origin[1] not in LOOPBACK:
        raise ValueError("api_url: plain http would send the API key unencrypted; use https (http is for 127.0.0.1)")
    return url


# -- transport: requests, plus a watchdog that can end a request at the deadline --------------------
_watch = threading.local()  # the sockets opened by this thread's request under way, for its watchdog


class _Watched:
    def connect(self):
        super().connect()
        sockets = getattr(_watch, "sockets", None)
        if sockets is not None:
            sockets.append(self.sock)


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections report their sockets (not through a SOCKS proxy: there
    the per-read timeouts still hold, the total bound does not)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is urllib3.ProxyManager:  # a SOCKS manager brings its own connection classes
            manager.pool_classes_by_scheme = _POOLS
        return manager


def _unsent_reason(e: requests.exceptions.RequestException) -> str | None:
    """Why the connection was never made (refused, unreachable, connect timeout), or None if it was:
    then the request may have reached the service. urllib3's text names host and port, no header."""
    reason = getattr(e.args[0], "reason", None) if e.args else None
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(e, requests.exceptions.ConnectionError) and isinstance(reason, NewConnectionError):
        return str(reason).rpartition("new connection: ")[2][:200]
    return None


class _Client(APIClient):
    """The plugin's client (headers, paths) with a transport that holds a deadline. Each request
    gets a fresh connection, as with the plugin: no stale pooled connection can make a POST
    uncertain, and the watchdog knows which socket to shut."""

    def __init__(self, api_key, api_url, timeout):
        super().__init__(api_key=api_key, max_retries=0, timeout=timeout)
        self.BASE_URL = api_url
        self._origin = _origin(api_url)

    def __repr__(self):
        return f"_Client(url={self.BASE_URL!r})"

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)

    def same_origin(self, path: str) -> bool:
        return _origin(self.join_path(path)) == self._origin

    def call(self, verb: str, path: str, what: str, deadline: float | None = None, data: bytes | None = None):
        """One request, ended by ``deadline`` (a perf_counter instant) or ``TIMEOUT_SECONDS``, whichever
        is first. Returns (status, headers, body). Errors are raised outside any ``except`` block and
        keep no reference to requests' exception, which holds the request and so its headers."""
        url = self.join_path(path)
        if not self.same_origin(path):
            raise IonQResponseError(f"{what}: refused to send the API key to {url[:200]!r}, not {self.BASE_URL}")
        start = time.perf_counter()
        left = self.TIMEOUT_SECONDS if deadline is None else min(self.TIMEOUT_SECONDS, deadline - start)
        by_deadline = deadline is not None and deadline - start <= self.TIMEOUT_SECONDS
        if left <= 0:
            raise BatchTimeoutError(f"{what}: the batch deadline had passed; nothing was sent")
        sockets, fired = [], threading.Event()

        def expire():  # wakes a read blocked at the deadline
            fired.set()
            for s in list(sockets):
                try:
                    socket.socket.shutdown(s, socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(left, expire)
        timer.daemon = True
        headers = {**self.HEADERS, "Content-Type": "application/json"} if data is not None else self.HEADERS
        answer = error = None
        _watch.sockets = sockets
        timer.start()
        try:
            with requests.Session() as session:
                session.mount("http://", _Adapter())
                session.mount("https://", _Adapter())
                with session.request(verb, url, data=data, headers=headers, timeout=(left, left), stream=True,
                                     allow_redirects=False) as r:
                    body = bytearray()
                    for chunk in r.iter_content(1 << 16):
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            break
                    answer = r.status_code, r.headers, bytes(body)
        except requests.exceptions.RequestException as e:
            error = type(e).__name__, _unsent_reason(e)
        finally:
            timer.cancel()
            _watch.sockets = None
        if error is None:
            if len(answer[2]) > MAX_ANSWER_BYTES:
                raise IonQResponseError(f"{what}: the answer is over {MAX_ANSWER_BYTES} bytes")
            return answer
        name, unsent = error
        late = fired.is_set() or time.perf_counter() - start >= left
        if late and by_deadline and (unsent or verb == "GET"):
            raise BatchTimeoutError(f"{what}: no answer before the batch deadline"
                                    + ("; nothing was sent" if unsent else ""))
        if unsent:
            raise IonQConnectError(f"{what}: cannot connect to {self.BASE_URL} ({unsent}); nothing was sent")
        lost = f"no answer within {left:.3g} s" if late else f"the connection broke ({name})"
        raise TransientError(f"{what}: {lost}" + (" after the request was sent" if verb == "POST" else ""))


def _retry_after(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _check_histogram(h, n: int, where: str) -> None:
    if not isinstance(h, dict) or not h:
        raise IonQResponseError(f"{where}: the histogram is not a non-empty JSON object")
    for k, v in h.items():
        if not (len(k) <= 20 and k.isascii() and k.isdigit() and int(k) < 2 ** n):
            raise IonQResponseError(f"{where}: outcome {k[:30]!r} is not a basis state of {n} qubits")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise IonQResponseError(f"{where}: probability {str(v)[:30]} of outcome {k} is not a finite number >= 0")
    if not sum(h.values()) > 0:
        raise IonQResponseError(f"{where}: the histogram sums to 0")


class IonQBackend(Backend):
    """IonQ through pennylane-ionq. ``device``: ``ionq.simulator`` or ``ionq.qpu``.

    ``api_url`` (or the ``QNB_IONQ_URL`` variable) points it at ``python -m qnb.emulator``.
    Circuits may use wires 0..n-1 for any n (``wires``: a minimum width); each must end with one
    ``qml.probs``. With the simulator, which returns exact probabilities, shot noise is drawn
    locally from the backend's seeded generator (as the plugin does); a QPU's histograms are used
    as they come. Not thread-safe: use one IonQBackend per thread.
    """

    name = "ionq"
    DEVICES = ("ionq.simulator", "ionq.qpu")

    def __init__(self, device: str = "ionq.simulator", api_key: str | None = None, api_url: str | None = None,
                 latency: LatencyModel | None = None, seed=None, wires: int | None = None,
                 request_timeout_s: float = 30.0, job_name: str = "qnb"):
        if device not in self.DEVICES:
            raise ValueError(f"device: unknown IonQ device {device!r}; allowed: {', '.join(self.DEVICES)}")
        key = api_key or next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
        if not key:
            raise IonQAuthError(f"no IonQ API key: pass api_key= or set {' or '.join(KEY_VARIABLES)}")
        _check_key(key)
        if isinstance(request_timeout_s, bool) or not isinstance(request_timeout_s, (int, float)) or not (
                math.isfinite(request_timeout_s) and request_timeout_s > 0):
            raise ValueError(f"request_timeout_s: must be a finite number > 0, got {request_timeout_s!r}")
        if wires is not None and (isinstance(wires, bool) or not isinstance(wires, int) or wires < 1):
            raise ValueError(f"wires: must be an integer >= 1 (the minimum width) or None, got {wires!r}")
        super().__init__(latency, seed)
        self.device_name = device
        self.api_url = _api_url(api_url or os.environ.get("QNB_IONQ_URL") or APIClient.BASE_URL)
        self.job_name = str(job_name)
        self.min_wires = wires or 1
        self._client = _Client(key, self.api_url, float(request_timeout_s))
        self._devices = {}
        self._gate_set = set(self._device(1).operations)

    def __repr__(self):  # no key here, ever
        return f"IonQBackend(device={self.device_name!r}, api_url={self.api_url!r})"

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)

    def _device(self, n: int):
        """The plugin device for n qubits, made once per width; it builds payloads and reads
        histograms, and is given no key: it never sends anything."""
        if n not in self._devices:
            cls = SimulatorDevice if self.device_name == "ionq.simulator" else QPUDevice
            self._devices[n] = cls(wires=n, job_name=self.job_name)
        return self._devices[n]

    def _width(self, circuits) -> int:
        """1 + the largest wire label used (at least ``wires``): IonQ numbers its qubits 0..n-1."""
        labels = {w for tape in circuits for w in tape.wires}
        bad = [w for w in labels if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0]
        if bad:
            raise ValueError(f"circuits: IonQ needs wires labelled 0, 1, 2, ...; got {bad[0]!r}")
        return max(self.min_wires, 1 + int(max(labels, default=0)))

    @staticmethod
    def _readout(tape, n: int) -> tuple:
        ms = tape.measurements
        if len(ms) != 1 or not isinstance(ms[0], ProbabilityMP):
            raise ValueError("circuits: IonQBackend returns probabilities: end each circuit with one qml.probs(...)")
        return tuple(int(w) for w in ms[0].wires) or tuple(range(n))

    def _payload(self, circuits, shots, n: int | None = None) -> dict:
        """The job body exactly as pennylane-ionq's device builds it for ``batch_execute``."""
        dev = self._device(n or self._width(circuits))
        dev.reset(circuits_array_length=len(circuits))
        dev.job["shots"] = shots
        for i, tape in enumerate(circuits):
            ops = self._native(tape.operations)
            dev.check_validity(ops, tape.observables)
            dev.batch_apply(ops, rotations=dev._get_diagonalizing_gates(tape), circuit_index=i)
        return dict(dev.job)

    def _native(self, ops) -> list:
        """Decompose what the plugin cannot send (Rot -> RZ RY RZ, ...), recursively."""
        out = []
        for op in ops:
            if op.name in self._gate_set:
                out.append(op)
            elif op.has_decomposition:
                out.extend(self._native(op.decomposition()))
            else:
                raise ValueError(f"circuits: gate {op.name} cannot be sent to IonQ (no decomposition)")
        return out

    def _request(self, verb: str, path: str, what: str, data: bytes | None = None, submit: bool = False):
        """The JSON answer of one request, or the manager's exception for a bad status."""
        status, headers, body = self._client.call(verb, path, what, self.deadline, data)
        if status in (200, 201):
            try:
                return json.loads(body)
            except (ValueError, RecursionError):
                pass
            if submit:  # the service took the request: the job may exist
                raise SubmissionUncertainError(f"{what}: the answer is not JSON, yet a job may exist: "
                                               "look it up by its name; not resubmitted")
            raise IonQResponseError(f"{what}: the answer is not JSON")
        if status == 401:
            raise IonQAuthError(f"{what}: the IonQ API refused the API key (HTTP 401)")
        if status in (RETRIABLE if submit else RETRIABLE_GET):
            cls = RejectedSubmission if (submit and status == 429) else TransientError
            raise cls(f"{what}: HTTP {status}", _retry_after(headers.get("Retry-After")))
        text = body[:4096].decode("utf-8", "replace").replace(self._client.AUTHENTICATION_TOKEN, "[API key]")
        raise RuntimeError(f"{what}: HTTP {status}: {text[:300]}")

    def submit(self, circuits, shots, name: str | None = None) -> Job:
        """ONE job; ``name`` (default ``job_name``) is how it can be found if its answer is lost."""
        circuits = self._checked(circuits, shots)
        name = self.job_name if name is None else str(name)
        if shots is None and self.device_name == "ionq.qpu":
            raise ValueError("shots: a QPU cannot give exact probabilities; pass a number of shots")
        n = self._width(circuits)
        readout = [self._readout(t, n) for t in circuits]
        # the simulator returns exact probabilities whatever the shots; 1000 is only its job's label
        body = {**self._payload(circuits, shots or 1000, n), "name": name}
        try:
            data = json.dumps(body, allow_nan=False).encode()
        except ValueError:
            data = None
        if data is None:
            raise ValueError("circuits: a gate angle is NaN or infinite; nothing was sent")
        what = f"submitting job named {name!r}"
        answer = self._request("POST", "jobs", what, data, submit=True)
        job_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
            raise SubmissionUncertainError(f"{what}: the answer holds no valid job id, yet a job may exist: "
                                           "look it up by its name; not resubmitted")
        job = self._job(job_id, circuits, shots, payload={"status": "submitted"})
        job.layout = n, readout  # what results() needs to read the histograms back
        return job

    def find_job(self, name: str) -> str | None:
        """The id of the job submitted under ``name`` (its POST answer lost), or None: the job
        list filtered by name (``GET /jobs?name=``), checked again on the client side."""
        from urllib.parse import quote
        what = f"looking up the job named {name!r}"
        body = self._request("GET", f"jobs?name={quote(name)}", what)
        jobs = body.get("jobs") if isinstance(body, dict) else None
        if not isinstance(jobs, list):
            raise IonQResponseError(f"{what}: the answer holds no job list")
        ids = [j.get("id") for j in jobs if isinstance(j, dict) and j.get("name") == name]
        if len(ids) > 1:
            raise IonQResponseError(f"{what}: {len(ids)} jobs carry that name; refusing to guess")
        return ids[0] if ids and isinstance(ids[0], str) and _JOB_ID.fullmatch(ids[0]) else None

    def recover(self, job_id: str, circuits, shots) -> Job:
        """The job an interrupted run submitted for these circuits, to be waited on (not resubmitted)."""
        circuits = self._checked(circuits, shots)
        if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
            raise ValueError(f"job id: not a valid IonQ job id: {str(job_id)[:60]!r}")
        n = self._width(circuits)
        job = self._job(job_id, circuits, shots, payload={"status": "submitted"})
        job.layout = n, [self._readout(t, n) for t in circuits]
        return job

    def status(self, job: Job) -> str:
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            # no request may outlive the deadline: the last status known lets the manager say what is late
            return str(job.payload.get("status", "submitted")).lower()
        what = f"reading job {job.id}"
        body = self._request("GET", f"jobs/{job.id}", what)
        if not isinstance(body, dict) or not isinstance(body.get("status"), str) or body.get("id", job.id) != job.id:
            raise IonQResponseError(f"{what}: the answer is not a JSON object with this job's id and a status")
        job.payload = body
        return body["status"].lower()

    def failure_message(self, job: Job) -> str:
        failure = job.payload.get("failure") if isinstance(job.payload, dict) else None
        if isinstance(failure, dict):
            failure = failure.get("error") or failure.get("code")
        return str(failure)[:300] if failure else ""

    def results(self, job: Job) -> list[np.ndarray]:
        what = f"reading results of job {job.id}"
        n, readout = job.layout
        ref = job.payload.get("results")
        ref = ref.get("probabilities") if isinstance(ref, dict) else None
        url = (ref.get("url") if isinstance(ref, dict) else None) or f"jobs/{job.id}/results/probabilities"
        if not isinstance(url, str) or not self._client.same_origin(url):
            raise IonQResponseError(f"{what}: refused the results URL {str(url)[:200]!r}: "
                                    f"the API key goes only to {self.api_url}")
        data = self._request("GET", url.split("/v0.4/", 1)[-1], what)
        children = job.payload.get("child_job_ids")
        if children:  # match by child job id, never by the order of the result dict
            if not isinstance(children, list) or not all(isinstance(c, str) for c in children) or len(
                    set(children)) != len(children) or len(children) != job.n_circuits:
                raise IonQResponseError(f"{what}: the child job ids are not {job.n_circuits} distinct strings")
            if not isinstance(data, dict):
                raise IonQResponseError(f"{what}: the results are not a JSON object")
            missing = [c for c in children if c not in data]
            if missing:
                raise IonQResponseError(f"{what}: no results for {len(missing)} of {job.n_circuits} circuits "
                                        f"(child job {missing[0][:60]!r})")
            histograms = [data[c] for c in children]
        elif job.n_circuits == 1:
            histograms = [data]
        else:
            raise IonQResponseError(f"{what}: {job.n_circuits} circuits but no child job ids")
        for i, h in enumerate(histograms):
            _check_histogram(h, n, f"{what}, circuit {i}")
        dev = self._device(n)
        dev.histograms = histograms
        probs = []
        for i, wires in enumerate(readout):  # the plugin's own bit-order conversion
            dev.set_current_circuit_index(i)
            probs.append(np.asarray(dev.probability(wires=Wires(wires))))
        dev.set_current_circuit_index(None)
        if self.device_name == "ionq.qpu":
            return probs
        return [sample_probabilities(p[None], job.shots, self.rng)[0] for p in probs]
