r"""More than two classes with every step still ONE job: one-vs-rest heads of one circuit.

K classes get K heads :math:`f_k(x) = f(x, \theta_k)` of the user's circuit, each with its own
parameters :math:`\theta_k`; the model's parameter vector is :math:`(\theta_1, \dots, \theta_K)`.
Training is the binary problem on the expanded rows :math:`(x_i, k)` with label +1 where
:math:`y_i = k`, else -1, i.e. the mean one-vs-rest loss

.. math::

    L(\theta) = \frac{1}{nK}\sum_{i=1}^n \sum_{k=1}^K \ell\big(f(x_i, \theta_k), \pm 1\big),

so one SPSA step perturbs every head at once and its circuits, of whichever heads its rows hold,
go to the device as ONE job. Why heads rather than one multi-outcome read-out: each head is the
user's own circuit with its own read-out (any ``expval`` or ``probs``) unchanged, so any QNode
that separates two classes separates K, and each head's output keeps its meaning; a native
read-out of :math:`\lceil\log_2 K\rceil` wires would constrain what the circuit measures. The
price: K circuits per sample instead of one, in the same job. The predicted class is
:math:`\arg\max_k f_k(x)`.

The expanded row is :math:`x` with the head's index k appended as a last column, which selects
:math:`\theta_k` and never enters a gate.
"""
from __future__ import annotations

import numpy as np

from .data import check_data


class OneVsRestHeads:
    """K heads of one ``CircuitModel`` (``base``) trained together: a qnb model over rows
    ``[x, k]`` whose circuit for a row is ``base``'s at ``(x, theta_k)``.

    Args:
        base: the ``CircuitModel`` of one head.
        n_classes (int): K >= 2.
        seed: the heads' initial parameters (uniform in [0, 2 pi), as ``CircuitModel``'s).
    """

    spot_check = False

    def __init__(self, base, n_classes: int, seed=None):
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(f"n_classes: must be an integer >= 2, got {n_classes!r}")
        self.base, self.n_classes = base, int(n_classes)
        self.param_shape = (self.n_classes,) + tuple(base.param_shape)
        self.n_features = base.n_features + 1
        self.n_wires, self.readout_wires = base.n_wires, base.readout_wires
        self.qnode_shots = getattr(base, "qnode_shots", None)
        self.compiled = None  # circuits are built per head by the base (which may be compiled)
        self.parameters = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=self.n_params)

    def __repr__(self):
        return f"OneVsRestHeads({self.base!r}, n_classes={self.n_classes})"

    @property
    def n_params(self) -> int:
        return self.n_classes * self.base.n_params

    @property
    def circuit(self):
        return self.base.circuit

    def expand(self, X) -> np.ndarray:
        """Rows [x, k] for every sample and head, sample-major: (n K, n_features + 1)."""
        X = np.asarray(X, dtype=float)
        heads = np.tile(np.arange(self.n_classes, dtype=float), len(X))
        return np.column_stack([np.repeat(X, self.n_classes, axis=0), heads])

    def _split(self, rows, P) -> tuple[np.ndarray, np.ndarray]:
        """(x rows, each row's head parameters) from expanded rows and parameter rows."""
        rows = np.asarray(rows, dtype=float)
        P = np.broadcast_to(np.asarray(P, dtype=float), (len(rows), self.n_params))
        k = rows[:, -1].astype(int)
        if np.any((k < 0) | (k >= self.n_classes)) or not np.array_equal(k, rows[:, -1]):
            raise ValueError(f"rows: the last column must be a head index 0..{self.n_classes - 1}")
        return rows[:, :-1], P.reshape(len(rows), self.n_classes, -1)[np.arange(len(rows)), k]

    def _params(self, params) -> np.ndarray:
        params = self.parameters if params is None else np.asarray(params, dtype=float)
        if params.shape != (self.n_params,):
            raise ValueError(f"params: expected shape ({self.n_params},), got {params.shape}")
        return params

    def build_circuits(self, rows, P):
        return self.base.build_circuits(*self._split(rows, P))

    def build_circuit(self, row, params=None):
        return self.build_circuits(np.asarray(row, dtype=float)[None, :], self._params(params)[None, :])[0]

    def outputs_from(self, results) -> np.ndarray:
        return self.base.outputs_from(results)

    def outputs(self, rows, backend, params=None, shots=None) -> np.ndarray:
        """Each row's head output in one backend call (exact when shots is None)."""
        check_data(rows, n_features=self.n_features)
        X, P = self._split(rows, self._params(params))
        compiled, run = self.base.compiled, getattr(backend, "run_compiled", None)
        probs = None
        if run is not None and compiled is not None and shots is None:
            probs = run(compiled, compiled.angles(X, P), self.n_wires, self.readout_wires)
        if probs is None:
            probs = backend.execute(self.base.build_circuits(X, P), shots)
        return self.outputs_from(probs)

    def verify(self, rows, params=None, max_rows: int = 2000) -> bool:
        return self.base.verify(np.asarray(rows, dtype=float)[:, :-1], None, max_rows)

    def update_parameters(self, new) -> None:
        new = np.asarray(new, dtype=float)
        if new.shape != (self.n_params,) or not np.all(np.isfinite(new)):
            raise ValueError(f"parameters: expected {self.n_params} finite values, got shape {new.shape}")
        self.parameters = new.copy()

    def fingerprint(self) -> str:
        return f"OneVsRestHeads({self.n_classes}) of {self.base.fingerprint()}"

    def angle_jacobian(self, x, params=None):
        raise ValueError("parameter_shift: not offered for one-vs-rest heads; use an SPSA method")
