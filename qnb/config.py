"""``TrainingConfig`` (the design document's field names, validated) and ``PRESETS``."""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from .backends import LocalBackend
from .data import DATASETS, dataset_sizes
from .estimators import METHODS, make_plan
from .optimizer import RULES, BatchSPSAOptimizer, Gains
from . import validation as check
from .noise import IONQ_NOISE_MODELS, noise_model
from .prices import PRICES, PriceSheet, price_sheet

CHOICE_METHOD = "spsa_subsampled"  # the estimator a price sheet's choice was selected for


def sheet_choice(price, method: str) -> dict:
    """The settings the ``price`` sheet chose (``PriceSheet.choice``) that apply to ``method``: all of
    them for the estimator they were selected for, only the shots for another; {} without a sheet
    (a name that is not a ``PriceSheet`` in ``PRICES`` is refused by ``TrainingConfig``)."""
    sheet = PRICES.get(price) if isinstance(price, str) else None
    if not isinstance(sheet, PriceSheet):
        return {}
    choice = dict(sheet.choice)
    return choice if method == CHOICE_METHOD else {k: v for k, v in choice.items() if k == "shots_per_circuit"}

AUTO = "auto"  # a field the user did not set: the price sheet's choice, else the document's value
WITHOUT_A_SHEET = {"gradient_subsample_size": 5, "shots_per_circuit": 1000, "num_directions": 1, "optimizer": "sgd",
                   "spsa_a": 0.3, "spsa_c": 0.2}  # the document's values, and Spall's plain step
BACKENDS = {"local": ("default.qubit", "lightning.qubit"), "ionq": ("ionq.simulator", "ionq.qpu")}
USER_DATA = "user"  # config.dataset when the trainer was given arrays
RENAMED = {"n_directions": "num_directions", "qnspsa_regularization": "regularization"}  # today's -> PennyLane's


def _new_names(kw: dict) -> dict:
    """Keyword arguments with today's names mapped to PennyLane's (both given: TypeError)."""
    kw = dict(kw)
    for old, new in RENAMED.items():
        if old in kw:
            if new in kw:
                raise TypeError(f"{old} and {new} name the same field: give one")
            kw[new] = kw.pop(old)
    if kw.get("defects"):
        raise ValueError("defects: the document's defects are a teaching layer: "
                         "qnb.research.defects.DocumentConfig(config, defects)")
    kw.pop("defects", None)
    return kw


