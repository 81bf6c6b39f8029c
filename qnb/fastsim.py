"""A plain-numpy state-vector backend and exact gradients, for studies with many runs.

``NumpyBackend`` gives default.qubit's answers (checked to 1e-10 in tests) for circuits of the
gates qnb's compiled models use (RX, RY, RZ, Rot, CNOT, CZ, Hadamard, Pauli), ~10x faster: one
batched einsum per gate over all circuits of a job. Anything else runs on default.qubit.
``exact_gradient`` is the parameter-shift gradient of the batch loss with exact expectation values
(what ``parameter_shift`` with ``shots=None`` returns), computed from gate angles directly.
"""
from __future__ import annotations

import numpy as np

from .backends import LocalBackend, broadcast_tapes
from .latency import LatencyModel

ROTATIONS = frozenset({"RX", "RY", "RZ", "Rot"})  # every angle obeys the two-term shift rule
GATES = ROTATIONS | {"CNOT", "CZ", "Hadamard", "PauliX", "PauliY", "PauliZ"}
_FIXED = {"Hadamard": np.array([[1, 1], [1, -1]]) / np.sqrt(2), "PauliX": np.array([[0, 1], [1, 0]]),
          "PauliY": np.array([[0, -1j], [1j, 0]]), "PauliZ": np.diag([1.0, -1.0])}


def _matrix(name: str, a: np.ndarray) -> np.ndarray:
    """(n, 2, 2) matrices of a one-qubit gate for n rows of its angles a (n, n_angles)."""
    if name in _FIXED:
        return np.broadcast_to(_FIXED[name].astype(complex), (len(a), 2, 2))
    if name == "Rot":  # RZ(omega) RY(theta) RZ(phi)
        phi, th, om = a.T
        c, s = np.cos(th / 2), np.sin(th / 2)
        return np.stack([np.stack([np.exp(-0.5j * (phi + om)) * c, -np.exp(0.5j * (phi - om)) * s], -1),
                         np.stack([np.exp(-0.5j * (phi - om)) * s, np.exp(0.5j * (phi + om)) * c], -1)], -2)
    t = a[:, 0] / 2
    c, s = np.cos(t), np.sin(t)
    if name == "RX":
        return np.stack([np.stack([c, -1j * s], -1), np.stack([-1j * s, c], -1)], -2)
    if name == "RY":
        return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)
    z = np.zeros_like(t)
    return np.stack([np.stack([np.exp(-1j * t), z], -1), np.stack([z, np.exp(1j * t)], -1)], -2)  # RZ


def simulate(template, angles: np.ndarray, n_wires: int, readout_wires) -> np.ndarray:
    """Probabilities of ``readout_wires`` (PennyLane's order) for n circuits sharing the gate
    sequence ``template`` (operations: their names and wires are used), angles (n, n_angles)."""
    n = len(angles)
    psi = np.zeros((n,) + (2,) * n_wires, dtype=complex)
    psi[(slice(None),) + (0,) * n_wires] = 1.0
    col = 0
    for op in template:
        k = op.num_params
        w = [int(v) + 1 for v in op.wires]  # axis 0 is the circuit
        if op.name in ("CNOT", "CZ"):
            idx = [slice(None)] * (n_wires + 1)
            idx[w[0]] = 1
            sub = psi[tuple(idx)]  # a view with the control axis removed
            t = w[1] - 1 if w[1] > w[0] else w[1]
            psi[tuple(idx)] = np.flip(sub, axis=t) if op.name == "CNOT" else sub * np.where(
                np.arange(2) == 1, -1, 1).reshape([-1 if i == t else 1 for i in range(n_wires)])
        else:
            U = _matrix(op.name, angles[:, col:col + k])
            psi = np.moveaxis(np.einsum("nij,n...j->n...i", U, np.moveaxis(psi, w[0], -1)), -1, w[0])
        col += k
    p = np.abs(psi) ** 2
    keep = [int(v) + 1 for v in readout_wires]
    rest = tuple(i for i in range(1, n_wires + 1) if i not in keep)
    return np.transpose(p.sum(axis=rest), [0] + [sorted(keep).index(k) + 1 for k in keep]).reshape(n, -1)


def _supported(tape) -> bool:
    return (all(op.name in GATES for op in tape.operations) and len(tape.measurements) == 1
            and type(tape.measurements[0]).__name__ == "ProbabilityMP")


class NumpyBackend(LocalBackend):
    """LocalBackend with a plain-numpy simulator for the common gates (same shot sampling, same
    seeded generator, same latency accounting); other circuits go to default.qubit."""

    name = "numpy"

    def __init__(self, latency: LatencyModel | None = None, seed=None):
        super().__init__("default.qubit", latency=latency, seed=seed)

    def __repr__(self):
        return f"NumpyBackend(latency={self.latency})"

    def _probabilities(self, circuits) -> np.ndarray:
        merged = broadcast_tapes(circuits) if _supported(circuits[0]) else None
        if merged is None:
            return super()._probabilities(circuits)
        angles = np.column_stack([np.broadcast_to(np.asarray(d, float), (len(circuits),))
                                  for op in merged.operations for d in op.data]) if merged.num_params else \
            np.zeros((len(circuits), 0))
        n_wires = 1 + max(int(w) for w in merged.wires)
        return simulate(merged.operations, angles, n_wires, merged.measurements[0].wires)


def exact_gradient(model, X, Y, params=None, loss_function=None) -> tuple[np.ndarray, float]:
    """(gradient, loss) of the mean batch loss with exact outputs: the two-term shift rule on every
    gate angle, chained through the compiled affine map. Needs a compiled model whose
    parametrised gates are all RX/RY/RZ/Rot (the seed's model is); else ValueError."""
    from .losses import square_loss
    loss_function = loss_function or square_loss
    cc = model.compiled
    if cc is None or any(op.num_params and op.name not in ROTATIONS for op in cc.template) or \
            any(op.name not in GATES for op in cc.template):
        raise ValueError(f"exact_gradient: {model!r} needs a compiled circuit of {sorted(GATES)}")
    X, Y = np.asarray(X, float), np.asarray(Y)
    params = model.parameters if params is None else np.asarray(params, float)
    J = cc.M[:, model.n_features:]  # d angles / d params
    live = np.flatnonzero(np.any(J != 0, axis=1))
    A = cc.angles(X, np.broadcast_to(params, (len(X), params.size)))  # (B, n_angles)
    shifted = np.repeat(A[None], 2 * len(live) + 1, axis=0)  # [unshifted, +s0, -s0, +s1, ...]
    for i, j in enumerate(live):
        shifted[1 + 2 * i, :, j] += np.pi / 2
        shifted[2 + 2 * i, :, j] -= np.pi / 2
    probs = simulate(cc.template, shifted.reshape(-1, A.shape[1]), model.n_wires, model.readout_wires)
    out = model.outputs_from(probs).reshape(len(shifted), len(X))
    f = out[0]
    dfda = (out[1::2] - out[2::2]) / 2  # (n_live, B)
    h = 1e-6
    dldf = (np.asarray(loss_function(f + h, Y), float) - np.asarray(loss_function(f - h, Y), float)) / (2 * h)
    grad = J[live].T @ (dfda @ dldf) / len(X)
    return grad, float(np.mean(loss_function(f, Y)))
