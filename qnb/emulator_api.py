"""IonQ's v0.4 job API as documented: what a job body may hold, and the shapes of the answers.

Sources: the v0.4 reference https://docs.ionq.com/api-reference/v0.4 (Create job, Get job, Get jobs,
Cancel a job, Delete a job, Get job cost, Estimate job cost, Get Backends, Get a Backend), built
from the OpenAPI document https://api.ionq.co/v0.4/api-docs; the copy read is the one vendored in
github.com/ionq/ionq-core-python (openapi.json). What it says, and what this module does with it:

* ``POST /jobs`` answers 201 with ``{id, status, session_id}``. The body (``CircuitJobCreationPayload``
  / ``MultiCircuitJobCreationPayload``, additionalProperties: false) holds ``type`` (required:
  ``ionq.circuit.v1`` or ``ionq.multi-circuit.v1`` here), ``backend`` (required), ``input``
  (required: ``gateset`` "qis" and ``circuit``, optional ``qubits`` >= 1; or ``circuits``, each
  ``{circuit, name?, qubits?, gateset?, registers?}``), ``name``, ``metadata`` (strings only),
  ``shots`` (1..1,000,000, default 100, "ignored by ideal simulator backend"), ``session_id``,
  ``settings`` (``error_mitigation`` {debiasing, symmetry_verification}: debiasing needs at least
  500 shots; ``compilation`` {gate_basis, precision, opt, service_version}), ``dry_run`` and ``noise``
  (``{model, seed?}``: the model is required, the seed an int32; the field "does not apply to qpu.*
  targets"). Anything else is a 400. The gate format is in :mod:`qnb.qis`.
* Job records (``SingleCircuitJob``/``MultiCircuitJob``): id, status (``JobStatus``: submitted,
  ready, started, canceled, failed, completed), type, backend, dry_run, submitter_id, project_id,
  parent_job_id, session_id, metadata, name, submitted_at, started_at, completed_at (ISO 8601),
  predicted_wait_time_ms, predicted_execution_duration_ms, execution_duration_ms, shots, noise
  (simulator only), failure (``{code, message}``), cost_model, output, settings, stats (qubits,
  circuits, gate_counts, predicted/billed_quantum_compute_time_us), results, child_job_ids.
  ``results`` holds ``probabilities: {url}``, the form both pennylane-ionq and qiskit-ionq read
  (``GET /jobs/{id}/results/probabilities``: outcome -> probability; for a multi-circuit job, child
  job id -> that circuit's histogram, the documented probabilities-aggregate shape).
* Errors: ``{"statusCode": int, "error": str, "message": str}`` (schemas ``Error`` and
  ``BadRequestError``; examples "Bad Request", "Unauthorized Error", "Not Found Error").
* ``GET /backends`` (a list) and ``GET /backends/{backend}`` need no key (security: []); a
  ``Backend`` has backend, status, qubits, average_queue_time, last_updated (required) and more.
* ``GET /jobs/estimate?backend=&type=&qubits=&shots=&1q_gates=&2q_gates=&error_mitigation=`` and
  ``GET /jobs/{id}/cost`` (``{dry_run, estimated_cost: {value, unit}, cost?}``).

The emulator's own choices, where the reference is silent: it simulates up to 12 qubits on every
backend (so each backend reports 12), at most 10,000 gates per circuit and 1,000 circuits per job;
a noise model is simulated on up to 10 qubits; sessions are not emulated (a ``session_id`` is a
400); gate counts are keyed by gate width ("1q", "2q", "3q", ...). Prices are not the emulator's
to know: an estimate and a cost are in ``usd`` from the rate given to the emulator (0 by default).
"""
from __future__ import annotations

import argparse
import math
import re
from datetime import datetime, timezone
from http.client import responses

import numpy as np

from .noise import IONQ_NOISE_MODELS

