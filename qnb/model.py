"""The seed's classifier: 4 angle-embedded features, 4 strongly entangling layers, <Z0> read-out."""
from __future__ import annotations

import copy

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

N_FEATURES = 4


def _check_data(x: np.ndarray, y: np.ndarray | None = None, n_features: int = N_FEATURES) -> None:
    """Raise ValueError on data a circuit must never see (before any job is spent)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"x: expected shape (n_samples, {n_features}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x: contains NaN or inf; every feature must be finite")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (x.shape[0],):
            raise ValueError(f"y: expected shape ({x.shape[0]},), got {y.shape}")
        bad = set(np.unique(y).tolist()) - {-1, 1}
        if bad:
            raise ValueError(f"y: labels must be -1 or +1, got {sorted(bad)[:5]}")


class QuantumModel:
    """Variational classifier of the design document: 48 trainable angles for 4 qubits x 4 layers.

    ``build_circuit(x, params)`` returns a PennyLane ``QuantumScript`` that measures the
    probabilities of qubit 0; ``process_result`` turns them into <Z0> = p0 - p1 in [-1, 1].
    Measuring probabilities (not expval) lets every backend return the same thing, exact or
    sampled, and lets shot noise be drawn in one seeded place.
    """

    def __init__(self, n_qubits: int = 4, n_layers: int = 4, seed=None):
        if n_qubits != N_FEATURES:
            raise ValueError(f"n_qubits: the model angle-embeds {N_FEATURES} features, got {n_qubits}")
        if n_layers < 1:
            raise ValueError(f"n_layers: must be >= 1, got {n_layers}")
        self.n_qubits, self.n_layers = n_qubits, n_layers
        self.shape = (n_layers, n_qubits, 3)
        rng = np.random.default_rng(seed)
        self.parameters = rng.uniform(0, 2 * np.pi, size=self.n_params)
        # The gate sequence is fixed; only angles change. Building it once and copying it with
        # new angles is ~20x faster than re-running the templates' decompositions per circuit.
        wires = range(n_qubits)
        self._template = (qml.AngleEmbedding(np.zeros(n_qubits), wires=wires, rotation="X").decomposition()
                          + qml.StronglyEntanglingLayers(np.zeros(self.shape), wires=wires).decomposition())

    @property
    def n_params(self) -> int:
        return int(np.prod(self.shape))

    def build_circuit(self, x, params=None) -> QuantumScript:
        """The circuit for one sample; ``params`` defaults to the current parameters."""
        params = self.parameters if params is None else np.asarray(params, dtype=float)
        if params.shape != (self.n_params,):
            raise ValueError(f"params: expected shape ({self.n_params},), got {params.shape}")
        angles = iter(np.concatenate([np.asarray(x, dtype=float).ravel(), params]).tolist())
        ops = []
        for op in self._template:
            if op.num_params:  # RX of the embedding, then Rot(phi, theta, omega) per layer and wire
                op = copy.copy(op)
                op.data = tuple(next(angles) for _ in range(op.num_params))
            ops.append(op)
        return QuantumScript(ops, [qml.probs(wires=[0])])

    @staticmethod
    def process_result(result) -> float:
        """<Z0> from the probabilities [p0, p1] of qubit 0."""
        p = np.asarray(result, dtype=float)
        return float(p[0] - p[1])

    def update_parameters(self, new) -> None:
        new = np.asarray(new, dtype=float)
        if new.shape != (self.n_params,) or not np.all(np.isfinite(new)):
            raise ValueError(f"parameters: expected {self.n_params} finite values, got shape {new.shape}")
        self.parameters = new.copy()

    def outputs(self, X, backend, params=None, shots=None) -> np.ndarray:
        """Model outputs for every row of X in one backend call (exact when shots is None)."""
        _check_data(X)
        results = backend.execute([self.build_circuit(x, params) for x in X], shots)
        return np.array([self.process_result(r) for r in results])

    def predict(self, X, backend, params=None, shots=None) -> np.ndarray:
        """Labels in {-1, +1}: the sign of <Z0> (0 counts as +1)."""
        return np.where(self.outputs(X, backend, params, shots) >= 0, 1, -1)


def square_loss(output, y) -> float:
    """(output - y)^2 with labels y in {-1, +1}."""
    return float((output - y) ** 2)


DATASETS = ("blobs", "xor")


def make_dataset(kind: str = "blobs", n_train: int = 100, n_test: int = 100, seed: int = 0):
    """Seeded synthetic data with 4 features (angles) and labels in {-1, +1}.

    ``blobs``: two Gaussian clusters, linearly separable up to noise (the easy case).
    ``xor``: the sign of x0 * x1 with two distractor features (non-linear, the hard case).
    Returns x_train, y_train, x_test, y_test.
    """
    if kind not in DATASETS:
        raise ValueError(f"kind: unknown data set {kind!r}; allowed: {', '.join(DATASETS)}")
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n < 1:
            raise ValueError(f"{name}: must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    if kind == "blobs":
        y = rng.choice([-1, 1], size=n)
        centre = np.array([0.9, 0.6, -0.6, 0.3])
        x = y[:, None] * centre + rng.normal(scale=0.45, size=(n, N_FEATURES))
    else:
        x = rng.uniform(-1.0, 1.0, size=(n, N_FEATURES))
        y = np.where(x[:, 0] * x[:, 1] >= 0, 1, -1)
    x = x * (np.pi / 2)  # features are rotation angles: +-1 maps to +-pi/2
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
