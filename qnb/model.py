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
