"""Interactive explorers for notebooks 04 and 05. The callbacks are plain functions (tested
directly: papermill swallows exceptions raised inside widget callbacks)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from . import experiments as E
from .latency import LatencyModel

SHOTS_CHOICES = (("exact", None), ("100", 100), ("1000", 1000), ("10000", 10000))


def variance_row(k: int, shots, repeats: int = 60, seed: int = 0) -> dict:
    """Gradient statistics of subsampled SPSA for one (k, shots)."""
    return E.estimator_statistics(E.subsample_specs([k]), shots=shots, repeats=repeats, seed=seed)[0]


def cost_row(k: int, shots, latency: LatencyModel | None = None, epochs: int = 5) -> dict:
    """Modeled cloud cost of subsampled SPSA with subsample size k: per batch, epoch and run.
    Circuits and jobs are counted by running one real estimate."""
    latency = latency or LatencyModel.seed_calibrated()
    from .backends import LocalBackend
    c = E.step_cost("spsa_parallel" if k == E.B else "spsa_subsampled", k, shots=shots or 1000,
                    backend=LocalBackend(latency=latency))
    return {"k": k, "shots": shots or "exact", "circuits/batch": c["circuits"], "jobs/batch": c["jobs"],
            "s/batch": c["modeled_s"], "s/epoch": c["modeled_s"] * E.STEPS_PER_EPOCH,
            f"min/{epochs} epochs": c["modeled_s"] * E.STEPS_PER_EPOCH * epochs / 60}


def _controls():
    import ipywidgets as w
    return (w.IntSlider(value=5, min=1, max=E.B, description="subsample k"),
            w.Dropdown(options=SHOTS_CHOICES, value=1000, description="shots"))


def variance_explorer(repeats: int = 60):
    """Slider for k, menu for shots: recomputes the gradient statistics and redraws the bars."""
    import ipywidgets as w
    k, shots = _controls()

    def show(k, shots):
        row = variance_row(k, shots, repeats)
        fig, ax = plt.subplots(figsize=(5, 2.6))
        ax.bar(["variance / 100", "cosine to exact"], [row["variance"] / 100, row["cosine"]], color=["C1", "C0"])
        ax.set_title(f"one estimate, k={k}, shots={row['shots']} ({row['circuits']} circuits, 1 job)")
        plt.show()
        return row

    return w.interactive(show, k=k, shots=shots)


def cost_explorer(latency: LatencyModel | None = None):
    """Slider for k, menu for shots: recomputes the modeled cost row of the performance table."""
    import ipywidgets as w
    k, shots = _controls()
    return w.interactive(lambda k, shots: cost_row(k, shots, latency), k=k, shots=shots)
