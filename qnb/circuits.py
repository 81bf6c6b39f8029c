"""Any PennyLane circuit as a qnb model: ``CircuitModel(circuit, n_wires, param_shape)``.

A user writes ``def circuit(x, params): <PennyLane operations, templates allowed>`` and qnb turns
it into circuits (``QuantumScript``) of primitive gates that every backend runs, and into model
outputs through a read-out of the probabilities of a few wires (default: the parity <Z...Z> of
wire 0, i.e. <Z0> = p0 - p1).

Speed: recording and decomposing a circuit costs far more than simulating it in a broadcast
batch (figures/bench.md has the numbers). So qnb compiles the circuit once: when every gate angle is an affine
function of (x, params) — true of angle embeddings, rotation layers, shared angles, controlled
rotations — the angles of any number of circuits are one matrix product, and a circuit is the
compiled gate sequence with new angles. Anything else is recorded circuit by circuit (correct,
slower). The affine map is found by probing and then verified at random points, never assumed.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pennylane as qml
from pennylane.devices.preprocess import decompose
from pennylane.tape import QuantumScript

from .data import check_data

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
                         f"and params of shape {tuple(param_shape)} ({type(error).__name__}: {str(error)[:160]})")
    return tapes


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
    (tape,), _ = decompose(tape, stopping_condition=lambda op: op.name in PRIMITIVE_GATES, name="qnb")
    return list(tape.operations)


def _structure(ops) -> tuple:
    return tuple((op.name, tuple(op.wires), len(op.data)) for op in ops)


def _angles(ops) -> np.ndarray:
    """Every gate parameter of a recorded circuit, flattened (gates with array data: ValueError)."""
    return np.array([float(d) for op in ops for d in op.data], dtype=float)


@dataclass(frozen=True)
class AffineCircuit:
    """A circuit whose gate angles are ``M @ concat(x, params) + b`` for a fixed gate sequence."""

    template: tuple  # the primitive operations, in order
    M: np.ndarray  # (n_angles, n_features + n_params)
    b: np.ndarray  # (n_angles,)
    verified_rows: set = field(default_factory=set, compare=False, repr=False)  # x rows already checked

    def angles(self, X, P) -> np.ndarray:
        """Angles of many circuits at once: rows of X (n, F) paired with rows of P (n, n_params)."""
        return np.hstack([X, P]) @ self.M.T + self.b

    def agrees(self, circuit, x, params, param_shape) -> bool:
        """Does the circuit recorded at (x, params) equal the one built from the affine map?"""
        try:
            ops = record(circuit, np.asarray(x, float), np.asarray(params, float).reshape(param_shape))
            built = self.operations(np.concatenate([x, np.ravel(params)]) @ self.M.T + self.b)
            return _structure(ops) == _structure(built) and np.allclose(_angles(ops), _angles(built), rtol=0,
                                                                          atol=1e-9)
        except (TypeError, ValueError):
            return False

    def operations(self, angles) -> list:
        """The template's gates with new angles. A shallow clone of each parametrised gate (what
        ``copy.copy`` does, without its overhead) is much cheaper than recording the circuit again;
        gates without parameters are shared."""
        it = iter(angles.tolist())
        ops = []
        for op in self.template:
            if op.num_params:
                data = tuple(next(it) for _ in range(op.num_params))
                if "data" in vars(op):  # a plain gate: its angles are an attribute
                    new = object.__new__(type(op))
                    new.__dict__ = {**op.__dict__, "data": data}
                    op = new
                else:  # controlled and other composite gates keep their angles in inner operators
                    op = qml.ops.functions.bind_new_parameters(op, data)
            ops.append(op)
        return ops


class CircuitBatch(Sequence):
    """Circuits of one compiled model, held as its gate sequence and an (n, n_angles) array of
    angles: a ``QuantumScript`` is built only when one is read. A simulator that knows the gate
    sequence (``LocalBackend``) runs all of them from the angles in one call without building any;
    slicing keeps the batch (a job of a longer list); adding another list gives a plain list."""

    def __init__(self, compiled: AffineCircuit, angles: np.ndarray, measurement):
        self.compiled, self.angles, self.measurement = compiled, angles, measurement

    def __len__(self):
        return len(self.angles)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return CircuitBatch(self.compiled, self.angles[i], self.measurement)
        return QuantumScript(self.compiled.operations(self.angles[i]), [self.measurement])

    def __add__(self, other):
        return list(self) + list(other)

    def __radd__(self, other):
        return list(other) + list(self)

    def __repr__(self):
        return f"CircuitBatch({len(self)} circuits of {len(self.compiled.template)} gates)"


def _snap(a: np.ndarray) -> np.ndarray:
    """Round probed coefficients to exact binary fractions (1, 0.5, ...) when they are that up to
    rounding, so that e.g. an embedded feature enters its gate bit for bit."""
    fine = np.round(a * 2**20) / 2**20
    return np.where(np.abs(a - fine) < 1e-9, fine, a)


def compile_affine(circuit, n_features: int, param_shape: tuple, n_wires: int) -> AffineCircuit | None:
    """The circuit's angle map in affine form if it holds everywhere qnb looked, else None.

    Compiled once per function (cached) and re-verified at a fresh point on every reuse, so a
    notebook that changes a global the circuit reads (a depth, a scale) gets a new compilation.
    Also checks that the circuit runs on wires 0..n_wires-1 only (ValueError otherwise).
    """
    key = (circuit, n_features, tuple(param_shape), n_wires)
    compiled = _CACHE.get(key)
    if compiled is not None:
        z = np.random.default_rng().uniform(-2 * np.pi, 2 * np.pi, n_features + int(np.prod(param_shape)))
        if compiled.agrees(circuit, z[:n_features], z[n_features:], param_shape):
            return compiled
    compiled = _compile(circuit, n_features, tuple(param_shape), n_wires)
    if compiled is not None:
        _CACHE[key] = compiled
    return compiled


_CACHE: dict = {}


def _probe_points(rng, dim):
    """Where the affine form is verified: zero (binary encodings branch on it), whole numbers,
    +-2 pi and beyond (clipping, wrapping, thresholds), and random points at several scales."""
    pts = [np.zeros(dim)] + [np.full(dim, v) for v in (1.0, -1.0, 2 * np.pi, -2 * np.pi, 10.0, -10.0)]
    pts += [rng.integers(-7, 8, dim).astype(float) for _ in range(3)]
    pts += [rng.uniform(-s, s, dim) for s in (np.pi, 3 * np.pi, 3 * np.pi, 20.0, 20.0)]
    return pts


def _compile(circuit, n_features, param_shape, n_wires):
    rng = np.random.default_rng(20251125)
    n_params = int(np.prod(param_shape))
    dim = n_features + n_params

    def probe(z):
        ops = record(circuit, z[:n_features], z[n_features:].reshape(param_shape))
        return ops, _structure(ops)

    z0 = rng.uniform(-1.0, 1.0, dim)
    try:
        ops0, s0 = probe(z0)
    except (TypeError, ValueError) as e:  # a template whose inputs must be, e.g., normalised
        if "qnb measures" in str(e):
            raise
        return None
    wires = {w for op in ops0 for w in op.wires}
    if not all(isinstance(w, (int, np.integer)) and 0 <= w < n_wires for w in wires):
        raise ValueError(f"circuit: uses wires {sorted(wires, key=str)}; expected integers 0..{n_wires - 1} "
                         f"(n_wires={n_wires})")
    try:
        a0 = _angles(ops0)
        columns = []
        for i in range(dim):  # unit steps from a random point: exact columns if the map is affine
            ops, s = probe(z0 + np.eye(dim)[i])
            if s != s0:
                return None
            columns.append(_angles(ops) - a0)
        M = _snap(np.array(columns).T.reshape(len(a0), dim))
        b = _snap(a0 - M @ z0)
        compiled = AffineCircuit(tuple(ops0), M, b)
        for z in _probe_points(rng, dim):  # verify, never assume: the map, and the circuits built from it
            if not compiled.agrees(circuit, z[:n_features], z[n_features:], param_shape):
                return None
    except (TypeError, ValueError):  # gates with array data (state preparation, unitaries)
        return None
    return compiled


def parity_readout(probs: np.ndarray) -> np.ndarray:
    """<Z x ... x Z> on the read-out wires from rows of their probabilities (one wire: p0 - p1)."""
    probs = np.asarray(probs, dtype=float)
    if probs.shape[-1] == 2:  # the common case, bit for bit p0 - p1
        return probs[..., 0] - probs[..., 1]
    k = int(np.log2(probs.shape[-1]))
    signs = np.array([(-1.0) ** bin(i).count("1") for i in range(2**k)])
    return probs @ signs


class CircuitModel:
    r"""A variational classifier :math:`f(x, \theta)` from any PennyLane circuit.

    Every circuit qnb sends measures probabilities, so that one job of many circuits returns the
    same thing on every backend, exact or sampled; the model output is read from them: for a
    QNode (or function) returning :math:`\langle O \rangle`, its diagonalising gates are appended
    and :math:`f = \sum_i \lambda_i p_i` over O's eigenvalues; for ``qml.probs(wires)`` and for
    a circuit that returns nothing, the parity :math:`\langle Z \otimes \dots \otimes Z\rangle`
    of the read-out wires (default wire 0). Labels are the output's sign.

    Args:
        circuit: a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or ``qml.probs(wires)``,
            or a function of PennyLane operations (templates allowed) returning one of those or
            nothing. What cannot be one multi-circuit job of probabilities (mid-circuit
            measurements, ``qml.state()``, samples, several measurements) is refused here.
        n_wires (int): its wires, labelled 0..n_wires-1.
        param_shape (tuple): the shape in which ``params`` reaches the circuit; ``.parameters``
            is the flat vector the estimators perturb.
        n_features (int): the length of x (default ``n_wires``).
        readout_wires, readout: for a circuit that returns nothing: the wires measured and
            ``readout(probs_rows) -> outputs`` (default ``parity_readout``).
        seed: the initial parameters, uniform in [0, 2 pi).

    **Example**

    .. code-block:: python

        @qml.qnode(qml.device("default.qubit", wires=3))
        def circuit(x, w):
            qml.AngleEmbedding(x, wires=range(3))
            qml.BasicEntanglerLayers(w, wires=range(3))
            return qml.expval(qml.PauliZ(0) @ qml.PauliZ(2))

        model = qnb.CircuitModel(circuit, n_wires=3, param_shape=(2, 3), seed=0)
    """

    spot_check = True  # re-verify the compiled form on one row of every build_circuits call

    def __init__(self, circuit, n_wires: int, param_shape, *, n_features: int | None = None,
                 readout_wires=(0,), readout=None, seed=None):
        if not callable(circuit):
            raise TypeError(f"circuit: expected a function circuit(x, params), got {type(circuit).__name__}")
        for name, v in (("n_wires", n_wires), ("n_features", n_wires if n_features is None else n_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
        self.param_shape = tuple(int(s) for s in np.atleast_1d(param_shape))
        if not self.param_shape or any(s < 1 for s in self.param_shape):
            raise ValueError(f"param_shape: must be a non-empty shape of positive sizes, got {param_shape!r}")
        n_feat = int(n_wires if n_features is None else n_features)
        found = measured(circuit, n_feat, self.param_shape)
        self.qnode_shots = None
        if found is not None:  # the circuit measures itself: qnb measures the same thing from probabilities
            if readout is not None or tuple(readout_wires) != (0,):
                raise ValueError("readout, readout_wires: the circuit returns its own measurement; leave them out")
            circuit, readout_wires, readout, self.qnode_shots = found, found.wires, found.readout, found.shots
        self.readout_wires = tuple(readout_wires)
        if not self.readout_wires or any(not isinstance(w, (int, np.integer)) or not 0 <= w < n_wires
                                         for w in self.readout_wires):
            raise ValueError(f"readout_wires: must be wires in 0..{n_wires - 1}, got {readout_wires!r}")
        self.circuit, self.n_wires = circuit, int(n_wires)
        self.n_features = int(n_wires if n_features is None else n_features)
        self.readout = readout or parity_readout
        self.parameters = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=self.n_params)
        self._measurement = qml.probs(wires=list(self.readout_wires))
        self.compiled = compile_affine(circuit, self.n_features, self.param_shape, self.n_wires)

    @classmethod
    def from_qnode(cls, qnode, param_shape, n_features: int | None = None, seed=None) -> "CircuitModel":
        """The model of a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or
        ``qml.probs(wires)``, on its device's wires (labelled 0..n-1)."""
        if not isinstance(qnode, qml.QNode):
            raise TypeError(f"qnode: expected a QNode, got {type(qnode).__name__}")
        wires = qnode.device.wires
        if wires is None or not len(wires):
            raise ValueError("qnode: its device has no wires; create it with wires=n")
        if list(wires) != list(range(len(wires))):
            raise ValueError(f"qnode: qnb needs the device's wires labelled 0..{len(wires) - 1} (as IonQ numbers its "
                             f"qubits); this device has {list(wires)}")
        return cls(qnode, len(wires), param_shape, n_features=n_features, seed=seed)

    def __repr__(self):
        name = getattr(getattr(self.circuit, "circuit", self.circuit), "__name__", "circuit")
        return (f"{type(self).__name__}({name}, n_wires={self.n_wires}, param_shape={self.param_shape}, "
                f"n_features={self.n_features}, {'affine' if self.compiled else 'recorded'})")

    @property
    def n_params(self) -> int:
        return int(np.prod(self.param_shape))

    def _params(self, params) -> np.ndarray:
        params = self.parameters if params is None else np.asarray(params, dtype=float)
        if params.shape != (self.n_params,):
            raise ValueError(f"params: expected shape ({self.n_params},), got {params.shape}")
        return params

    # -- circuits -----------------------------------------------------------------------------
    def build_circuit(self, x, params=None) -> QuantumScript:
        """The circuit for one sample; ``params`` defaults to the current parameters."""
        return self.build_circuits(np.asarray(x, dtype=float)[None, :], self._params(params)[None, :])[0]

    def build_circuits(self, X, P) -> "Sequence[QuantumScript]":
        """One circuit per row pair: X (n, n_features) with P (n, n_params), or P (n_params,) for all
        (a ``CircuitBatch`` for a compiled circuit, else a list)."""
        X = np.asarray(X, dtype=float)
        P = np.broadcast_to(np.asarray(P, dtype=float), (len(X), self.n_params))
        if self.spot_check and self.compiled is not None and len(X) and not self.compiled.agrees(
                self.circuit, X[0], P[0], self.param_shape):  # a spot check per call: one recording
            self._decompile(X[0])
        if self.compiled is not None:
            return CircuitBatch(self.compiled, self.compiled.angles(X, P), self._measurement)
        return [QuantumScript(record(self.circuit, x, p.reshape(self.param_shape)), [self._measurement])
                for x, p in zip(X, P)]

    def verify(self, X, params=None, max_rows: int = 2000) -> bool:
        """Check the compiled form against the recorded circuit on real rows (the trainer does this
        for its data); on any difference, fall back to recording every circuit. True if compiled."""
        if self.compiled is not None:
            params = self._params(params)
            seen = self.compiled.verified_rows  # a row checked once (for any parameters) is not checked again:
            for x in np.asarray(X, dtype=float)[:max_rows]:  # parameter-side branches meet the per-call check
                if x.tobytes() in seen:
                    continue
                if not self.compiled.agrees(self.circuit, x, params, self.param_shape):
                    self._decompile(x)
                    break
                seen.add(x.tobytes())
        return self.compiled is not None

    def _decompile(self, x) -> None:
        warnings.warn(f"{self!r}: its gate angles are not affine at x={np.round(x, 3).tolist()} (a branch, clip or "
                      "wrap in the circuit); every circuit is now recorded (correct, slower)", stacklevel=3)
        self.compiled = None

    def angle_jacobian(self, x, params=None) -> tuple[QuantumScript, np.ndarray]:
        """The circuit at (x, params) and d(gate angles)/d(params), shape (n_angles, n_params).

        Exact: the affine map's block, or autodiff through the recording for other circuits.
        """
        params = self._params(params)
        tape = self.build_circuit(x, params)
        if self.compiled is not None:
            return tape, self.compiled.M[:, self.n_features:]
        from pennylane import numpy as pnp
        p = pnp.array(params, requires_grad=True)
        traced = record(self.circuit, x, p.reshape(self.param_shape))
        if _structure(traced) != _structure(tape.operations):
            # PennyLane may decompose a gate differently under autodiff: the Jacobian would belong
            # to another circuit, so refuse (before any job) rather than shift the wrong gates
            raise ValueError(f"parameter_shift: {self!r} decomposes differently under autodiff (e.g. a gate with "
                             "several controls); its gradient cannot be mapped to its gates: use an SPSA method")
        f = lambda q: qml.math.stack([d for op in record(self.circuit, x, q.reshape(self.param_shape)) for d in op.data])
        try:
            return tape, np.asarray(qml.jacobian(f)(p), dtype=float).reshape(tape.num_params, self.n_params)
        except Exception as e:  # noqa: BLE001 - autodiff through user code: say what to change
            raise ValueError(f"parameter_shift: cannot differentiate {self!r}'s gate angles with autograd "
                             f"({type(e).__name__}: {str(e)[:120]}); write the circuit with qml.math / "
                             "pennylane.numpy functions, or use an SPSA method") from None

    def fingerprint(self) -> str:
        """The model's repr and a hash of the circuit it builds at a fixed point: another circuit
        with the same name and shape is told apart (a checkpoint records it)."""
        import hashlib
        rng = np.random.default_rng(0)
        tape = self.build_circuit(rng.uniform(-1, 1, self.n_features), rng.uniform(0, 1, self.n_params))
        text = repr([(op.name, tuple(op.wires), np.round(np.asarray(op.data, float), 9).tolist())
                     for op in tape.operations])
        return f"{self!r} #{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    # -- outputs ------------------------------------------------------------------------------
    def outputs_from(self, results) -> np.ndarray:
        """Model outputs from backend results (rows of read-out probabilities), vectorised."""
        return np.asarray(self.readout(np.asarray(results, dtype=float)), dtype=float)

    def process_result(self, result) -> float:
        """The model output of one circuit's result."""
        return float(self.outputs_from(np.asarray(result, dtype=float)[None, :])[0])

    def update_parameters(self, new) -> None:
        new = np.asarray(new, dtype=float)
        if new.shape != (self.n_params,) or not np.all(np.isfinite(new)):
            raise ValueError(f"parameters: expected {self.n_params} finite values, got shape {new.shape}")
        self.parameters = new.copy()

    def outputs(self, X, backend, params=None, shots=None) -> np.ndarray:
        """Model outputs for every row of X in one backend call (exact when shots is None)."""
        check_data(X, n_features=self.n_features)
        X, params = np.asarray(X, dtype=float), self._params(params)
        probs, run_compiled = None, getattr(backend, "run_compiled", None)
        if run_compiled is not None and self.compiled is not None and shots is None:
            # a simulator that runs the compiled gate sequence from angles: no circuit objects built
            P = np.broadcast_to(params, (len(X), self.n_params))
            probs = run_compiled(self.compiled, self.compiled.angles(X, P), self.n_wires, self.readout_wires)
        if probs is None:
            probs = backend.execute(self.build_circuits(X, params), shots)
        return self.outputs_from(probs)

    def predict(self, X, backend, params=None, shots=None) -> np.ndarray:
        """Labels in {-1, +1}: the sign of the output (0 counts as +1)."""
        return np.where(self.outputs(X, backend, params, shots) >= 0, 1, -1)

    def draw(self, x=None, **kwargs):
        """The user's circuit drawn with ``qml.draw_mpl`` (templates shown as boxes); (fig, ax)."""
        x = np.zeros(self.n_features) if x is None else np.asarray(x, dtype=float)

        def drawn():
            self.circuit(x, self.parameters.reshape(self.param_shape))
            return qml.probs(wires=list(self.readout_wires))

        return qml.draw_mpl(qml.QNode(drawn, qml.device("default.qubit", wires=self.n_wires)), **kwargs)()
