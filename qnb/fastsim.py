"""A plain-numpy state-vector simulator for the gates qnb's compiled models use, and exact gradients.

``simulate`` runs n circuits of one gate sequence (RX, RY, RZ, Rot, CNOT, CZ, Hadamard, Pauli)
with one broadcast matmul per gate over all of them; ``LocalBackend`` uses it whenever a job's
circuits are made of these gates (its answers equal default.qubit's: the tests check them).
``exact_gradient`` is the parameter-shift gradient of the batch loss with exact expectation values
(what ``parameter_shift`` with ``shots=None`` returns), computed from gate angles directly.
"""
from __future__ import annotations

import numpy as np


ROTATIONS = frozenset({"RX", "RY", "RZ", "Rot"})  # every angle obeys the two-term shift rule
GATES = ROTATIONS | {"CNOT", "CZ", "Hadamard", "PauliX", "PauliY", "PauliZ"}
_FIXED = {"Hadamard": np.array([[1, 1], [1, -1]]) / np.sqrt(2), "PauliX": np.array([[0, 1], [1, 0]]),
          "PauliY": np.array([[0, -1j], [1j, 0]]), "PauliZ": np.diag([1.0, -1.0])}


def _matrix(name: str, a: np.ndarray) -> np.ndarray:
    """(..., 2, 2) matrices of a one-qubit gate for angles a (..., n_angles)."""
    if name in _FIXED:
        return np.broadcast_to(_FIXED[name].astype(complex), a.shape[:-1] + (2, 2))
    if name == "Rot":  # RZ(omega) RY(theta) RZ(phi)
        phi, th, om = np.moveaxis(a, -1, 0)
        c, s = np.cos(th / 2), np.sin(th / 2)
        e1, e2 = np.exp(-0.5j * (phi + om)), np.exp(0.5j * (phi - om))
        return np.stack([np.stack([e1 * c, -e2 * s], -1), np.stack([e2.conj() * s, e1.conj() * c], -1)], -2)
    t = a[..., 0] / 2
    c, s = np.cos(t), np.sin(t)
    if name == "RX":
        return np.stack([np.stack([c, -1j * s], -1), np.stack([-1j * s, c], -1)], -2)
    if name == "RY":
        return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)
    z = np.zeros_like(t)
    return np.stack([np.stack([np.exp(-1j * t), z], -1), np.stack([z, np.exp(1j * t)], -1)], -2)  # RZ


def _matrices(template, angles: np.ndarray) -> list:
    """Per gate of the template: its (n, 2, 2) matrices (None for two-qubit gates), computed one
    vectorised call per gate type over every gate of that type (the per-call overhead dominates)."""
    cols, col = [], 0
    for op in template:
        cols.append(range(col, col + op.num_params))
        col += op.num_params
    out = [None] * len(template)
    for name in {op.name for op in template if op.name not in ("CNOT", "CZ")}:
        which = [i for i, op in enumerate(template) if op.name == name]
        a = np.stack([angles[:, cols[i]] for i in which], axis=1)  # (n, gates, n_angles)
        U = _matrix(name, a)
        for j, i in enumerate(which):
            out[i] = U[:, j]
    return out


def simulate(template, angles: np.ndarray, n_wires: int, readout_wires) -> np.ndarray:
    """Probabilities of ``readout_wires`` (PennyLane's order) for n circuits sharing the gate
    sequence ``template`` (operations: their names and wires are used), angles (n, n_angles).

    The state is kept as (n, 2**w, 2, rest) views around the wire w a gate acts on, so each
    one-qubit gate is ONE broadcast matmul over all circuits (no axis shuffling)."""
    n = len(angles)
    psi = np.zeros((n, 2 ** n_wires), dtype=complex)
    psi[:, 0] = 1.0
    for op, U in zip(template, _matrices(template, angles)):
        w = [int(v) for v in op.wires]
        if op.name in ("CNOT", "CZ"):
            controlled(psi, op.name, w[0], w[1], n_wires)
        else:
            psi = one_qubit(psi, U, w[0], n_wires)
    return marginal(psi.real ** 2 + psi.imag ** 2, n_wires, readout_wires)


def one_qubit(psi: np.ndarray, U: np.ndarray, w: int, n_wires: int) -> np.ndarray:
    """U (2, 2) or one per row (n, 2, 2) on wire w of n states (n, 2**n_wires): one matmul."""
    view = psi.reshape(len(psi), 2 ** w, 2, 2 ** (n_wires - w - 1))
    return ((U[:, None] if U.ndim == 3 else U) @ view).reshape(len(psi), -1)


def controlled(psi: np.ndarray, name: str, c: int, t: int, n_wires: int) -> None:
    """CNOT or CZ (control c, target t) on n states (n, 2**n_wires), in place."""
    s = psi.reshape((len(psi),) + (2,) * n_wires)
    idx = [slice(None)] * (n_wires + 1)
    idx[c + 1] = 1
    sub = s[tuple(idx)]  # a view with the control axis removed
    t = t if t < c else t - 1
    s[tuple(idx)] = np.flip(sub, axis=t + 1) if name == "CNOT" else sub * np.where(
        np.arange(2) == 1, -1, 1).reshape([-1 if i == t + 1 else 1 for i in range(n_wires)])


def marginal(p: np.ndarray, n_wires: int, readout_wires) -> np.ndarray:
    """Probabilities of ``readout_wires`` (in that order) from those of all wires, (n, 2**n_wires)
    with wire 0 the most significant bit."""
    p = p.reshape((len(p),) + (2,) * n_wires)
    keep = [int(v) + 1 for v in readout_wires]
    rest = tuple(i for i in range(1, n_wires + 1) if i not in keep)
    return np.transpose(p.sum(axis=rest), [0] + [sorted(keep).index(k) + 1 for k in keep]).reshape(len(p), -1)


def supported(tape) -> bool:
    """Can ``simulate`` run this tape (its gates, one probability measurement)?"""
    return (all(op.name in GATES for op in tape.operations) and len(tape.measurements) == 1
            and type(tape.measurements[0]).__name__ == "ProbabilityMP")


def exact_gradient(model, X, Y, params=None, loss_function=None, simulator=None) -> tuple[np.ndarray, float]:
    """(gradient, loss) of the mean batch loss with exact outputs: the two-term shift rule on every
    gate angle, chained through the compiled affine map. Needs a compiled model whose
    parametrised gates are all RX/RY/RZ/Rot (the seed's model is); else ValueError.
    ``simulator``: ``simulate``'s stand-in, e.g. a noisy one; the rule stays exact under channels
    that do not depend on the angles (the output is still a trigonometric polynomial of each)."""
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
    probs = (simulator or simulate)(cc.template, shifted.reshape(-1, A.shape[1]), model.n_wires, model.readout_wires)
    out = model.outputs_from(probs).reshape(len(shifted), len(X))
    f = out[0]
    dfda = (out[1::2] - out[2::2]) / 2  # (n_live, B)
    h = 1e-6
    dldf = (np.asarray(loss_function(f + h, Y), float) - np.asarray(loss_function(f - h, Y), float)) / (2 * h)
    grad = J[live].T @ (dfda @ dldf) / len(X)
    return grad, float(np.mean(loss_function(f, Y)))