STATUS_FAULTS = ("409", "429", "500", "503")
HTTP_FAULTS = STATUS_FAULTS + ("drop", "stall", "drip", "driphead")
JOB_FAULTS = ("fail", "cancel", "hang", "slow")
BACKENDS = ("simulator", "qpu.aria-1", "qpu.aria-2", "qpu.forte-1", "qpu.forte-enterprise-1")
JOB_KEYS = {"type", "backend", "input", "name", "metadata", "shots", "session_id", "settings", "dry_run", "noise"}
CIRCUIT_KEYS = {"circuit", "name", "qubits", "gateset", "registers"}
SETTINGS = {"error_mitigation": {"debiasing": bool, "symmetry_verification": bool},
            "compilation": {"gate_basis": str, "precision": str, "opt": (int, float), "service_version": str}}
MAX_QUBITS, MAX_NOISY_QUBITS, MAX_GATES, MAX_CIRCUITS, MAX_SHOTS = 12, 10, 10_000, 1_000, 1_000_000
DEFAULT_SHOTS, MIN_DEBIAS_SHOTS = 100, 500
INT32 = 2 ** 31
_WIRE_KEYS = ("target", "targets", "control", "controls")
TITLES = {400: "Bad Request", 401: "Unauthorized Error", 404: "Not Found Error", 500: "Internal Server Error"}


class BadRequest(ValueError):
    """A request the service refuses with HTTP 400."""


def error(status: int, message: str) -> dict:
    """An error body in IonQ's documented shape."""
    return {"statusCode": status, "error": TITLES.get(status, responses.get(status, "Error")),
            "message": str(message)[:300]}


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


def _short(v) -> str:
    return repr(v)[:40]


def _int(v, lo: int, hi: int) -> bool:
    return not isinstance(v, bool) and isinstance(v, int) and lo <= v <= hi


def _qubits(v, what: str) -> int:
    if not _int(v, 1, MAX_QUBITS):
        raise BadRequest(f"{what} must be an integer in 1..{MAX_QUBITS}, got {_short(v)}")
    return v


def _settings(settings, shots: int) -> dict:
    if not isinstance(settings, dict):
        raise BadRequest("settings must be a JSON object")
    for group, value in settings.items():
        fields = SETTINGS.get(group)
        if fields is None or not isinstance(value, dict):
            raise BadRequest(f"settings.{str(group)[:40]}: not a documented settings object "
                             f"(documented: {', '.join(SETTINGS)})")
        for k, v in value.items():
            kind = fields.get(k)
            if kind is None or isinstance(v, bool) is not (kind is bool) or not isinstance(v, kind):
                raise BadRequest(f"settings.{group}.{str(k)[:40]}: unknown, or not of its documented type")
    if settings.get("error_mitigation", {}).get("debiasing") and shots < MIN_DEBIAS_SHOTS:
        raise BadRequest(f"settings.error_mitigation.debiasing needs at least {MIN_DEBIAS_SHOTS} shots, got {shots}")
    return settings


def _noise(noise, backend: str) -> dict | None:
    if not isinstance(noise, dict) or set(noise) - {"model", "seed"}:
        raise BadRequest("noise must be a JSON object {model, seed?}")
    if noise.get("model") not in IONQ_NOISE_MODELS:
        raise BadRequest(f"noise.model must be one of {', '.join(IONQ_NOISE_MODELS)}, got {_short(noise.get('model'))}")
    seed = noise.get("seed")
    if seed is not None and not _int(seed, -INT32, INT32 - 1):
        raise BadRequest(f"noise.seed must be a 32-bit integer, got {_short(seed)}")
    if backend != "simulator":
        return None  # "does not apply to qpu.* targets"
    return {"model": noise["model"], **({"seed": seed} if seed is not None else {})}


