r"""Engines for "Distillation ~ Early Stopping? Anisotropic Information Retrieval" [air].

* **Data**: :func:`clusterable_data` (the (eps, rho)-clusterable model of Definition 1, seeded)
  and :func:`digits_binary` (scikit-learn's bundled digits as a noisy binary task, unit-norm
  inputs, for the figure analogues).
* **Exact kernel dynamics** (the infinite-width, linearised network): :func:`kernel_gd_exact`
  gives the residual along every eigendirection of the Gram matrix in closed form,
  ``(1 - eta lambda_i)^t`` for gradient descent and ``exp(-lambda_i t)`` for gradient flow
  [air, Sec. 2.3]; :func:`kernel_gd_iterate` is the direct matrix iteration it is held to;
  :func:`kernel_self_distillation` runs Algorithm 1 on the kernel (labels
  ``a_t y + (1 - a_t) h(f_t)``), each step ``f_{t+1} = y_t + S (f_t - y_t)`` with the step
  matrix ``S = I - eta H`` (GD) or ``S = exp(-tau H)`` (gradient flow with the labels refreshed
  every ``tau``) built once in the eigenbasis.
* **Finite-width two-layer networks** ``f(W, x) = v^T phi(W x)`` (fixed output layer, half of
  ``v`` equal to ``+1/sqrt(k)``), trained by full-batch GD or Algorithm 1
  (:func:`train_network`), recording outputs, labels, the distance moved, and the
  instantaneous ``H_t = J_t J_t^T`` and averaged ``H^_t = J(W_{t+1}, W_t) J_t^T`` Gram
  matrices.  The averaged Jacobian is exact: along the segment ``W_t -> W_{t+1}`` each
  pre-activation moves linearly, so ``int_0^1 phi'(a + s b) ds = (phi(a + b) - phi(a)) / b``.
  :func:`jacobian`, :func:`averaged_jacobian` and :func:`network_outputs` expose the pieces.

The training loop is a Numba kernel (``_train_kernel``) with a NumPy twin (``_train_numpy``)
that is bitwise equal on the same initialisation: every sum runs in one fixed order
(``np.cumsum`` along the summed axis is sequential), and the twin evaluates the activations
with the same libm scalar functions Numba calls (``math.tanh``, ``math.exp``, ``math.log1p``;
NumPy's vectorised ``np.tanh``/``np.exp`` differ from libm in the last bit).  So is the kernel
recursion of :func:`kernel_self_distillation`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import (require, require_array, require_choice, require_in, require_int,
                                     require_positive, require_type)

__all__ = ["ClusterableData", "clusterable_data", "digits_binary", "init_network", "network_outputs", "jacobian",
           "jacobian_gram", "averaged_jacobian", "train_network", "kernel_gd_exact", "kernel_gd_iterate", "kernel_self_distillation",
           "digits_noisy_runs", "teacher_student", "top_energy_monte_carlo", "ACTIVATION_CODES"]

ACTIVATION_CODES = {"relu": 0, "tanh": 1, "softplus": 2}
_MAX_STEPS = 2_000_000
_MAX_WIDTH = 1 << 20
_MAX_N = 4000
_MAX_WORK = 4e11   # k * n * d * steps for one training run


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterableData:
    r"""An (eps, rho)-clusterable data set [air, Definition 1].

    ``X`` (n, d) unit-norm points, ``X_centers`` (n, d) the center of each point's cluster,
    ``centers`` (K, d), ``assignment`` (n,), ``y_clean`` the cluster labels, ``y_noisy`` the
    observed labels (exactly ``floor(rho n_l)`` flipped in cluster ``l``), ``eps``, ``rho``.
    """

    X: np.ndarray
    X_centers: np.ndarray
    centers: np.ndarray
    assignment: np.ndarray
    y_clean: np.ndarray
    y_noisy: np.ndarray
    eps: float
    rho: float

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def K(self) -> int:
        return int(self.centers.shape[0])


def clusterable_data(n: int, K: int, d: int, eps: float, rho: float, *, seed: int = 0,
                     at_radius: bool = False) -> ClusterableData:
    r"""Seeded (eps, rho)-clusterable data [air, Definition 1].

    ``K`` unit centers drawn uniformly on the sphere of ``R^d``; cluster sizes as equal as
    possible (``c_low = K min n_l / n``); each point is a unit vector at distance ``eps * U``
    from its center (``U`` uniform on [0, 1], or ``U = 1`` with ``at_radius``) in a uniformly
    drawn direction; cluster labels ``+-1`` (both signs present when ``K >= 2``); exactly
    ``floor(rho n_l)`` labels flipped in cluster ``l`` (so ``rho_l <= rho``).
    """
    func = "clusterable_data"
    n = require_int(n, "n", low=1, high=_MAX_N, func=func)
    K = require_int(K, "K", low=1, high=n, func=func)
    d = require_int(d, "d", low=2, high=4096, func=func)
    e = require_in(eps, "eps", 0.0, 2.0, func=func)
    r = require_in(rho, "rho", 0.0, 0.5, closed="left", func=func)
    s = require_int(seed, "seed", low=0, func=func)
    require_type(isinstance(at_radius, (bool, np.bool_)), "at_radius", at_radius, "be a bool", func=func)
    rng = np.random.default_rng(s)
    C = rng.normal(size=(K, d))
    C /= np.linalg.norm(C, axis=1)[:, None]
    assignment = np.sort(np.arange(n) % K)
    labels = rng.choice([-1.0, 1.0], size=K)
    if K >= 2 and np.all(labels == labels[0]):
        labels[rng.integers(K)] *= -1
    X = np.empty((n, d))
    for i in range(n):
        c = C[assignment[i]]
        u = rng.normal(size=d)
        u -= (u @ c) * c
        u /= np.linalg.norm(u)
        dist = e if at_radius else e * rng.random()
        ang = 2.0 * math.asin(min(1.0, dist / 2.0))
        X[i] = math.cos(ang) * c + math.sin(ang) * u
        X[i] /= np.linalg.norm(X[i])
    y_clean = labels[assignment]
    y_noisy = y_clean.copy()
    for l in range(K):
        idx = np.flatnonzero(assignment == l)
        m = int(math.floor(r * idx.size + 1e-9))
        if m:
            y_noisy[rng.choice(idx, size=m, replace=False)] *= -1
    return ClusterableData(X, C[assignment].copy(), C, assignment, y_clean, y_noisy, e, r)


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    dg = load_digits()
    return dg.data.copy(), dg.target.copy()


def digits_binary(*, n_train: int = 300, n_test: int = 300, noise: float = 0.0, seed: int = 0, pool: int = 1) -> dict:
    r"""scikit-learn's 8x8 digits as a binary task with symmetric label noise (no download).

    Digits 0-4 are ``-1``, 5-9 are ``+1``; ``pool`` averages ``pool x pool`` pixel blocks (1: 64
    features, 2: 16); features are centered (training mean) and each row scaled to unit norm (the
    data model of Sec. 3.3); each training label is flipped with probability ``noise``.  Returns
    ``X_train, y_train`` (noisy), ``y_train_clean``, ``X_test, y_test`` and ``flipped``.
    """
    func = "digits_binary"
    pool = require_int(pool, "pool", low=1, high=4, func=func)
    require(pool in (1, 2, 4), "pool", pool, "be one of 1, 2, 4", func=func)
    ntr = require_int(n_train, "n_train", low=2, high=1200, func=func)
    nte = require_int(n_test, "n_test", low=1, high=597, func=func)
    p = require_in(noise, "noise", 0.0, 1.0, func=func)
    s = require_int(seed, "seed", low=0, func=func)
    data, target = _digits()
    rng = np.random.default_rng(s)
    perm = rng.permutation(target.size)
    tr, te = perm[:ntr], perm[ntr:ntr + nte]
    X = data.astype(float)
    if pool > 1:
        m = 8 // pool
        X = X.reshape(-1, m, pool, m, pool).mean(axis=(2, 4)).reshape(X.shape[0], -1)
    mean = X[tr].mean(axis=0)
    X = X - mean
    X /= np.maximum(np.linalg.norm(X, axis=1), 1e-12)[:, None]
    y = np.where(target >= 5, 1.0, -1.0)
    flipped = rng.random(ntr) < p
    ytr = y[tr].copy()
    ytr[flipped] *= -1
    return {"X_train": X[tr], "y_train": ytr, "y_train_clean": y[tr].copy(), "X_test": X[te], "y_test": y[te].copy(),
            "flipped": flipped}


# ---------------------------------------------------------------------------------------------
# the network: scalar activations shared by the kernel and its twin
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _act(code, a):
    if code == 0:
        return a if a > 0.0 else 0.0
    if code == 1:
        return math.tanh(a)
    if a > 0.0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))


@njit(cache=True)
def _dact(code, a):
    if code == 0:
        return 1.0 if a > 0.0 else 0.0
    if code == 1:
        t = math.tanh(a)
        return 1.0 - t * t
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


@njit(cache=True)
def _divided(code, a0, a1):
    """``int_0^1 phi'(a0 + s (a1 - a0)) ds``: the divided difference, or ``phi'(a0)`` when ``a1 == a0``."""
    if a1 == a0:
        return _dact(code, a0)
    return (_act(code, a1) - _act(code, a0)) / (a1 - a0)


def _act_py(code, a):
    if code == 0:
        return a if a > 0.0 else 0.0
    if code == 1:
        return math.tanh(a)
    if a > 0.0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))


def _dact_py(code, a):
    if code == 0:
        return 1.0 if a > 0.0 else 0.0
    if code == 1:
        t = math.tanh(a)
        return 1.0 - t * t
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _divided_py(code, a0, a1):
    if a1 == a0:
        return _dact_py(code, a0)
    return (_act_py(code, a1) - _act_py(code, a0)) / (a1 - a0)


_UFUNCS = {c: (np.frompyfunc(lambda a, c=c: _act_py(c, a), 1, 1), np.frompyfunc(lambda a, c=c: _dact_py(c, a), 1, 1),
               np.frompyfunc(lambda a, b, c=c: _divided_py(c, a, b), 2, 1)) for c in range(3)}


def _phi_np(code, A):
    return _UFUNCS[code][0](A).astype(float)


def _dphi_np(code, A):
    return _UFUNCS[code][1](A).astype(float)


def _div_np(code, A0, A1):
    return _UFUNCS[code][2](A0, A1).astype(float)


def _phi_vec(code, A):
    """Vectorised NumPy activations (outside the twin: a last-bit difference from libm does not matter here)."""
    if code == 0:
        return np.maximum(A, 0.0)
    if code == 1:
        return np.tanh(A)
    return np.logaddexp(0.0, A)


def _dphi_vec(code, A):
    if code == 0:
        return (A > 0).astype(float)
    if code == 1:
        return 1.0 - np.tanh(A) ** 2
    return 0.5 * (1.0 + np.tanh(A / 2.0))


def _div_vec(code, A0, A1):
    same = A1 == A0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (_phi_vec(code, A1) - _phi_vec(code, A0)) / np.where(same, 1.0, A1 - A0)
    return np.where(same, _dphi_vec(code, A0), q)


def _seq(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum along ``axis`` in index order (``np.cumsum`` accumulates sequentially; ``np.sum`` is pairwise)."""
    return np.take(np.cumsum(a, axis=axis), -1, axis=axis)


