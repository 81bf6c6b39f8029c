"""The adaptive-shots strategy of issue 27 (a research-harness strategy: it wraps an estimator's
post-processing and sets the trainer's shots between steps; nothing in the core changes)."""
from __future__ import annotations

import math

import numpy as np

from ..prices import PRICES, PriceSheet, circuits_gate_counts
from .runs import run_qnb

ADAPTIVE_SHEETS = ("braket-ionq-aria", "braket-ionq-aria-program-set", "azure-ionq")
ADAPTIVE_LIMITS = (2, 500)  # the shots it may choose
ADAPTIVE_MEMORY = 0.9  # exponential moving average of the measured variances


def shot_prices(sheet: PriceSheet, n_circuits: int, gates: tuple[int, int]) -> tuple[float, float]:
    """(C0, C1): dollars per circuit of a step that do not depend on its shots (the task fee, the
    job fee shared by its ``n_circuits``) and dollars per shot of one circuit (per-shot and
    gate-shot fees)."""
    c0 = sheet.per_circuit + sheet.per_job / n_circuits
    c1 = sheet.per_shot + sheet.per_1q_gate_shot * gates[0] + sheet.per_2q_gate_shot * gates[1]
    return c0, c1


class AdaptiveShots:
    r"""Shots per circuit set each step from the measured gradient variance and a price model
    (after Rosalin/iCANS, which spend shots where the variance per unit cost falls fastest).

    Each step's k samples x m directions give per-sample directional derivatives
    :math:`D_{ji} = (\ell(\hat f_{ji}^+) - \ell(\hat f_{ji}^-))/(2c)`. Their spread has two parts:
    the shot noise, :math:`\sigma_1^2/s` with (square loss)
    :math:`\sigma_1^2 = [4(f^+ - y)^2(1 - f^{+2}) + 4(f^- - y)^2(1 - f^{-2})]/(2c)^2` per shot, and
    the rest (samples and directions), :math:`\sigma_d^2 = \operatorname{Var} D - \sigma_1^2/s`.
    A circuit costs :math:`C_0 + C_1 s` (``shot_prices``) and the estimate's variance is
    :math:`\propto \sigma_d^2 + \sigma_1^2/s`, so the dollars per unit of precision,
    :math:`(C_0 + C_1 s)(\sigma_d^2 + \sigma_1^2/s)`, are least at

    .. math::

        s^* = \sqrt{\frac{C_0\,\sigma_1^2}{C_1\,\sigma_d^2}},

    used for the next step (clipped to ``ADAPTIVE_LIMITS`` and the sheet's ``min_shots``), the
    variances averaged over steps with memory ``ADAPTIVE_MEMORY``. A research strategy: it wraps
    the estimator's post-processing and sets the trainer's shots between steps, nothing in the
    core changes."""

    def __init__(self, sheet: str, limits=ADAPTIVE_LIMITS, memory: float = ADAPTIVE_MEMORY):
        self.sheet, self.memory = PRICES[sheet], memory
        self.lo, self.hi = max(limits[0], self.sheet.min_shots), limits[1]
        self.v1 = self.vd = None
        self.chosen: list[int] = []

    def observe(self, f: np.ndarray, y: np.ndarray, c: float) -> None:
        """f: outputs, rows +, -, +, - (one pair per direction), columns the k samples."""
        plus, minus = f[0::2], f[1::2]
        d = ((plus - y) ** 2 - (minus - y) ** 2) / (2 * c)
        v1 = float(np.mean(4 * (plus - y) ** 2 * (1 - plus ** 2) + 4 * (minus - y) ** 2 * (1 - minus ** 2))) / (2 * c) ** 2
        if d.size < 2:
            return
        vd = max(float(np.var(d, ddof=1)) - v1 / self.shots, 1e-12)
        m = self.memory
        self.v1 = v1 if self.v1 is None else m * self.v1 + (1 - m) * v1
        self.vd = vd if self.vd is None else m * self.vd + (1 - m) * vd

    def __call__(self, trainer):
        est, model = trainer.optimizer.estimator, trainer.model
        plan = est.plan
        self.shots = trainer.config.shots_per_circuit

        def wrapped(model_, params, X, Y, loss_function, c_k, rng, shots=None, state=None):
            p = plan(model_, params, X, Y, loss_function, c_k, rng, shots, state)
            post, n_dir = p.postprocess, est.num_directions

            def postprocess(results):
                grad, value, meta = post(results)
                idx = meta.get("indices", list(range(len(X))))
                k = len(idx)
                f = model_.outputs_from(np.asarray(results[:2 * n_dir * k], dtype=float)).reshape(2 * n_dir, k)
                self.observe(f, np.asarray(Y)[idx], c_k)
                return grad, value, meta
            p.postprocess = postprocess
            return p
        est.plan = wrapped
        n = est.n_circuits(trainer.config.batch_size)
        self.c0, self.c1 = shot_prices(self.sheet, n, circuits_gate_counts(
            model.build_circuits(trainer.dataset[0][:1], model.parameters[None, :])))

        def after(t, rec):
            if self.v1 is not None:
                s = math.sqrt(self.c0 * self.v1 / (self.c1 * self.vd)) if self.c1 > 0 else self.hi
                self.shots = int(min(self.hi, max(self.lo, round(s))))
                t.config = t.config.replace(shots_per_circuit=self.shots)
            self.chosen.append(self.shots)
        return after


def run_candidate(kw: dict, kind: str, seed: int, rule: tuple) -> list[dict]:
    """A grid or adaptive candidate under ``rule`` (see ``race.race_task``)."""
    from ..config import TrainingConfig
    kw = dict(kw)
    sheet = kw.pop("adaptive", None)
    setup = AdaptiveShots(sheet) if sheet else None
    return run_qnb(TrainingConfig(**{**kw, "seed": seed}), kind, rule, setup=setup)
