"""How qnb reads a user's circuit: recorded at a point and decomposed to primitive gates, and, for
a QNode or function that returns its own measurement, what it measures (an observable's
diagonalising gates and eigenvalues, or the parity of ``qml.probs`` wires) — refused, before any
job, when that cannot be one multi-circuit job of probabilities."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pennylane as qml
from pennylane.devices.preprocess import decompose
from pennylane.tape import QuantumScript

# Gates kept as they are (PennyLane can simulate, broadcast and parameter-shift each of them);
# templates and everything else are decomposed until only these remain.
PRIMITIVE_GATES = frozenset({
    "Identity", "Hadamard", "PauliX", "PauliY", "PauliZ", "S", "T", "SX", "Adjoint(S)", "Adjoint(T)",
    "Adjoint(SX)", "CNOT", "CZ", "CY", "SWAP", "Toffoli", "RX", "RY", "RZ", "Rot", "PhaseShift",
    "CRX", "CRY", "CRZ", "CRot", "ControlledPhaseShift", "IsingXX", "IsingYY", "IsingZZ", "MultiRZ", "U1",
    "U2", "U3",
})


def _recorded(circuit, x, params) -> QuantumScript:
    """The tape of a QNode (``construct_tape``: calling it would run it) or of a plain function."""
    if isinstance(circuit, qml.QNode):
        return qml.workflow.construct_tape(circuit)(x, params)
    return qml.tape.make_qscript(circuit)(x, params)


@dataclass(frozen=True, eq=False)
class Measured:
    """What a circuit that returns its own measurement becomes: the operations to apply (with the
    observable's diagonalising gates), the wires to measure, and the read-out from their
    probabilities (eigenvalues for ``expval``; the parity for ``probs``)."""

    circuit: object
    wires: tuple
    eigvals: np.ndarray | None  # None: qml.probs, read out as parity
    diagonalizing: tuple
    shots: int | None

    def __call__(self, x, params):  # the operations alone, as qnb records circuits
        for op in _recorded(self.circuit, x, params).operations:
            qml.apply(op)
        for op in self.diagonalizing:
            qml.apply(op)

    def readout(self, probs):
        return parity_readout(probs) if self.eigvals is None else np.asarray(probs, dtype=float) @ self.eigvals


def _probe_tapes(circuit, n_features: int, param_shape) -> list:
    """The circuit recorded at two probe points (random; then unit-norm x, for embeddings that need
    it): the tapes that recorded. A QNode that records at none is an error here, before any job."""
    rng = np.random.default_rng(0)
    tapes, error = [], None
    for _ in range(2):
        z = rng.uniform(-1, 1, n_features + int(np.prod(param_shape)))
        for x in (z[:n_features], z[:n_features] / np.linalg.norm(z[:n_features])):
            try:
                tapes.append(_recorded(circuit, x, z[n_features:].reshape(param_shape)))
                break
            except Exception as e:  # noqa: BLE001 - user code: kept to be reported below
                error = e
    if not tapes and isinstance(circuit, qml.QNode):
        raise ValueError(f"{getattr(circuit, '__name__', 'qnode')}: cannot be recorded with x of {n_features} features "
                         f"and params of shape {tuple(param_shape)} ({type(error).__name__}: {str(error)[:160]})"
                         f"{needed_shape(error, param_shape)}")
    return tapes


def needed_shape(error, param_shape) -> str:
    """'; <Template> on n wires needs ...' when ``error`` was raised building a PennyLane template
    that publishes its weights' shape (``Template.shape(n_layers, n_wires)``), else ''."""
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
        op, wires = frame.f_locals.get("self"), frame.f_locals.get("wires")
        shape = getattr(type(op), "shape", None)
        if frame.f_code.co_name != "__init__" or not isinstance(op, qml.operation.Operator) or not callable(shape) \
                or wires is None:
            continue
        n_wires = len(qml.wires.Wires(wires))
        layers = int(param_shape[0]) if len(param_shape) >= 2 else 1
        try:
            want = tuple(shape(n_layers=layers, n_wires=n_wires))
        except Exception:  # noqa: BLE001 - a template whose shape() takes other arguments
            continue
        name = type(op).__name__
        return (f"; {name} on {n_wires} wires needs weights of shape {want} for {layers} layer(s) "
                f"(qml.{name}.shape(n_layers, n_wires)): pass param_shape={want}")
    return ""


def measured(circuit, n_features: int, param_shape) -> Measured | None:
    """A ``Measured`` for a QNode or function that returns one measurement qnb can take from one
    job's probabilities; None when it returns nothing (qnb measures itself); ValueError, before
    any job, for what cannot be one multi-circuit job of probabilities, and for an observable that
    depends on x or the parameters (qnb measures one fixed observable in every circuit)."""
    tapes = _probe_tapes(circuit, n_features, param_shape)
    if not tapes or not tapes[0].measurements:
        return None
    tape = tapes[0]
    name = getattr(circuit, "__name__", type(circuit).__name__)
    if not tape.operations:
        raise ValueError(f"{name}: has no operations: an empty circuit learns nothing")
    if tape.shots.has_partitioned_shots:
        raise ValueError(f"{name}: a shot vector {tape.shots} cannot be one shot count per circuit; give one number")
    mid = [op.name for op in tape.operations if isinstance(op, qml.ops.MidMeasure) or op.name.startswith("Conditional")]
    if mid:
        raise ValueError(f"{name}: mid-circuit measurements ({mid[0]}) cannot run as one multi-circuit job of "
                         "probabilities; remove them (defer the measurement) or measure at the end")
    if len(tape.measurements) != 1:
        raise ValueError(f"{name}: returns {len(tape.measurements)} measurements; qnb reads one model output per "
                         "circuit: return one qml.expval(observable) or qml.probs(wires)")
    m = tape.measurements[0]
    kind = type(m).__name__
    shots = tape.shots.total_shots
    if kind == "ProbabilityMP" and m.obs is None and m.mv is None:
        if not len(m.wires):
            raise ValueError(f"{name}: qml.probs() names no wires; name the read-out wires, e.g. qml.probs(wires=[0])")
        return Measured(circuit, tuple(m.wires), None, (), shots)
    if kind != "ExpectationMP" or m.obs is None:
        raise ValueError(f"{name}: returns {kind.replace('MP', '').lower() or kind} ({m}); qnb takes "
                         "qml.expval(observable) or qml.probs(wires), read from the job's probabilities")
    obs = m.obs
    try:
        gates, eig = tuple(obs.diagonalizing_gates()), np.real(np.asarray(obs.eigvals(), dtype=complex))
        U = qml.matrix(qml.prod(*reversed(gates)), wire_order=obs.wires) if gates else np.eye(2 ** len(obs.wires))
        diagonal = np.allclose(U @ qml.matrix(obs, wire_order=obs.wires) @ U.conj().T, np.diag(eig), atol=1e-9)
    except Exception:  # noqa: BLE001 - PennyLane raises several kinds for observables it cannot diagonalise
        diagonal = False
    if not diagonal:
        raise ValueError(f"{name}: the observable {obs} has no single measurement basis (terms that do not commute "
                         "need several bases, i.e. several jobs); measure one term per classifier or a Pauli word")
    for other in tapes[1:]:  # the same observable at another point, or it is not one measurement of every circuit
        o = other.measurements[0].obs if other.measurements else None
        if o is None or not qml.equal(o, obs):
            raise ValueError(f"{name}: its observable depends on x or the parameters ({obs} here, {o} elsewhere); qnb "
                             "measures one fixed observable in every circuit: move the dependence into the gates")
    return Measured(circuit, tuple(obs.wires), eig, gates, shots)


def record(circuit, x, params) -> list:
    """The circuit's operations for one (x, params), decomposed to ``PRIMITIVE_GATES``."""
    tape = _recorded(circuit, x, params)
    if tape.measurements:
        raise ValueError("circuit: returns a measurement; qnb measures qml.probs(readout_wires) itself: leave it "
                         "out and choose the read-out with readout_wires= and readout=")
    # noise channels stay as they are: only a device that simulates mixed states runs them (a job of one device)
    (tape,), _ = decompose(tape, stopping_condition=lambda op: op.name in PRIMITIVE_GATES or isinstance(
        op, qml.operation.Channel), name="qnb")
    return list(tape.operations)


def _structure(ops) -> tuple:
    return tuple((op.name, tuple(op.wires), len(op.data)) for op in ops)


def _angles(ops) -> np.ndarray:
    """Every gate parameter of a recorded circuit, flattened (gates with array data: ValueError)."""
    return np.array([float(d) for op in ops for d in op.data], dtype=float)


def parity_readout(probs: np.ndarray) -> np.ndarray:
    """<Z x ... x Z> on the read-out wires from rows of their probabilities (one wire: p0 - p1)."""
    probs = np.asarray(probs, dtype=float)
    if probs.shape[-1] == 2:  # the common case, bit for bit p0 - p1
        return probs[..., 0] - probs[..., 1]
    k = int(np.log2(probs.shape[-1]))
    signs = np.array([(-1.0) ** bin(i).count("1") for i in range(2**k)])
    return probs @ signs
