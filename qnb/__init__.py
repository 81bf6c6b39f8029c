"""qnb: batch-loss SPSA for variational quantum classifiers on cloud backends, measured.

The public API used by the notebooks, the tests and outside scripts.
"""
from .backends import Backend, LocalBackend
from .batching import BatchStats, CircuitBatchManager
from .jobs import BatchTimeoutError, Job, JobFailedError, SubmissionUncertainError, TransientError
from .estimators import DEFECTS, METHODS, Gains, GradientEstimator, GradientResult, make_estimator
from .latency import SEED_TIMING_ROWS, LatencyModel, fit_latency
from .model import DATASETS, QuantumModel, make_dataset, square_loss
from .training import PRESETS, QuantumTrainer, TrainingConfig, make_backend


def __getattr__(name):  # the IonQ path imports pennylane-ionq only when asked for
    if name == "IonQBackend":
        from .ionq import IonQBackend
        return IonQBackend
    raise AttributeError(name)


__version__ = "0.1.0"
__all__ = [
    "Backend", "Job", "LocalBackend", "IonQBackend", "BatchStats", "BatchTimeoutError", "CircuitBatchManager",
    "JobFailedError", "SubmissionUncertainError", "TransientError", "DEFECTS", "METHODS", "Gains",
    "GradientEstimator", "GradientResult", "make_estimator", "SEED_TIMING_ROWS", "LatencyModel", "fit_latency",
    "DATASETS", "QuantumModel", "make_dataset", "square_loss", "PRESETS", "QuantumTrainer", "TrainingConfig",
    "make_backend",
]
