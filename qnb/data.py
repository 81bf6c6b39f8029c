"""Data: seeded synthetic sets, the small real sets shipped in ``qnb/datasets/``, and the checks every
array passes before a circuit sees it."""
from __future__ import annotations

import csv
import functools
from importlib import resources

import numpy as np

SYNTHETIC = ("blobs", "xor")
REAL = {"iris": "iris_versicolor_virginica.csv", "breast_cancer": "breast_cancer_4.csv"}
DATASETS = SYNTHETIC + tuple(REAL)


def check_data(x, y=None, n_features: int = 4, name: str = "x") -> None:
    """Raise ValueError on data a circuit must never see (before any job is spent)."""
    x = np.asarray(x)
    if np.iscomplexobj(x) or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{name}: features must be real numbers, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"{name}: expected shape (n_samples, {n_features}) for a model with {n_features} "
                         f"features, got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: no samples")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: contains NaN or inf; every feature must be finite")
    if y is not None:
        label = "y" if name == "x" else name.replace("x", "y", 1)
        y = np.asarray(y)
        if y.shape != (x.shape[0],):
            raise ValueError(f"{label}: expected shape ({x.shape[0]},), one label per sample, got {y.shape}")
        if np.iscomplexobj(y) or not np.issubdtype(y.dtype, np.number):
            raise ValueError(f"{label}: labels must be -1 or +1, got dtype {y.dtype}")
        bad = sorted(set(np.unique(y).tolist()) - {-1, 1})
        if bad:
            raise ValueError(f"{label}: labels must be -1 or +1, got {bad[:5]}")


def load_real(kind: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Raw features, labels (+-1) and feature names of a shipped real data set (see qnb/datasets/README.md)."""
    x, y, names = _real(kind)
    return x.copy(), y.copy(), list(names)


def make_dataset(kind: str = "blobs", n_train: int | None = None, n_test: int | None = None, seed: int = 0):
    """Seeded data with 4 features scaled to rotation angles, labels in {-1, +1}.

    ``blobs``: two Gaussian clusters, linearly separable up to noise (the easy case).
    ``xor``: the sign of x0 * x1 with two distractor features (non-linear, the hard case).
    ``iris``: Iris versicolor (-1) vs virginica (+1), 100 flowers (real, overlapping classes).
    ``breast_cancer``: Wisconsin diagnostic, 4 of 30 features, 569 tumours, malignant = +1 (real).

    Synthetic sets default to 100 + 100 samples. Real sets are split (seeded, stratified) into
    ``n_train`` and ``n_test`` rows, by default 70 % / 30 % of the file, and standardised with the
    training split's mean and spread only (no test leakage), +-2 sd mapping to +-pi/2.
    Returns x_train, y_train, x_test, y_test.
    """
    if kind in REAL:
        return _split_real(kind, *dataset_sizes(kind, n_train, n_test), seed)
    n_train, n_test = dataset_sizes(kind, n_train, n_test)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    if kind == "blobs":
        y = rng.choice([-1, 1], size=n)
        centre = np.array([0.9, 0.6, -0.6, 0.3])
        x = y[:, None] * centre + rng.normal(scale=0.45, size=(n, 4))
    else:
        x = rng.uniform(-1.0, 1.0, size=(n, 4))
        y = np.where(x[:, 0] * x[:, 1] >= 0, 1, -1)
    x = x * (np.pi / 2)  # features are rotation angles: +-1 maps to +-pi/2
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


MAX_SYNTHETIC = 100_000


def dataset_sizes(kind: str, n_train=None, n_test=None) -> tuple[int, int]:
    """(n_train, n_test) that ``make_dataset(kind, n_train, n_test)`` returns, checked, without making it."""
    if kind not in DATASETS:
        raise ValueError(f"kind: unknown data set {kind!r}; allowed: {', '.join(DATASETS)}")
    total = len(load_real(kind)[1]) if kind in REAL else MAX_SYNTHETIC
    if n_train is None:
        n_train = round(0.7 * total) if kind in REAL else 100
    if n_test is None:
        n_test = total - n_train if kind in REAL else 100
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name}: must be an integer >= 1, got {n!r}")
    if n_train + n_test > total:
        raise ValueError(f"n_train + n_test: {kind} has {total} samples, asked for {n_train} + {n_test}"
                         if kind in REAL else f"n_train + n_test: at most {total} synthetic samples, asked for "
                         f"{n_train} + {n_test}")
    return int(n_train), int(n_test)


@functools.lru_cache(maxsize=None)
def _real(kind):
    with resources.files("qnb").joinpath("datasets", REAL[kind]).open() as f:
        rows = list(csv.reader(f))
    body = np.array(rows[1:], dtype=float)
    return body[:, :-1], body[:, -1].astype(int), rows[0][:-1]


def _split_real(kind, n_train, n_test, seed):
    x, y, _ = load_real(kind)
    total = len(y)
    rng = np.random.default_rng(seed)
    # stratified: each class split in proportion, then shuffled
    train, test = [], []
    for label in (-1, 1):
        idx = rng.permutation(np.flatnonzero(y == label))
        k_tr = round(n_train * len(idx) / total)
        k_te = round(n_test * len(idx) / total)
        train.append(idx[:k_tr])
        test.append(idx[k_tr:k_tr + k_te])
    train, test = np.concatenate(train), np.concatenate(test)
    spare = np.setdiff1d(np.arange(total), np.concatenate([train, test]))
    spare = rng.permutation(spare)  # rounding: top up from the unused rows
    train = np.concatenate([train, spare[:max(0, n_train - len(train))]])[:n_train]
    spare = np.setdiff1d(spare, train)
    test = np.concatenate([test, spare[:max(0, n_test - len(test))]])[:n_test]
    train, test = rng.permutation(train), rng.permutation(test)
    mean, sd = x[train].mean(axis=0), x[train].std(axis=0)
    scale = lambda a: (a - mean) / np.where(sd > 0, sd, 1.0) * (np.pi / 4)
    return scale(x[train]), y[train], scale(x[test]), y[test]


def user_data(dataset, n_features: int | None):
    """The user's (x_train, y_train, x_test, y_test), checked; every problem named before any job."""
    if not isinstance(dataset, (tuple, list)) or len(dataset) != 4:
        got = f"{len(dataset)} items" if isinstance(dataset, (tuple, list)) else type(dataset).__name__
        raise ValueError(f"dataset: expected (x_train, y_train, x_test, y_test), got {got}")
    x_tr, y_tr, x_te, y_te = (np.asarray(a) for a in dataset)
    if y_tr.size and np.unique(y_tr).size < 2:
        raise ValueError(f"y_train: every label is {np.unique(y_tr)[0].item()!r}; a classifier needs both classes to learn")
    if x_tr.ndim != 2:
        raise ValueError(f"x_train: expected a 2-D array (n_samples, n_features), got shape {x_tr.shape}")
    n = n_features if n_features is not None else x_tr.shape[1]
    check_data(x_tr, y_tr, n_features=n, name="x_train")
    check_data(x_te, y_te, n_features=n, name="x_test")
    return x_tr.astype(float), y_tr.astype(int), x_te.astype(float), y_te.astype(int)
