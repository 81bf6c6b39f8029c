"""A small exact state-vector simulator for IonQ's qis gate set (the emulator's engine).

Qubit q is tensor axis q; results are keyed like IonQ's histograms: integer keys with qubit 0 as
the least significant bit.

A gate is read as IonQ's v0.4 ``Gate_QisGate`` documents it (https://docs.ionq.com/api-reference/v0.4/
jobs/create-job; the OpenAPI document https://api.ionq.co/v0.4/api-docs, vendored as openapi.json in
github.com/ionq/ionq-core-python): ``gate`` (x, y, z, rx, ry, rz, h, s, si, v, vi, t, ti, not, cnot,
swap, xx, yy, zz), ``target`` or a ``targets`` list, ``control`` or a ``controls`` list, and
``rotation`` ("rotation angle for rx/ry/rz gates", and the angle of xx, yy, zz); no other key
(additionalProperties: false). Any gate with controls is that gate controlled on every control being
1 (``{"gate": "x", "controls": [0, 1], "targets": [2]}`` is a Toffoli), which is how qiskit-ionq
sends cx, ccx, mcx, cy, cz, ch, crx, cry, crz and cswap. Not emulated, refused: ``pauliexp`` (its
term order is not documented), and a ``rotation`` on a gate that takes none (qiskit-ionq sends its
phase gates p, cp and mcphase as ``z`` with a rotation; the reference gives z no angle).
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
_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
GATES = tuple(FIXED_1Q) + ("not",) + tuple(PAULI_1Q) + tuple(PAULI_2Q) + ("cnot", "swap")
GATE_KEYS = {"gate", "target", "targets", "control", "controls", "rotation"}
MAX_CONTROLS = 7  # the emulator's bound (a gate's matrix is built whole); IonQ documents none


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


def _wires(g: dict, one: str, many: str, n_qubits: int) -> list[int]:
    """The qubits of ``target``/``targets`` (or ``control``/``controls``): one key or the other, never both."""
    if one in g and many in g:
        raise UnsupportedGate(f"gate {g['gate']!r}: give {one!r} or {many!r}, not both")
    if one in g:
        return [_qubit(g[one], n_qubits)]
    values = g.get(many, [])
    if not isinstance(values, list) or len(values) > n_qubits:
        raise UnsupportedGate(f"gate {g['gate']!r}: {many} must be a list of at most {n_qubits} qubits")
    return [_qubit(v, n_qubits) for v in values]


def _controlled(matrix: np.ndarray, n_controls: int) -> np.ndarray:
    """``matrix`` applied when every one of ``n_controls`` leading qubits is 1 (controls most significant)."""
    if not n_controls:
        return matrix
    out = np.eye(len(matrix) << n_controls, dtype=complex)
    out[-len(matrix):, -len(matrix):] = matrix
    return out


def gate_matrix(g: dict, n_qubits: int) -> tuple[np.ndarray, list[int]]:
    """The unitary of one qis gate and its qubits, controls first then targets (the matrix's first
    wire is its most significant bit); UnsupportedGate for anything malformed."""
    if not isinstance(g, dict):
        raise UnsupportedGate(f"a gate must be a JSON object, got {type(g).__name__}")
    name = g.get("gate")
    name = name if isinstance(name, str) else repr(name)[:40]  # a list or dict name is unhashable
    if name not in GATES:
        raise UnsupportedGate(f"unsupported gate {str(name)[:40]!r}; supported: {', '.join(GATES)}")
    extra = sorted(str(k)[:20] for k in g if k not in GATE_KEYS)
    if extra:
        raise UnsupportedGate(f"gate {name!r}: unknown field(s) {', '.join(extra)[:80]}")
    targets = _wires(g, "target", "targets", n_qubits)
    controls = _wires(g, "control", "controls", n_qubits)
    if len(controls) > MAX_CONTROLS:
        raise UnsupportedGate(f"gate {name!r}: at most {MAX_CONTROLS} controls are emulated, got {len(controls)}")
    rotates = name in PAULI_1Q or name in PAULI_2Q
    if "rotation" in g and not rotates:
        raise UnsupportedGate(f"gate {name!r} takes no rotation (rotation is for rx, ry, rz, xx, yy, zz)")
    if name == "cnot" and not controls:
        raise UnsupportedGate("gate 'cnot' needs a control")
    width = 2 if name == "swap" or name in PAULI_2Q else 1
    if len(targets) != width:
        raise UnsupportedGate(f"gate {name!r} needs {'targets: a list of two qubits' if width == 2 else 'one target'}")
    if name in PAULI_1Q:
        matrix = _rotation(PAULI_1Q[name], _angle(g.get("rotation")))
    elif name in PAULI_2Q:
        matrix = _rotation(PAULI_2Q[name], _angle(g.get("rotation")))
    else:
        matrix = {"cnot": _X, "not": _X, "swap": _SWAP}.get(name, FIXED_1Q.get(name))
    wires = controls + targets
    if len(set(wires)) != len(wires):
        raise UnsupportedGate(f"gate {name!r} acts twice on a qubit ({wires})")
    return _controlled(matrix, len(controls)), wires


def probabilities(circuit: list[dict], n_qubits: int) -> dict[str, float]:
    """Exact outcome probabilities of a qis circuit, as an IonQ histogram."""
    state = np.zeros((2,) * n_qubits, dtype=complex)
    state[(0,) * n_qubits] = 1.0
    for g in circuit:
        matrix, wires = gate_matrix(g, n_qubits)
        state = _apply(state, matrix, wires)
    return histogram(np.abs(state.reshape(-1)) ** 2, n_qubits)


def histogram(probs, n_qubits: int) -> dict[str, float]:
    """Outcome probabilities indexed with qubit 0 the most significant bit, as an IonQ histogram:
    keys with qubit 0 the least significant bit, outcomes of probability 0 left out."""
    out = {}
    for idx in np.flatnonzero(np.asarray(probs) > 1e-15):
        bits = format(idx, f"0{n_qubits}b")  # bits[q] is qubit q
        out[str(int(bits[::-1], 2))] = float(probs[idx])  # IonQ: qubit 0 least significant
    return out
