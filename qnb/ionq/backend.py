"""IonQBackend: one ``ionq.multi-circuit.v1`` job per submission, through pennylane-ionq.

The payload is built by the plugin's own device (gate mapping, qubit order; one device per circuit
width) and sent with the plugin client's headers. The wait is not the plugin's (no deadline, never
ends on a canceled job): ``submit``/``status``/``results`` let the CircuitBatchManager own deadline
and retries. Nor is the transport, which a flaky or hostile service would get past:

* every request ends by the deadline the manager gives (``deadline=`` of ``submit``/``find_job``, the
  job's ``deadline`` for ``status``/``results``), however slowly the
  answer drips: per-read timeouts cannot bound that, so a watchdog shuts the socket;
* the API key goes only to the configured scheme, host and port: no redirects, no foreign URLs;
* a connection never made (nothing sent: safe to resubmit) is told apart from an answer lost after
  the request went out (a job may exist);
* every answer is checked (JSON object, job id, child ids, histograms) before it is used, and must
  be this job's: its status carries the name it was submitted under, its results URL names its id;
* a lost POST answer is recovered through IonQ's documented job listing (``GET /jobs`` with
  ``limit`` and ``next``, newest first), matched by name on the client side: the API has no name filter.

The key is checked up front, never put in a repr, a log line or an exception (nor in their
``__cause__``/``__context__`` chains), nor held plain by a local of the constructor, and a backend
refuses to be pickled. What the service sends back is scrubbed of it (``_Client.scrub``: any letter
case or escaping) before qnb shows or keeps it: failure messages, the stored status payload (each
string, keys included), URLs, cursors, child ids and histogram keys quoted in errors, error bodies
and Retry-After hints; a job id that holds the key is refused (a submission answered with one is
uncertain, not resubmitted).
Threads: use one IonQBackend per thread (its plugin devices are reused).
"""
from __future__ import annotations

import functools
import inspect
import json
import math
import os
import time
from email.utils import parsedate_to_datetime

import numpy as np
from pennylane.measurements import ProbabilityMP
from pennylane.wires import Wires
from pennylane_ionq.api_client import APIClient
from pennylane_ionq.device import QPUDevice, SimulatorDevice

from ..backends import Backend, sample_probabilities
from ..jobs import (
    BatchTimeoutError,
    Job,
    JobNotFoundError,
    RejectedSubmission,
    SubmissionUncertainError,
    TransientError,
)
from ..latency import LatencyModel
from ..noise import IONQ_NOISE_MODELS
from ..validation import integer, positive
from .listing import find_job as _find_job, read_listing
from .answers import _check_histogram, _names_job, iso_time, retry_after
from .transport import (
    _JOB_ID,
    _NO_PICKLE,
    KEY_VARIABLES,
    MASK,
    RETRIABLE,
    RETRIABLE_GET,
    IonQAuthError,
    IonQResponseError,
    Secret,
    _api_url,
    _check_key,
    _Client,
)

MAX_STATUS_BYTES = 1 << 18  # a job's status record: a few kB, child ids of 1,000 circuits included
MAX_ANSWER_DEPTH = 64  # a status answer nested deeper than this is refused (its strings are scrubbed one by one)


