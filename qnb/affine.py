"""Compiled circuits: when every gate angle of a user's circuit is an affine function of
(x, params) — true of angle embeddings, rotation layers, shared angles, controlled rotations —
the angles of any number of circuits are one matrix product, and a circuit is the compiled gate
sequence with new angles (``CircuitBatch`` holds many as one array). The affine map is found by
probing and then verified at random points, never assumed."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

from .recording import _angles, _structure, record

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
