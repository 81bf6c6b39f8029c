"""Backends: where circuits run. A backend takes a list of circuits as ONE job.

The interface is three calls, so that the CircuitBatchManager, not the backend, owns the wait
(deadline, retries, final states): ``submit`` (one job, never retried blindly), ``status``
and ``results`` (safe to repeat). ``execute`` chains the three for callers that do not care.
"""
from __future__ import annotations

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

from . import fastsim
from .noise import noise_model, simulate as noise_simulate
from .affine import CircuitBatch
from .jobs import FINAL_OK, Job, check_shots
from .latency import LatencyModel

PROBABILITY_TOLERANCE = 1e-6  # rounding allowed in a row of probabilities (a negative entry, |sum - 1|)


def sample_probabilities(probs: np.ndarray, shots: int | None, rng: np.random.Generator) -> np.ndarray:
    """Shot noise: rows of exact probabilities -> observed frequencies over ``shots`` shots.

    Only rounding is renormalised away: a row with a non-finite entry, an entry below
    ``-PROBABILITY_TOLERANCE`` or a sum further than that from 1 is refused (ValueError), so that
    wrong numbers (e.g. a cloud histogram with an outcome missing) are never trained on."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim == 2 and probs.size:
        sums = probs.sum(axis=1)
        bad = ~np.isfinite(probs).all(axis=1) | (probs.min(axis=1) < -PROBABILITY_TOLERANCE) | (
            np.abs(sums - 1) > PROBABILITY_TOLERANCE)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"probabilities: row {i} is not a probability distribution (sums to {sums[i]:.9g}, "
                             f"smallest entry {probs[i].min():.3g}); not renormalised")
    probs = np.clip(probs, 0.0, None)
    probs = probs / probs.sum(axis=1, keepdims=True)
    if shots is None:
        return probs
    return np.array([rng.multinomial(shots, p) for p in probs]) / shots


def sample_halves(probs: np.ndarray, shots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two independent halves of each circuit's ``shots`` shots (floor(shots/2) and the rest), as
    frequencies: a circuit's shots are independent draws, so splitting them in two is two
    multinomial draws (what a backend that returns every shot, e.g. Braket's measurements, allows;
    ``qnb.losses.square_loss_unbiased`` needs them)."""
    if shots is None or shots < 2:
        raise ValueError(f"shots: halves need at least 2 shots per circuit, got {shots!r}")
    return sample_probabilities(probs, shots // 2, rng), sample_probabilities(probs, shots - shots // 2, rng)


class Backend:
    """Base class. Subclasses implement ``_probabilities(circuits, job_shots)`` or the three calls.

    Every backend draws shot noise from its own seeded ``rng`` so that runs are reproducible and
    resumable (its state is saved in checkpoints).
    """

    name = "backend"

    def __init__(self, latency: LatencyModel | None = None, seed=None):
        self.latency = latency if latency is not None else LatencyModel.seed_calibrated()
        self.rng = np.random.default_rng(seed)
        self.clock_s = 0.0  # virtual cloud clock: modeled seconds of every job run so far
        self._n_jobs = 0

    def state(self) -> dict:
        """What the next results depend on: the shot-noise generator's state (JSON-safe)."""
        return {"rng": self.rng.bit_generator.state}

    def load_state(self, state: dict) -> None:
        """Restore ``state()``; ValueError (nothing changed) if it is not a generator state."""
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ValueError(f"rng: not a generator state ({type(e).__name__})") from None
        self.rng = rng

    def submit(self, circuits, shots, name: str | None = None, deadline: float | None = None) -> Job:
        """Submit ONE job (``name``: how the service can find it if its answer is lost;
        ``deadline``: a ``time.perf_counter()`` instant no request may outlive)."""
        circuits = self._checked(circuits, shots)
        return self._job(f"{self.name}-{self._n_jobs + 1}", circuits, shots, self._probabilities(circuits))

    def find_job(self, name: str, deadline: float | None = None, after: float | None = None) -> str | None:
        """The id of a job submitted under ``name`` (``after``: unix seconds before which it cannot
        have been submitted, if known), if the service knows it (local jobs die with the process: None)."""
        return None

    def recover(self, job_id: str, circuits, shots) -> Job | None:
        """A Job for an id submitted by an interrupted run, to wait on instead of resubmitting;
        None when the backend cannot (local jobs die with the process: they are simply rerun)."""
        return None

    @staticmethod
    def _checked(circuits, shots) -> list:
        """What every submission checks before anything is sent."""
        check_shots(shots)
        circuits = circuits if isinstance(circuits, CircuitBatch) else list(circuits)
        if not len(circuits):
            raise ValueError("circuits: a job needs at least one circuit")
        bad = {w for w in circuits[0].wires if not isinstance(w, (int, np.integer)) or w < 0}
        if bad:  # one circuit checked: the wires of a job's circuits come from one model
            raise ValueError(f"circuits: wires must be labelled 0..n-1, got {sorted(map(str, bad))}")
        return circuits

    def _job(self, job_id: str, circuits, shots, payload) -> Job:
        """Record a submitted job and what it costs under the latency model."""
        modeled = self.latency.job_time(len(circuits), shots)
        self._n_jobs += 1
        self.clock_s += modeled
        return Job(job_id, len(circuits), shots, modeled, payload=payload)

    def status(self, job: Job) -> str:
        return FINAL_OK

    def results(self, job: Job) -> list[np.ndarray]:
        if isinstance(job.payload, np.ndarray):
            return list(sample_probabilities(job.payload, job.shots, self.rng))
        # a job of circuits with different read-outs: the same draws, row by row
        return [sample_probabilities(np.asarray(p)[None], job.shots, self.rng)[0] for p in job.payload]

    def billed_s(self, job: Job) -> float:
        """Compute seconds the service reports it billed for a finished job (0 where none is reported)."""
        return 0.0

    def execute(self, circuits, shots=None) -> list[np.ndarray]:
        """Run circuits as ONE job and return their results at once: for a backend whose jobs are
        done when submitted (the local simulators). A cloud job needs waiting, a deadline and
        retries: run it through a ``CircuitBatchManager``."""
        job = self.submit(circuits, shots)
        if self.status(job) != FINAL_OK:
            raise RuntimeError(f"{self!r}: job {job.id} is not done on submission; run it through a CircuitBatchManager")
        return self.results(job)

    def _probabilities(self, circuits) -> np.ndarray:
        raise NotImplementedError


def same_structure(tapes) -> bool:
    """Do the tapes share one gate sequence (names, wires, measurements), differing only in
    scalar angles? Then they can run as ONE broadcast simulation."""
    first = tapes[0]
    ref = first.operations
    if any(np.ndim(d) for op in ref for d in op.data):  # templates with array parameters: not stacked
        return False
    sig = [(op.name, op.wires) for op in ref]
    # circuits built from one compiled template share their fixed gates (and wires objects):
    # the identity test makes this check cheap; anything else is compared by value
    return not any(len(t.operations) != len(ref) or t.measurements != first.measurements or any(
        op is not r and (op.name != n or op.wires != w) for op, r, (n, w) in zip(t.operations, ref, sig))
        for t in tapes[1:])


def structure_groups(tapes) -> list[list[int]]:
    """Indices of the tapes grouped by structure (gate names and wires, measurements), in order of
    first appearance: a job that mixes kinds of circuits (e.g. QN-SPSA's overlap circuits beside
    the gradient's) still runs as one broadcast simulation per kind."""
    groups: dict = {}
    for i, t in enumerate(tapes):
        key = (tuple((op.name, tuple(op.wires)) for op in t.operations),
               tuple((type(m).__name__, tuple(m.wires)) for m in t.measurements))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def as_rows(rows):
    """A job's result rows: one array when every row has one length, else a list (different read-outs)."""
    rows = [np.asarray(r) for r in rows]
    return np.array(rows) if len({r.shape for r in rows}) == 1 else rows


def run_grouped(run, tapes, groups):
    """``run`` (same-structure tapes -> rows) on each of the ``structure_groups``; the rows in the
    tapes' order."""
    out = [None] * len(tapes)
    for g in groups:
        for i, row in zip(g, run([tapes[i] for i in g])):
            out[i] = row
    return as_rows(out)


def stacked_angles(tapes) -> np.ndarray:
    """(n_tapes, n_angles): every tape's gate angles in order (tapes of one structure)."""
    return np.array([[d for op in t.operations for d in op.data] for t in tapes], dtype=float).reshape(len(tapes), -1)


def broadcast_tapes(tapes) -> QuantumScript | None:
    """Merge structurally identical tapes into ONE broadcast tape (parameters stacked per gate).

    Returns None when the tapes differ in structure; the caller then falls back to batch
    execution: one simulation for the whole job on default.qubit.
    """
    if not same_structure(tapes):
        return None
    first, angles, col, ops = tapes[0], stacked_angles(tapes), 0, []
    for op in first.operations:
        if not op.data:
            ops.append(op)
            continue
        k = len(op.data)
        ops.append(type(op)(*angles[:, col:col + k].T, wires=op.wires))
        col += k
    return QuantumScript(ops, first.measurements)


class LocalBackend(Backend):
    """Runs each job in ONE simulation on the local machine.

    ``device="default.qubit"`` (the default): circuits of the common gates (``fastsim.GATES``) run
    on qnb's plain-numpy simulator, one broadcast matmul per gate over every circuit of the job;
    anything else on default.qubit, all circuits merged into one broadcast tape (or one
    ``qml.execute`` call per structure). ``fast=False`` always uses default.qubit.
    ``"lightning.qubit"`` does not broadcast natively, so it gets one ``qml.execute`` call over the
    list. The virtual clock advances by the latency model, so local runs report modeled cloud time.
    ``noise`` (a ``qnb.NOISE_MODELS`` name or a ``NoiseModel``): every circuit runs as a density
    matrix under that model's channels (``qnb.noise``), on the numpy simulator's gates only.
    """

    name = "local"
    DEVICES = ("default.qubit", "lightning.qubit")

    def __init__(self, device: str = "default.qubit", latency: LatencyModel | None = None, seed=None,
                 wires: int | None = None, fast: bool = True, noise=None):
        if device not in self.DEVICES:
            raise ValueError(f"device: unknown local device {device!r}; allowed: {', '.join(self.DEVICES)}")
        super().__init__(latency, seed)
        self.device_name = device
        self.noise = None if noise is None or noise == "ideal" else noise_model(noise)
        if self.noise is not None and (device != "default.qubit" or not fast):
            raise ValueError("noise: runs on the numpy simulator only (device='default.qubit', fast=True)")
        self.fast = bool(fast) and device == "default.qubit"
        self.min_wires = wires or 1
        self._devices = {}

    def device(self, n_wires: int):
        """The simulator for circuits on wires 0..n_wires-1 (one per width, made once)."""
        n_wires = max(n_wires, self.min_wires)
        if n_wires not in self._devices:
            self._devices[n_wires] = qml.device(self.device_name, wires=n_wires)
        return self._devices[n_wires]

    def __repr__(self):
        noise = f", noise={self.noise.name!r}" if self.noise else ""
        return f"{type(self).__name__}(device={self.device_name!r}, latency={self.latency}{noise})"

    def _simulate(self, template, angles, n_wires: int, readout_wires) -> np.ndarray:
        if self.noise is None:
            return fastsim.simulate(template, angles, n_wires, readout_wires)
        return noise_simulate(template, angles, n_wires, readout_wires, self.noise)

    def run_compiled(self, compiled, angles: np.ndarray, n_wires: int, readout_wires) -> np.ndarray | None:
        """Exact read-out probabilities of a compiled model's circuits from their gate angles, as
        ONE job on this backend's clock (what ``model.outputs`` uses: no circuit objects built);
        None when the numpy simulator lacks a gate (the caller then builds the circuits)."""
        if not self.fast or any(op.name not in fastsim.GATES for op in compiled.template):
            return None
        self._job(f"{self.name}-{self._n_jobs + 1}", range(len(angles)), None, None)
        return self._simulate(compiled.template, angles, n_wires, readout_wires)

    def _probabilities(self, circuits) -> np.ndarray:
        if self.fast and isinstance(circuits, CircuitBatch) and all(op.name in fastsim.GATES
                                                                    for op in circuits.compiled.template):
            return self._simulate(circuits.compiled.template, circuits.angles, 1 + max(int(w) for w in circuits[0].wires),
                                  circuits.measurement.wires)
        circuits = list(circuits)
        if self.fast and fastsim.supported(circuits[0]) and same_structure(circuits):
            first = circuits[0]
            return self._simulate(first.operations, stacked_angles(circuits), 1 + max(int(w) for w in first.wires),
                                  first.measurements[0].wires)
        if self.noise is not None:
            groups = structure_groups(circuits)
            if len(groups) > 1 and all(fastsim.supported(circuits[g[0]]) for g in groups):
                return run_grouped(self._probabilities, circuits, groups)
            gates = sorted({op.name for t in circuits for op in t.operations} - fastsim.GATES)
            raise ValueError(f"noise: the noisy simulator runs circuits of {', '.join(sorted(fastsim.GATES))} ending "
                             f"in one qml.probs; these also use {', '.join(gates) or 'another measurement'}")
        merged = broadcast_tapes(circuits) if self.device_name == "default.qubit" else None
        width = lambda tapes: self.device(1 + max((w for t in tapes for w in t.wires), default=0))
        if merged is not None:
            out = np.asarray(qml.execute([merged], width([merged]))[0])
            return out.reshape(len(circuits), -1)
        groups = structure_groups(circuits) if self.device_name == "default.qubit" else []
        if len(groups) > 1:  # mixed kinds: one simulation per kind
            return run_grouped(self._probabilities, circuits, groups)
        return as_rows(qml.execute(list(circuits), width(circuits)))


class NumpyBackend(LocalBackend):
    """The local backend on the numpy simulator wherever it can (the benchmark's name for it)."""

    name = "numpy"

    def __init__(self, latency: LatencyModel | None = None, seed=None, noise=None):
        super().__init__("default.qubit", latency=latency, seed=seed, noise=noise)

