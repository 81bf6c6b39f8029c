"""Approximate noise models of IonQ's machines, to rehearse a noisy run without a key.

A model is a machine's three published average fidelities: one-qubit gates F₁, two-qubit gates
F₂, and state preparation and measurement F_spam. Every gate is followed by a depolarising channel
on its qubits, ρ → (1 − p) ρ + p Tr_q(ρ) ⊗ I/d, whose average gate fidelity is 1 − p (d − 1)/d, so

    p₁ = 2 (1 − F₁)          (d = 2, after every one-qubit gate)
    p₂ = 4 (1 − F₂) / 3      (d = 4, after every two-qubit gate)

and every measured bit is flipped with probability e = 1 − F_spam (state preparation folded in).
Gates are counted as IonQ's compiler would see them (``prices.gate_counts``): a PennyLane gate
outside IonQ's gate set gets the channels of its decomposition (a ``Rot`` three one-qubit ones, a
``CZ`` one two-qubit and two one-qubit), applied after the gate; a gate on k ≥ 3 qubits counts as
6 (k − 2) two-qubit gates on all of them. The evolution is the exact density matrix (4^n numbers
per circuit), batched over a job's circuits.

This is the textbook approximation, not IonQ's model: IonQ says its own noise models (``aria-1``,
``forte-1``, ... on its cloud simulator, ``noise_model=`` in pennylane-ionq) approximate the
machines and predict no particular result. Both are for rehearsal, not for prediction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import fastsim
from .prices import _native
from .qis import gate_matrix, histogram
from .validation import number

# Azure Quantum's IonQ provider page, "System fidelity" of IonQ Aria (ionq.qpu.aria-1 and aria-2):
# one-qubit gate 99.95 % (SPAM corrected), two-qubit gate 99.6 % (not SPAM corrected), SPAM 99.61 %.
_AZURE_ARIA = "https://learn.microsoft.com/azure/quantum/provider-ionq (IonQ Aria: System fidelity)"
# IonQ's documented noise model names (pennylane-ionq 0.45 and docs.ionq.com, "Simulation with
# noise models"); the ones without published fidelities qnb can cite are not in NOISE_MODELS.
IONQ_NOISE_MODELS = ("ideal", "harmony", "aria-1", "aria-2", "forte-1", "forte-enterprise-1")


@dataclass(frozen=True)
class NoiseModel:
    """A machine's average fidelities (see the module's formulas).

    Args:
        name (str): its name in ``NOISE_MODELS`` and in a config (``noise_model=``).
        one_qubit_fidelity, two_qubit_fidelity, spam_fidelity (float): in [0.75, 1].
        source (str): where the numbers come from; checked (str): the date they were checked.
    """

    name: str
    one_qubit_fidelity: float = 1.0
    two_qubit_fidelity: float = 1.0
    spam_fidelity: float = 1.0
    source: str = ""
    checked: str = ""

    def __post_init__(self):
        for field in ("one_qubit_fidelity", "two_qubit_fidelity", "spam_fidelity"):
            v = number(field, getattr(self, field))
            if not 0.75 <= v <= 1:
                raise ValueError(f"{field}: an average fidelity in [0.75, 1], got {v!r}")
            object.__setattr__(self, field, v)

    @property
    def p1(self) -> float:
        """Depolarising probability after a one-qubit gate."""
        return 2 * (1 - self.one_qubit_fidelity)

    @property
    def p2(self) -> float:
        """Depolarising probability after a two-qubit gate."""
        return 4 * (1 - self.two_qubit_fidelity) / 3

    @property
    def readout(self) -> float:
        """Probability that a measured bit is flipped."""
        return 1 - self.spam_fidelity

    @property
    def ideal(self) -> bool:
        return self.p1 == self.p2 == self.readout == 0


NOISE_MODELS = {
    "ideal": NoiseModel("ideal"),
    "aria-1": NoiseModel("aria-1", 0.9995, 0.996, 0.9961, source=_AZURE_ARIA, checked="2026-11-29"),
    "aria-2": NoiseModel("aria-2", 0.9995, 0.996, 0.9961, source=_AZURE_ARIA, checked="2026-11-29"),
}


def noise_model(model) -> NoiseModel:
    """A ``NoiseModel`` from itself or its name in ``NOISE_MODELS``; ValueError naming the choices."""
    if isinstance(model, NoiseModel):
        return model
    if model in NOISE_MODELS:
        return NOISE_MODELS[model]
    hint = (" IonQ's simulator has it, but qnb has no published fidelities to cite for it: pass "
            "qnb.NoiseModel(name, one_qubit_fidelity, two_qubit_fidelity, spam_fidelity) with the figures "
            "of IonQ's Backends page" if model in IONQ_NOISE_MODELS else "")
    raise ValueError(f"noise_model: no local model {str(model)[:60]!r}; allowed: {', '.join(NOISE_MODELS)}.{hint}")


# -- the density matrix of n circuits as (N, 4**n): wires 0..n-1 its ket, n..2n-1 its bra -------
def _apply(rho: np.ndarray, U: np.ndarray, wires, n: int) -> np.ndarray:
    """U rho U-dagger for any U (2^k, 2^k) on ``wires`` (the general path, for IonQ's gates)."""
    k, N = len(wires), len(rho)
    t = rho.reshape((N,) + (2,) * (2 * n))
    for axes, M in (([1 + w for w in wires], U), ([1 + n + w for w in wires], U.conj())):
        moved = np.moveaxis(t, axes, range(t.ndim - k, t.ndim))
        t = np.moveaxis((moved.reshape(N, -1, 2 ** k) @ M.T).reshape(moved.shape), range(t.ndim - k, t.ndim), axes)
    return t.reshape(N, -1)


def _depolarize(rho: np.ndarray, wires, p: float, n: int) -> np.ndarray:
    """(1 - p) rho + p Tr_wires(rho) (x) I/2^k, in place: the blocks diagonal on every wire of
    ``wires`` (ket bit = bra bit) each gain p/2^k of their sum; everything is scaled by 1 - p."""
    if p == 0:
        return rho
    t = rho.reshape((len(rho),) + (2,) * (2 * n))  # a view
    blocks = []
    for bits in np.ndindex(*(2,) * len(wires)):
        idx = [slice(None)] * (2 * n + 1)
        for w, b in zip(wires, bits):
            idx[1 + w] = idx[1 + n + w] = b
        blocks.append(tuple(idx))
    trace = sum(t[i] for i in blocks) * (p / 2 ** len(wires))
    rho *= 1 - p
    for i in blocks:
        t[i] += trace
    return rho


def _gate_noise(model: NoiseModel, k: int) -> float:
    """Depolarising probability after a gate on k qubits (k >= 3: 6 (k - 2) two-qubit gates, composed)."""
    return model.p1 if k == 1 else model.p2 if k == 2 else 1 - (1 - model.p2) ** (6 * (k - 2))


def _flip_readout(p: np.ndarray, e: float) -> np.ndarray:
    """Each bit of (N, 2^r) outcome probabilities flipped with probability e."""
    if e == 0:
        return p
    r = int(math.log2(p.shape[1]))
    q = p.reshape((len(p),) + (2,) * r)
    for axis in range(1, r + 1):
        q = (1 - e) * q + e * np.flip(q, axis=axis)
    return q.reshape(len(p), -1)


def _diagonal(rho: np.ndarray, n: int) -> np.ndarray:
    return np.clip(rho.reshape(len(rho), 2 ** n, 2 ** n).diagonal(axis1=1, axis2=2).real, 0, None)


def _initial(N: int, n: int) -> np.ndarray:
    rho = np.zeros((N, 4 ** n), dtype=complex)
    rho[:, 0] = 1.0
    return rho


_NATIVE: dict = {}


def _native_parts(op) -> list[tuple[int, ...]]:
    """The qubits of each IonQ gate ``op`` compiles to (cached per gate name and wires)."""
    key = (op.name, tuple(op.wires))
    if key not in _NATIVE:
        _NATIVE[key] = [tuple(int(w) for w in g.wires) for g in _native(op)]
    return _NATIVE[key]


MAX_AMPLITUDES = 1 << 22  # density-matrix entries per chunk of circuits (64 MB)


def simulate(template, angles: np.ndarray, n_wires: int, readout_wires, model) -> np.ndarray:
    """``fastsim.simulate`` with the model's channels: read-out probabilities (n, 2**r) of n circuits
    sharing the gate sequence ``template``, angles (n, n_angles).

    A one-qubit channel commutes with every gate on its own qubit (both act on that qubit alone and
    the channel is unitarily invariant), so one-qubit channels wait on their wire, composed, until
    a two-qubit gate touches it: the same state with far fewer channel applications."""
    model = noise_model(model)
    step = max(1, MAX_AMPLITUDES // 4 ** n_wires)
    if len(angles) > step:
        return np.vstack([simulate(template, angles[i:i + step], n_wires, readout_wires, model)
                          for i in range(0, len(angles), step)])
    n, rho = n_wires, _initial(len(angles), n_wires)
    keep = np.ones(n)  # per wire: the product of (1 - p) of its waiting one-qubit channels
    for op, U in zip(template, fastsim._matrices(template, angles)):
        w = [int(v) for v in op.wires]
        if U is None:  # CNOT or CZ: flush what waits on its wires, then the gate on ket and bra
            for v in w:
                rho, keep[v] = _depolarize(rho, [v], 1 - keep[v], n), 1.0
            fastsim.controlled(rho, op.name, w[0], w[1], 2 * n)
            fastsim.controlled(rho, op.name, n + w[0], n + w[1], 2 * n)
        else:
            rho = fastsim.one_qubit(fastsim.one_qubit(rho, U, w[0], 2 * n), U.conj(), n + w[0], 2 * n)
        for part in _native_parts(op):
            if len(part) == 1:
                keep[part[0]] *= 1 - model.p1
            else:
                rho = _depolarize(rho, part, _gate_noise(model, len(part)), n)
    for v in range(n):
        rho = _depolarize(rho, [v], 1 - keep[v], n)
    p = fastsim.marginal(_diagonal(rho, n), n, readout_wires)
    return _flip_readout(p, model.readout)


def qis_probabilities(circuit: list[dict], n_qubits: int, model) -> np.ndarray:
    """Outcome probabilities (2**n, qubit 0 the most significant bit) of an IonQ qis circuit under
    the model, every qubit measured."""
    model = noise_model(model)
    rho = _initial(1, n_qubits)
    for g in circuit:
        matrix, wires = gate_matrix(g, n_qubits)
        rho = _depolarize(_apply(rho, matrix, wires, n_qubits), wires, _gate_noise(model, len(wires)), n_qubits)
    return _flip_readout(_diagonal(rho, n_qubits), model.readout)[0]


def noisy_histogram(circuit: list[dict], n_qubits: int, model, shots: int | None, seed=None) -> dict[str, float]:
    """An IonQ histogram (keys: outcomes with qubit 0 the least significant bit) of a qis circuit
    under the model: exact probabilities without ``shots``, else the frequencies of ``shots`` draws
    from a generator seeded with ``seed`` (the same seed, the same histogram)."""
    p = qis_probabilities(circuit, n_qubits, model)
    if shots:
        p = np.random.default_rng(seed).multinomial(shots, p / p.sum()) / shots
    return histogram(p, n_qubits)
