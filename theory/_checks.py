"""The one input-checking helper of kdtheory.

Every public function checks its hypotheses with :func:`require` (or the small
wrappers below), so every error message has the same shape::

    <function>: <parameter> must <requirement>, got <value>
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def _caller(depth: int) -> str:
    return sys._getframe(depth + 1).f_code.co_name


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, precision=6, separator=", ")
        return f"array of shape {value.shape}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def require(condition: bool, param: str, value: Any, requirement: str, *, func: str | None = None) -> None:
    """Raise ``ValueError`` unless ``condition``; the message names function, parameter, value, requirement.

    ``func`` defaults to the name of the calling function.
    """
    if not condition:
        name = func or _caller(1)
        raise ValueError(f"{name}: {param} must {requirement}, got {_show(value)}")


def require_finite(x: Any, param: str, *, func: str | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array, raising unless every entry is finite."""
    arr = np.asarray(x, dtype=float)
    require(bool(np.all(np.isfinite(arr))), param, x, "be finite (no NaN or inf)", func=func or _caller(1))
    return arr


def require_positive(x: float, param: str, *, strict: bool = True, func: str | None = None) -> float:
    """Return ``float(x)``, raising unless it is finite and > 0 (or >= 0 when ``strict=False``)."""
    ok = np.isfinite(x) and (x > 0 if strict else x >= 0)
    require(bool(ok), param, x, "be > 0" if strict else "be >= 0", func=func or _caller(1))
    return float(x)


def require_in(x: float, param: str, low: float, high: float, *, closed: str = "both", func: str | None = None) -> float:
    """Return ``float(x)``, raising unless it lies in the interval from ``low`` to ``high``.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``.
    """
    lo_ok = x >= low if closed in ("both", "left") else x > low
    hi_ok = x <= high if closed in ("both", "right") else x < high
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    require(bool(np.isfinite(x) or np.isinf(high)) and bool(lo_ok and hi_ok), param, x,
            f"lie in {left}{low:g}, {high:g}{right}", func=func or _caller(1))
    return float(x)


def require_distribution(p: Any, param: str, *, axis: int = -1, atol: float = 1e-9, func: str | None = None) -> np.ndarray:
    """Return ``p`` as float64, raising unless entries are >= 0 and sum to 1 along ``axis``."""
    name = func or _caller(1)
    arr = np.asarray(p, dtype=float)
    require(arr.ndim >= 1 and arr.shape[axis] >= 1, param, p, "have a non-empty last axis", func=name)
    require(bool(np.all(np.isfinite(arr))) and bool(np.all(arr >= 0)), param, p,
            "have finite non-negative entries", func=name)
    sums = arr.sum(axis=axis)
    require(bool(np.all(np.abs(sums - 1.0) <= atol)), param, p, f"sum to 1 along axis {axis} (within {atol:g})", func=name)
    return arr
