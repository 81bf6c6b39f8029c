"""The experiments behind notebooks 01-05 and `make bench`: one implementation for both.

The design document's own figures are kept here as data (``SEED_TABLES``), labelled as claims;
every other number is computed by running qnb.
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .backends import LocalBackend
from .document import SEED_TABLES  # noqa: F401  (notebooks read the document's tables as E.SEED_TABLES)
from .batching import CircuitBatchManager
from .estimators import Gains, make_estimator
from .latency import LatencyModel
from .model import QuantumModel, make_dataset
from .training import QuantumTrainer, TrainingConfig

B, N, STEPS_PER_EPOCH, EPOCHS = 10, 48, 10, 5

def figures_dir() -> str | None:
    """Where figures and tables are written: the folder named by QNB_FIGURES, or nowhere.

    ``make reproduce`` sets it to the repository's figures/; a notebook opened in JupyterLab
    shows its figures inline and leaves the committed files alone unless the reader sets it.
    """
    return os.environ.get("QNB_FIGURES") or None


def _cell(v, floatfmt: str) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format(float(v), floatfmt)
    return str(v)


def table(rows: list[dict], name: str | None = None, floatfmt: str = ".2f") -> str:
    """Rows as a markdown table, integers as integers, floats with ``floatfmt``; the columns are
    every key of every row, in order of first appearance (a key a row lacks is left blank).
    With ``name`` and an output folder (``figures_dir``), also written to NAME.md and NAME.csv."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    md = "\n".join(["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
                   + ["| " + " | ".join(_cell(r.get(k), floatfmt) for k in keys) + " |" for r in rows])
    out = figures_dir()
    if name and out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, name + ".md"), "w") as f:
            f.write(md + "\n")
        import csv
        with open(os.path.join(out, name + ".csv"), "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows({k: _cell(r.get(k), floatfmt) for k in keys} for r in rows)
    return md


def show(rows: list[dict], name: str | None = None, floatfmt: str = ".2f", title: str | None = None):
    """Display ``table(rows, name, floatfmt)`` as rendered Markdown in a notebook (and as the
    Markdown text in a terminal); returns None so that nothing is echoed twice."""
    from IPython.display import Markdown, display
    md = table(rows, name, floatfmt)
    display(Markdown((f"**{title}**\n\n" if title else "") + md))


def study(name: str, compute, *, params: dict, recompute: bool = False, quick: bool = False,
          folder: str = "../figures/studies"):
    """A heavy multi-seed study, run once by ``make reproduce`` and read back everywhere else.

    ``compute()`` returns JSON-able data (floats survive exactly). In QUICK mode it is run at the
    caller's small scale and nothing is read or written. Otherwise the result is read from
    FOLDER/NAME.json when that file was made with the same ``params`` (seeds, epochs, ...), and
    computed and written there when ``recompute`` is set or the file is missing or different:
    changing a notebook's RANDOM_SEED recomputes, it never shows another seed's numbers.
    """
    import json
    if quick:
        return compute()
    path = os.path.join(folder, name + ".json")
    params = json.loads(json.dumps(params, default=_jsonable))
    if not recompute and os.path.isfile(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("params") == params:
            print(f"{name}: read from {path} (RECOMPUTE = True runs it here)")
            return saved["result"]
        print(f"{name}: {path} was made with other parameters; computing")
    t = time.perf_counter()
    result = json.loads(json.dumps(compute(), default=_jsonable))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as f:
        json.dump({"name": name, "params": params, "result": result}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{name}: computed in {time.perf_counter() - t:.0f} s, written to {path}")
    return result


def _jsonable(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (np.ndarray, range, tuple)):
        return list(v)
    raise TypeError(f"not JSON-able: {type(v).__name__}")


def save_figure(fig, name: str) -> None:
    """NAME.png in the output folder (``figures_dir``), at a size that reads well in the README."""
    out = figures_dir()
    if out:
        os.makedirs(out, exist_ok=True)
        fig.savefig(os.path.join(out, name + ".png"), dpi=110, bbox_inches="tight")


def step_cost(method: str, subsample_size: int = 5, *, shots: int = 1000, max_batch_size: int = 100,
              backend=None, n_directions: int = 1, seed: int = 0) -> dict:
    """Run ONE gradient estimate on a batch of 10 and report what the batch manager counted."""
    x, y, _, _ = make_dataset(n_train=B, n_test=1, seed=seed)
    manager = CircuitBatchManager(backend or LocalBackend(seed=seed), max_batch_size=max_batch_size)
    est = make_estimator(method, manager, subsample_size=subsample_size, seed=seed, n_directions=n_directions)
    est.estimate_batch_gradient(QuantumModel(seed=seed), x, y, shots=shots)
    return {"circuits": manager.stats.circuits, "jobs": manager.stats.jobs,
            "modeled_s": manager.stats.modeled_s, "wall_s": manager.stats.wall_s}


def verdict(claimed: float, ours: float, tol: float = 0.15) -> str:
    """'holds' within tol (relative), else how far off, e.g. 'off x1.6' or 'off x0.42'."""
    if claimed == ours or (claimed and abs(ours / claimed - 1) <= tol):
        return "holds"
    return f"off x{ours / claimed:.2g}" if claimed else "off"


def performance_comparison(latency: LatencyModel | None = None, measured: dict | None = None,
                           quality: dict | None = None) -> list[dict]:
    """The document's Performance Comparison: its figure, qnb's modeled figure, qnb's measured one.

    ``measured`` maps a row name to {"batch_s": ...} measured on the emulator (see
    ``measure_on_emulator``); ``quality`` maps a row name to a measured-quality string.
    """
    latency = latency or LatencyModel.seed_calibrated()
    rows = []
    for s in SEED_TABLES["performance_comparison"]:
        c = step_cost(s["method"], s["k"] or 5, backend=LocalBackend(latency=latency))
        batch = c["modeled_s"]
        row = {"row": s["row"], "circuits (doc)": s["circuits"], "circuits (qnb)": c["circuits"],
               "jobs (qnb)": c["jobs"], "s/batch (doc)": s["batch_s"], "s/batch (model)": batch}
        if measured is not None:
            row["s/batch (measured)"] = measured[s["row"]]["batch_s"]
        row.update({"5 epochs min (doc)": s["five_epochs_s"] / 60,
                    "5 epochs min (model)": batch * STEPS_PER_EPOCH * EPOCHS / 60,
                    "verdict": verdict(s["batch_s"], batch)})
        if quality is not None:
            row.update({"quality (doc)": s["quality"], "quality (measured)": quality.get(s["row"], "")})
        rows.append(row)
    return rows


def measure_on_emulator(method: str, subsample_size: int = 5, *, latency_scale: float = 0.02, steps: int = 2,
                        shots: int = 1000, max_batch_size: int = 100) -> dict:
    """Time gradient steps through the real pennylane-ionq client against the loopback emulator.

    Returns seconds per batch as the emulated cloud would see them (wall / latency_scale, median
    over ``steps``) and the jobs and circuits the emulator itself counted.
    """
    from .emulator import Emulator

    with Emulator(latency_scale=latency_scale) as emu:
        backend = emu.backend(seed=0)
        x, y, _, _ = make_dataset(n_train=B, n_test=1)
        manager = CircuitBatchManager(backend, max_batch_size=max_batch_size, timeout_s=600)
        est = make_estimator(method, manager, subsample_size=subsample_size, seed=0)
        model, walls = QuantumModel(seed=0), []
        for _ in range(steps):
            t = time.perf_counter()
            est.estimate_batch_gradient(model, x, y, shots=shots)
            walls.append(time.perf_counter() - t)
        return {"batch_s": float(np.median(walls)) / latency_scale, "jobs": emu.stats["jobs_created"] / steps,
                "circuits": emu.stats["circuits"] / steps, "modeled_s": manager.stats.modeled_s / steps}


def _train_one(args):
    config, budget_s, epochs = args
    trainer = QuantumTrainer(config, dataset=make_dataset(config.dataset, config.n_train, config.n_test, seed=0))
    return trainer.fit(epochs=epochs if budget_s is None else 10_000, progress=False, budget_s=budget_s)


def train_many(config: TrainingConfig, seeds, budget_s: float | None = None, epochs: int | None = None,
               workers: int | None = None) -> list[dict]:
    """Train ``config`` once per seed, on the same data (data set seed 0); returns the histories.

    The seed drives model initialisation, data order, SPSA directions and shot noise. Runs are
    independent, so they are spread over ``workers`` processes (default: every core) by joblib
    (``qnb.parallel.run_tasks``); the results do not depend on how many.
    """
    from .parallel import run_tasks
    return run_tasks(_train_one, [(config.replace(seed=int(s)), budget_s, epochs) for s in seeds], workers=workers)


def summarize(histories: list[dict]) -> dict:
    """Mean and spread of the final test accuracy and loss, and of the modeled cloud time."""
    acc = np.array([h["epochs"][-1]["test_accuracy"] for h in histories])
    loss = np.array([h["epochs"][-1]["test_loss"] for h in histories])
    t = np.array([sum(s["modeled_s"] for s in h["steps"]) for h in histories])
    return {"runs": len(histories), "test_acc_mean": acc.mean(), "test_acc_std": acc.std(ddof=1) if len(acc) > 1 else 0.0,
            "test_loss_mean": loss.mean(), "modeled_min": t.mean() / 60}


def estimator_statistics(specs, shots=None, repeats: int = 200, seed: int = 0, c: float = 0.05) -> list[dict]:
    """How good one gradient estimate is, against the exact gradient of the batch loss.

    ``specs``: (label, method, subsample_size) triples. For each, ``repeats`` estimates at the same
    point with a small constant c (so that SPSA's O(c^2) bias is negligible) give: the relative
    error of their mean (unbiased estimators shrink it like 1/sqrt(repeats): compare with
    ``expected_rel_error``), the total variance of one estimate, and the mean cosine to the truth.
    """
    x, y, _, _ = make_dataset(n_train=B, n_test=1, seed=seed)
    model = QuantumModel(seed=seed)
    exact = make_estimator("parameter_shift", CircuitBatchManager(LocalBackend())).estimate_batch_gradient(
        model, x, y, shots=None).gradients
    rows = []
    for label, method, k in specs:
        manager = CircuitBatchManager(LocalBackend(seed=seed), max_batch_size=10_000)
        est = make_estimator(method, manager, subsample_size=k or 5, seed=seed, gains=Gains(c=c, gamma=1e-9))
        g = np.array([est.estimate_batch_gradient(model, x, y, shots=shots).gradients for _ in range(repeats)])
        cos = g @ exact / (np.linalg.norm(g, axis=1) * np.linalg.norm(exact) + 1e-300)
        var = float(np.sum(g.var(axis=0)))
        rows.append({"estimator": label, "shots": "exact" if shots is None else shots,
                     "circuits": manager.stats.circuits // repeats, "variance": var, "cosine": float(cos.mean()),
                     "rel_error_of_mean": float(np.linalg.norm(g.mean(0) - exact) / np.linalg.norm(exact)),
                     "expected_rel_error": float(math.sqrt(var / repeats) / np.linalg.norm(exact))})
    return rows


def subsample_specs(ks=(1, 2, 5, 10)):
    return [(f"k={k}", "spsa_parallel" if k == B else "spsa_subsampled", k) for k in ks]
