"""`make reproduce`: run every notebook headlessly (papermill), then print the summary tables.

    python -m qnb.reproduce [--quick] [--only 01,05]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import PRESETS, METHODS, QuantumTrainer, make_dataset, QuantumModel
from .backends import LocalBackend
from .batching import CircuitBatchManager
from .estimators import make_estimator

ROOT = Path(__file__).resolve().parent.parent


def job_shapes(batch_size: int = 10, subsample_size: int = 5, max_batch_size: int = 100) -> list[dict]:
    """Circuits, jobs and modeled seconds of one batch for every method, counted by the manager."""
    x, y, _, _ = make_dataset(n_train=batch_size, n_test=1)
    rows = []
    for method in METHODS:
        manager = CircuitBatchManager(LocalBackend(seed=0), max_batch_size=max_batch_size)
        r = make_estimator(method, manager, subsample_size=subsample_size, seed=0).estimate_batch_gradient(
            QuantumModel(seed=0), x, y, shots=1000)
        rows.append({"method": method, "circuits": manager.stats.circuits, "jobs": manager.stats.jobs,
                     "modeled_s": r.metadata["modeled_time_s"]})
    return rows


from .experiments import table as markdown_table


def run_notebooks(quick: bool, only: list[str] | None) -> None:
    import papermill as pm

    out_dir = ROOT / "build" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if only and nb.name[:2] not in only:
            continue
        t = time.perf_counter()
        print(f"running {nb.name} ...", flush=True)
        pm.execute_notebook(str(nb), str(out_dir / nb.name), parameters={"QUICK": quick}, kernel_name="qnb",
                            cwd=str(nb.parent), progress_bar=False, execution_timeout=1800)
        print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="the notebooks' QUICK mode (minutes)")
    ap.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,05")
    args = ap.parse_args(argv)
    run_notebooks(args.quick, [s for s in args.only.split(",") if s] or None)
    print("\nCircuits, jobs and modeled cloud time for one batch of 10 samples (48 parameters):\n")
    print(markdown_table(job_shapes()))
    table = ROOT / "figures" / "performance_comparison.md"
    if table.exists():
        print("\n" + table.read_text())
    else:
        print("\nShort demo training of each preset (2 epochs, local simulator with the preset's shots, seed 0):\n")
        rows = []
        for name, cfg in PRESETS.items():
            h = QuantumTrainer(cfg.replace(epochs=2)).fit(progress=False)
            rows.append({"preset": name, "steps": len(h["steps"]), "modeled_s": sum(s["modeled_s"] for s in h["steps"]),
                         "test_accuracy": h["epochs"][-1]["test_accuracy"]})
        print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
