"""The adaptive strategies of issue 27 (research-harness strategies: they wrap an estimator's
post-processing and set the trainer's shots, and the subsample size k, between steps; nothing in
the core changes)."""
from __future__ import annotations

import math

import numpy as np

from ..prices import PRICES, PriceSheet, circuits_gate_counts
from .runs import run_qnb

ADAPTIVE_SHEETS = ("braket-ionq-aria", "braket-ionq-aria-program-set", "azure-ionq")
ADAPTIVE_LIMITS = (2, 500)  # the shots it may choose
ADAPTIVE_MEMORY = 0.9  # exponential moving average of the measured variances
# the dollars one step's time is worth (the price of the minutes limit): the k-and-shots strategy
# is tried at each; a larger value buys precision, and so fewer steps, with more samples
ADAPTIVE_STEP_VALUES = (3.0, 30.0)


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
    the rest, the spread over samples, :math:`\sigma_d^2 = \operatorname{Var}_i D_{ji} - \sigma_1^2/s`
    (averaged over the directions j).
    A circuit costs :math:`C_0 + C_1 s` (``shot_prices``) and the estimate's variance is
    :math:`\propto \sigma_d^2 + \sigma_1^2/s`, so the dollars per unit of precision,
    :math:`(C_0 + C_1 s)(\sigma_d^2 + \sigma_1^2/s)`, are least at

    .. math::

        s^* = \sqrt{\frac{C_0\,\sigma_1^2}{C_1\,\sigma_d^2}},

    used for the next step (clipped to ``ADAPTIVE_LIMITS`` and the sheet's ``min_shots``), the
    variances averaged over steps with memory ``ADAPTIVE_MEMORY``.

    With ``step_value`` (:math:`\lambda`, dollars that one step's time is worth) it also sets the
    subsample size k (after the norm test of adaptive batch sizes, Byrd et al. 2012). At a given
    :math:`|g|^2`, an SPSA step along m directions makes progress :math:`\propto 1/(|g|^2 + V_s/k)`,
    with :math:`V_s = \sigma_d^2 + \sigma_1^2/s` and :math:`|g|^2 = E(\Delta\cdot g)^2` estimated from
    each direction's mean over the samples less that mean's variance. A step costs its job fee
    :math:`p_\text{job}`, one step of time and :math:`2mk(p_\text{circuit} + C_1 s)` for its circuits,
    so the cost of a unit of progress,
    :math:`(\lambda + p_\text{job} + 2mk(p_\text{circuit} + C_1 s))(|g|^2 + V_s/k)`, is least at

    .. math::

        k^* = \sqrt{\frac{(\lambda + p_\text{job})\,V_s}{2m\,(p_\text{circuit} + C_1 s)\,|g|^2}},

    clipped to [2, the batch size]: few samples while the gradient stands out of the noise, more
    as it shrinks towards the optimum. A research strategy: it wraps the estimator's
    post-processing and sets the trainer's shots (and the estimator's k) between steps, nothing in
    the core changes."""

    def __init__(self, sheet: str, limits=ADAPTIVE_LIMITS, memory: float = ADAPTIVE_MEMORY,
                 step_value: float | None = None):
        self.sheet, self.memory, self.step_value = PRICES[sheet], memory, step_value
        self.lo, self.hi = max(limits[0], self.sheet.min_shots), limits[1]
        self.v1 = self.vd = self.g2 = None
        self.chosen: list[int] = []
        self.chosen_k: list[int] = []

    def _average(self, name: str, value: float) -> None:
        old = getattr(self, name)
        setattr(self, name, value if old is None else self.memory * old + (1 - self.memory) * value)

    def observe(self, f: np.ndarray, y: np.ndarray, c: float) -> None:
        """f: outputs, rows +, -, +, - (one pair per direction), columns the k samples."""
        plus, minus = f[0::2], f[1::2]
        v1 = float(np.mean(4 * (plus - y) ** 2 * (1 - plus ** 2) + 4 * (minus - y) ** 2 * (1 - minus ** 2))) / (2 * c) ** 2
        self.observe_derivatives(((plus - y) ** 2 - (minus - y) ** 2) / (2 * c), v1)

    def observe_derivatives(self, d: np.ndarray, v1: float) -> None:
        """d: the per-sample directional derivatives, rows the directions, columns the k samples;
        v1: their shot variance per shot."""
        if d.shape[1] < 2:
            return
        spread = float(np.mean(np.var(d, axis=1, ddof=1)))  # across samples, per direction
        # |g|^2 = E (Delta . g)^2 from each direction's mean over the k samples, less that mean's variance
        self._average("g2", max(float(np.mean(d.mean(axis=1) ** 2)) - spread / d.shape[1], 0.0))
        self._average("v1", v1)
        self._average("vd", max(spread - v1 / self.shots, 1e-12))

    def next_shots(self, c0: float, c1: float) -> int:
        """s*, clipped to the limits (the strategy's shots until it has measured a variance)."""
        if self.v1 is None:
            return self.shots
        s = math.sqrt(c0 * self.v1 / (c1 * self.vd)) if c1 > 0 else self.hi
        return int(min(self.hi, max(self.lo, round(s))))

    def next_k(self, c1: float, directions: int, batch: int) -> int:
        """k* at the current shots, clipped to [2, ``batch``] (``batch`` while |g|^2 reads 0); ``c1``:
        dollars per shot of one circuit (``shot_prices``)."""
        v = self.vd + self.v1 / self.shots
        fixed, per_circuit = self.step_value + self.sheet.per_job, self.sheet.per_circuit + c1 * self.shots
        k = math.sqrt(fixed * v / (2 * directions * per_circuit * self.g2)) if self.g2 > 0 and per_circuit > 0 else batch
        return int(min(batch, max(2, round(k))))

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
        if self.step_value is not None:
            est.clip_subsample = True  # an epoch's last batch may be shorter than the k chosen
        batch = trainer.config.batch_size
        gates = circuits_gate_counts(model.build_circuits(trainer.dataset[0][:1], model.parameters[None, :]))

        def after(t, rec):
            c0, c1 = shot_prices(self.sheet, est.n_circuits(batch), gates)
            if self.v1 is not None:
                self.shots = self.next_shots(c0, c1)
                t.config = t.config.replace(shots_per_circuit=self.shots)
                if self.step_value is not None:
                    est.subsample = self.next_k(c1, est.num_directions, batch)
            self.chosen.append(self.shots)
            self.chosen_k.append(est.subsample)
        return after


def run_candidate(kw: dict, kind: str, seed: int, rule: tuple) -> list[dict]:
    """A grid or adaptive candidate under ``rule`` (see ``race.race_task``)."""
    return adaptive_run(kw, kind, seed, rule)[0]


def adaptive_run(kw: dict, kind: str, seed: int, rule: tuple) -> tuple[list[dict], AdaptiveShots | None]:
    """``run_candidate``'s records and the strategy that ran it (None for a grid candidate), whose
    ``chosen`` and ``chosen_k`` are the shots and k of each step."""
    from ..config import TrainingConfig
    kw = dict(kw)
    sheet, value = kw.pop("adaptive", None), kw.pop("step_value", None)
    setup = AdaptiveShots(sheet, step_value=value) if sheet else None
    return run_qnb(TrainingConfig(**{**kw, "seed": seed}), kind, rule, setup=setup), setup
