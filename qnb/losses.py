"""Losses over arrays: ``loss(outputs, y)`` returns one value per sample (vectorised).

A user's own loss has the same form; the estimators average it over the batch and the
parameter-shift rule differentiates it numerically (central difference) at the outputs.
"""
from __future__ import annotations

import numpy as np

LOGISTIC_SCALE = 4.0


def square_loss(output, y):
    r"""The design document's loss, :math:`\ell(f, y) = (f - y)^2` with labels :math:`y \in \{-1, +1\}`.

    Args:
        output (array): model outputs f in [-1, 1].
        y (array): labels, broadcastable to ``output``.

    Returns:
        array: one loss per sample.
    """
    return (output - y) ** 2  # plain arithmetic: arrays, scalars and autodiff types alike


def square_loss_unbiased(output_1, output_2, y):
    r"""The square loss without shot bias, from two independent estimates of one output (two halves
    of a circuit's shots, ``qnb.backends.sample_halves``): with
    :math:`E\hat f_1 = E\hat f_2 = f` and the halves independent,

    .. math::

        E[(\hat f_1 - y)(\hat f_2 - y)] = (f - y)^2,

    whereas one estimate from s shots gives :math:`E(\hat f - y)^2 = (f - y)^2 + (1 - f^2)/s`
    (its variance; one-wire read-out).

    Args:
        output_1, output_2 (array): the two estimates of the model outputs.
        y (array): labels, broadcastable to the outputs.

    Returns:
        array: one loss per sample (may be negative; its mean is the exact square loss).
    """
    return (output_1 - y) * (output_2 - y)


def logistic_loss(output, y):
    r"""A margin loss for :math:`\pm 1` labels, :math:`\ell(f, y) = \log(1 + e^{-s y f})/s` with s = 4:
    the outputs f are expectation values in [-1, 1], so the scale s makes a confident correct
    output cost almost nothing.

    Args:
        output (array): model outputs f in [-1, 1].
        y (array): labels in {-1, +1}.

    Returns:
        array: one loss per sample.
    """
    return np.logaddexp(0.0, -LOGISTIC_SCALE * y * np.asarray(output, dtype=float)) / LOGISTIC_SCALE


def check_loss(loss_function, n: int) -> None:
    """Call the loss on dummy outputs before any job: one finite value per sample, or ValueError."""
    if not callable(loss_function):
        raise TypeError(f"loss_function: expected a callable loss(outputs, y), got {type(loss_function).__name__}")
    out = np.asarray(loss_function(np.zeros(n), np.ones(n)))
    if out.shape != (n,) or not np.all(np.isfinite(out)):
        raise ValueError(f"loss_function: must return one finite value per sample for arrays of {n} outputs "
                         f"and labels (vectorised), got shape {out.shape}")