def _clock_behind(date) -> float | None:
    """Seconds the service's clock is behind ours, from an answer's ``Date`` header (None without one)."""
    try:
        return time.time() - parsedate_to_datetime(date).timestamp() if isinstance(date, str) else None
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def _forget_answers(method):
    """``method``, whose errors keep their traceback but not the locals of the frames it ran through:
    those hold the service's raw answers (a status, a histogram, a job list), and an answer may echo
    the API key; a traceback that prints locals (``pytest -l``, ``%xmode Verbose``,
    ``TracebackException(capture_locals=True)``) then shows none of it. The messages are scrubbed."""
    @functools.wraps(method)
    def forgetting(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except BaseException as e:
            _clear_frames(e)
            raise
    return forgetting


def _clear_frames(err: BaseException) -> None:
    """Clear the locals of every finished frame in the tracebacks of ``err`` and its chain (a frame
    still running, a caller's, cannot be cleared and is left as it is)."""
    seen, todo = [], [err]
    while todo:
        x = todo.pop()
        if x is None or any(x is y for y in seen):
            continue
        seen.append(x)
        todo += [x.__cause__, x.__context__]
        tb = x.__traceback__
        while tb is not None:
            if not tb.tb_frame.f_code.co_flags & _SUSPENDABLE:  # clearing a generator's frame would close it
                try:
                    tb.tb_frame.clear()
                except RuntimeError:  # executing (this wrapper, its callers)
                    pass
            tb = tb.tb_next


_SUSPENDABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _late_scrub(what: str) -> BatchTimeoutError:
    return BatchTimeoutError(f"{what}: the answer was read only after the batch deadline (while scrubbing it of the API key)")


def _unique_keys(pairs: list) -> dict:
    """A JSON object that names each key once (``json.loads`` would keep the last silently)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a JSON object names a key twice")
    return out


class IonQBackend(Backend):
    """IonQ through pennylane-ionq. ``device``: ``ionq.simulator`` or ``ionq.qpu``.

    ``api_url`` (or the ``QNB_IONQ_URL`` variable) points it at ``python -m qnb.emulator``.
    Circuits may use wires 0..n-1 for any n (``wires``: a minimum width); each must end with one
    ``qml.probs``. With the simulator, which returns exact probabilities, shot noise is drawn
    locally from the backend's seeded generator (as the plugin does); a QPU's histograms, and those
    of the simulator under a ``noise_model`` (IonQ's names; ``noise_seed`` in 1..2**31-1 seeds it),
    are used as they come. Not thread-safe: use one IonQBackend per thread.
    """

    name = "ionq"
    DEVICES = ("ionq.simulator", "ionq.qpu")
    # find_job: how the documented job listing is paged (see find_job)
    list_limit = 100  # jobs asked for per page (IonQ's pagination example asks for limit=100)
    list_max_pages = 20  # at most this many pages per lookup
    clock_skew_s = 300.0  # how far the service's clock (or its job stamps) may be behind ours
    listing_lag_s = 30.0  # how long after its POST a job may still be missing from the listing

    def __init__(self, device: str = "ionq.simulator", api_key: str | None = None, api_url: str | None = None,
                 latency: LatencyModel | None = None, seed=None, wires: int | None = None,
                 request_timeout_s: float = 30.0, job_name: str = "qnb", noise_model: str | None = None,
                 noise_seed: int | None = None):
        # the key is a Secret from the first line on, and no local holds it plain: a traceback that
        # prints locals (pytest -l, %xmode Verbose) of a constructor that fails shows '***'
        key = api_key if isinstance(api_key, Secret) else None if api_key is None else Secret(api_key)
        del api_key
        key = key or next((Secret(os.environ[v]) for v in KEY_VARIABLES if os.environ.get(v)), None)
        if device not in self.DEVICES:
            raise ValueError(f"device: unknown IonQ device {device!r}; allowed: {', '.join(self.DEVICES)}")
        if not key:
            raise IonQAuthError(f"no IonQ API key: pass api_key= or set {' or '.join(KEY_VARIABLES)}")
        _check_key(key)
        request_timeout_s = positive("request_timeout_s", request_timeout_s)
        if wires is not None:
            try:
                wires = integer("wires", wires, 1)
            except ValueError:
                raise ValueError(f"wires: must be an integer >= 1 (the minimum width) or None, got {wires!r}") from None
        if noise_model is not None and (device != "ionq.simulator" or noise_model not in IONQ_NOISE_MODELS):
            raise ValueError(f"noise_model: IonQ's simulator (device='ionq.simulator') takes one of "
                             f"{', '.join(IONQ_NOISE_MODELS)}; got {str(noise_model)[:60]!r} on {device}")
        if noise_seed is not None:
            if noise_model is None:
                raise ValueError("noise_seed: seeds a noise_model; pass one")
            noise_seed = integer("noise_seed", noise_seed, 1, 2 ** 31 - 1)
        super().__init__(latency, seed)
        self.device_name = device
        self.noise_model, self.noise_seed = noise_model, noise_seed
        # a QPU's and a noisy simulation's histograms are sampled by the service: used as they come
        self.sampled = device == "ionq.qpu" or noise_model not in (None, "ideal")
        url = api_url or os.environ.get("QNB_IONQ_URL") or APIClient.BASE_URL
        self.api_url = _api_url(url)  # (its own line: a verbose traceback shows the values on the failing line)
        self.job_name = str(job_name)
        self.min_wires = wires or 1
        self._client = _Client(key, self.api_url, request_timeout_s)
        self._service_behind_s = None  # from the last answer's Date header
        self._devices = {}
        self._gate_set = set(self._device(1).operations)

    def __repr__(self):  # no key here, ever; safe on a half-built backend (its __init__ raised)
        noise = f", noise_model={self.noise_model!r}" if getattr(self, "noise_model", None) else ""
        return (f"IonQBackend(device={getattr(self, 'device_name', None)!r}, "
                f"api_url={getattr(self, 'api_url', None)!r}{noise})")

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)

    def _device(self, n: int):
        """The plugin device for n qubits, made once per width; it builds payloads and reads
        histograms, and is given no key: it never sends anything."""
        if n not in self._devices:
            cls = SimulatorDevice if self.device_name == "ionq.simulator" else QPUDevice
            noise = {"noise_model": self.noise_model, "noise_seed": self.noise_seed} if self.noise_model else {}
            self._devices[n] = cls(wires=n, job_name=self.job_name, **noise)
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

    def _request(self, verb: str, path: str, what: str, data: bytes | None = None, submit: bool = False,
                 deadline: float | None = None, not_found: Exception | None = None, max_bytes: int | None = None):
        """The JSON answer of one request, ended by ``deadline`` (a ``time.perf_counter()`` instant),
        or the manager's exception for a bad status (``not_found`` for HTTP 404, if given)."""
        status, headers, body = self._client.call(verb, path, what, deadline, data, max_bytes)
        self._service_behind_s = _clock_behind(headers.get("Date"))
        if status in (200, 201):
            try:
                answer = json.loads(body, object_pairs_hook=_unique_keys)
            except (ValueError, RecursionError):
                answer = None
            # a GET whose answer took us past the deadline (reading or parsing it) ends there; a POST's
            # answer is kept: it names a job that exists
            if answer is not None and not submit and deadline is not None and time.perf_counter() > deadline:
                raise BatchTimeoutError(f"{what}: the answer was read only after the batch deadline")
            if answer is not None:
                return answer
            if submit:  # the service took the request: the job may exist
                raise SubmissionUncertainError(f"{what}: the answer is not JSON, yet a job may exist: "
                                               "look it up by its name; not resubmitted")
            raise IonQResponseError(f"{what}: the answer is not JSON (or names a key twice)")
        if status == 401:
            raise IonQAuthError(f"{what}: the IonQ API refused the API key (HTTP 401)")
        if status == 404 and not_found is not None:
            raise not_found
        if status in (RETRIABLE if submit else RETRIABLE_GET):
            cls = RejectedSubmission if (submit and status == 429) else TransientError
            hint = headers.get("Retry-After")
            wait = retry_after(hint, time.time())
            raise cls(f"{what}: HTTP {status}" + (f" (Retry-After: {self._shown(hint, 40)})"
                                                  if hint is not None else ""), wait)
        text = self._client.scrub(body[:4096])  # (the transport scrubbed it too) before it is cut
        raise RuntimeError(f"{what}: HTTP {status}: {text[:300]}")

    def _own_id(self, job_id) -> bool:
        """Is ``job_id`` an id qnb may use and show: a string of IonQ's id characters that does not
        hold the API key (a service answering with the key as a job id would put it in every repr,
        message and URL of that job)."""
        return isinstance(job_id, str) and bool(_JOB_ID.fullmatch(job_id)) and self._client.scrub(job_id) == job_id

    def _shown(self, text, n: int) -> str:
        """``text`` as an error may quote it: cut to a little more than ``n`` characters, scrubbed of the
        key, cut to ``n``. Cutting first bounds the scrub's cost whatever the text's size; the scrub
        finds any piece of 8 or more of the key's characters, so the cut leaves none (qnb.ionq.scrubbing)."""
        return self._client.scrub(str(text)[:4 * n + 64])[:n]

    def _scrubbed(self, value, what: str, depth: int = 0, deadline: float | None = None):
        """``value`` (a JSON answer) with the API key scrubbed out of every string in it, keys of
        objects included; its structure is kept (the JSON text is not scrubbed as a whole). Past
        ``deadline`` (checked between strings and between the whitespace-free runs of a long one),
        BatchTimeoutError: a hostile answer cannot hold the batch past it however costly its scrub."""
        if depth > MAX_ANSWER_DEPTH:
            raise IonQResponseError(f"{what}: the answer nests deeper than {MAX_ANSWER_DEPTH} levels")
        if deadline is not None and time.perf_counter() > deadline:
            raise _late_scrub(what)
        if isinstance(value, str):
            return self._scrub_by(value, what, deadline)
        if isinstance(value, dict):
            return {self._scrub_by(k, what, deadline): self._scrubbed(v, what, depth + 1, deadline)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrubbed(v, what, depth + 1, deadline) for v in value]
        return value

    def _scrub_by(self, text: str, what: str, deadline: float | None) -> str:
        late = False
        try:
            return self._client.scrub(text, deadline)
        except BatchTimeoutError:
            late = True
        if late:  # (raised here, outside the except block: no chain)
            raise _late_scrub(what)

    @_forget_answers
    def submit(self, circuits, shots, name: str | None = None, deadline: float | None = None) -> Job:
        """ONE job; ``name`` (default ``job_name``) is how it can be found if its answer is lost."""
        circuits = self._checked(circuits, shots)
        name = self.job_name if name is None else str(name)
        if shots is None and self.sampled:
            raise ValueError(f"shots: {'a noisy simulation' if self.noise_model else 'a QPU'} cannot give exact "
                             "probabilities; pass a number of shots")
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
        answer = self._request("POST", "jobs", what, data, submit=True, deadline=deadline)
        job_id = answer.get("id") if isinstance(answer, dict) else None
        if not self._own_id(job_id):  # (an id holding the API key is not one qnb can show or use)
            raise SubmissionUncertainError(f"{what}: the answer holds no valid job id, yet a job may exist: "
                                           "look it up by its name; not resubmitted")
        job = self._job(job_id, circuits, shots, payload={"status": "submitted"})
        job.layout = n, readout  # what results() needs to read the histograms back
        job.name = name  # its status must carry this name: another job's answer is refused
        return job

    @_forget_answers
    def find_job(self, name: str, deadline: float | None = None, after: float | None = None, older=None,
                 settle: bool = True) -> str | None:
        """The id of the job submitted under ``name`` (its POST answer lost), or None if the service
        has none; see ``qnb.ionq.listing``: how far back the listing is read (to a job ``older(name)``
        says precedes it, else to ``after`` less ``clock_skew_s``), and why "none" is believed only
        ``listing_lag_s`` after ``after`` (``settle``; waited for within ``deadline``, else
        ``SubmissionUncertainError``). Every request ends by ``deadline``."""
        return _find_job(self, name, deadline, after, older, settle)

    @_forget_answers
    def find_jobs(self, wanted, deadline: float | None = None, after: float | None = None, older=None) -> dict:
        """``{name: [job ids, newest first]}`` of the listed jobs whose name ``wanted(name)`` accepts
        (see ``qnb.ionq.listing.read_listing``): what the service says exists, as far back as asked."""
        return read_listing(self, wanted, "reading the job listing", deadline, after, older)

    def recover(self, job_id: str, circuits, shots) -> Job:
        """The job an interrupted run submitted for these circuits, to be waited on (not resubmitted)."""
        circuits = self._checked(circuits, shots)
        if not self._own_id(job_id):
            raise ValueError(f"job id: not a valid IonQ job id (IonQ's id characters, without the API key): "
                             f"{self._shown(job_id, 60)!r}")
        n = self._width(circuits)
        job = self._job(job_id, circuits, shots, payload={"status": "submitted"})
        job.layout = n, [self._readout(t, n) for t in circuits]
        return job  # the manager sets job.name to the journaled name: the status must carry it

    @_forget_answers
    def status(self, job: Job) -> str:
        if job.deadline is not None and time.perf_counter() >= job.deadline:
            # no request may outlive the deadline: the last status known lets the manager say what is late
            return str(job.payload.get("status", "submitted")).lower()
        what = f"reading job {job.id}"
        body = self._request("GET", f"jobs/{job.id}", what, deadline=job.deadline, max_bytes=MAX_STATUS_BYTES,
                             not_found=JobNotFoundError(job.id, "the service does not know it (HTTP 404): "
                                                                "deleted or expired"))
        if not isinstance(body, dict) or not isinstance(body.get("status"), str) or body.get("id", job.id) != job.id:
            raise IonQResponseError(f"{what}: the answer is not a JSON object with this job's id and a status")
        named = body.get("name")
        if job.name is not None and named is not None and named != job.name:
            raise IonQResponseError(f"{what}: the answer is for a job named {self._shown(named, 80)!r}, "
                                    f"not {self._shown(job.name, 200)!r}: another job's status; not used")
        payload = self._scrubbed(body, what, deadline=job.deadline)  # every string shown later is scrubbed
        if job.deadline is not None and time.perf_counter() > job.deadline:
            raise BatchTimeoutError(f"{what}: the answer was read only after the batch deadline")
        job.payload = payload
        return job.payload["status"].lower()

    def billed_s(self, job: Job) -> float:
        """``stats.billed_quantum_compute_time_us`` of the job's record (v0.4), in seconds; 0 if absent."""
        stats = job.payload.get("stats") if isinstance(job.payload, dict) else None
        us = stats.get("billed_quantum_compute_time_us") if isinstance(stats, dict) else None
        ok = isinstance(us, (int, float)) and not isinstance(us, bool) and math.isfinite(us) and 0 <= us < 1e15
        return us / 1e6 if ok else 0.0

    def failure_message(self, job: Job) -> str:
        failure = job.payload.get("failure") if isinstance(job.payload, dict) else None
        if isinstance(failure, dict):  # v0.4: {code, message}; older answers: {code, error}
            failure = failure.get("message") or failure.get("error") or failure.get("code")
        return self._shown(failure, 300) if failure else ""  # cut, then scrubbed: at most a piece under 8 characters of the key at the cut

    @_forget_answers
    def results(self, job: Job) -> list[np.ndarray]:
        what = f"reading results of job {job.id}"
        n, readout = job.layout
        ref = job.payload.get("results")
        ref = ref.get("probabilities") if isinstance(ref, dict) else None
        url = (ref.get("url") if isinstance(ref, dict) else None) or f"jobs/{job.id}/results/probabilities"
        scrubbed = self._scrub_by(str(url), what, job.deadline)
        shown = scrubbed[:200]
        if not isinstance(url, str) or not self._client.same_origin(url):
            raise IonQResponseError(f"{what}: refused the results URL {shown!r}: "
                                    f"the API key goes only to {self.api_url}")
        if MASK in url or scrubbed != url:  # it held the key (status stores the payload scrubbed: MASK)
            raise IonQResponseError(f"{what}: refused the results URL {shown!r}: it held the API key")
        if not _names_job(url, job.id):
            raise IonQResponseError(f"{what}: refused the results URL {shown!r}: it names another job, "
                                    f"not {job.id}")
        # the most a truthful answer can hold: every circuit's histogram over its 2^n outcomes
        bound = (1 << 20) + job.n_circuits * (2 ** min(n, 22)) * 64
        data = self._request("GET", url.split("/v0.4/", 1)[-1], what, deadline=job.deadline, max_bytes=bound,
                             not_found=JobNotFoundError(job.id, "its results are gone (HTTP 404): deleted or expired"))
        children = job.payload.get("child_job_ids")
        if children:  # match by child job id, never by the order of the result dict
            if not isinstance(children, list) or not all(isinstance(c, str) for c in children) or len(
                    set(children)) != len(children) or len(children) != job.n_circuits:
                raise IonQResponseError(f"{what}: the child job ids are not {job.n_circuits} distinct strings")
            if not isinstance(data, dict):
                raise IonQResponseError(f"{what}: the results are not a JSON object")
            ours = set(children)
            missing = [c for c in children if c not in data]
            if missing:
                raise IonQResponseError(f"{what}: no results for {len(missing)} of {job.n_circuits} circuits "
                                        f"(child job {self._shown(missing[0], 60)!r})")
            extra = [c for c in data if c not in ours]
            if extra:
                raise IonQResponseError(f"{what}: results for {len(extra)} jobs that are not this job's circuits "
                                        f"(e.g. {self._shown(extra[0], 60)!r})")
            histograms = [data[c] for c in children]
        elif job.n_circuits == 1:
            histograms = [data]
        else:
            raise IonQResponseError(f"{what}: {job.n_circuits} circuits but no child job ids")
        for i, h in enumerate(histograms):
            _check_histogram(h, n, f"{what}, circuit {i}", lambda t: self._shown(t, 200))
        dev = self._device(n)
        dev.histograms = histograms
        probs = []
        for i, wires in enumerate(readout):  # the plugin's own bit-order conversion
            dev.set_current_circuit_index(i)
            probs.append(np.asarray(dev.probability(wires=Wires(wires))))
        dev.set_current_circuit_index(None)
        if self.sampled:
            return probs
        return [sample_probabilities(p[None], job.shots, self.rng)[0] for p in probs]
