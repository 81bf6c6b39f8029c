"""``QuantumClassifier``: fit / predict / score in scikit-learn's estimator conventions (it passes
``sklearn.utils.estimator_checks``), trained by batch SPSA with every step ONE job on the device
the user's QNode names."""
from __future__ import annotations

import importlib
import pickle
import warnings

import numpy as np
import pennylane as qml
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .backends import Backend, LocalBackend
from .batching import CircuitBatchManager
from .circuits import CircuitModel
from .config import TrainingConfig, make_backend, sheet_choice
from .devices import (BACKEND_NAMES, STATE_VECTOR_DEVICES, DeviceBackend, agrees, describe_backend, device_name,
                      has_channels, local_copy)
from .heads import OneVsRestHeads
from .latency import LatencyModel
from .losses import square_loss
from .model import default_model
from .trainer import QuantumTrainer

QNB_DEFAULT_SHOTS = 1000  # shots="auto" for a circuit that names no device of its own
PREDICT_ON = ("exact", "device")


class FeatureScaleWarning(UserWarning):
    """Features spread over more rotation angle than the embedding can tell apart."""


class QuantumClassifier(ClassifierMixin, BaseEstimator):
    r"""A variational quantum classifier trained by batch SPSA, every step ONE job on the QNode's device.

    **Model.** The output :math:`f(x, \theta)` is the circuit's measurement: ``qml.expval(O)``
    (:math:`\sum_i \lambda_i p_i` over O's eigenvalues) or the parity :math:`\langle Z\cdots Z\rangle`
    of ``qml.probs(wires)``. Two classes: the label is the sign of f, mapped to ``classes_[1]`` (f >= 0)
    or ``classes_[0]``. K > 2 classes: K one-vs-rest heads :math:`f_k = f(x, \theta_k)` of the same
    circuit trained together, every step's circuits of all heads in the same job (``qnb.heads``), and
    the class is :math:`\arg\max_k f_k(x)`. Training minimises the mean ``loss`` over batches with
    ``BatchSPSAOptimizer``'s estimator.

    **Where the circuits run** (``history_["execution"]`` records it). A QNode's device decides:
    on ``default.qubit`` and ``lightning.qubit`` qnb's numpy simulator computes the same
    probabilities (exact), or draws shots as those devices do (a multinomial draw of each circuit's
    exact read-out probabilities, from ``random_state``); every other device (``default.mixed`` and
    noise channels, ``ionq.*`` through pennylane-ionq, ``braket.*``) runs each step's circuits itself,
    as ONE ``qml.execute`` batch. ``backend=`` overrides this for a circuit without a device (None or
    a plain function); for a QNode it must agree with the QNode's device, else ValueError naming which
    to change. ``n_jobs_`` / ``n_circuits_`` count what was sent.

    **Shots.** ``shots=None``: exact values; an integer: that many per circuit; ``"auto"`` (default):
    the QNode's own shots (PennyLane's ``shots=``), else the ``price`` sheet's choice
    (``qnb.PRICES[price].choice``), else exact for an analytic QNode and qnb's default of 1000 for a
    circuit with no QNode. ``history_["execution"]["shots_from"]`` says which.

    **Predictions.** ``predict_on="exact"`` (default): ``decision_function``, ``predict_proba``,
    ``predict`` and ``score`` compute the circuit's expectation values exactly and locally, with no
    shot noise and no job (a circuit with noise channels on a local copy of its simulator, noise
    included). ``predict_on="device"``: each call is ONE job on the fit's device or backend, at the
    fit's shots (hardware predictions, with their shot noise and cost).

    **Probabilities.** ``predict_proba`` is :math:`(1 + f)/2` per head: for an observable with
    eigenvalues +-1 (a Pauli word) the probability of measuring +1; for ``qml.probs(wires)`` the
    probability of even parity of the read-out bits; for other observables a score clipped to
    [0, 1]. Two classes: :math:`[(1-f)/2, (1+f)/2]`; K classes: the heads' values normalised to sum 1.

    Args:
        circuit: a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or ``qml.probs(wires)``,
            a plain ``circuit(x, params)`` of PennyLane operations, or None for qnb's classifier: one
            qubit per feature up to 4 (angle embedding, 4 strongly entangling layers); more features
            are re-uploaded 4 at a time on 4 wires (``qnb.model.default_model``).
        param_shape (tuple): the shape of ``params`` (needed for a circuit or QNode).
        n_wires (int): wires of a plain circuit or of qnb's (default: the features, at most 4).
        method (str): the gradient strategy (``qnb.METHODS``); default the subsampled one-job SPSA.
        subsample (int or "auto"): k samples per step for ``spsa_subsampled`` (K classes: k K rows);
            "auto": the ``price`` sheet's choice, else 5.
        num_directions (int or "auto"): SPSA directions per step, in the same job; "auto": the
            ``price`` sheet's choice, else 1.
        batch_size, epochs (int): every sample once per epoch, in batches of ``batch_size``.
        shots (int, None or "auto"): see above.
        price (str or None): a ``qnb.PRICES`` sheet: dollars in ``history_`` and ``fit(budget_usd=)``.
        a, c, A, alpha, gamma (float): Spall's gains (``qnb.Gains``); ``a="auto"``, ``c="auto"``: the
            ``price`` sheet's choice, else 0.3 and 0.2.
        optimizer (str): ``"sgd"``, ``"momentum"`` or ``"adam"``; ``"auto"``: the ``price`` sheet's
            choice, else ``"sgd"``.
        blocking (bool), regularization (float or None): see ``BatchSPSAOptimizer``.
        loss (callable): vectorised ``loss(outputs, y)`` with y in {-1, +1}.
        backend: None, ``"local"``, ``"ionq"`` (``qnb.make_backend``) or a ``qnb.Backend``.
        random_state (int, None, RandomState or Generator): initial parameters, data order,
            directions, shot noise (None: fresh entropy on every fit).
        predict_on (str): ``"exact"`` or ``"device"``, see above.
        seed: deprecated alias of ``random_state``.

    **Example**

    .. code-block:: python

        clf = qnb.QuantumClassifier(qnode, param_shape=(2, 3), epochs=3, random_state=0).fit(X, y)
        clf.score(X_test, y_test), clf.n_jobs_, clf.history_["execution"]
    """

    def __init__(self, circuit=None, *, param_shape=None, n_wires=None, method="spsa_subsampled", subsample="auto",
                 num_directions="auto", batch_size=10, epochs=5, shots="auto", a="auto", c="auto", A=5.0, alpha=0.602,
                 gamma=0.101, optimizer="auto", blocking=False, regularization=None, loss=square_loss, backend=None,
                 random_state=None, price=None, predict_on="exact", seed="deprecated"):
        # scikit-learn's convention: store the arguments as given; fit() checks them
        self.circuit, self.param_shape, self.n_wires, self.method = circuit, param_shape, n_wires, method
        self.subsample, self.num_directions, self.batch_size, self.epochs = subsample, num_directions, batch_size, epochs
        self.shots, self.a, self.c, self.A, self.alpha, self.gamma = shots, a, c, A, alpha, gamma
        self.optimizer, self.blocking, self.regularization = optimizer, blocking, regularization
        self.loss, self.backend, self.random_state, self.price = loss, backend, random_state, price
        self.predict_on, self.seed = predict_on, seed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # few epochs of a stochastic optimiser on a small circuit: scikit-learn's accuracy bar (0.83
        # on its blobs) is not a promise this classifier makes at any setting
        tags.classifier_tags.poor_score = True
        return tags

    def __repr__(self, N_CHAR_MAX=700):
        """scikit-learn's repr, a QNode shown by name and device (not by its memory address)."""
        circuit = self.circuit
        if not isinstance(circuit, qml.QNode):
            return super().__repr__(N_CHAR_MAX)
        self.circuit = _Shown(f"<QNode {_name(circuit)} on {device_name(circuit.device)}>")
        try:
            return super().__repr__(N_CHAR_MAX)
        finally:
            self.circuit = circuit

    # -- what fit uses ------------------------------------------------------------------------
    def _seed(self) -> int:
        """The run's integer seed from ``random_state`` (or the deprecated ``seed``)."""
        rs = self.random_state
        if not (isinstance(self.seed, str) and self.seed == "deprecated"):
            warnings.warn("seed: renamed random_state (scikit-learn's name); seed= will be removed", FutureWarning,
                          stacklevel=3)
            if rs is None:
                rs = self.seed
        if rs is None:
            return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(0, 2**31 - 1))
        if isinstance(rs, bool) or not isinstance(rs, (int, np.integer)) or rs < 0:
            raise ValueError(f"random_state: expected None, an integer >= 0, a RandomState or a Generator, got {rs!r}")
        return int(rs)

    def _qnode(self):
        return self.circuit if isinstance(self.circuit, qml.QNode) else None

    def _base_model(self, n_features: int, seed):
        """The model of one head: qnb's circuit, the user's QNode or function."""
        if self.circuit is None:
            if self.param_shape is not None:
                raise ValueError("param_shape: qnb's circuit has its own; give a shape only with circuit=")
            return default_model(n_features, seed, self.n_wires)
        if self.param_shape is None:
            raise ValueError("param_shape: give the shape of the circuit's params, e.g. param_shape=(2, 3); "
                             "qml.StronglyEntanglingLayers.shape(n_layers, n_wires) gives a template's")
        qnode = self._qnode()
        if qnode is None:
            return CircuitModel(self.circuit, self.n_wires or n_features, self.param_shape, n_features=n_features,
                                seed=seed)
        wires = qnode.device.wires
        if wires is None or not len(wires):
            raise ValueError(f"circuit: the device of {_name(qnode)} has no wires; create it with wires=n")
        if list(wires) != list(range(len(wires))):
            raise ValueError(f"circuit: {_name(qnode)}'s device has wires {list(wires)}; qnb numbers wires 0..n-1 "
                             f"(as IonQ numbers its qubits): create it with wires={len(wires)} and use wires "
                             f"0..{len(wires) - 1} in the circuit in place of {list(wires)}")
        return CircuitModel(qnode, len(wires), self.param_shape, n_features=n_features, seed=seed)

    def _channels(self, model) -> bool:
        base = getattr(model, "base", model)
        if base.compiled is not None:
            return has_channels(base.compiled.template)
        try:  # a recorded circuit: its gates at one point (channels do not depend on x)
            return has_channels(base.build_circuit(np.full(base.n_features, 0.5)).operations)
        except Exception:  # noqa: BLE001 - user code that needs other x (e.g. unit norm): its device decides
            return False

    def _where(self, model) -> tuple:
        """(backend for the trainer or None, config backend name, evaluator, what to record)."""
        qnode, backend, channels = self._qnode(), self.backend, self._channels(model)
        if backend is not None and not isinstance(backend, (str, Backend)):
            raise TypeError(f"backend: expected None, {' or '.join(map(repr, BACKEND_NAMES))} or a qnb.Backend, "
                            f"got {type(backend).__name__}")
        if isinstance(backend, str) and backend not in BACKEND_NAMES:
            raise ValueError(f"backend: unknown backend {backend!r}; allowed: {', '.join(map(repr, BACKEND_NAMES))} "
                             "or a qnb.Backend object")
        exact = LocalBackend(latency=LatencyModel.zero())
        if qnode is None:
            if channels:
                raise ValueError("circuit: noise channels need a mixed-state device: write the circuit as a QNode on "
                                 "one (e.g. qml.device('default.mixed', wires=n))")
            runs = "qnb's numpy simulator" if backend is None else describe_backend(backend)
            return (None if isinstance(backend, str) else backend), (backend if isinstance(backend, str) else "local"), \
                exact, {"device": None, "runs_on": runs}
        dev, name = qnode.device, device_name(qnode.device)
        evaluator = exact
        if channels:  # exact predictions need a simulator of mixed states: a local copy of the QNode's
            if local_copy(dev) is None:
                raise ValueError(f"circuit: noise channels on {name}: qnb predicts exactly only on a local simulator "
                                 "of mixed states (e.g. default.mixed)")
            evaluator = DeviceBackend(local_copy(dev), latency=LatencyModel.zero())
        if backend is not None:
            if not agrees(backend, dev) or (channels and not isinstance(backend, DeviceBackend)):
                raise ValueError(f"backend: {describe_backend(backend)} does not run where the QNode {_name(qnode)} "
                                 f"says ({name}); change one: drop backend= to run on the QNode's device, or build the "
                                 f"QNode on a device that backend runs")
            return (None if isinstance(backend, str) else backend), (backend if isinstance(backend, str) else "local"), \
                evaluator, {"device": name, "runs_on": describe_backend(backend)}
        if name in STATE_VECTOR_DEVICES and not channels:
            return None, "local", exact, {"device": name, "runs_on": f"qnb's numpy simulator (the same probabilities "
                                                                      f"as {name}; shots drawn from random_state)"}
        return DeviceBackend(dev), "local", evaluator, {"device": name, "runs_on": f"the QNode's device ({name}), one "
                                                                                   "qml.execute per step"}

    def _choice(self) -> dict:
        """The price sheet's choice of shots, subsample and directions ({} without a sheet)."""
        return sheet_choice(self.price, self.method)

    def _auto(self, name: str, field: str, default):
        """A setting left at "auto": the price sheet's choice, else qnb's default; a given value stands."""
        value = getattr(self, name)
        if isinstance(value, str) and value == "auto":
            return self._choice().get(field, default)
        return value

    def _shots(self, model) -> tuple:
        if isinstance(self.shots, str) and self.shots == "auto":
            own = model.qnode_shots if self._qnode() is not None else None
            if own is not None:
                return own, "the QNode"
            if "shots_per_circuit" in self._choice():
                return self._choice()["shots_per_circuit"], f"the {self.price} sheet's choice"
            if self._qnode() is not None:
                return None, "the QNode"  # analytic: exact
            return QNB_DEFAULT_SHOTS, "qnb's default"
        if self.shots is not None and (isinstance(self.shots, bool) or not isinstance(self.shots, (int, np.integer))
                                       or self.shots < 1):
            raise ValueError(f"shots: expected 'auto', None (exact) or an integer >= 1, got {self.shots!r}")
        return self.shots, "shots="

    def _check_features(self, model, X) -> None:
        """Warn when a feature spans more than two turns of the angle it sets (2 pi apart: one state)."""
        base = getattr(model, "base", model)
        if base.compiled is None or not len(X):
            return
        coef = np.abs(base.compiled.M[:, :X.shape[1]]).max(axis=0)
        span = (X.max(axis=0) - X.min(axis=0)) * coef
        bad = np.flatnonzero(span > 4 * np.pi)
        if len(bad):
            j = int(bad[np.argmax(span[bad])])
            warnings.warn(
                f"X: {len(bad)} feature(s) spread over more than two turns of the rotation angle they set (feature {j}: "
                f"{X[:, j].min():.4g} .. {X[:, j].max():.4g}, {coef[j]:g} x feature radians); an embedding tells angles "
                f"apart within one turn (2 pi; values 2 pi apart give the same state): scale the features into a range "
                f"of at most 2 pi, e.g. sklearn.preprocessing.MinMaxScaler((0, np.pi))", FeatureScaleWarning,
                stacklevel=3)

    def _prepare(self, X, y, sample_weight=None):
        """Every input checked (scikit-learn's rules) before any job: (classes, trainer, what it records)."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        if y.dtype == object and any(v is None for v in y):
            raise ValueError("y: labels must be of one comparable kind (numbers, strings or booleans), with no None")
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y: a classifier needs samples of at least 2 classes; got 1 class ({classes[0]!r})")
        seed = self._seed()
        s_model, s_weights = np.random.SeedSequence(seed).spawn(4)[0], np.random.default_rng([seed, 26])
        if sample_weight is not None:
            w = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
            keep = w > 0
            if not keep.any():
                raise ValueError("sample_weight: every weight is 0; nothing to train on")
            X, y_index, w = X[keep], y_index[keep], w[keep]
            if not np.allclose(w, w[0], rtol=1e-12, atol=0):  # the weighted loss, drawn: rows with probability ~ w
                idx = s_weights.choice(len(X), size=len(X), p=w / w.sum())
                X, y_index = X[idx], y_index[idx]
        base = self._base_model(X.shape[1], s_model)
        if len(classes) == 2:
            model, rows, signs = base, X, np.where(y_index == 1, 1, -1)
        else:
            model = OneVsRestHeads(base, len(classes), seed=s_model)
            rows = model.expand(X)
            signs = np.where(np.tile(np.arange(len(classes)), len(X)) == np.repeat(y_index, len(classes)), 1, -1)
        self._check_features(base, X)
        backend, backend_name, evaluator, info = self._where(model)
        shots, shots_from = self._shots(model)
        if self.predict_on not in PREDICT_ON:
            raise ValueError(f"predict_on: expected one of {', '.join(map(repr, PREDICT_ON))}, got {self.predict_on!r}")
        k = len(classes) if len(classes) > 2 else 1  # rows per sample: K heads share every step's job
        batch = min(self.batch_size * k, len(rows)) if _positive_int(self.batch_size) else self.batch_size
        subsample = self._auto("subsample", "gradient_subsample_size", 5)
        directions = self._auto("num_directions", "num_directions", 1)
        sub = min(subsample * k, batch) if _positive_int(subsample) and _positive_int(batch) else subsample
        # one job per step: room for every circuit of a step (2 m k, blocking's 2k, QN-SPSA's 4)
        per_step = 2 * directions * sub + 2 * sub + 4 if _positive_int(directions) and _positive_int(sub) else 0
        config = TrainingConfig(
            max_parallel_circuits=max(100, per_step), gradient_method=self.method, gradient_subsample_size=sub, batch_size=batch, epochs=self.epochs,
            shots_per_circuit=shots, num_directions=directions, spsa_a=self._auto("a", "spsa_a", 0.3), spsa_c=self._auto("c", "spsa_c", 0.2), spsa_A=self.A,
            spsa_alpha=self.alpha, spsa_gamma=self.gamma, optimizer=self._auto("optimizer", "optimizer", "sgd"), blocking=self.blocking,
            regularization=self.regularization, seed=seed, dataset="user", price=self.price, backend=backend_name)
        trainer = QuantumTrainer(config, model=model, dataset=(rows, signs, rows, signs), backend=backend,
                                 loss=self.loss, evaluator=evaluator)
        info = {**info, "shots": shots, "shots_from": shots_from, "predict_on": self.predict_on,
                "heads": len(classes) if len(classes) > 2 else 1, "random_state": seed}
        return classes, trainer, info

    def estimate(self, X, y, price=None) -> dict:
        """What ``fit(X, y)`` would send and spend, without sending anything (``QuantumTrainer.estimate``)."""
        return self._prepare(X, y)[1].estimate(price)

    def fit(self, X, y, sample_weight=None, *, checkpoint=None, budget_s=None, budget_usd=None,
            progress: bool = False) -> "QuantumClassifier":
        """Train on (X, y): any labels, two classes or more. ``sample_weight``: the objective is the
        weighted mean loss :math:`\\sum_i w_i \\ell_i / \\sum_i w_i`; rows of weight 0 are dropped,
        equal weights change nothing, and unequal weights are honoured by drawing the training rows
        (as many as there are) with probability :math:`w_i / \\sum w` from ``random_state``: every
        step's loss is then an unbiased estimate of the weighted loss. ``checkpoint`` (a file path)
        resumes an interrupted fit exactly; ``budget_s`` / ``budget_usd`` stop before a step that
        would pass that many modeled cloud seconds / dollars; ``progress`` shows a progress bar."""
        classes, trainer, info = self._prepare(X, y, sample_weight)
        trainer.fit(checkpoint=checkpoint, progress=progress, budget_s=budget_s, budget_usd=budget_usd)
        model = trainer.model
        self.classes_, self.model_, self.trainer_ = classes, model, trainer
        self.history_ = {**trainer.history, "execution": info}
        self.params_ = model.parameters.reshape(model.param_shape).copy()
        self.n_jobs_ = trainer.manager.stats.jobs
        self.n_circuits_ = trainer.manager.stats.circuits
        return self

    # -- using it ---------------------------------------------------------------------------
    def _predictor(self):
        """(backend, shots) where predictions run: the exact local evaluator, or the fit's device."""
        backend, name, evaluator, _ = self._where(self.model_)
        if self.predict_on != "device":
            return evaluator, None
        if getattr(self, "trainer_", None) is not None:
            backend = self.trainer_.backend
        elif backend is None:
            backend = make_backend(TrainingConfig(backend=name), seed=self.history_["execution"]["random_state"])
        return backend, self.history_["execution"]["shots"]

    def decision_function(self, X) -> np.ndarray:
        """f(x) per sample (two classes), or f_k(x) per sample and class (K classes: shape (n, K));
        exact and local unless ``predict_on="device"``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        model = self.model_
        rows = model.expand(X) if isinstance(model, OneVsRestHeads) else X
        backend, shots = self._predictor()
        if shots is None and self.predict_on == "exact":
            out = model.outputs(rows, backend)
        else:
            out = model.outputs_from(CircuitBatchManager(backend).execute_batch(
                model.build_circuits(rows, model.parameters), shots))
        return out.reshape(len(X), -1) if isinstance(model, OneVsRestHeads) else out

    def predict_proba(self, X) -> np.ndarray:
        """(1 + f)/2 per head (see the class docstring), as (n, n_classes) rows summing to 1."""
        f = self.decision_function(X)
        if f.ndim == 1:
            p = np.clip((1 + f) / 2, 0, 1)
            return np.column_stack([1 - p, p])
        q = np.clip((1 + f) / 2, 0, 1)
        total = q.sum(axis=1, keepdims=True)
        return np.where(total > 0, q / np.where(total > 0, total, 1), 1 / q.shape[1])

    def predict(self, X) -> np.ndarray:
        """The class of each row: ``classes_[1]`` where f(x) >= 0 else ``classes_[0]``; K classes: argmax_k f_k."""
        f = self.decision_function(X)
        if f.ndim == 1:
            return self.classes_[(f >= 0).astype(int)]
        return self.classes_[np.argmax(f, axis=1)]

    # -- persistence: pickle / joblib ---------------------------------------------------------
    def __getstate__(self):
        """The parameters and fitted numbers; a QNode by its module and name (pickle would store its
        decorated function by reference and find the QNode there instead); the model and trainer are
        rebuilt on load."""
        state = super().__getstate__().copy()
        state["circuit"] = _by_reference(self.circuit)
        for key in ("model_", "trainer_"):
            state.pop(key, None)
        if hasattr(self, "model_"):
            state["_fitted_model"] = (self.n_features_in_, len(self.classes_), self.model_.parameters.copy())
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["circuit"] = _from_reference(state["circuit"])
        fitted = state.pop("_fitted_model", None)
        super().__setstate__(state)
        if fitted is not None:
            n_features, k, parameters = fitted
            base = self._base_model(n_features, None)
            self.model_ = base if k == 2 else OneVsRestHeads(base, k)
            self.model_.update_parameters(parameters)
            self.trainer_ = None


def _name(qnode) -> str:
    return getattr(getattr(qnode, "func", None), "__name__", None) or getattr(qnode, "__name__", "qnode")


def _positive_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1


class _Shown(str):
    def __repr__(self):
        return str(self)


class _QNodeReference(tuple):
    """(module, qualified name) of a module-level QNode, for pickling."""


def _by_reference(circuit):
    if not isinstance(circuit, qml.QNode):
        return circuit
    func = getattr(circuit, "func", None)
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    found = importlib.import_module(module) if module else None
    for part in qualname.split(".") if found is not None else ():
        found = getattr(found, part, None)
    if found is not circuit and not (isinstance(found, qml.QNode) and found.func is func):  # clone() deep-copies
        # a QNode; the copy wraps the same function, and is stored as the module's QNode
        raise pickle.PicklingError(f"circuit: the QNode {_name(circuit)} is not reachable as {module}.{qualname}; define "
                                   "it at module level (a def decorated with @qml.qnode) to save the classifier")
    return _QNodeReference((module, qualname))


def _from_reference(value):
    if not isinstance(value, _QNodeReference):
        return value
    found = importlib.import_module(value[0])
    for part in value[1].split("."):
        found = getattr(found, part)
    return found
