"""IonQBackend: one ``ionq.multi-circuit.v1`` job per submission, through pennylane-ionq.

The payload is built by the plugin's own device (gate mapping, qubit order) and sent with the
plugin's API client; the wait is not the plugin's (it has no deadline and never ends on a canceled
job): ``submit``/``status``/``results`` let the CircuitBatchManager own deadline and retries.
The API key is read from the argument or the plugin's environment variables and is never put in a
repr, a log line or an exception message.
"""
from __future__ import annotations

import os

import numpy as np
import requests
from pennylane_ionq.api_client import APIClient, Job as PluginJob
from pennylane_ionq.device import QPUDevice, SimulatorDevice

from .backends import Backend, sample_probabilities
from .jobs import Job, RejectedSubmission, TransientError
from .latency import LatencyModel

KEY_VARIABLES = ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY")
RETRIABLE = {429, 500, 502, 503, 504, *range(520, 530)}


class IonQAuthError(PermissionError):
    pass


class _Client(APIClient):
    """The plugin's client, pointed at ``api_url``, without its own retries (the manager decides),
    remembering the last response so that status codes and Retry-After can be read."""

    def __init__(self, api_key, api_url, timeout):
        super().__init__(api_key=api_key, max_retries=0, timeout=timeout)
        self.BASE_URL = api_url.rstrip("/")
        self.last_response = None

    def request(self, method, **params):
        self.last_response = None
        try:
            self.last_response = super().request(method, **params)
        except requests.exceptions.RequestException as e:
            # the exception text names the URL only; the headers (and key) stay out of it
            raise TransientError(f"connection to the IonQ API failed ({type(e).__name__})") from None
        return self.last_response

    def __repr__(self):
        return f"_Client(url={self.BASE_URL!r})"


def _check(response, what: str, submit: bool = False):
    """Raise the manager's exception for a bad status; return the JSON body otherwise."""
    code = response.status_code
    if code in (200, 201):
        return response.json()
    if code == 401:
        raise IonQAuthError(f"{what}: the IonQ API refused the API key (HTTP 401)")
    if code in RETRIABLE:
        retry_after = response.headers.get("Retry-After")
        try:
            retry_after = float(retry_after) if retry_after else None
        except ValueError:
            retry_after = None
        cls = RejectedSubmission if (submit and code == 429) else TransientError
        raise cls(f"{what}: HTTP {code}", retry_after)
    raise RuntimeError(f"{what}: HTTP {code}: {response.text[:300]}")


class IonQBackend(Backend):
    """IonQ through pennylane-ionq. ``device``: ``ionq.simulator`` or ``ionq.qpu``.

    ``api_url`` (or the ``QNB_IONQ_URL`` variable) points it at ``python -m qnb.emulator``.
    With the simulator, which returns exact probabilities, shot noise is drawn locally from the
    backend's seeded generator (as the plugin does); a QPU's histograms are used as they come.
    """

    name = "ionq"
    DEVICES = ("ionq.simulator", "ionq.qpu")

    def __init__(self, device: str = "ionq.simulator", api_key: str | None = None, api_url: str | None = None,
                 latency: LatencyModel | None = None, seed=None, wires: int = 4, request_timeout_s: float = 30.0,
                 job_name: str = "qnb"):
        if device not in self.DEVICES:
            raise ValueError(f"device: unknown IonQ device {device!r}; allowed: {', '.join(self.DEVICES)}")
        key = api_key or next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
        if not key:
            raise IonQAuthError(f"no IonQ API key: pass api_key= or set {' or '.join(KEY_VARIABLES)}")
        super().__init__(latency, seed)
        self.device_name = device
        self.api_url = (api_url or os.environ.get("QNB_IONQ_URL") or APIClient.BASE_URL).rstrip("/")
        self._client = _Client(key, self.api_url, request_timeout_s)
        cls = SimulatorDevice if device == "ionq.simulator" else QPUDevice
        self._device = cls(wires=wires, api_key=key, job_name=job_name)
        self._gate_set = set(self._device.operations)
        self.job_name = job_name

    def __repr__(self):  # no key here, ever
        return f"IonQBackend(device={self.device_name!r}, api_url={self.api_url!r})"

    def _payload(self, circuits, shots) -> dict:
        """The job body exactly as pennylane-ionq's device builds it for ``batch_execute``."""
        dev = self._device
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

    def submit(self, circuits, shots) -> Job:
        circuits = self._checked(circuits, shots)
        if shots is None and self.device_name == "ionq.qpu":
            raise ValueError("shots: a QPU cannot give exact probabilities; pass a number of shots")
        # the simulator returns exact probabilities whatever the shots; 1000 is only its job's label
        body = self._payload(circuits, shots or 1000)
        plugin_job = PluginJob(client=self._client)  # the plugin's resource, our client
        try:
            plugin_job.manager.create(**body)
        except TransientError:
            raise
        except Exception:  # the plugin raises a bare Exception(response.text) on an error status
            response = self._client.last_response
            if response is None:
                raise
            _check(response, "submitting a job", submit=True)
            raise
        return self._job(plugin_job.id.value, circuits, shots, payload={"status": "submitted"})

    def status(self, job: Job) -> str:
        body = _check(self._client.get(f"jobs/{job.id}"), f"reading job {job.id}")
        job.payload = body
        return str(body.get("status", "")).lower()

    def failure_message(self, job: Job) -> str:
        failure = (job.payload or {}).get("failure") or {}
        return str(failure.get("error") or failure.get("code") or "")

    def results(self, job: Job) -> list[np.ndarray]:
        url = ((job.payload.get("results") or {}).get("probabilities") or {}).get("url") or f"jobs/{job.id}/results/probabilities"
        data = _check(self._client.get(url.split("/v0.4/", 1)[-1]), f"reading results of job {job.id}")
        children = job.payload.get("child_job_ids") or []
        if children:  # match by child job id, never by the order of the result dict
            missing = [c for c in children if c not in data]
            if missing or len(children) != job.n_circuits:
                raise RuntimeError(f"job {job.id}: results for {len(children) - len(missing)} of {job.n_circuits} circuits")
            histograms = [data[c] for c in children]
        else:
            if job.n_circuits != 1:
                raise RuntimeError(f"job {job.id}: {job.n_circuits} circuits but no child job ids")
            histograms = [data]
        dev = self._device
        dev.histograms = histograms
        probs = []
        for i in range(len(histograms)):  # the plugin's own bit-order conversion
            dev.set_current_circuit_index(i)
            probs.append(dev.probability(wires=dev.wires[:1]))
        dev.set_current_circuit_index(None)
        probs = np.array(probs)
        if self.device_name == "ionq.qpu":
            return list(probs)
        return list(sample_probabilities(probs, job.shots, self.rng))
