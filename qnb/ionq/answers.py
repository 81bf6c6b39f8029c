"""Checks of what the service answers, before anything in it is used."""
from __future__ import annotations

import math

from .transport import IonQResponseError


def _check_histogram(h, n: int, where: str) -> None:
    if not isinstance(h, dict) or not h:
        raise IonQResponseError(f"{where}: the histogram is not a non-empty JSON object")
    for k, v in h.items():
        if not (len(k) <= 20 and k.isascii() and k.isdigit() and int(k) < 2 ** n):
            raise IonQResponseError(f"{where}: outcome {k[:30]!r} is not a basis state of {n} qubits")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise IonQResponseError(f"{where}: probability {str(v)[:30]} of outcome {k} is not a finite number >= 0")
    if not sum(h.values()) > 0:
        raise IonQResponseError(f"{where}: the histogram sums to 0")