def job_input(body) -> dict:
    """The parts of a job body the emulator uses; BadRequest names the first thing wrong."""
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(body).__name__}")
    extra = sorted(str(k)[:30] for k in body if k not in JOB_KEYS)
    if extra:
        raise BadRequest(f"unknown job field(s): {', '.join(extra)[:120]}")
    kind, inp, backend = body.get("type"), body.get("input"), body.get("backend")
    if kind not in ("ionq.circuit.v1", "ionq.multi-circuit.v1"):
        raise BadRequest(f"unsupported job type {_short(kind)}; emulated: ionq.circuit.v1, ionq.multi-circuit.v1")
    if backend not in BACKENDS:
        raise BadRequest(f"backend must be one of {', '.join(BACKENDS)}, got {_short(backend)}")
    if not isinstance(inp, dict):
        raise BadRequest("input must be a JSON object")
    if inp.get("gateset") != "qis":
        raise BadRequest(f"input.gateset {_short(inp.get('gateset'))} is not emulated; use qis")
    n = _qubits(inp["qubits"], "input.qubits") if "qubits" in inp else 1
    if kind == "ionq.circuit.v1":
        extra = set(inp) - {"qubits", "gateset", "circuit"}
        if extra:
            raise BadRequest(f"input: unknown field(s) {', '.join(sorted(map(str, extra)))[:80]}")
        circuits = [inp.get("circuit")]
    else:
        items = inp.get("circuits")
        if "circuit" in inp or set(inp) - {"qubits", "gateset", "circuits"}:
            raise BadRequest("input of a multi-circuit job holds qubits, gateset and circuits only")
        if not isinstance(items, list) or not items or not all(isinstance(c, dict) for c in items):
            raise BadRequest("input.circuits must be a non-empty list of objects")
        if len(items) > MAX_CIRCUITS:
            raise BadRequest(f"{len(items)} circuits; at most {MAX_CIRCUITS} per job")
        for i, c in enumerate(items):
            if set(c) - CIRCUIT_KEYS or c.get("gateset", "qis") != "qis" or not isinstance(c.get("name", ""), str):
                raise BadRequest(f"input.circuits[{i}]: fields {', '.join(sorted(CIRCUIT_KEYS))}; gateset qis")
            if "qubits" in c:
                n = max(n, _qubits(c["qubits"], f"input.circuits[{i}].qubits"))
        circuits = [c.get("circuit") for c in items]
    if not all(isinstance(c, list) for c in circuits):
        raise BadRequest("each circuit must be a list of gates")
    if max(len(c) for c in circuits) > MAX_GATES:
        raise BadRequest(f"a circuit has more than {MAX_GATES} gates")
    if "qubits" not in inp:  # optional: the circuits' width (a qubit out of range is the gate's error)
        n = max([n] + [v + 1 for c in circuits for g in c if isinstance(g, dict) for k in _WIRE_KEYS
                       for v in (g[k] if isinstance(g.get(k), list) else [g.get(k)]) if _int(v, 0, MAX_QUBITS - 1)])
    if not isinstance(body.get("name", ""), str):
        raise BadRequest("name must be a string")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise BadRequest("metadata must be a JSON object of strings")
    shots = body.get("shots", DEFAULT_SHOTS)
    if not _int(shots, 1, MAX_SHOTS):
        raise BadRequest(f"shots must be an integer in 1..{MAX_SHOTS}, got {_short(shots)}")
    if not isinstance(body.get("dry_run", False), bool):
        raise BadRequest("dry_run must be true or false")
    if "session_id" in body:
        raise BadRequest("sessions are not emulated: send the job without session_id")
    noise = _noise(body["noise"], backend) if "noise" in body else ({"model": "ideal"} if backend == "simulator" else None)
    if noise and noise["model"] != "ideal" and n > MAX_NOISY_QUBITS:
        raise BadRequest(f"a noise model is emulated on at most {MAX_NOISY_QUBITS} qubits, got {n}")
    return {"type": kind, "backend": backend, "circuits": circuits, "qubits": n, "shots": shots,
            "name": body.get("name"), "metadata": body.get("metadata"), "dry_run": body.get("dry_run", False),
            "settings": _settings(body.get("settings", {}), shots), "noise": noise}


def gate_counts(wires_per_gate) -> dict:
    """IonQ's ``stats.gate_counts``: gates by width, "1q" and "2q" always present."""
    out = {"1q": 0, "2q": 0}
    for k in wires_per_gate:
        out[f"{k}q"] = out.get(f"{k}q", 0) + 1
    return out


