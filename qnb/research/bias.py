"""Few shots, measured correctly (issue 27, item 3): the bias of the square loss of an s-shot
output and an estimator without it.

An output estimated from s shots, :math:`\\hat f`, has :math:`E\\hat f = f` and (one-wire read-out)
:math:`\\operatorname{Var}\\hat f = (1 - f^2)/s`, so

.. math::

    E(\\hat f - y)^2 = (f - y)^2 + \\frac{1 - f^2}{s}:

at 2 shots the loss is inflated by up to 1/2, which pulls the optimiser toward outputs near
:math:`\\pm 1` whatever the label. Two independent halves of the same shots give
:math:`(\\hat f_1 - y)(\\hat f_2 - y)`, unbiased for :math:`(f - y)^2` (``qnb.losses.square_loss_unbiased``).
"""
from __future__ import annotations

import numpy as np

from ..backends import NumpyBackend, sample_halves, sample_probabilities
from ..latency import LatencyModel
from ..losses import square_loss, square_loss_unbiased
from ..model import QuantumModel
from .runs import bench_data
from .stats import normal_interval

BIAS_SHOTS = (1, 2, 10, 100)


def bias_table(shots=BIAS_SHOTS, kind: str = "blobs", draws: int = 4000, seed: int = 0) -> list[dict]:
    """Per shot count s: the mean over the data set's test samples (the untrained model's exact
    outputs f) of the square loss's shot bias, measured from ``draws`` s-shot histograms per
    circuit, beside :math:`(1-f^2)/s`; and the bias of the two-halves estimator (s >= 2), each
    with its 95 % interval (normal, from the draws' standard error)."""
    _, _, x, y = bench_data(kind)
    model = QuantumModel(n_features=x.shape[1], seed=0)
    backend = NumpyBackend(latency=LatencyModel.zero())
    probs = np.asarray(backend.execute(model.build_circuits(x, np.tile(model.parameters, (len(x), 1)))), dtype=float)
    f = model.outputs_from(probs)
    exact = square_loss(f, y)
    rng = np.random.default_rng(seed)
    rows = []
    for s in shots:
        rep = np.repeat(probs, draws, axis=0)  # every circuit drawn ``draws`` times
        yy, ex = np.repeat(y, draws), np.repeat(exact, draws)
        err = square_loss(model.outputs_from(sample_probabilities(rep, s, rng)), yy) - ex
        row = {"shots": s, "predicted (1 - f^2)/s": float(np.mean((1 - f ** 2) / s)),
               "square loss bias": float(err.mean()),
               "95 % interval": _iv(err)}
        if s >= 2:
            h1, h2 = sample_halves(rep, s, rng)
            e2 = square_loss_unbiased(model.outputs_from(h1), model.outputs_from(h2), yy) - ex
            row.update({"halves estimator bias": float(e2.mean()), "halves 95 % interval": _iv(e2)})
        else:
            row.update({"halves estimator bias": None, "halves 95 % interval": "needs 2 shots"})
        rows.append(row)
    return rows


def _iv(e: np.ndarray) -> str:
    _, lo, hi = normal_interval(float(e.mean()), float(e.std(ddof=1) / np.sqrt(len(e))))
    return f"[{lo:.4f}, {hi:.4f}]"
