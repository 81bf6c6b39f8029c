"""The seed's classifier: angle-embedded features, strongly entangling layers, <Z0> read-out.
One instance of ``CircuitModel``; with the defaults (4 qubits, 4 layers) it has 48 parameters."""
from __future__ import annotations

import numpy as np
import pennylane as qml

from .circuits import CircuitModel
from .data import DATASETS, check_data, make_dataset  # noqa: F401  (the historical home of these names)
from .losses import square_loss  # noqa: F401


def seed_classifier(x, params):
    """The design document's circuit: RX(x_i) on wire i, then strongly entangling layers."""
    wires = range(params.shape[1])
    qml.AngleEmbedding(x, wires=wires, rotation="X")
    qml.StronglyEntanglingLayers(params, wires=wires)


class QuantumModel(CircuitModel):
    """Variational classifier of the design document: ``n_layers x n_qubits x 3`` trainable angles
    (48 for 4 x 4), features = qubits unless ``n_features`` (<= n_qubits) says otherwise.

    ``build_circuit(x, params)`` returns a PennyLane ``QuantumScript`` that measures the
    probabilities of qubit 0; ``process_result`` turns them into <Z0> = p0 - p1 in [-1, 1].
    Measuring probabilities (not expval) lets every backend return the same thing, exact or
    sampled, and lets shot noise be drawn in one seeded place.
    """

    # No per-call spot check: every gate angle of this circuit is a feature or a parameter, with no
    # branch that parameters could take, so the compile-time verification covers every call.
    spot_check = False

    def __init__(self, n_qubits: int = 4, n_layers: int = 4, seed=None, n_features: int | None = None):
        for name, v in (("n_qubits", n_qubits), ("n_layers", n_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
        if n_qubits < 2:
            raise ValueError(f"n_qubits: strongly entangling layers need at least 2 qubits, got {n_qubits}")
        if n_features is not None and not 1 <= n_features <= n_qubits:
            raise ValueError(f"n_features: the embedding puts one feature per qubit: 1..{n_qubits}, got {n_features}")
        self.n_qubits, self.n_layers = n_qubits, n_layers
        self.shape = (n_layers, n_qubits, 3)
        super().__init__(seed_classifier, n_qubits, self.shape, n_features=n_features, seed=seed)

    @staticmethod
    def process_result(result) -> float:
        """<Z0> = p0 - p1 from the probabilities [p0, p1] of qubit 0 (callable on the class too)."""
        p = np.asarray(result, dtype=float)
        return float(p[0] - p[1])


MAX_DEFAULT_WIRES = 4  # qnb's own classifier: one qubit per feature up to this many


def reuploading_classifier(x, params):
    """More features than wires: layer l embeds the features' chunk l mod C (chunks of n_wires,
    RX angles), then one strongly entangling layer; C = ceil(n_features / n_wires)."""
    n_wires = params.shape[1]
    chunks = -(-len(x) // n_wires)
    for layer in range(params.shape[0]):
        chunk = x[(layer % chunks) * n_wires:(layer % chunks + 1) * n_wires]
        qml.AngleEmbedding(chunk, wires=range(len(chunk)), rotation="X")
        qml.StronglyEntanglingLayers(params[layer:layer + 1], wires=range(n_wires))


class ReuploadingModel(CircuitModel):
    """``reuploading_classifier`` on ``n_wires`` wires with ``max(4, C)`` layers, so that every
    feature is uploaded at least once: n_features without n_features qubits."""

    spot_check = False  # every gate angle is a feature or a parameter: compiled once, exact everywhere

    def __init__(self, n_features: int, n_wires: int = MAX_DEFAULT_WIRES, seed=None):
        if isinstance(n_wires, bool) or not isinstance(n_wires, (int, np.integer)) or n_wires < 2:
            raise ValueError(f"n_wires: strongly entangling layers need an integer >= 2, got {n_wires!r}")
        layers = max(4, -(-n_features // n_wires))
        super().__init__(reuploading_classifier, int(n_wires), (layers, int(n_wires), 3), n_features=n_features,
                         seed=seed)

    def verify(self, X, params=None, max_rows: int = 2000) -> bool:
        return self.compiled is not None  # affine by construction: nothing row-specific to check


def default_model(n_features: int, seed=None, n_wires: int | None = None) -> CircuitModel:
    """qnb's classifier for ``n_features``: ``QuantumModel`` with one qubit per feature (at least 2)
    up to ``MAX_DEFAULT_WIRES`` (or ``n_wires``) features, else ``ReuploadingModel`` on that many wires."""
    wires = n_wires if n_wires is not None else min(max(2, n_features), MAX_DEFAULT_WIRES)
    if n_features <= wires:
        return QuantumModel(n_qubits=max(2, wires), n_features=n_features, seed=seed)
    return ReuploadingModel(n_features, wires, seed=seed)
