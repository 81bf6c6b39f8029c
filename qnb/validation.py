"""One place for argument checks, so that every part of qnb refuses the same things the same way:
``True`` is not a number, numpy integers and floats are, NaN and infinity are not finite, and the
message names the argument and what it got."""
from __future__ import annotations

import math

import numpy as np

_INT = (int, np.integer)
_REAL = (int, float, np.integer, np.floating)


def _shown(v) -> str:
    """``repr(v)``, cut short: a message never carries a 400-digit number or a megabyte string."""
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def integer(name: str, v, lo: int | None = 1, hi: int | None = None) -> int:
    """``v`` as a Python int in [lo, hi] (bounds None: open); ValueError otherwise."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, _INT) or (lo is not None and v < lo) or (
            hi is not None and v > hi):
        span = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name}: must be an integer {span}, got {_shown(v)}")
    return int(v)


def number(name: str, v, lo: float | None = None, hi: float | None = None, *, strict_lo: bool = False,
           strict_hi: bool = False) -> float:
    """``v`` as a finite Python float within the bounds (strict: excluded); ValueError otherwise."""
    try:
        ok = not isinstance(v, (bool, np.bool_)) and isinstance(v, _REAL) and math.isfinite(v)
    except OverflowError:  # an integer beyond any float
        ok = False
    ok = ok and (lo is None or (v > lo if strict_lo else v >= lo)) and (hi is None or (v < hi if strict_hi else v <= hi))
    if not ok:
        bounds = [f"{'>' if strict_lo else '>='} {lo:g}" if lo is not None else "",
                  f"{'<' if strict_hi else '<='} {hi:g}" if hi is not None else ""]
        said = " and ".join(b for b in bounds if b)
        raise ValueError(f"{name}: must be a finite number{' ' + said if said else ''}, got {_shown(v)}")
    return float(v)


def positive(name: str, v) -> float:
    """A finite number > 0."""
    return number(name, v, 0.0, strict_lo=True)


def boolean(name: str, v) -> bool:
    """True or False (numpy's too); ValueError for anything else (1, "yes", None)."""
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{name}: must be True or False, got {_shown(v)}")
    return bool(v)
