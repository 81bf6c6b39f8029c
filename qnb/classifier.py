"""``QuantumClassifier``: fit / predict / score for people who just want to train, in
scikit-learn's estimator conventions (``get_params``/``set_params``, fitted attributes ending in
``_``), so that ``sklearn.model_selection.cross_val_score`` works on it."""
from __future__ import annotations

import inspect

import numpy as np

from .backends import LocalBackend
from .circuits import CircuitModel
from .config import TrainingConfig
from .data import check_data
from .latency import LatencyModel
from .losses import square_loss
from .model import QuantumModel
from .trainer import QuantumTrainer

try:  # scikit-learn's tags (cross_val_score asks for them) when it is installed; qnb does not need it
    from sklearn.base import BaseEstimator, ClassifierMixin
    _BASES = (ClassifierMixin, BaseEstimator)
except ImportError:  # pragma: no cover - the test extra installs scikit-learn
    _BASES = ()


class QuantumClassifier(*_BASES):
    r"""A variational quantum classifier trained by batch SPSA, every step ONE job.

    The model output :math:`f(x, \theta) \in [-1, 1]` is the circuit's measurement (``expval``, or
    the parity of ``probs``); the label is its sign, mapped back to the two classes of ``y``.
    Training minimises the mean ``loss`` over batches with ``BatchSPSAOptimizer``'s estimator.

    Args:
        circuit: a QNode ``qnode(x, params)`` returning ``qml.expval(obs)`` or ``qml.probs(wires)``,
            a plain ``circuit(x, params)`` of PennyLane operations, or None for the design
            document's classifier (one qubit per feature, 4 strongly entangling layers).
        param_shape (tuple): the shape of ``params`` (needed for a circuit or QNode).
        n_wires (int): the circuit's wires (default: the QNode's device wires, else the features).
        method (str): the gradient strategy (``qnb.METHODS``); default the subsampled one-job SPSA.
        subsample (int): k samples per step for ``spsa_subsampled``.
        num_directions (int): SPSA directions per step, in the same job.
        batch_size, epochs (int): every sample once per epoch, in batches of ``batch_size``.
        shots (int or None): shots per circuit (None: exact).
        price (str or None): a ``qnb.PRICES`` sheet: dollars in ``history_`` and ``fit(budget_usd=)``.
        a, c, A, alpha, gamma (float): Spall's gains (``qnb.Gains``).
        optimizer (str): ``"sgd"``, ``"momentum"`` or ``"adam"``.
        blocking (bool), regularization (float or None): see ``BatchSPSAOptimizer``.
        loss (callable): vectorised ``loss(outputs, y)`` with y in {-1, +1}.
        backend: where the circuits run (default: the local simulator; ``qnb.IonQBackend`` for IonQ).
        seed (int): initial parameters, data order, directions and shot noise.

    **Example**

    .. code-block:: python

        clf = qnb.QuantumClassifier(qnode, param_shape=(2, 3), epochs=3, seed=0).fit(X, y)
        clf.score(X_test, y_test), clf.history_["steps"][-1]["jobs"]
    """

    def __init__(self, circuit=None, *, param_shape=None, n_wires=None, method="spsa_subsampled", subsample=5,
                 num_directions=1, batch_size=10, epochs=5, shots=1000, a=0.3, c=0.2, A=5.0, alpha=0.602,
                 gamma=0.101, optimizer="sgd", blocking=False, regularization=None, loss=square_loss, backend=None,
                 seed=0, price=None):
        # scikit-learn's convention: store the arguments as given; fit() checks them
        self.circuit, self.param_shape, self.n_wires, self.method = circuit, param_shape, n_wires, method
        self.subsample, self.num_directions, self.batch_size, self.epochs = subsample, num_directions, batch_size, epochs
        self.shots, self.a, self.c, self.A, self.alpha, self.gamma = shots, a, c, A, alpha, gamma
        self.optimizer, self.blocking, self.regularization = optimizer, blocking, regularization
        self.loss, self.backend, self.seed, self.price = loss, backend, seed, price

    # -- scikit-learn's estimator protocol -----------------------------------------------------
    @classmethod
    def _param_names(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "QuantumClassifier":
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"{name}: not a parameter of QuantumClassifier; allowed: {', '.join(self._param_names())}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = {k: v for k, v in self.get_params().items()
                   if v is not inspect.signature(type(self).__init__).parameters[k].default}
        return f"QuantumClassifier({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- training --------------------------------------------------------------------------
    def _model(self, n_features: int):
        seed = np.random.SeedSequence(self.seed).spawn(4)[0]  # as the trainer spawns its model's seed
        if self.circuit is None:
            if self.param_shape is not None:
                raise ValueError("param_shape: the default circuit has its own; give it with circuit=")
            return QuantumModel(n_qubits=max(2, self.n_wires or n_features), n_features=n_features, seed=seed)
        if self.param_shape is None:
            raise ValueError("param_shape: give the shape of the circuit's params, e.g. param_shape=(2, 3)")
        wires = self.n_wires or (len(self.circuit.device.wires) if getattr(self.circuit, "device", None) is not None
                                 and self.circuit.device.wires is not None else n_features)
        return CircuitModel(self.circuit, wires, self.param_shape, n_features=n_features, seed=seed)

    def _config(self, n_samples: int) -> TrainingConfig:
        batch = min(self.batch_size, n_samples)
        return TrainingConfig(
            gradient_method=self.method, gradient_subsample_size=min(self.subsample, batch), batch_size=batch,
            epochs=self.epochs, shots_per_circuit=self.shots, num_directions=self.num_directions, spsa_a=self.a,
            spsa_c=self.c, spsa_A=self.A, spsa_alpha=self.alpha, spsa_gamma=self.gamma, optimizer=self.optimizer,
            blocking=self.blocking, regularization=self.regularization, seed=self.seed, dataset="user", price=self.price)

    def _trainer(self, X, y):
        """(classes, a trainer on (X, y) with labels mapped to -1 / +1), every input checked."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"X: expected a 2-D array (n_samples, n_features), got shape {X.shape}")
        y = np.asarray(y)
        try:
            classes = np.unique(y)
        except TypeError:
            raise ValueError("y: labels must be of one comparable kind (numbers, strings or booleans), with no None") \
                from None
        if len(classes) != 2:
            raise ValueError(f"y: QuantumClassifier separates two classes; got {len(classes)} "
                             f"({classes[:5].tolist()}{' ...' if len(classes) > 5 else ''})")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y: labels must not be NaN or infinite")
        signs = np.where(y == classes[1], 1, -1)
        check_data(X, signs, n_features=X.shape[1])
        trainer = QuantumTrainer(self._config(len(X)), model=self._model(X.shape[1]), dataset=(X, signs, X, signs),
                                 backend=self.backend, loss=self.loss)
        return classes, trainer

    def estimate(self, X, y, price=None) -> dict:
        """What ``fit(X, y)`` would send and spend, without sending anything (``QuantumTrainer.estimate``)."""
        return self._trainer(X, y)[1].estimate(price)

    def fit(self, X, y, *, checkpoint=None, budget_s=None, budget_usd=None, progress: bool = False) -> "QuantumClassifier":
        """Train on (X, y): any two label values. ``checkpoint`` (a file path) resumes an
        interrupted fit exactly; ``budget_s`` / ``budget_usd`` stop before a step that would pass
        that many modeled cloud seconds / dollars; ``progress`` shows a progress bar. Returns self."""
        classes, trainer = self._trainer(X, y)
        model = trainer.model
        trainer.fit(checkpoint=checkpoint, progress=progress, budget_s=budget_s, budget_usd=budget_usd)
        self.classes_, self.n_features_in_ = classes, trainer.dataset[0].shape[1]
        self.model_, self.trainer_, self.history_ = model, trainer, trainer.history
        self.params_ = model.parameters.reshape(model.param_shape).copy()
        self.n_jobs_ = trainer.manager.stats.jobs
        self.n_circuits_ = trainer.manager.stats.circuits
        return self

    # -- using it ---------------------------------------------------------------------------
    def _fitted(self):
        if not hasattr(self, "model_"):
            raise AttributeError("QuantumClassifier: not fitted yet; call fit(X, y) first")

    def decision_function(self, X) -> np.ndarray:
        """The model outputs f(x) in [-1, 1], exact (no shot noise, no cloud job)."""
        self._fitted()
        return self.model_.outputs(np.asarray(X, dtype=float), LocalBackend(latency=LatencyModel.zero()))

    def predict(self, X) -> np.ndarray:
        """The class of each row of X: ``classes_[1]`` where f(x) >= 0, else ``classes_[0]``."""
        return np.where(self.decision_function(X) >= 0, self.classes_[1], self.classes_[0])

    def score(self, X, y) -> float:
        """Mean accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
