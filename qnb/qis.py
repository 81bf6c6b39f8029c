"""A small exact state-vector simulator for IonQ's qis gate set (the emulator's engine).

Qubit q is tensor axis q; results are keyed like IonQ's histograms: integer keys with qubit 0 as
the least significant bit.
"""
from __future__ import annotations

import numpy as np

_I2 = np.eye(2)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.diag([1, -1]).astype(complex)
_H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
_S = np.diag([1, 1j])
_T = np.diag([1, np.exp(1j * np.pi / 4)])
_V = np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2  # sqrt(X), PennyLane's SX

FIXED_1Q = {"x": _X, "y": _Y, "z": _Z, "h": _H, "s": _S, "si": _S.conj().T, "t": _T, "ti": _T.conj().T,
            "v": _V, "vi": _V.conj().T}
PAULI_1Q = {"rx": _X, "ry": _Y, "rz": _Z}
PAULI_2Q = {"xx": np.kron(_X, _X), "yy": np.kron(_Y, _Y), "zz": np.kron(_Z, _Z)}
_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
GATES = tuple(FIXED_1Q) + tuple(PAULI_1Q) + tuple(PAULI_2Q) + ("cnot", "swap")


class UnsupportedGate(ValueError):
    pass


def _rotation(pauli: np.ndarray, theta: float) -> np.ndarray:
    """exp(-i theta/2 P) for a Pauli string P (P^2 = 1)."""
    return np.cos(theta / 2) * np.eye(len(pauli)) - 1j * np.sin(theta / 2) * pauli


def _apply(state, matrix, wires):
    k = len(wires)
    m = matrix.reshape((2,) * 2 * k)
    state = np.tensordot(m, state, axes=(list(range(k, 2 * k)), list(wires)))
    return np.moveaxis(state, list(range(k)), list(wires))


def gate_matrix(g: dict) -> tuple[np.ndarray, list[int]]:
    name = g.get("gate")
    if name in FIXED_1Q:
        return FIXED_1Q[name], [int(g["target"])]
    if name in PAULI_1Q:
        return _rotation(PAULI_1Q[name], float(g["rotation"])), [int(g["target"])]
    if name == "cnot":
        return _CNOT, [int(g["control"]), int(g["target"])]
    if name == "swap":
        return _SWAP, [int(t) for t in g["targets"]]
    if name in PAULI_2Q:
        return _rotation(PAULI_2Q[name], float(g["rotation"])), [int(t) for t in g["targets"]]
    raise UnsupportedGate(f"unsupported gate {name!r}; supported: {', '.join(GATES)}")


def probabilities(circuit: list[dict], n_qubits: int) -> dict[str, float]:
    """Exact outcome probabilities of a qis circuit, as an IonQ histogram."""
    state = np.zeros((2,) * n_qubits, dtype=complex)
    state[(0,) * n_qubits] = 1.0
    for g in circuit:
        matrix, wires = gate_matrix(g)
        if any(not 0 <= w < n_qubits for w in wires) or len(set(wires)) != len(wires):
            raise UnsupportedGate(f"gate {g.get('gate')!r} on qubits {wires} outside 0..{n_qubits - 1}")
        state = _apply(state, matrix, wires)
    probs = np.abs(state.reshape(-1)) ** 2  # index: qubit 0 is the most significant bit
    out = {}
    for idx in np.flatnonzero(probs > 1e-15):
        bits = format(idx, f"0{n_qubits}b")  # bits[q] is qubit q
        out[str(int(bits[::-1], 2))] = float(probs[idx])  # IonQ: qubit 0 least significant
    return out
