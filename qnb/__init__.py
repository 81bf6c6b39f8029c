"""qnb: batch-loss SPSA for variational quantum classifiers on cloud backends, measured.

The public API used by the notebooks, the tests and outside scripts. The research harness (studies,
benchmarks, widgets, the design document's tables and defects) is ``qnb.research``; this package
never imports it.
"""
from .backends import Backend, LocalBackend
from .batching import BatchResult, BatchStats, CircuitBatchManager
from .circuits import CircuitModel, parity_readout
from .config import PRESETS, TrainingConfig, make_backend
from .data import DATASETS, check_data, make_dataset
from .estimators import METHODS, GradientResult, StepPlan
from .gradients import GradientEstimator, make_estimator
from .jobs import BatchTimeoutError, Job, JobFailedError, SubmissionUncertainError, TransientError
from .latency import SEED_TIMING_ROWS, LatencyModel, fit_latency
from .losses import logistic_loss, square_loss
from .model import QuantumModel
from .optimizer import BatchSPSAOptimizer, Gains, StepRule
from .cost_functions import NonFiniteError
from .noise import NOISE_MODELS, NoiseModel
from .prices import PRICES, PriceSheet
from .trainer import QuantumTrainer


def __getattr__(name):  # imported when first asked for: the IonQ path needs requests, the classifier scikit-learn's conventions only
    if name == "IonQBackend":
        from .ionq import IonQBackend
        return IonQBackend
    if name == "QuantumClassifier":
        from .classifier import QuantumClassifier
        return QuantumClassifier
    raise AttributeError(name)


__version__ = "0.3.0"

WATERMARK_PACKAGES = ("qnb", "pennylane", "pennylane-lightning", "pennylane-ionq", "numpy", "matplotlib", "ipywidgets")


def watermark() -> str:
    """One line of the versions that produced a notebook's numbers (its closing cell prints it)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def v(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"
    return "watermark: Python " + platform.python_version() + "; " + "; ".join(f"{p} {v(p)}" for p in WATERMARK_PACKAGES)


__all__ = [
    "Backend", "LocalBackend", "IonQBackend", "BatchResult", "BatchStats", "CircuitBatchManager", "CircuitModel",
    "parity_readout", "PRESETS", "TrainingConfig", "DATASETS", "check_data", "make_dataset", "METHODS",
    "GradientResult", "StepPlan", "GradientEstimator", "make_estimator", "BatchTimeoutError", "Job", "JobFailedError",
    "SubmissionUncertainError", "TransientError", "SEED_TIMING_ROWS", "LatencyModel", "fit_latency", "logistic_loss",
    "square_loss", "QuantumModel", "BatchSPSAOptimizer", "Gains", "StepRule", "QuantumTrainer", "QuantumClassifier",
    "make_backend", "watermark", "PRICES", "PriceSheet", "NOISE_MODELS", "NoiseModel",
    "NonFiniteError",
]
