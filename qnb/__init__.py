"""qnb: batch-loss SPSA for variational quantum classifiers on cloud backends, measured.

The public API used by the notebooks, the tests and outside scripts.
"""
from .backends import Backend, LocalBackend
from .batching import BatchStats, CircuitBatchManager
from .circuits import CircuitModel, parity_readout
from .data import DATASETS, check_data, make_dataset
from .defects import DEFECTS, with_defects
from .estimators import METHODS, Gains, GradientEstimator, GradientResult, StepPlan, make_estimator
from .jobs import BatchTimeoutError, Job, JobFailedError, SubmissionUncertainError, TransientError
from .latency import SEED_TIMING_ROWS, LatencyModel, fit_latency
from .losses import logistic_loss, square_loss
from .model import QuantumModel
from .training import PRESETS, QuantumTrainer, TrainingConfig, make_backend


def __getattr__(name):  # the IonQ path imports pennylane-ionq only when asked for
    if name == "IonQBackend":
        from .ionq import IonQBackend
        return IonQBackend
    raise AttributeError(name)


__version__ = "0.2.0"

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
    "Backend", "LocalBackend", "IonQBackend", "BatchStats", "CircuitBatchManager", "CircuitModel", "parity_readout",
    "DATASETS", "check_data", "make_dataset", "DEFECTS", "with_defects", "METHODS", "Gains", "GradientEstimator",
    "GradientResult", "StepPlan", "make_estimator", "BatchTimeoutError", "Job", "JobFailedError",
    "SubmissionUncertainError", "TransientError", "SEED_TIMING_ROWS", "LatencyModel", "fit_latency",
    "logistic_loss", "square_loss", "QuantumModel", "PRESETS", "QuantumTrainer", "TrainingConfig", "make_backend", "watermark",
]
