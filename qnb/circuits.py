"""Any PennyLane circuit as a qnb model: ``CircuitModel(circuit, n_wires, param_shape)``.

A user writes ``def circuit(x, params): <PennyLane operations, templates allowed>`` and qnb turns
it into circuits (``QuantumScript``) of primitive gates that every backend runs, and into model
outputs through a read-out of the probabilities of a few wires (default: the parity <Z...Z> of
wire 0, i.e. <Z0> = p0 - p1).

Speed: recording and decomposing a circuit costs far more than simulating it in a broadcast
batch (figures/bench.md has the numbers), so qnb compiles the circuit once (``qnb.affine``);
anything that does not compile is recorded circuit by circuit (``qnb.recording``: correct, slower).
"""
from __future__ import annotations

import warnings

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

from .affine import CircuitBatch, compile_affine  # noqa: F401  (CircuitBatch: what build_circuits returns)
from .data import check_data
from .losses import square_loss
from .recording import _structure, measured, parity_readout, record


class CircuitModel:
    r"""A variational classifier :math:`f(x, \theta)` from any PennyLane circuit.

    Every circuit qnb sends measures probabilities, so that one job of many circuits returns the
    same thing on every backend, exact or sampled; the model output is read from them: for a
    QNode (or function) returning :math:`\langle O \rangle`, its diagonalising gates are appended
    and :math:`f = \sum_i \lambda_i p_i` over O's eigenvalues; for ``qml.probs(wires)`` and for
    a circuit that returns nothing, the parity :math:`\langle Z \otimes \dots \otimes Z\rangle`
    of the read-out wires (default wire 0). Labels are the output's sign.

    Args:
        circuit: a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or ``qml.probs(wires)``,
            or a function of PennyLane operations (templates allowed) returning one of those or
            nothing. What cannot be one multi-circuit job of probabilities (mid-circuit
            measurements, ``qml.state()``, samples, several measurements) is refused here.
        n_wires (int): its wires, labelled 0..n_wires-1.
        param_shape (tuple): the shape in which ``params`` reaches the circuit; ``.parameters``
            is the flat vector the estimators perturb.
        n_features (int): the length of x (default ``n_wires``).
        readout_wires, readout: for a circuit that returns nothing: the wires measured and
            ``readout(probs_rows) -> outputs`` (default ``parity_readout``).
        seed: the initial parameters, uniform in [0, 2 pi).

    **Example**

    .. code-block:: python

        @qml.qnode(qml.device("default.qubit", wires=3))
        def circuit(x, w):
            qml.AngleEmbedding(x, wires=range(3))
            qml.BasicEntanglerLayers(w, wires=range(3))
            return qml.expval(qml.PauliZ(0) @ qml.PauliZ(2))

        model = qnb.CircuitModel(circuit, n_wires=3, param_shape=(2, 3), seed=0)
    """

    spot_check = True  # re-verify the compiled form on one row of every build_circuits call

    def __init__(self, circuit, n_wires: int, param_shape, *, n_features: int | None = None,
                 readout_wires=(0,), readout=None, seed=None):
        if not callable(circuit):
            raise TypeError(f"circuit: expected a function circuit(x, params), got {type(circuit).__name__}")
        for name, v in (("n_wires", n_wires), ("n_features", n_wires if n_features is None else n_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
        self.param_shape = tuple(int(s) for s in np.atleast_1d(param_shape))
        if not self.param_shape or any(s < 1 for s in self.param_shape):
            raise ValueError(f"param_shape: must be a non-empty shape of positive sizes, got {param_shape!r}")
        n_feat = int(n_wires if n_features is None else n_features)
        found = measured(circuit, n_feat, self.param_shape)
        self.qnode_shots = None
        if found is not None:  # the circuit measures itself: qnb measures the same thing from probabilities
            if readout is not None or tuple(readout_wires) != (0,):
                raise ValueError("readout, readout_wires: the circuit returns its own measurement; leave them out")
            circuit, readout_wires, readout, self.qnode_shots = found, found.wires, found.readout, found.shots
            if found.eigvals is not None and np.max(np.abs(found.eigvals)) > 1 + 1e-9:
                warnings.warn(f"{getattr(found.circuit, '__name__', 'circuit')}: the observable's eigenvalues reach "
                              f"{np.max(np.abs(found.eigvals)):g}, beyond the labels' -1..1; the loss sees outputs "
                              "outside [-1, 1]", stacklevel=2)
        self.readout_wires = tuple(readout_wires)
        if not self.readout_wires or any(not isinstance(w, (int, np.integer)) or not 0 <= w < n_wires
                                         for w in self.readout_wires):
            raise ValueError(f"readout_wires: must be wires in 0..{n_wires - 1}, got {readout_wires!r}")
        self.circuit, self.n_wires = circuit, int(n_wires)
        self.n_features = int(n_wires if n_features is None else n_features)
        self.readout = readout or parity_readout
        self.parameters = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=self.n_params)
        self._measurement = qml.probs(wires=list(self.readout_wires))
        self._check_deterministic()
        self.compiled = compile_affine(circuit, self.n_features, self.param_shape, self.n_wires)
        self._warn_unused()

    def _check_deterministic(self) -> None:
        """The same (x, params) must give the same gates: a circuit that draws random numbers (or
        reads a changing global) is not a model; refused before any job."""
        z = np.random.default_rng(1).uniform(-1, 1, self.n_features + self.n_params)
        x, p = z[:self.n_features], z[self.n_features:].reshape(self.param_shape)
        try:
            a, b = record(self.circuit, x, p), record(self.circuit, x, p)
        except Exception:  # noqa: BLE001 - not recordable at this point (e.g. needs unit-norm x): checked per circuit
            return
        if _structure(a) != _structure(b) or any(not np.array_equal(np.asarray(u.data, dtype=object),
                                                                   np.asarray(v.data, dtype=object))
                                                  for u, v in zip(a, b)):
            raise ValueError(f"{getattr(self.circuit, '__name__', 'circuit')}: gives different gates for the same x and "
                             "params (it draws random numbers or reads a changing global); a model must be a function "
                             "of (x, params)")

    def _warn_unused(self) -> None:
        """A compiled circuit whose gates ignore x, or some of the parameters, trains but cannot
        learn what they would carry: say so (a warning, the run goes on)."""
        if self.compiled is None:
            return
        M = self.compiled.M
        name = getattr(self.circuit, "__name__", "circuit")
        if not np.any(M[:, :self.n_features]):
            warnings.warn(f"{name}: no gate depends on x; every sample gives the same output", stacklevel=3)
        unused = np.flatnonzero(~np.any(M[:, self.n_features:], axis=0))
        if len(unused):
            warnings.warn(f"{name}: {len(unused)} of {self.n_params} parameters reach no gate (flat indices "
                          f"{unused[:8].tolist()}{' ...' if len(unused) > 8 else ''}); SPSA perturbs them for nothing",
                          stacklevel=3)

    @classmethod
    def from_qnode(cls, qnode, param_shape, n_features: int | None = None, seed=None) -> "CircuitModel":
        """The model of a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or
        ``qml.probs(wires)``, on its device's wires (labelled 0..n-1)."""
        if not isinstance(qnode, qml.QNode):
            raise TypeError(f"qnode: expected a QNode, got {type(qnode).__name__}")
        wires = qnode.device.wires
        if wires is None or not len(wires):
            raise ValueError("qnode: its device has no wires; create it with wires=n")
        if list(wires) != list(range(len(wires))):
            raise ValueError(f"qnode: qnb needs the device's wires labelled 0..{len(wires) - 1} (as IonQ numbers its "
                             f"qubits); this device has {list(wires)}")
        return cls(qnode, len(wires), param_shape, n_features=n_features, seed=seed)

    def __repr__(self):
        name = getattr(getattr(self.circuit, "circuit", self.circuit), "__name__", "circuit")
        return (f"{type(self).__name__}({name}, n_wires={self.n_wires}, param_shape={self.param_shape}, "
                f"n_features={self.n_features}, {'affine' if self.compiled else 'recorded'})")

    @property
    def n_params(self) -> int:
        return int(np.prod(self.param_shape))

    def _params(self, params) -> np.ndarray:
        params = self.parameters if params is None else np.asarray(params, dtype=float)
        if params.shape != (self.n_params,):
            raise ValueError(f"params: expected shape ({self.n_params},), got {params.shape}")
        return params

    # -- circuits -----------------------------------------------------------------------------
    def build_circuit(self, x, params=None) -> QuantumScript:
        """The circuit for one sample; ``params`` defaults to the current parameters."""
        return self.build_circuits(np.asarray(x, dtype=float)[None, :], self._params(params)[None, :])[0]

    def build_circuits(self, X, P) -> "CircuitBatch | list[QuantumScript]":
        """One circuit per row pair: X (n, n_features) with P (n, n_params), or P (n_params,) for all
        (a ``CircuitBatch`` for a compiled circuit, else a list)."""
        X = np.asarray(X, dtype=float)
        P = np.broadcast_to(np.asarray(P, dtype=float), (len(X), self.n_params))
        if self.spot_check and self.compiled is not None and len(X) and not self.compiled.agrees(
                self.circuit, X[0], P[0], self.param_shape):  # a spot check per call: one recording
            self._decompile(X[0])
        if self.compiled is not None:
            return CircuitBatch(self.compiled, self.compiled.angles(X, P), self._measurement)
        return [QuantumScript(record(self.circuit, x, p.reshape(self.param_shape)), [self._measurement])
                for x, p in zip(X, P)]

    def verify(self, X, params=None, max_rows: int = 2000) -> bool:
        """Check the compiled form against the recorded circuit on real rows (the trainer does this
        for its data); on any difference, fall back to recording every circuit. True if compiled."""
        if self.compiled is not None:
            params = self._params(params)
            seen = self.compiled.verified_rows  # a row checked once (for any parameters) is not checked again:
            for x in np.asarray(X, dtype=float)[:max_rows]:  # parameter-side branches meet the per-call check
                if x.tobytes() in seen:
                    continue
                if not self.compiled.agrees(self.circuit, x, params, self.param_shape):
                    self._decompile(x)
                    break
                seen.add(x.tobytes())
        return self.compiled is not None

    def _decompile(self, x) -> None:
        warnings.warn(f"{self!r}: its gate angles are not affine at x={np.round(x, 3).tolist()} (a branch, clip or "
                      "wrap in the circuit); every circuit is now recorded (correct, slower)", stacklevel=3)
        self.compiled = None

    def angle_jacobian(self, x, params=None) -> tuple[QuantumScript, np.ndarray]:
        """The circuit at (x, params) and d(gate angles)/d(params), shape (n_angles, n_params).

        Exact: the affine map's block, or autodiff through the recording for other circuits.
        """
        params = self._params(params)
        tape = self.build_circuit(x, params)
        if self.compiled is not None:
            return tape, self.compiled.M[:, self.n_features:]
        from pennylane import numpy as pnp
        p = pnp.array(params, requires_grad=True)
        traced = record(self.circuit, x, p.reshape(self.param_shape))
        if _structure(traced) != _structure(tape.operations):
            # PennyLane may decompose a gate differently under autodiff: the Jacobian would belong
            # to another circuit, so refuse (before any job) rather than shift the wrong gates
            raise ValueError(f"parameter_shift: {self!r} decomposes differently under autodiff (e.g. a gate with "
                             "several controls); its gradient cannot be mapped to its gates: use an SPSA method")
        f = lambda q: qml.math.stack([d for op in record(self.circuit, x, q.reshape(self.param_shape)) for d in op.data])
        try:
            return tape, np.asarray(qml.jacobian(f)(p), dtype=float).reshape(tape.num_params, self.n_params)
        except Exception as e:  # noqa: BLE001 - autodiff through user code: say what to change
            raise ValueError(f"parameter_shift: cannot differentiate {self!r}'s gate angles with autograd "
                             f"({type(e).__name__}: {str(e)[:120]}); write the circuit with qml.math / "
                             "pennylane.numpy functions, or use an SPSA method") from None

    def fingerprint(self) -> str:
        """The model's repr and a hash of the circuit it builds at a fixed point: another circuit
        with the same name and shape is told apart (a checkpoint records it)."""
        import hashlib
        rng = np.random.default_rng(0)
        tape = self.build_circuit(rng.uniform(-1, 1, self.n_features), rng.uniform(0, 1, self.n_params))
        text = repr([(op.name, tuple(op.wires), np.round(np.asarray(op.data, float), 9).tolist())
                     for op in tape.operations])
        return f"{self!r} #{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    # -- outputs ------------------------------------------------------------------------------
    def outputs_from(self, results) -> np.ndarray:
        """Model outputs from backend results (rows of read-out probabilities), vectorised."""
        return np.asarray(self.readout(np.asarray(results, dtype=float)), dtype=float)

    def process_result(self, result) -> float:
        """The model output of one circuit's result."""
        return float(self.outputs_from(np.asarray(result, dtype=float)[None, :])[0])

    def update_parameters(self, new) -> None:
        new = np.asarray(new, dtype=float)
        if new.shape != (self.n_params,) or not np.all(np.isfinite(new)):
            raise ValueError(f"parameters: expected {self.n_params} finite values, got shape {new.shape}")
        self.parameters = new.copy()

    def outputs(self, X, backend, params=None, shots=None) -> np.ndarray:
        """Model outputs for every row of X in one backend call (exact when shots is None)."""
        check_data(X, n_features=self.n_features)
        X, params = np.asarray(X, dtype=float), self._params(params)
        probs, run_compiled = None, getattr(backend, "run_compiled", None)
        if run_compiled is not None and self.compiled is not None and shots is None:
            # a simulator that runs the compiled gate sequence from angles: no circuit objects built
            P = np.broadcast_to(params, (len(X), self.n_params))
            probs = run_compiled(self.compiled, self.compiled.angles(X, P), self.n_wires, self.readout_wires)
        if probs is None:
            probs = backend.execute(self.build_circuits(X, params), shots)
        return self.outputs_from(probs)

    def predict(self, X, backend, params=None, shots=None) -> np.ndarray:
        """Labels in {-1, +1}: the sign of the output (0 counts as +1)."""
        return np.where(self.outputs(X, backend, params, shots) >= 0, 1, -1)

    def draw(self, x=None, **kwargs):
        """The user's circuit drawn with ``qml.draw_mpl`` (templates shown as boxes); (fig, ax)."""
        x = np.zeros(self.n_features) if x is None else np.asarray(x, dtype=float)

        def drawn():
            self.circuit(x, self.parameters.reshape(self.param_shape))
            return qml.probs(wires=list(self.readout_wires))

        return qml.draw_mpl(qml.QNode(drawn, qml.device("default.qubit", wires=self.n_wires)), **kwargs)()


def accuracy(model, X, Y, backend, loss_function=None) -> tuple[float, float]:
    """(accuracy, mean loss) of the model on X, Y with exact outputs."""
    loss_function = loss_function or square_loss
    out = model.outputs(X, backend)
    return float(np.mean(np.where(out >= 0, 1, -1) == Y)), float(np.mean(loss_function(out, Y)))
