"""A small exact state-vector simulator for IonQ's qis gate set (the emulator's engine).

Qubit q is tensor axis q; results are keyed like IonQ's histograms: integer keys with qubit 0 as
the least significant bit.
"""
from __future__ import annotations

import math

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


def _qubit(v, n_qubits: int) -> int:
    # json gives bool, float and str too; int(1.5) or int(True) would silently pick a qubit
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n_qubits:
        raise UnsupportedGate(f"qubit {v!r} is not an integer in 0..{n_qubits - 1}")
    return v


def _angle(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise UnsupportedGate(f"rotation {v!r} is not a finite number")
    return float(v)


def _pair(g: dict, n_qubits: int) -> list[int]:
    targets = g.get("targets")
    if not isinstance(targets, list) or len(targets) != 2:
        raise UnsupportedGate(f"gate {g['gate']!r} needs targets: a list of two qubits")
    return [_qubit(t, n_qubits) for t in targets]


def gate_matrix(g: dict, n_qubits: int) -> tuple[np.ndarray, list[int]]:
    """The unitary of one qis gate and its qubits; UnsupportedGate for anything malformed."""
    if not isinstance(g, dict):
        raise UnsupportedGate(f"a gate must be a JSON object, got {type(g).__name__}")
    name = g.get("gate")
    name = name if isinstance(name, str) else repr(name)[:40]  # a list or dict name is unhashable
    if name in FIXED_1Q:
        matrix, wires = FIXED_1Q[name], [_qubit(g.get("target"), n_qubits)]
    elif name in PAULI_1Q:
        matrix, wires = _rotation(PAULI_1Q[name], _angle(g.get("rotation"))), [_qubit(g.get("target"), n_qubits)]
    elif name == "cnot":
        matrix, wires = _CNOT, [_qubit(g.get("control"), n_qubits), _qubit(g.get("target"), n_qubits)]
    elif name == "swap":
        matrix, wires = _SWAP, _pair(g, n_qubits)
    elif name in PAULI_2Q:
        matrix, wires = _rotation(PAULI_2Q[name], _angle(g.get("rotation"))), _pair(g, n_qubits)
    else:
        raise UnsupportedGate(f"unsupported gate {str(name)[:40]!r}; supported: {', '.join(GATES)}")
    if len(set(wires)) != len(wires):
        raise UnsupportedGate(f"gate {name!r} acts twice on qubit {wires[0]}")
    return matrix, wires


def probabilities(circuit: list[dict], n_qubits: int) -> dict[str, float]:
    """Exact outcome probabilities of a qis circuit, as an IonQ histogram."""
    state = np.zeros((2,) * n_qubits, dtype=complex)
    state[(0,) * n_qubits] = 1.0
    for g in circuit:
        matrix, wires = gate_matrix(g, n_qubits)
        state = _apply(state, matrix, wires)
    probs = np.abs(state.reshape(-1)) ** 2  # index: qubit 0 is the most significant bit
    out = {}
    for idx in np.flatnonzero(probs > 1e-15):
        bits = format(idx, f"0{n_qubits}b")  # bits[q] is qubit q
        out[str(int(bits[::-1], 2))] = float(probs[idx])  # IonQ: qubit 0 least significant
    return out
