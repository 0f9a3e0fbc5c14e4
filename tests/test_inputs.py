"""Bad-input sweep over every public function of ``kdtheory.theory`` and ``kdtheory.numerics``.

The rule (issue #9, DESIGN.md "Inputs"): an argument outside the hypotheses raises
``ValueError`` and a wrong type ``TypeError``, both with a message of the shape
``<function>: <parameter> must ..., got ...``; nothing else escapes (no OverflowError,
ZeroDivisionError, IndexError, Numba typing error, error raised deep inside NumPy/SciPy);
an accepted input never yields NaN; no call runs unbounded. Hypothesis draws each argument
from a pool of bad values (NaN, infinities, negatives, zero, 1e300, 1e-300, huge counts,
strings, None, empty and ragged lists) mixed with plausible ones, so that some calls get
past the first check and exercise the later ones. Examples are derandomised: the sweep is
the same on every run.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import re
import signal
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import kdtheory.numerics
import kdtheory.theory

SECONDS_PER_CALL = 10  # "unbounded": a call on tiny or rejected inputs that takes longer than this
EXAMPLES = 40
MESSAGE = re.compile(r"^[A-Za-z_][\w.]*: \S")  # "<function>: <parameter> must ..."

NAN, INF = float("nan"), float("inf")
BAD = [NAN, INF, -INF, -1, 0, -1e300, 1e300, 1e-300, 10 ** 30, "x", None, [], [NAN, 1.0],
       [[1.0, 2.0], [3.0]], np.array([INF, 1.0]), -0.5, 2 ** 63]
PLAUSIBLE = [0.5, 1.0, 2, 3, 0.1, [0.5, 0.5], [1.0, 2.0, 3.0], [[2.0, 0.5], [0.5, 1.0]], np.eye(2),
             np.ones((3, 2)), np.arange(4.0)]


def _modules(package) -> list:
    mods = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name not in ("bench",):
            mods.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return mods


MODULES = _modules(kdtheory.theory) + _modules(kdtheory.numerics)


def _public_names(mod) -> list[str]:
    """``__all__``, or (for a module that lacks it, which its own test reports) its public functions."""
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    return [n for n, obj in vars(mod).items()
            if inspect.isfunction(obj) and obj.__module__ == mod.__name__ and not n.startswith("_")]


def _functions() -> list[tuple[str, object]]:
    out = []
    for mod in MODULES:
        for name in _public_names(mod):
            obj = getattr(mod, name)
            if inspect.isfunction(obj) and not name.startswith("derive_"):
                out.append((f"{mod.__name__.removeprefix('kdtheory.')}.{name}", obj))
    return out


FUNCTIONS = _functions()


@pytest.mark.parametrize("mod", MODULES, ids=[m.__name__ for m in MODULES])
def test_module_declares_its_public_surface(mod):
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{mod.__name__} has no __all__"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{mod.__name__}.__all__ names what it does not define: {missing}"
    undeclared = [n for n, obj in vars(mod).items()
                  if inspect.isfunction(obj) and obj.__module__ == mod.__name__ and not n.startswith("_")
                  and n not in names]
    assert not undeclared, f"{mod.__name__}: public functions missing from __all__ (or make them private): {undeclared}"


def _strategy(param: inspect.Parameter):
    pool = list(BAD) + list(PLAUSIBLE)
    default = param.default
    if isinstance(default, str):
        pool += [default, "bogus"]
    elif isinstance(default, bool):
        pool += [True, False]
    if "rng" in param.name or "generator" in param.name:
        pool.append(np.random.default_rng(0))
    values = st.sampled_from(pool)
    if default is not inspect.Parameter.empty:
        return st.one_of(st.just(inspect.Parameter.empty), values)
    return values


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _has_nan(x, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fc" and bool(np.isnan(x).any())
    if isinstance(x, (float, np.floating)):
        return math.isnan(x)
    if isinstance(x, complex):
        return math.isnan(x.real) or math.isnan(x.imag)
    if isinstance(x, dict):
        return any(_has_nan(v, depth + 1) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_nan(v, depth + 1) for v in x[:10000])
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return any(_has_nan(getattr(x, f.name), depth + 1) for f in dataclasses.fields(x))
    return False


def _call(qualname: str, fn, args: list, kwargs: dict) -> None:
    shown = f"{qualname}(*{args!r}, **{kwargs!r})"
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_CALL)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
    except _Timeout:
        pytest.fail(f"{shown} ran longer than {SECONDS_PER_CALL} s (an input must not make a call unbounded)")
    except (ValueError, TypeError) as exc:
        assert MESSAGE.match(str(exc)), (f"{shown} raised {type(exc).__name__} without naming the function and "
                                         f"parameter: {str(exc)[:300]!r}")
        return
    except Exception as exc:  # noqa: BLE001 - the point is to catch foreign exceptions
        pytest.fail(f"{shown} raised {type(exc).__name__} (only ValueError/TypeError are allowed): {str(exc)[:300]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not _has_nan(result), f"{shown} accepted its input and returned NaN"


@pytest.mark.parametrize("qualname,fn", FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
def test_bad_inputs_raise_named_errors(qualname, fn):
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    # No shrinking: the first failing call is reported as drawn (shrinking a timeout costs minutes).
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.tuples(*[_strategy(p) for p in params]) if params else st.just(()))
    def sweep(values):
        args, kwargs = [], {}
        for p, v in zip(params, values):
            if v is inspect.Parameter.empty:
                continue
            if p.kind == p.POSITIONAL_ONLY:
                args.append(v)
            else:
                kwargs[p.name] = v
        _call(qualname, fn, args, kwargs)
        calls.append(1)

    calls = []
    sweep()
    assert calls, f"{qualname}: the sweep made no call"