def backend_record(name: str, queue_s: float, now: float) -> dict:
    """A ``Backend`` as ``GET /backends/{backend}`` answers it."""
    from .qis import GATES
    return {"backend": name, "status": "available", "qubits": MAX_QUBITS, "degraded": False,
            "average_queue_time": int(queue_s * 1000), "last_updated": iso(now),
            "supported_gates": list(GATES), "supported_native_gates": []}


def estimate(query: dict, job_seconds, rate_usd_per_s: float, now: float) -> dict:
    """``GET /jobs/estimate``: defaults and bounds as documented; BadRequest otherwise."""
    def one(name, default, lo=0, hi=INT32 - 1):
        v = query.get(name, [str(default)])[-1]
        if not (v.isdigit() and lo <= int(v) <= hi):
            raise BadRequest(f"{name} must be an integer in {lo}..{hi}")
        return int(v)
    backend = query.get("backend", [None])[-1]
    if backend not in BACKENDS:
        raise BadRequest(f"backend must be one of {', '.join(BACKENDS)}")
    kind = query.get("type", ["ionq.circuit.v1"])[-1]
    mitigation = query.get("error_mitigation", ["false"])[-1]
    if kind not in ("ionq.circuit.v1", "ionq.multi-circuit.v1") or mitigation not in ("true", "false"):
        raise BadRequest("type must be ionq.circuit.v1 or ionq.multi-circuit.v1; error_mitigation true or false")
    qubits, shots = one("qubits", 25, 1), one("shots", 1000, 1, MAX_SHOTS)
    g1, g2 = one("1q_gates", 0), one("2q_gates", 0)
    seconds = job_seconds(1, shots)
    rate = 0.0 if backend == "simulator" else rate_usd_per_s
    return {"estimate_context": {"backend": backend, "type": kind, "qubits": qubits, "shots": shots, "1q_gates": g1,
                                 "2q_gates": g2, "error_mitigation": mitigation == "true", "organization": None,
                                 "project": None},
            "estimated_at": iso(now), "estimated_unit": "usd",
            "rate_card": {"id": "qnb-emulator", "rates": [{"sku": backend, "unit": "compute_second", "unit_cost": rate}]},
            "estimated_total_cost": round(rate * seconds, 6), "estimated_execution_time": math.ceil(seconds * 1000),
            "estimated_quantum_compute_time_us": math.ceil(seconds * 1e6), "current_predicted_queue_time": 0}


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


def list_page(records: list, q: dict, page_max: int) -> tuple[int, dict]:
    """``GET /jobs``: ``records`` (newest first) filtered by ``ids`` (repeated or comma-separated) and
    ``status``, ``limit`` per page from the ``next`` cursor on; other parameters are ignored."""
    limit = q.get("limit", [str(LIST_DEFAULT)])[-1]
    if not re.fullmatch(r"[0-9]{1,5}", limit) or not 1 <= int(limit) <= LIST_MAX:
        return 400, error(400, f"limit must be an integer in 1..{LIST_MAX}")
    ids = {i for v in q.get("ids", []) + q.get("ids[]", []) for i in v.split(",") if i}
    status = q.get("status", [None])[-1]
    out = [r for r in records if (not ids or r["id"] in ids) and (status is None or r["status"] == status)]
    start = 0
    cursor = q.get("next", [None])[-1]
    if cursor is not None:  # the id of the first job of the page asked for
        start = next((i for i, r in enumerate(out) if r["id"] == cursor), None)
        if start is None:
            return 400, error(400, "next: not a cursor of this job list")
    n = min(int(limit), page_max)
    return 200, {"jobs": out[start:start + n], "next": out[start + n]["id"] if start + n < len(out) else None}


def sample(hist: dict, shots: int, seed) -> dict:
    """The frequencies of ``shots`` draws from a histogram (a generator seeded with ``seed``)."""
    drawn = np.random.default_rng(seed).multinomial(shots, np.array(list(hist.values())) / sum(hist.values()))
    return {k: c / shots for k, c in zip(hist, drawn.tolist()) if c}


def _nonnegative(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"{name}: must be a finite number >= 0, got {v!r}")
    return float(v)


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
