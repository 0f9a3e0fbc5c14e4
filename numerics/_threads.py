"""Thread policy of kdtheory's numerical engines (documented in ``docs/threads.md``).

Three rules:

1. **Small dense linear algebra runs on one BLAS thread.** An engine call whose dense work is
   below :data:`SMALL_FLOPS` floating-point operations (every kd moment solve up to d = 60, every
   eigen-solve of a claim's instance) wraps that work in :func:`blas_threads_for`, which limits the
   BLAS/OpenMP pools to one thread for the duration and restores them afterwards. On a shared machine
   a multi-threaded BLAS gains nothing on such sizes and loses up to 10-20x when the cores are busy.
2. **``-j`` workers run single-threaded.** A worker process calls :func:`worker_limits` once at
   start-up (BLAS and OpenMP pools at one thread); the parent sets :func:`worker_environment`
   in the environment of the spawned interpreters (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
   ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS`` = 1), so N workers use N cores, not N x cores.
3. **Otherwise the user's setting is respected.** Work above :data:`SMALL_FLOPS` (a d = 120 moment
   solve) runs with whatever the user configured (environment variables, ``threadpoolctl``); nothing
   in kdtheory raises a thread count. Numba kernels are serial except rdml's
   ``renyi_batch`` and sd's problem batch, whose ``prange`` iterations are independent problems (no
   shared output, no cross-thread reduction), so ``NUMBA_NUM_THREADS`` does not change any number.

:func:`thread_settings` summarises what a run used (``kdt bench`` prints it).
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

__all__ = ["SMALL_FLOPS", "WORKER_ENV", "blas_threads_for", "one_blas_thread", "worker_limits",
           "worker_environment", "thread_settings", "format_thread_settings"]

SMALL_FLOPS = 1e10
"""Dense work (floating-point operations) below which an engine call uses one BLAS thread."""

WORKER_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
"""Environment variables set to ``"1"`` for spawned ``-j`` workers."""

_CONTROLLER: Any = None


def _controller():
    """One cached ``threadpoolctl.ThreadpoolController`` (building one costs ~5 ms; limiting with it ~10 us).

    Built after NumPy and SciPy's BLAS are loaded, so both of their OpenBLAS copies are covered.
    ``None`` when threadpoolctl is not installed (then no limits are applied).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            import numpy  # noqa: F401
            import scipy.linalg  # noqa: F401
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _CONTROLLER = False
        else:
            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER or None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit the BLAS and OpenMP pools to one thread inside the block (restored on exit)."""
    ctl = _controller()
    if ctl is None:
        yield
        return
    with ctl.limit(limits=1):
        yield


def blas_threads_for(flops: float):
    """The policy's context for a block doing ``flops`` floating-point operations of dense work.

    One BLAS thread below :data:`SMALL_FLOPS`; the user's setting (no change) above it.
    """
    return one_blas_thread() if flops < SMALL_FLOPS else nullcontext()


def worker_environment() -> dict[str, str]:
    """Environment for spawned ``-j`` worker interpreters: every thread pool at one thread."""
    return {k: "1" for k in WORKER_ENV}


def worker_limits() -> dict:
    """Call once at the start of a ``-j`` worker process: BLAS and OpenMP pools at one thread for the
    rest of the process (also sets the worker-environment variables for any child it spawns).

    Returns :func:`thread_settings` after the change. Safe to call more than once.
    """
    os.environ.update(worker_environment())
    ctl = _controller()
    if ctl is not None:
        ctl.limit(limits=1)
    return thread_settings()


def thread_settings() -> dict:
    """What the current process runs with: each thread pool (threadpoolctl), Numba's thread count,
    and the thread environment variables."""
    pools = []
    ctl = _controller()
    if ctl is not None:
        for lib in ctl.info():
            pools.append({"user_api": lib.get("user_api"), "internal_api": lib.get("internal_api"),
                          "num_threads": lib.get("num_threads"), "version": lib.get("version"),
                          "library": os.path.basename(str(lib.get("filepath", "")))})
    try:
        import numba

        numba_threads = int(numba.config.NUMBA_NUM_THREADS)
    except ImportError:  # pragma: no cover - numba is a dependency
        numba_threads = None
    env = {k: os.environ.get(k) for k in WORKER_ENV}
    return {"pools": pools, "numba_num_threads": numba_threads, "cpu_count": os.cpu_count(),
            "environment": env, "small_flops": SMALL_FLOPS}


def format_thread_settings(settings: dict | None = None) -> str:
    """One line per thread pool, then Numba, the environment and the policy threshold."""
    s = thread_settings() if settings is None else settings
    lines = [f"threads: {p['internal_api']} ({p['user_api']}, {p['library']}, v{p['version']}): "
             f"{p['num_threads']} thread(s)" for p in s["pools"]] or ["threads: no thread pool found (threadpoolctl)"]
    env = ", ".join(f"{k}={v}" for k, v in s["environment"].items() if v is not None) or "none set"
    lines.append(f"threads: NUMBA_NUM_THREADS={s['numba_num_threads']} (prange in rdml.renyi_batch and sd's problem "
                 f"batch only); "
                 f"cpu_count={s['cpu_count']}; environment: {env}")
    lines.append(f"threads: policy: dense work < {s['small_flops']:.0e} flops per engine call runs on 1 BLAS thread "
                 f"(docs/threads.md)")
    return "\n".join(lines)