@dataclass(frozen=True)
class TrainingConfig:
    """Training settings. The first eight fields are the design document's; it validates itself.

    Every field is checked and normalised to a plain Python value at construction (numpy numbers
    become int/float), so a config can always be written to a checkpoint; a setting that could not
    run (a subsample larger than the batch, a "one-job" step that would need several jobs) is
    refused here, before any job. ``spsa_a, spsa_c, spsa_A, spsa_alpha, spsa_gamma`` are
    ``BatchSPSAOptimizer``'s ``a, c, A, alpha, gamma``; ``num_directions`` and ``regularization``
    are its own names (``n_directions`` and ``qnspsa_regularization`` are accepted too).

    **The price sheet's choice.** ``shots_per_circuit``, ``gradient_subsample_size``,
    ``num_directions``, ``optimizer``, ``spsa_a`` and ``spsa_c`` left unset (``"auto"``) take the choice
    of the named ``price`` sheet (``qnb.PRICES[price].choice``), else the document's 1000 shots, k = 5
    and one direction with Spall's plain step (``"sgd"``, a = 0.3, c = 0.2). A value
    given explicitly always wins, and a config made by ``replace`` keeps its resolved values:
    ``TrainingConfig(price="braket-ionq-aria")`` trains the sheet's way,
    ``PRESETS["balanced"].replace(price=...)`` the Balanced preset's way, priced on that sheet.

    **Example**

    .. code-block:: python

        config = qnb.PRESETS["balanced"].replace(epochs=3, optimizer="momentum", spsa_a=1.0)
    """

    gradient_method: str = "spsa_subsampled"
    gradient_subsample_size: int | str = AUTO  # AUTO: the price sheet's choice, else 5
    enable_circuit_batching: bool = True
    # 100, not the document's 50: its CircuitBatchManager(max_batch_size=100) and its timing row for
    # parameter shift (10 jobs) assume 100, and one job size everywhere keeps every table consistent
    max_parallel_circuits: int = 100
    batch_submission_timeout: float = 60.0
    batch_size: int = 10
    epochs: int = 5
    shots_per_circuit: int | None | str = AUTO  # None: exact expectation values; AUTO: the sheet's choice, else 1000
    # qnb's additions
    seed: int = 0
    dataset: str = "blobs"  # a make_dataset kind, or "user" for arrays given to the trainer
    n_train: int | None = None  # None: the data set's default size (100 synthetic, 70 % of a real set)
    n_test: int | None = None
    backend: str = "local"  # "local" or "ionq"
    device: str | None = None  # None: the backend's first; local: default.qubit | lightning.qubit; ionq: ionq.simulator | ionq.qpu
    spsa_a: float | str = AUTO  # AUTO: the price sheet's choice, else 0.3
    spsa_c: float | str = AUTO  # AUTO: the price sheet's choice, else 0.2
    spsa_A: float = 5.0
    spsa_alpha: float = 0.602
    spsa_gamma: float = 0.101
    num_directions: int | str = AUTO  # SPSA directions averaged in one job (PennyLane's spsa_grad name); AUTO: sheet's, else 1
    calibrate: bool = False  # set spsa_a from the first batch (Spall's guideline, one job)
    calibration_directions: int = 10
    calibration_target: float = 0.2 * np.pi  # first-step size per parameter (Qiskit's default 2 pi / 10)
    optimizer: str = AUTO  # how a_k and the gradient make a step: "sgd" (Spall's), "momentum", "adam"; AUTO: sheet's, else sgd
    beta1: float = 0.9  # momentum / Adam first-moment decay
    beta2: float = 0.999  # Adam second-moment decay
    blocking: bool = False  # undo a step whose loss rose beyond shot noise, checked inside the next step's job
    regularization: float | None = None  # QN-SPSA: the metric from 4 more circuits in the job, this beta
    price: str | None = None  # a qnb.PRICES sheet: every job's dollars in the history, fit(budget_usd=...), estimate()
    noise_model: str | None = None  # local: a qnb.NOISE_MODELS name; ionq.simulator: any of IonQ's noise models
    noise_seed: int | None = None  # IonQ's simulator only: its noise generator's seed, 1..2**31-1

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)
        self._resolve_auto(set_)
        if self.gradient_method not in METHODS:
            raise ValueError(f"gradient_method: unknown method {self.gradient_method!r}; allowed: {', '.join(METHODS)}")
        ints = ["gradient_subsample_size", "batch_size", "epochs", "max_parallel_circuits", "num_directions",
                "calibration_directions"]
        ints += [k for k in ("n_train", "n_test", "shots_per_circuit") if getattr(self, k) is not None]
        for name in ints:
            set_(name, check.integer(name, getattr(self, name)))
        if self.shots_per_circuit is not None and self.shots_per_circuit > 2 ** 53:  # every total is a float
            raise ValueError("shots_per_circuit: at most 2**53 (a count a float holds exactly), got an integer of "
                             f"{len(str(self.shots_per_circuit)) if self.shots_per_circuit < 10 ** 4000 else 'over 4000'} digits")
        set_("seed", check.integer("seed", self.seed, lo=0))
        for name in ("batch_submission_timeout", "spsa_a", "spsa_c", "spsa_alpha", "spsa_gamma", "calibration_target"):
            set_(name, check.positive(name, getattr(self, name)))
        set_("spsa_A", check.number("spsa_A", self.spsa_A, lo=0))
        for name in ("enable_circuit_batching", "calibrate", "blocking"):
            set_(name, check.boolean(name, getattr(self, name)))
        if self.spsa_a > 1e6 or self.spsa_c > 2 * np.pi:  # angles: a perturbation beyond a full turn is noise
            raise ValueError(f"spsa gains: need spsa_a <= 1e6 and spsa_c <= 2 pi, got a={self.spsa_a:g}, "
                             f"c={self.spsa_c:g}")
        try:  # overflowing or degenerate gains are refused here, not mid-run
            ends = {k: self.gains.at(k) for k in (0, 10**6)}
        except (OverflowError, ValueError, ZeroDivisionError) as e:
            raise ValueError(f"spsa gains: {e}") from None
        for k, (c_k, a_k) in ends.items():  # the gradient divides by 2 c_k and the step multiplies by a_k / (2 c_k)
            # a_k / (2 c_k): how far one unit of loss difference moves a parameter; beyond 1e12 radians the
            # step is no step (spsa_c=1e-300 paid 8 jobs to move the parameters to 5e298)
            if not (c_k >= sys.float_info.min and math.isfinite(1 / (2 * c_k)) and a_k / (2 * c_k) <= 1e12):
                raise ValueError(f"spsa gains: the perturbation c_k = {c_k:.3g} at step {k} (spsa_c={self.spsa_c:.3g}, "
                                 f"spsa_gamma={self.spsa_gamma:.3g}) is too small for a finite SPSA step: the gradient "
                                 f"divides by 2 c_k (a subnormal or zero c_k gives infinity); raise spsa_c or lower "
                                 f"spsa_gamma")
        if self.gradient_method == "spsa_subsampled" and self.gradient_subsample_size > self.batch_size:
            raise ValueError(f"gradient_subsample_size: {self.gradient_subsample_size} exceeds batch_size "
                             f"{self.batch_size}; allowed: 1..{self.batch_size}")
        if self.dataset not in DATASETS + (USER_DATA,):
            raise ValueError(f"dataset: unknown data set {self.dataset!r}; allowed: {', '.join(DATASETS)}")
        if self.dataset != USER_DATA:  # sizes checked here; batch_size against the data by the trainer
            dataset_sizes(self.dataset, self.n_train, self.n_test)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: unknown backend {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        if self.device is not None and self.device not in BACKENDS[self.backend]:
            raise ValueError(f"device: {self.device!r} is not a {self.backend} device; allowed: "
                             f"{', '.join(BACKENDS[self.backend])}")
        if self.regularization is not None:
            set_("regularization", check.positive("regularization", self.regularization))
        self.estimator(clip_subsample=True)  # refuses options that cannot be one job here
        if self.gradient_method in ("spsa_parallel", "spsa_subsampled") and self.enable_circuit_batching:
            n = self.one_job_circuits
            if n > self.max_parallel_circuits:  # a "one-job" step would silently be several paid jobs
                raise ValueError(f"max_parallel_circuits: a step of {n} circuits (directions, blocking and QN-SPSA "
                                 f"included) would be split into several jobs; raise it to {n} or reduce the subsample")
        if self.price is not None:  # a sheet's name (a user's own: add it to qnb.PRICES first): configs are JSON
            if not isinstance(self.price, str):
                raise ValueError(f"price: the name of a sheet in qnb.PRICES, got {type(self.price).__name__}; add "
                                 "your own sheet with qnb.PRICES['mine'] = qnb.PriceSheet('mine', ...)")
            price_sheet(self.price)
        self._check_noise()
        if self.optimizer not in RULES:
            raise ValueError(f"optimizer: unknown optimizer {self.optimizer!r}; allowed: {', '.join(RULES)}")
        for name in ("beta1", "beta2"):
            set_(name, check.number(name, getattr(self, name), 0, 1, strict_hi=True))

    def _resolve_auto(self, set_) -> None:
        """Fields left at ``AUTO`` take the price sheet's choice (``PriceSheet.choice``: the shots,
        subsample, directions and step rule that make the cheapest training on that sheet, selected
        for ``spsa_subsampled``: another method takes only its shots), else the design document's
        values with Spall's plain step (``WITHOUT_A_SHEET``). A value the user gave is never replaced; resolved values are plain
        numbers, so ``replace`` and ``to_dict`` keep them."""
        auto = [name for name in WITHOUT_A_SHEET if isinstance(getattr(self, name), str) and getattr(self, name) == AUTO]
        if not auto:
            return
        choice = sheet_choice(self.price, self.gradient_method)
        for name in auto:
            value = choice.get(name, WITHOUT_A_SHEET[name])
            if name == "gradient_subsample_size" and isinstance(self.batch_size, int) and self.batch_size >= 1:
                value = min(value, self.batch_size)  # a sheet's k never exceeds a smaller batch the user chose
            set_(name, value)

    def _check_noise(self):
        if self.noise_model is not None:
            if not isinstance(self.noise_model, str):
                raise ValueError(f"noise_model: a model's name, got {type(self.noise_model).__name__}; add your "
                                 "own with qnb.NOISE_MODELS['mine'] = qnb.NoiseModel('mine', ...)")
            if self.backend == "local":
                noise_model(self.noise_model)
            elif (self.device or BACKENDS["ionq"][0]) != "ionq.simulator":
                raise ValueError("noise_model: IonQ applies noise models on its simulator only (device='ionq.simulator')")
            elif self.noise_model not in IONQ_NOISE_MODELS:
                raise ValueError(f"noise_model: IonQ's simulator has no model {self.noise_model[:60]!r}; allowed: "
                                 f"{', '.join(IONQ_NOISE_MODELS)}")
        if self.noise_seed is not None:
            if self.backend != "ionq" or self.noise_model is None:
                raise ValueError("noise_seed: seeds IonQ's noisy simulator (backend='ionq' with a noise_model); a "
                                 "local noisy run's shots follow seed=")
            object.__setattr__(self, "noise_seed", check.integer("noise_seed", self.noise_seed, 1, 2 ** 31 - 1))

    @property
    def gains(self) -> Gains:
        return Gains(self.spsa_a, self.spsa_c, self.spsa_A, self.spsa_alpha, self.spsa_gamma)

    @property
    def one_job_circuits(self) -> int:
        """Circuits in a full-batch step's single job (spsa_parallel, spsa_subsampled): 2 per
        direction and sample, 4 for the QN-SPSA metric, 2 per sample for blocking's check."""
        return self.estimator().n_circuits(self.batch_size, check=True)

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch: every training sample once, the last batch possibly shorter."""
        if self.dataset == USER_DATA and self.n_train is None:
            raise ValueError("n_train: unknown until the trainer has the data (trainer.config has it)")
        n = self.n_train if self.dataset == USER_DATA else dataset_sizes(self.dataset, self.n_train, self.n_test)[0]
        return math.ceil(n / self.batch_size)

    def replace(self, **changes) -> "TrainingConfig":
        return replace(self, **_new_names(changes))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingConfig":
        """The config ``to_dict`` wrote (older names accepted, unknown keys ignored)."""
        names = {f.name for f in fields(cls)} | set(RENAMED)
        return cls(**{k: v for k, v in d.items() if k in names and not (k == "defects" and not v)})

    # today's names of the PennyLane-named fields, for reading
    n_directions = property(lambda self: self.num_directions)
    qnspsa_regularization = property(lambda self: self.regularization)

    def estimator(self, clip_subsample: bool = False):
        """The plan builder of this config's gradient method (``qnb.estimators``)."""
        return make_plan(self.gradient_method, subsample_size=self.gradient_subsample_size,
                         num_directions=self.num_directions, enable_circuit_batching=self.enable_circuit_batching,
                         clip_subsample=clip_subsample, blocking=self.blocking, metric=self.regularization is not None)

    def optimizer_for(self, seed=None, cls=BatchSPSAOptimizer) -> BatchSPSAOptimizer:
        """The optimizer this config describes (``cls``: a subclass, e.g. the document's defects)."""
        g = self.gains
        return cls(g.a, g.c, g.A, g.alpha, g.gamma, optimizer=self.optimizer, beta1=self.beta1, beta2=self.beta2,
                   blocking=self.blocking, regularization=self.regularization, seed=seed,
                   estimator=self.estimator(clip_subsample=True))

_init = TrainingConfig.__init__
TrainingConfig.__init__ = lambda self, *args, **kw: _init(self, *args, **_new_names(kw))
TrainingConfig.__init__.__doc__ = _init.__doc__


# The document's presets, field for field ("Updated Configuration" and "Recommendations").
PRESETS = {
    "fast": TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=2, batch_size=10, epochs=10),
    "balanced": TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=5, batch_size=10, epochs=5),
    "accurate": TrainingConfig(gradient_method="spsa_parallel", batch_size=10, epochs=5),
    "development": TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=2, batch_size=10,
                                  epochs=10, shots_per_circuit=100),
    # qnb's own (raced in figures/bench.md): 2 directions on a k=2 subsample, 8 circuits in ONE job
    "two_direction": TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=2, num_directions=2,
                                    batch_size=10, epochs=10),
    # k=5 (10 circuits in ONE job) with a momentum step (beta1 = 0.9) and a = 1.0
    "balanced_momentum": TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=5,
                                        optimizer="momentum", spsa_a=1.0, batch_size=10, epochs=10),
    # balanced_momentum's 10,000 shots per job split over 2 directions: 20 circuits of 500 shots in ONE job
    "split_shots": TrainingConfig(gradient_method="spsa_subsampled", gradient_subsample_size=5, num_directions=2,
                                  shots_per_circuit=500, optimizer="momentum", spsa_a=1.0, batch_size=10, epochs=10),
}


def make_backend(config, seed=None, latency=None):
    """The backend a ``TrainingConfig`` names: the local simulator or IonQ through pennylane-ionq,
    with its device and noise model."""
    device = {"device": config.device} if config.device else {}
    if config.backend == "ionq":
        from .ionq import IonQBackend  # imported lazily: the local path never needs requests
        return IonQBackend(latency=latency, seed=seed, noise_model=config.noise_model, noise_seed=config.noise_seed,
                           **device)
    return LocalBackend(latency=latency, seed=seed, noise=config.noise_model, **device)
