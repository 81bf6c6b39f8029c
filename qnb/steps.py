"""The parts of a step that carry no circuits: Spall's gains (``Gains``) and the update rule
(``StepRule``: SGD, momentum, Adam), with the checks their saved states pass through."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import validation as check

RULES = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class Gains:
    r"""Spall's gain schedule, as in ``qml.SPSAOptimizer``:

    .. math::

        c_k = \frac{c}{(k+1)^\gamma}, \qquad a_k = \frac{a}{(k+1+A)^\alpha}.

    Args:
        a (float): step-size numerator (:math:`a_0 = a/(1+A)^\alpha`, not ``a``, is the first step).
        c (float): perturbation size at k = 0.
        A (float): stability constant.
        alpha, gamma (float): decay exponents (Spall's 0.602 and 0.101).
    """

    a: float = 0.3
    c: float = 0.2
    A: float = 5.0
    alpha: float = 0.602
    gamma: float = 0.101

    def __post_init__(self):
        for name in ("a", "c"):
            check.positive(f"gains.{name}", getattr(self, name))
        for name in ("A", "alpha", "gamma"):
            check.number(f"gains.{name}", getattr(self, name), lo=0)
        if not (np.isfinite(self.A) and self.A >= 0):
            raise ValueError(f"gains.A: must be a finite number >= 0, got {self.A}")

    def at(self, k: int) -> tuple[float, float]:
        """(c_k, a_k) at iteration k (0-based)."""
        return self.c / (k + 1) ** self.gamma, self.a / (k + 1 + self.A) ** self.alpha


def _vector(v, n: int, what: str) -> np.ndarray:
    """``v`` as n finite floats (from JSON), or ValueError naming ``what``."""
    ok = isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    a = np.array(v, dtype=float) if ok else None
    if a is None or not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: expected {n} finite numbers")
    return a


def _count(v, what: str, most: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{what}: expected an integer >= 0, got {v!r}")
    if most is not None and v > most:  # (10**400 is no count: it overflows a float in the next step)
        shown = str(v) if v < 10 ** 30 else f"an integer of {len(str(v))} digits"
        raise ValueError(f"{what}: expected a step count <= {most}, got {shown}")
    return v


MAX_STEPS = 10**12  # a step counter beyond this is no run's (a float still holds it exactly)


class StepRule:
    r"""One update from a gradient estimate g and the gain :math:`a_k`.

    * ``sgd``: :math:`\theta - a_k g` (Spall's SPSA step).
    * ``momentum``: heavy ball, :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`\theta - a_k m`.
    * ``adam``: Kingma & Ba with bias correction,
      :math:`\theta - a_k \hat m / (\sqrt{\hat v} + 10^{-8})`, a step of about :math:`a_k` per
      parameter whatever the scale of g.
    """

    def __init__(self, kind: str = "sgd", beta1: float = 0.9, beta2: float = 0.999):
        if kind not in RULES:
            raise ValueError(f"optimizer: unknown optimizer {kind!r}; allowed: {', '.join(RULES)}")
        self.kind, self.beta1, self.beta2 = kind, beta1, beta2
        self.m = self.v = None
        self.t = 0

    def step(self, params: np.ndarray, g: np.ndarray, a_k: float) -> np.ndarray:
        if self.kind == "sgd":
            return params - a_k * g
        if self.m is None:
            self.m, self.v = np.zeros_like(g), np.zeros_like(g)
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        if self.kind == "momentum":
            return params - a_k * self.m
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat, v_hat = self.m / (1 - self.beta1 ** self.t), self.v / (1 - self.beta2 ** self.t)
        return params - a_k * m_hat / (np.sqrt(v_hat) + 1e-8)

    def state(self) -> dict:
        return {"t": self.t, "m": None if self.m is None else self.m.tolist(),
                "v": None if self.v is None else self.v.tolist()}

    def load_state(self, state: dict, n_params: int) -> None:
        """Restore ``state()``; ValueError (nothing changed) unless it is a valid state for
        ``n_params`` parameters: a step counter t >= 0 and moments present exactly when t > 0."""
        if not isinstance(state, dict):
            raise ValueError("expected {t: integer >= 0, m, v}")
        t = _count(state.get("t"), "t", MAX_STEPS)
        moments = []
        for k in ("m", "v"):
            value = state.get(k, "missing")
            try:
                moments.append(None if value is None else _vector(value, n_params, k))
            except ValueError:
                raise ValueError(f"{k}: expected None or {n_params} finite numbers") from None
        m, v = moments
        if v is not None and np.any(v < 0):
            raise ValueError("v: a second moment must be >= 0")
        if (m is None) != (t == 0):
            raise ValueError("m: present exactly when t > 0")
        self.t, self.m, self.v = t, m, v
