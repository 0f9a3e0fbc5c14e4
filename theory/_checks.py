"""The one input-checking helper of kdtheory.

Every public function checks its hypotheses with :func:`require` (or the small
wrappers below), so every error message has the same shape::

    <function>: <parameter> must <requirement>, got <value>

A value outside the hypotheses raises ``ValueError``; a value of the wrong type (a string
where a number is expected, a ragged list where an array is) raises ``TypeError`` with the
same shape. ``func`` defaults to the name of the calling function; a private helper that
validates on behalf of a public function passes ``func=`` explicitly.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

__all__ = ["require", "require_type", "require_real", "require_int", "require_array", "require_finite",
           "require_positive", "require_in", "require_distribution", "require_choice"]


def _caller(depth: int) -> str:
    return sys._getframe(depth + 1).f_code.co_name


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, precision=6, separator=", ")
        return f"array of shape {value.shape}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def require(condition: bool, param: str, value: Any, requirement: str, *, func: str | None = None) -> None:
    """Raise ``ValueError`` unless ``condition``; the message names function, parameter, value, requirement."""
    if not condition:
        name = func or _caller(1)
        raise ValueError(f"{name}: {param} must {requirement}, got {_show(value)}")


def require_type(condition: bool, param: str, value: Any, requirement: str, *, func: str | None = None) -> None:
    """Raise ``TypeError`` unless ``condition`` (same message shape as :func:`require`)."""
    if not condition:
        name = func or _caller(1)
        raise TypeError(f"{name}: {param} must {requirement}, got {type(value).__name__} {_show(value)}")


def _is_real(x: Any) -> bool:
    """A real scalar: Python/NumPy/SymPy reals, mpmath ``mpf`` and 0-d numeric arrays (not bool)."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (numbers.Real, np.floating, np.integer)):
        return True
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype.kind in "fiu"
    return type(x).__module__.startswith("mpmath") and type(x).__name__ == "mpf"


def require_real(x: Any, param: str, *, finite: bool = True, func: str | None = None) -> float:
    """Return ``float(x)`` for a real number (finite unless ``finite=False``: then NaN is still refused)."""
    name = func or _caller(1)
    require_type(_is_real(x), param, x, "be a real number", func=name)
    v = float(x)
    require(not np.isnan(v) and (np.isfinite(v) or not finite), param, x,
            "be finite (no NaN or inf)" if finite else "not be NaN", func=name)
    return v


def require_int(x: Any, param: str, *, low: int | None = None, high: int | None = None,
                func: str | None = None) -> int:
    """Return ``int(x)`` for an integer in ``[low, high]`` (each bound optional; counts get a cap)."""
    name = func or _caller(1)
    require_type(isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_)),
                 param, x, "be an integer", func=name)
    v = int(x)
    if low is not None and high is not None:
        require(low <= v <= high, param, x, f"lie in [{low}, {high}]", func=name)
    elif low is not None:
        require(v >= low, param, x, f"be >= {low}", func=name)
    elif high is not None:
        require(v <= high, param, x, f"be <= {high}", func=name)
    return v


def require_array(x: Any, param: str, *, ndim: int | tuple[int, ...] | None = None, finite: bool = True,
                  min_size: int = 1, max_size: int | None = None, func: str | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array: numeric (else ``TypeError``), of the given ``ndim``,
    with at least ``min_size`` (and at most ``max_size``) entries, all finite unless ``finite=False``."""
    name = func or _caller(1)
    ok_type = not isinstance(x, (str, bytes, dict, set)) and x is not None
    arr = None
    if ok_type:
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            ok_type = False
    require_type(ok_type, param, x, "be a real number or an array of real numbers (not ragged)", func=name)
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        require(arr.ndim in dims, param, arr, f"have {' or '.join(map(str, dims))} dimension(s)", func=name)
    require(arr.size >= min_size, param, arr, f"have at least {min_size} entries", func=name)
    if max_size is not None:
        require(arr.size <= max_size, param, arr, f"have at most {max_size} entries", func=name)
    if finite:
        require(bool(np.all(np.isfinite(arr))), param, arr, "be finite (no NaN or inf)", func=name)
    else:
        require(not bool(np.any(np.isnan(arr))), param, arr, "not contain NaN", func=name)
    return arr


def require_finite(x: Any, param: str, *, func: str | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array, raising unless it is numeric and every entry is finite."""
    return require_array(x, param, finite=True, min_size=0, func=func or _caller(1))


def require_positive(x: float, param: str, *, strict: bool = True, func: str | None = None) -> float:
    """Return ``float(x)``, raising unless it is a finite real > 0 (or >= 0 when ``strict=False``)."""
    name = func or _caller(1)
    v = require_real(x, param, func=name)
    require(v > 0 if strict else v >= 0, param, x, "be > 0" if strict else "be >= 0", func=name)
    return v


def require_in(x: float, param: str, low: float, high: float, *, closed: str = "both", func: str | None = None) -> float:
    """Return ``float(x)``, raising unless it is a real number in the interval from ``low`` to ``high``.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``; an infinite
    endpoint admits every finite value on its side.
    """
    name = func or _caller(1)
    v = require_real(x, param, finite=not (np.isinf(low) or np.isinf(high)), func=name)
    lo_ok = v >= low if closed in ("both", "left") else v > low
    hi_ok = v <= high if closed in ("both", "right") else v < high
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    require(bool(lo_ok and hi_ok), param, x, f"lie in {left}{low:g}, {high:g}{right}", func=name)
    return v


def require_distribution(p: Any, param: str, *, axis: int = -1, atol: float = 1e-9, func: str | None = None) -> np.ndarray:
    """Return ``p`` as float64, raising unless entries are >= 0 and sum to 1 along ``axis``."""
    name = func or _caller(1)
    arr = require_array(p, param, ndim=tuple(range(1, 33)), finite=False, func=name)
    require(arr.shape[axis] >= 1, param, p, "have a non-empty last axis", func=name)
    require(bool(np.all(np.isfinite(arr))) and bool(np.all(arr >= 0)), param, p,
            "have finite non-negative entries", func=name)
    sums = arr.sum(axis=axis)
    require(bool(np.all(np.abs(sums - 1.0) <= atol)), param, p, f"sum to 1 along axis {axis} (within {atol:g})", func=name)
    return arr


def require_choice(x: Any, param: str, choices: tuple, *, func: str | None = None) -> Any:
    """Return ``x`` if it is one of ``choices`` (a ``TypeError`` for an unhashable value)."""
    name = func or _caller(1)
    try:
        ok = bool(x in choices)
    except (TypeError, ValueError):  # unhashable, or an array whose == is elementwise
        ok = False
    require(ok, param, x, f"be one of {choices}", func=name)
    return x