def _code(activation, func: str) -> int:
    require_type(isinstance(activation, str), "activation", activation, f"be one of {tuple(ACTIVATION_CODES)}",
                 func=func)
    require_choice(activation, "activation", tuple(ACTIVATION_CODES), func=func)
    return ACTIVATION_CODES[activation]


def init_network(k: int, d: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""``W_0 ~ N(0, 1)^{k x d}`` and the fixed output layer ``v`` (first half ``+1/sqrt(k)``, second ``-1/sqrt(k)``) [air, Sec. 3.3]."""
    func = "init_network"
    k = require_int(k, "k", low=2, high=_MAX_WIDTH, func=func)
    require(k % 2 == 0, "k", k, "be even (half of v is +1/sqrt(k), half -1/sqrt(k))", func=func)
    d = require_int(d, "d", low=1, high=4096, func=func)
    require(k * d <= 5e7, "k", k, f"satisfy k d <= 5e7 (d = {d})", func=func)
    s = require_int(seed, "seed", low=0, func=func)
    W = np.random.default_rng(s).normal(size=(k, d))
    v = np.full(k, 1.0 / math.sqrt(k))
    v[k // 2:] *= -1.0
    return W, v


def _net_args(W, X, v, func):
    W = require_array(W, "W", ndim=2, func=func)
    X = require_array(X, "X", ndim=2, func=func)
    v = require_array(v, "v", ndim=1, func=func)
    k, d = W.shape
    require(X.shape[1] == d, "X", X.shape, f"have {d} columns like W", func=func)
    require(v.size == k, "v", v.shape, f"have {k} entries (the rows of W)", func=func)
    require(X.shape[0] <= _MAX_N, "X", X.shape, f"have at most {_MAX_N} rows", func=func)
    require(k * X.shape[0] * max(d, 1) <= 2e8, "W", W.shape, "keep k n d <= 2e8", func=func)
    require(bool(np.abs(W).max() < 1e150), "W", W, "have entries below 1e150", func=func)
    return np.ascontiguousarray(W), np.ascontiguousarray(X), np.ascontiguousarray(v)


def network_outputs(W, X, v, activation: str = "tanh") -> np.ndarray:
    r"""``f(W, X) = (v^T phi(W x_i))_i`` [air, Sec. 3.3]."""
    func = "network_outputs"
    W, X, v = _net_args(W, X, v, func)
    code = _code(activation, func)
    return v @ _phi_vec(code, W @ X.T)


def jacobian(W, X, v, activation: str = "tanh") -> np.ndarray:
    r"""``J(W, X)`` (n, k d): row ``i`` is ``vec((v o phi'(W x_i)) x_i^T)`` [air, App. A.1]."""
    func = "jacobian"
    W, X, v = _net_args(W, X, v, func)
    code = _code(activation, func)
    k, d = W.shape
    require(k * d * X.shape[0] <= 5e7, "W", W.shape, "keep the Jacobian below 5e7 entries", func=func)
    D = _dphi_vec(code, W @ X.T) * v[:, None]                      # (k, n)
    return np.einsum("rn,nd->nrd", D, X).reshape(X.shape[0], k * d)


def jacobian_gram(W, X, v, activation: str = "tanh") -> np.ndarray:
    r"""``J(W, X) J(W, X)^T = (phi'(X W^T) diag(v)^2 phi'(W X^T)) o (X X^T)`` without forming ``J`` [air, App. A.1].

    Vectorised NumPy activations (not the libm twins of the training kernel): ``O(k n^2)``.
    """
    func = "jacobian_gram"
    W, X, v = _net_args(W, X, v, func)
    code = _code(activation, func)
    Dv = _dphi_vec(code, W @ X.T) * v[:, None]
    return (Dv.T @ Dv) * (X @ X.T)


def averaged_jacobian(W1, W2, X, v, activation: str = "tanh") -> np.ndarray:
    r"""``J(W1, W2, X) = int_0^1 J(W2 + s (W1 - W2), X) ds`` (Definition 3), exactly [air, App. A.2].

    Each pre-activation moves linearly along the segment, so the average of ``phi'`` is the
    divided difference ``(phi(a1) - phi(a2)) / (a1 - a2)`` (``phi'(a)`` where they coincide).
    """
    func = "averaged_jacobian"
    W1, X, v = _net_args(W1, X, v, func)
    W2 = require_array(W2, "W2", ndim=2, func=func)
    require(W2.shape == W1.shape, "W2", W2.shape, f"have the shape of W1 {W1.shape}", func=func)
    code = _code(activation, func)
    k, d = W1.shape
    require(k * d * X.shape[0] <= 5e7, "W1", W1.shape, "keep the Jacobian below 5e7 entries", func=func)
    D = _div_vec(code, W2 @ X.T, W1 @ X.T) * v[:, None]
    return np.einsum("rn,nd->nrd", D, X).reshape(X.shape[0], k * d)


# ---------------------------------------------------------------------------------------------
# training kernel (Numba) and its NumPy twin
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _forward(code, W, X, A, P, D):
    k, d = W.shape
    n = X.shape[0]
    for r in range(k):
        for i in range(n):
            s = 0.0
            for j in range(d):
                s += W[r, j] * X[i, j]
            A[r, i] = s
            P[r, i] = _act(code, s)
            D[r, i] = _dact(code, s)


@njit(cache=True)
def _train_kernel(code, X, y, W, v, eta, a_t, hscale, steps, gram_mask, snap_mask,
                  out_f, out_lab, out_move, out_path, out_H, out_Hhat, out_W):
    k, d = W.shape
    n = X.shape[0]
    W0 = W.copy()
    A = np.empty((k, n))
    P = np.empty((k, n))
    D = np.empty((k, n))
    A_prev = np.empty((k, n))
    D_prev = np.empty((k, n))
    Q = np.empty((k, n))
    xx = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for c in range(d):
                s += X[i, c] * X[j, c]
            xx[i, j] = s
    f = np.empty(n)
    res = np.empty(n)
    g = np.empty((k, d))
    rows = np.empty(k)
    path = 0.0
    gi = 0
    si = 0
    pending = -1
    for t in range(steps + 1):
        _forward(code, W, X, A, P, D)
        for i in range(n):
            s = 0.0
            for r in range(k):
                s += v[r] * P[r, i]
            f[i] = s
        if pending >= 0:
            for r in range(k):
                for i in range(n):
                    Q[r, i] = v[r] * v[r] * _divided(code, A_prev[r, i], A[r, i])
            for i in range(n):
                for j in range(n):
                    s = 0.0
                    for r in range(k):
                        s += Q[r, i] * D_prev[r, j]
                    out_Hhat[pending, i, j] = s * xx[i, j]
            pending = -1
        for r in range(k):
            s = 0.0
            for c in range(d):
                dw = W[r, c] - W0[r, c]
                s += dw * dw
            rows[r] = s
        s = 0.0
        for r in range(k):
            s += rows[r]
        out_move[t] = math.sqrt(s)
        out_path[t] = path
        for i in range(n):
            out_f[t, i] = f[i]
        if snap_mask[t]:
            for r in range(k):
                for c in range(d):
                    out_W[si, r, c] = W[r, c]
            si += 1
        if t == steps:
            break
        a = a_t[t]
        for i in range(n):
            hv = hscale * f[i]
            if hv > 1.0:
                hv = 1.0
            elif hv < -1.0:
                hv = -1.0
            lab = a * y[i] + (1.0 - a) * hv
            out_lab[t, i] = lab
            res[i] = f[i] - lab
        if gram_mask[t]:
            for r in range(k):
                for i in range(n):
                    Q[r, i] = v[r] * v[r] * D[r, i]
            for i in range(n):
                for j in range(n):
                    s = 0.0
                    for r in range(k):
                        s += Q[r, i] * D[r, j]
                    out_H[gi, i, j] = s * xx[i, j]
            for r in range(k):
                for i in range(n):
                    A_prev[r, i] = A[r, i]
                    D_prev[r, i] = D[r, i]
            pending = gi
            gi += 1
        for r in range(k):
            for c in range(d):
                g[r, c] = 0.0
            for i in range(n):
                q = res[i] * v[r] * D[r, i]
                for c in range(d):
                    g[r, c] += q * X[i, c]
        for r in range(k):
            s = 0.0
            for c in range(d):
                s += g[r, c] * g[r, c]
            rows[r] = s
        s = 0.0
        for r in range(k):
            s += rows[r]
        path += eta * math.sqrt(s)
        for r in range(k):
            for c in range(d):
                W[r, c] -= eta * g[r, c]


def _train_numpy(code, X, y, W, v, eta, a_t, hscale, steps, gram_mask, snap_mask,
                 out_f, out_lab, out_move, out_path, out_H, out_Hhat, out_W):
    """The NumPy twin of ``_train_kernel`` (same operation order, libm scalar activations)."""
    k, d = W.shape
    W0 = W.copy()
    xx = _seq(X[:, None, :] * X[None, :, :], axis=2)
    path = 0.0
    gi = si = 0
    pending = -1
    A_prev = D_prev = None
    vv = v * v
    for t in range(steps + 1):
        A = _seq(W[:, None, :] * X[None, :, :], axis=2)                   # (k, n)
        P, D = _phi_np(code, A), _dphi_np(code, A)
        f = _seq(v[:, None] * P, axis=0)
        if pending >= 0:
            Dv = _div_np(code, A_prev, A)                                   # (k, n)
            out_Hhat[pending] = _seq((vv[:, None, None] * Dv[:, :, None]) * D_prev[:, None, :], axis=0) * xx
            pending = -1
        dw = W - W0
        out_move[t] = math.sqrt(_seq(_seq(dw * dw, axis=1), axis=0))
        out_path[t] = path
        out_f[t] = f
        if snap_mask[t]:
            out_W[si] = W
            si += 1
        if t == steps:
            break
        a = a_t[t]
        hv = np.clip(hscale * f, -1.0, 1.0)
        lab = a * y + (1.0 - a) * hv
        out_lab[t] = lab
        res = f - lab
        if gram_mask[t]:
            out_H[gi] = _seq((vv[:, None, None] * D[:, :, None]) * D[:, None, :], axis=0) * xx
            A_prev, D_prev = A, D
            pending = gi
            gi += 1
        c = (res[None, :] * v[:, None]) * D                                 # (k, n)
        g = _seq(c[:, :, None] * X[None, :, :], axis=1)                     # (k, d)
        path += eta * math.sqrt(_seq(_seq(g * g, axis=1), axis=0))
        W = W - eta * g


def train_network(X, y, W0, v, *, activation: str = "tanh", eta: float, steps: int, a_t=None, rho: float = 0.0,
                  gram_steps=(), snapshot_steps=(), backend: str = "numba") -> dict:
    r"""Full-batch gradient descent or Algorithm 1 on ``f(W, x) = v^T phi(W x)`` [air, Alg. 1, Sec. 2.3].

    Loss ``(1/2) ||f(W, X) - y_t||^2`` with ``y_t = y`` (plain GD, ``a_t=None``) or
    ``y_t = a_t y + (1 - a_t) h(f(W_t, X))`` (Algorithm 1; ``a_t`` of length ``steps``, ``h`` the
    label function with ``L_h = 4/(1 - 2 rho)``).  Records at every step ``t = 0..steps``:
    ``outputs`` (f(W_t, X)), ``move`` (``||W_t - W_0||_F``), ``path`` (``sum_{s<t} ||W_{s+1} - W_s||_F``),
    and for ``t < steps`` ``labels`` (``y_t``).  At each ``t`` in ``gram_steps`` (``< steps``):
    ``H[t] = J_t J_t^T`` and ``H_hat[t] = J(W_{t+1}, W_t) J_t^T`` (the averaged Gram matrix of
    Sec. 2.3); at each ``t`` in ``snapshot_steps``: ``W[t]``.  ``backend``: ``"numba"`` or
    ``"numpy"`` (the bitwise-equal twin, slow).
    """
    func = "train_network"
    W0, X, v = _net_args(W0, X, v, func)
    k, d = W0.shape
    n = X.shape[0]
    code = _code(activation, func)
    y = require_array(y, "y", ndim=1, func=func)
    require(y.size == n, "y", y.shape, f"have one label per row of X ({n})", func=func)
    e = require_positive(eta, "eta", func=func)
    T = require_int(steps, "steps", low=0, high=_MAX_STEPS, func=func)
    require(float(k) * n * d * max(T, 1) <= _MAX_WORK, "steps", steps, f"keep k n d steps <= {_MAX_WORK:g}", func=func)
    r = require_in(rho, "rho", 0.0, 0.5, closed="left", func=func)
    require(backend in ("numba", "numpy"), "backend", backend, "be 'numba' or 'numpy'", func=func)
    if a_t is None:
        a = np.ones(max(T, 1))
    else:
        a = require_array(a_t, "a_t", ndim=1, func=func)
        require(a.size >= T, "a_t", a.shape, f"have at least steps = {T} entries", func=func)
        require(bool(np.all((a >= 0) & (a <= 1))), "a_t", a, "lie in [0, 1]", func=func)
    a = np.ascontiguousarray(a, dtype=float)

    def mask(steps_list, name, upto):
        idx = require_array(steps_list, name, ndim=1, min_size=0, func=func).astype(np.int64) \
            if np.size(steps_list) else np.zeros(0, np.int64)
        require(bool(np.all((idx >= 0) & (idx <= upto))), name, idx, f"hold steps in [0, {upto}]", func=func)
        m = np.zeros(T + 1, dtype=np.bool_)
        m[idx] = True
        return m, np.flatnonzero(m)

    gmask, gidx = mask(gram_steps, "gram_steps", T - 1)
    if T == 0:
        gmask[:] = False
        gidx = np.zeros(0, np.int64)
    smask, sidx = mask(snapshot_steps, "snapshot_steps", T)
    require(gidx.size * n * n <= 5e7 and sidx.size * k * d <= 5e7, "gram_steps", gidx.size,
            "keep the recorded Gram matrices and snapshots below 5e7 entries each", func=func)
    out_f = np.zeros((T + 1, n))
    out_lab = np.zeros((max(T, 1), n))
    out_move = np.zeros(T + 1)
    out_path = np.zeros(T + 1)
    out_H = np.zeros((gidx.size, n, n))
    out_Hhat = np.zeros((gidx.size, n, n))
    out_W = np.zeros((sidx.size, k, d))
    hscale = 4.0 / (1.0 - 2.0 * r)
    args = (code, X, np.ascontiguousarray(y), W0.copy(), v, e, a, hscale, T, gmask, smask,
            out_f, out_lab, out_move, out_path, out_H, out_Hhat, out_W)
    with np.errstate(over="ignore", invalid="ignore"):
        (_train_kernel if backend == "numba" else _train_numpy)(*args)
    bad = np.flatnonzero(~np.all(np.isfinite(out_f), axis=1))
    require(bad.size == 0, "eta", eta, f"keep the outputs finite (the run diverged at step {bad[0] if bad.size else -1})",
            func=func)
    return {"outputs": out_f, "labels": out_lab[:T], "move": out_move, "path": out_path,
            "gram_steps": gidx, "H": out_H, "H_hat": out_Hhat, "snapshot_steps": sidx, "W": out_W,
            "activation": activation, "eta": e, "rho": r}


# ---------------------------------------------------------------------------------------------
# exact kernel dynamics
# ---------------------------------------------------------------------------------------------


def _gram(gram, func):
    H = require_array(gram, "gram", ndim=2, func=func)
    n = H.shape[0]
    require(H.shape == (n, n) and n <= _MAX_N, "gram", H.shape, f"be square with at most {_MAX_N} rows", func=func)
    scale = max(1.0, float(np.abs(H).max()))
    require(bool(np.allclose(H, H.T, rtol=0, atol=1e-12 * scale)), "gram", H, "be symmetric", func=func)
    H = (H + H.T) / 2
    lam, V = np.linalg.eigh(H)
    require(bool(lam[0] >= -1e-10 * scale), "gram", lam[0], "be positive semi-definite (smallest eigenvalue >= 0)",
            func=func)
    return H, np.maximum(lam, 0.0), V


def _vec(x, n, name, func):
    x = require_array(x, name, ndim=1, func=func)
    require(x.size == n, name, x.shape, f"have {n} entries (the size of gram)", func=func)
    return x


def kernel_gd_exact(gram, y, f0, times, *, eta=None) -> dict:
    r"""Residual per eigendirection of the linearised dynamics, in closed form [air, Sec. 2.3].

    ``u_{t+1} - y = (I - eta H)(u_t - y)`` (GD, integer ``times``) or ``du/dt = -H (u - y)`` (flow,
    ``eta=None``, real ``times``).  With ``H = sum_i lambda_i e_i e_i^T``, the projection
    ``<u_t - y, e_i> = (1 - eta lambda_i)^t <u_0 - y, e_i>`` (GD) or ``exp(-lambda_i t) <u_0 - y, e_i>``.
    Returns ``eigenvalues`` (ascending), ``eigenvectors`` (columns), ``projections`` (len(times), n)
    and ``outputs`` ``u_t``.
    """
    func = "kernel_gd_exact"
    H, lam, V = _gram(gram, func)
    n = H.shape[0]
    y = _vec(y, n, "y", func)
    f0 = _vec(f0, n, "f0", func)
    from kdtheory.theory.air import residual_factors

    tt = require_array(times, "times", ndim=1, max_size=100_000, func=func)
    require(bool(np.all(tt >= 0)), "times", tt, "be >= 0", func=func)
    if eta is not None:
        e = require_positive(eta, "eta", func=func)
        require(bool(np.all(tt == np.round(tt))), "times", tt, "be integers for gradient descent", func=func)
        fac = np.stack([residual_factors(lam, int(t), eta=e) for t in tt])
    else:
        fac = np.stack([residual_factors(lam, float(t)) for t in tt])
    z0 = V.T @ (f0 - y)
    proj = fac * z0[None, :]
    return {"eigenvalues": lam, "eigenvectors": V, "projections": proj, "outputs": y[None, :] + proj @ V.T}


def kernel_gd_iterate(gram, y, f0, eta: float, steps: int) -> np.ndarray:
    r"""Direct iteration ``u_{t+1} = u_t - eta H (u_t - y)``; returns ``u_0..u_steps`` (steps + 1, n) [air, Sec. 2.3]."""
    func = "kernel_gd_iterate"
    H, _, _ = _gram(gram, func)
    n = H.shape[0]
    y = _vec(y, n, "y", func)
    u = _vec(f0, n, "f0", func).copy()
    e = require_positive(eta, "eta", func=func)
    T = require_int(steps, "steps", low=0, high=100_000, func=func)
    require(float(T) * n * n <= 4e10, "steps", steps, "keep steps n^2 <= 4e10", func=func)
    out = np.empty((T + 1, n))
    out[0] = u
    for t in range(T):
        u = u - e * (H @ (u - y))
        out[t + 1] = u
    require(bool(np.all(np.isfinite(out))), "eta", eta, "keep the iteration finite", func=func)
    return out


@njit(cache=True)
def _sd_kernel(S, y, f0, a_t, hscale, steps, out_f, out_lab):
    n = y.size
    f = f0.copy()
    lab = np.empty(n)
    res = np.empty(n)
    for i in range(n):
        out_f[0, i] = f[i]
    for t in range(steps):
        a = a_t[t]
        for i in range(n):
            hv = hscale * f[i]
            if hv > 1.0:
                hv = 1.0
            elif hv < -1.0:
                hv = -1.0
            lab[i] = a * y[i] + (1.0 - a) * hv
            out_lab[t, i] = lab[i]
            res[i] = f[i] - lab[i]
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += S[i, j] * res[j]
            f[i] = lab[i] + s
            out_f[t + 1, i] = f[i]


def _sd_numpy(S, y, f0, a_t, hscale, steps, out_f, out_lab):
    f = f0.copy()
    out_f[0] = f
    for t in range(steps):
        a = a_t[t]
        lab = a * y + (1.0 - a) * np.clip(hscale * f, -1.0, 1.0)
        out_lab[t] = lab
        f = lab + _seq(S * (f - lab)[None, :], axis=1)
        out_f[t + 1] = f


def kernel_self_distillation(gram, y, f0, a_t, *, rho: float = 0.0, eta=None, tau=None, steps: int | None = None,
                             backend: str = "numba") -> dict:
    r"""Algorithm 1 on the kernel (infinite-width, linearised) dynamics [air, Alg. 1, Thm. 1].

    Labels ``y_t = a_t y + (1 - a_t) h(f_t)`` (``h`` with ``L_h = 4/(1-2 rho)``), then
    ``f_{t+1} = y_t + S (f_t - y_t)`` with ``S = I - eta H`` (gradient descent; give ``eta``) or
    ``S = exp(-tau H)`` (gradient flow for a time ``tau`` between label refreshes; give
    ``tau``), built once in the eigenbasis of ``H``.  ``a_t = 1`` throughout is plain GD.
    Returns ``outputs`` (steps + 1, n), ``labels`` (steps, n), ``eigenvalues``, ``eigenvectors``.
    """
    func = "kernel_self_distillation"
    H, lam, V = _gram(gram, func)
    n = H.shape[0]
    y = _vec(y, n, "y", func)
    f0 = _vec(f0, n, "f0", func)
    a = require_array(a_t, "a_t", ndim=1, max_size=_MAX_STEPS, func=func)
    require(bool(np.all((a >= 0) & (a <= 1))), "a_t", a, "lie in [0, 1]", func=func)
    T = a.size if steps is None else require_int(steps, "steps", low=0, high=a.size, func=func)
    require(float(T) * n * n <= 4e10, "a_t", a.size, "keep steps n^2 <= 4e10", func=func)
    r = require_in(rho, "rho", 0.0, 0.5, closed="left", func=func)
    require((eta is None) != (tau is None), "eta/tau", (eta, tau), "give exactly one of eta (GD) or tau (flow)",
            func=func)
    require(backend in ("numba", "numpy"), "backend", backend, "be 'numba' or 'numpy'", func=func)
    if eta is not None:
        e = require_positive(eta, "eta", func=func)
        fac = 1.0 - e * lam
        require(bool(np.all(np.abs(fac) <= 1.0 + 1e-12)), "eta", eta,
                f"satisfy eta <= 2 / lambda_max = {2 / max(lam[-1], 1e-300):.6g} (stable GD)", func=func)
    else:
        tt = require_positive(tau, "tau", func=func)
        fac = np.exp(-tt * lam)
    S = np.ascontiguousarray((V * fac[None, :]) @ V.T)
    out_f = np.zeros((T + 1, n))
    out_lab = np.zeros((max(T, 1), n))
    (_sd_kernel if backend == "numba" else _sd_numpy)(S, np.ascontiguousarray(y), np.ascontiguousarray(f0),
                                                      np.ascontiguousarray(a, dtype=float), 4.0 / (1 - 2 * r), T,
                                                      out_f, out_lab)
    return {"outputs": out_f, "labels": out_lab[:T], "eigenvalues": lam, "eigenvectors": V, "step_matrix": S}


# ---------------------------------------------------------------------------------------------
# experiments behind the figure analogues (digits, finite width)
# ---------------------------------------------------------------------------------------------


def _accuracy(W, X, v, y, activation):
    return float(np.mean(np.sign(network_outputs(W, X, v, activation)) == y))


def digits_noisy_runs(noise: float, *, seed: int = 0, width: int = 64, steps: int = 300, record_every: int = 30,
                      n_train: int = 150, n_val: int = 100, n_test: int = 300, eta: float | None = None,
                      decay_start: float = 0.1, decay_end: float = 0.3) -> dict:
    r"""Plain GD and Algorithm 1 on noisy binary digits, 4x4 pooled (figure analogues of [air, Figs. 4-5, Table 1]).

    Both runs start from one initialisation of a tanh network of ``width`` hidden units (step ``6/n_train`` unless
    given); Algorithm 1 uses
    ``h`` with ``rho = min(noise, 0.45)`` and the weight ``a_t = 1`` until ``decay_start * steps``, then linear to 0
    at ``decay_end * steps``.  Records every ``record_every`` steps: test accuracy (clean test labels),
    validation accuracy (a held-out split with noisy labels, what early stopping would see), and the labels
    Algorithm 1 trains on.  Returns also the training inputs and labels (noisy and clean).
    """
    func = "digits_noisy_runs"
    p = require_in(noise, "noise", 0.0, 0.5, closed="left", func=func)
    s = require_int(seed, "seed", low=0, func=func)
    k = require_int(width, "width", low=2, high=8192, func=func)
    require(k % 2 == 0, "width", width, "be even", func=func)
    T = require_int(steps, "steps", low=1, high=20000, func=func)
    R = require_int(record_every, "record_every", low=1, high=T, func=func)
    ntr = require_int(n_train, "n_train", low=10, high=1000, func=func)
    nv = require_int(n_val, "n_val", low=1, high=300, func=func)
    nte = require_int(n_test, "n_test", low=1, high=400, func=func)
    require(ntr + nv + nte <= 1797, "n_train", ntr, "leave room for the validation and test splits (1797 digits)",
            func=func)
    ds = require_in(decay_start, "decay_start", 0.0, 1.0, func=func)
    de = require_in(decay_end, "decay_end", 0.0, 1.0, func=func)
    require(de > ds, "decay_end", decay_end, f"exceed decay_start = {ds}", func=func)
    D = digits_binary(n_train=ntr, n_test=min(597, nv + nte), noise=p, seed=s, pool=2)
    Xv, yv = D["X_test"][:nv], D["y_test"][:nv].copy()
    Xt, yt = D["X_test"][nv:], D["y_test"][nv:]
    rng = np.random.default_rng([s, 1])
    yv[rng.random(nv) < p] *= -1
    X, y = D["X_train"], D["y_train"]
    W0, v = init_network(k, X.shape[1], seed=s + 1)
    e = 6.0 / ntr if eta is None else require_positive(eta, "eta", func=func)
    rec = np.arange(0, T + 1, R)
    t = np.arange(T)
    a = np.clip((de * T - t) / max((de - ds) * T, 1.0), 0.0, 1.0)
    rho = min(p, 0.45)
    out = {"steps": rec, "X_train": X, "y_train": y, "y_train_clean": D["y_train_clean"], "a_t": a, "rho": rho}
    for name, sched in (("gd", None), ("self_distillation", a)):
        res = train_network(X, y, W0, v, activation="tanh", eta=e, steps=T, a_t=sched, rho=rho, snapshot_steps=rec)
        out[name] = {"test_accuracy": np.array([_accuracy(W, Xt, v, yt, "tanh") for W in res["W"]]),
                     "val_accuracy": np.array([_accuracy(W, Xv, v, yv, "tanh") for W in res["W"]]),
                     "train_accuracy_clean": np.mean(np.sign(res["outputs"][rec]) == D["y_train_clean"][None, :], axis=1),
                     "labels": res["labels"][np.minimum(rec, T - 1)]}
    return out


def top_energy_monte_carlo(gram, y_clean, p: float, *, draws: int = 1000, top: int = 5, seed: int = 0) -> np.ndarray:
    r"""Samples of ``||P y||^2 / ||y||^2`` for labels flipped independently with probability ``p`` [air, Fig. 2].

    ``P`` projects onto the eigenvectors of the ``top`` largest eigenvalues of ``gram``; the exact mean is
    ``kdtheory.theory.air.expected_top_energy``.
    """
    func = "top_energy_monte_carlo"
    H, lam, V = _gram(gram, func)
    n = H.shape[0]
    yc = _vec(y_clean, n, "y_clean", func)
    require(bool(np.all(np.abs(yc) == 1)), "y_clean", yc, "have entries in {-1, +1}", func=func)
    pp = require_in(p, "p", 0.0, 1.0, func=func)
    m = require_int(draws, "draws", low=1, high=10 ** 6, func=func)
    t = require_int(top, "top", low=1, high=n, func=func)
    s = require_int(seed, "seed", low=0, func=func)
    require(float(m) * n <= 5e8, "draws", draws, "keep draws * n <= 5e8", func=func)
    rng = np.random.default_rng(s)
    Y = np.where(rng.random((m, n)) < pp, -yc, yc)
    return np.sum((Y @ V[:, -t:]) ** 2, axis=1) / n


def teacher_student(noise: float, *, seed: int = 0, teacher_width: int = 128, student_width: int = 8,
                    teacher_steps: int = 300, snapshots: int = 5, student_steps: int = 100, n_train: int = 150,
                    n_test: int = 300) -> dict:
    r"""Students distilled from snapshots of a wide teacher (figure analogue of [air, Fig. 1]).

    A tanh teacher of ``teacher_width`` units is trained by GD on noisy binary digits (4x4 pooled); at ``snapshots`` times
    (log-spaced up to ``teacher_steps``) its training outputs become the soft targets of a small tanh student
    (``student_width`` units, MSE, ``student_steps`` of GD from one fixed initialisation).  Returns the times and
    the teacher's and each student's test accuracy on clean test labels.
    """
    func = "teacher_student"
    p = require_in(noise, "noise", 0.0, 0.5, closed="left", func=func)
    s = require_int(seed, "seed", low=0, func=func)
    kt = require_int(teacher_width, "teacher_width", low=2, high=8192, func=func)
    ks = require_int(student_width, "student_width", low=2, high=1024, func=func)
    require(kt % 2 == 0 and ks % 2 == 0, "teacher_width", (kt, ks), "be even (both widths)", func=func)
    T = require_int(teacher_steps, "teacher_steps", low=2, high=50000, func=func)
    m = require_int(snapshots, "snapshots", low=2, high=50, func=func)
    Ts = require_int(student_steps, "student_steps", low=1, high=50000, func=func)
    ntr = require_int(n_train, "n_train", low=10, high=1000, func=func)
    nte = require_int(n_test, "n_test", low=1, high=597, func=func)
    D = digits_binary(n_train=ntr, n_test=nte, noise=p, seed=s, pool=2)
    X, y, Xt, yt = D["X_train"], D["y_train"], D["X_test"], D["y_test"]
    times = np.unique(np.round(np.logspace(0, math.log10(T), m)).astype(np.int64))
    Wt0, vt = init_network(kt, X.shape[1], seed=s + 1)
    res = train_network(X, y, Wt0, vt, activation="tanh", eta=4.0 / ntr, steps=T, snapshot_steps=times)
    Ws0, vs = init_network(ks, X.shape[1], seed=s + 2)
    teacher_acc, student_acc = [], []
    for W in res["W"]:
        teacher_acc.append(_accuracy(W, Xt, vt, yt, "tanh"))
        target = network_outputs(W, X, vt, "tanh")
        st = train_network(X, target, Ws0, vs, activation="tanh", eta=4.0 / ntr, steps=Ts, snapshot_steps=[Ts])
        student_acc.append(_accuracy(st["W"][0], Xt, vs, yt, "tanh"))
    return {"times": times, "teacher_test_accuracy": np.array(teacher_acc), "student_test_accuracy": np.array(student_acc)}


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------


@benchmark("air.train_network")
def _bench() -> list[BenchCase]:
    """Full-batch GD steps of the two-layer tanh network, n = 32, d = 16, against width k; Algorithm 1 on the kernel."""
    cases = []
    rng = np.random.default_rng(0)
    n, d, steps = 32, 16, 20
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1)[:, None]
    y = rng.choice([-1.0, 1.0], n)
    for k in (256, 1024, 4096, 16384):
        W0, v = init_network(k, d, seed=1)
        fn = lambda W0=W0, v=v: train_network(X, y, W0, v, eta=0.01, steps=steps)
        fnp = lambda W0=W0, v=v: train_network(X, y, W0, v, eta=0.01, steps=steps, backend="numpy")
        cases.append(BenchCase(f"k={k}, n={n}, d={d}, {steps} steps", steps, "steps", fn, fnp))
    for nn in (64, 256):
        Z = rng.normal(size=(nn, 8))
        H = Z @ Z.T / 8 / nn
        yy = rng.choice([-1.0, 1.0], nn)
        a = np.linspace(1, 0, 2000)
        fn = lambda H=H, yy=yy, a=a: kernel_self_distillation(H, yy, np.zeros(yy.size), a, rho=0.2, eta=0.5)
        fnp = lambda H=H, yy=yy, a=a: kernel_self_distillation(H, yy, np.zeros(yy.size), a, rho=0.2, eta=0.5,
                                                               backend="numpy")
        cases.append(BenchCase(f"kernel Alg. 1, n={nn}, 2000 steps", 2000, "steps", fn, fnp))
    return cases
