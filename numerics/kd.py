"""Engines for [kd]: exact moment recursions, Monte Carlo SGD chains, compressors.

On least squares ``f_i(x) = 1/2 (a_i^T x - b_i)^2`` each of the three iterations of the paper is
affine in the iterate with a random matrix:

* SGD with self-distillation [kd, Eq. (7)]:  ``x' = (I - g A_i) x + g (lam A_i theta + (1-lam) a_i b_i)``
* unbiased distillation [kd, Eq. (16)]:        the same plus ``- g lam grad f(theta)``
* compressed distillation [kd, Eq. (18)], written as the y-recursion (37):
  ``y' = (I - g A_i) D y + g (lam A_i theta + (1-lam) a_i b_i)``, ``x = D y``,

with ``A_i = a_i a_i^T``, ``i`` uniform, and ``D`` a random diagonal compression matrix
(``E D = I``; rand-k and Bernoulli compressors are diagonal), independent of ``i``.
Hence mean ``m`` and second moment ``S = E[y y^T]`` obey exact linear recursions
(:func:`moment_trajectory`) whose fixed point is a linear system (:func:`stationary_moments`).
The Monte Carlo engine (:func:`simulate_chains`) runs many chains in a Numba kernel with a NumPy
twin, from pre-drawn sample indices and compression masks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import require, require_finite, require_in, require_positive
from kdtheory.theory.kd import least_squares_constants

SCHEMES = ("distill", "unbiased")
COMPRESSORS = (None, "rand_k", "bernoulli")

# ----------------------------------------------------------------------------------------------
# compressors with exact enumeration
# ----------------------------------------------------------------------------------------------


def rand_k_outcomes(d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All outcomes of rand-k (keep k of d coordinates uniformly, scale by d/k): (probs, multipliers)."""
    require(isinstance(d, (int, np.integer)) and 1 <= d <= 16, "d", d, "be an integer in [1, 16] for enumeration")
    require(isinstance(k, (int, np.integer)) and 1 <= k <= d, "k", k, f"be an integer in [1, {d}]")
    subsets = list(itertools.combinations(range(d), k))
    mult = np.zeros((len(subsets), d))
    for r, s in enumerate(subsets):
        mult[r, list(s)] = d / k
    return np.full(len(subsets), 1.0 / len(subsets)), mult


def bernoulli_outcomes(d: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """All outcomes of Bernoulli keep-and-rescale (each coordinate kept w.p. p, scaled by 1/p)."""
    require(isinstance(d, (int, np.integer)) and 1 <= d <= 16, "d", d, "be an integer in [1, 16] for enumeration")
    require_in(p, "p", 0.0, 1.0, closed="right")
    masks = np.array(list(itertools.product([0, 1], repeat=d)), dtype=float)
    probs = np.prod(np.where(masks == 1, p, 1 - p), axis=1)
    return probs, masks / p


def dithering_outcomes(x: Any, s: int) -> tuple[np.ndarray, np.ndarray]:
    """All outcomes of QSGD random dithering with s levels: (probs, values C(x)).

    ``C(x)_j = ||x|| sign(x_j) l_j / s`` with ``l_j`` the random rounding of ``s |x_j|/||x||`` to a
    neighbouring integer (up with probability equal to the fractional part).
    """
    x = require_finite(x, "x")
    require(x.ndim == 1 and 1 <= x.size <= 14, "x", x, "be a vector of length 1..14 for enumeration")
    require(isinstance(s, (int, np.integer)) and s >= 1, "s", s, "be an integer >= 1")
    nrm = float(np.linalg.norm(x))
    if nrm == 0:
        return np.ones(1), np.zeros((1, x.size))
    u = s * np.abs(x) / nrm
    lo = np.floor(u)
    frac = u - lo
    ups = np.array(list(itertools.product([0, 1], repeat=x.size)), dtype=float)
    probs = np.prod(np.where(ups == 1, frac, 1 - frac), axis=1)
    vals = nrm * np.sign(x) * (lo + ups) / s
    keep = probs > 0
    return probs[keep], vals[keep]


def compressor_moments(x: Any, outcomes: tuple[np.ndarray, np.ndarray], *, multipliers: bool = True) -> tuple[np.ndarray, float]:
    """Exact E C(x) and E||C(x) - x||^2 from an enumeration (multipliers or values)."""
    x = np.asarray(x, dtype=float)
    probs, out = outcomes
    vals = out * x if multipliers else out
    mean = probs @ vals
    return mean, float(probs @ np.sum((vals - x) ** 2, axis=1))


def compression_second_moment(compressor: str | None, d: int, param: float | None = None) -> np.ndarray:
    """Q = E[diag(D) diag(D)^T] of a diagonal compressor (ones when there is no compression)."""
    if compressor is None:
        return np.ones((d, d))
    if compressor == "rand_k":
        k = int(param)
        require(1 <= k <= d, "param", param, f"be k in [1, {d}]")
        Q = np.full((d, d), (d * (k - 1)) / (k * (d - 1)) if d > 1 else d / k)
        np.fill_diagonal(Q, d / k)
        return Q
    if compressor == "bernoulli":
        p = require_in(float(param), "param", 0.0, 1.0, closed="right")
        Q = np.ones((d, d))
        np.fill_diagonal(Q, 1 / p)
        return Q
    raise ValueError(f"compression_second_moment: compressor must be one of {COMPRESSORS}, got {compressor!r}")


# ----------------------------------------------------------------------------------------------
# exact moment engine
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AffineChain:
    """``y' = B_i D y + v_i`` with ``i`` uniform over rows and ``E[d d^T] = Q``; ``x = D y``."""

    B: np.ndarray       # (n, d, d)
    v: np.ndarray       # (n, d)
    Q: np.ndarray       # (d, d)
    x_star: np.ndarray
    H: np.ndarray
    f_star: float
    A: np.ndarray
    b: np.ndarray
    gamma: float


def affine_chain(A: Any, b: Any, theta: Any, lmbda: float, gamma: float, *, scheme: str = "distill",
                 compressor: str | None = None, param: float | None = None) -> AffineChain:
    """The affine form of iterations (7), (16) or (18) on least squares (see module docstring)."""
    A = require_finite(A, "A")
    b = require_finite(b, "b")
    theta = require_finite(theta, "theta")
    require(A.ndim == 2 and b.shape == (A.shape[0],) and theta.shape == (A.shape[1],), "A", A.shape,
            "be (n, d) with b of shape (n,) and theta of shape (d,)")
    require(scheme in SCHEMES, "scheme", scheme, f"be one of {SCHEMES}")
    require(compressor in COMPRESSORS, "compressor", compressor, f"be one of {COMPRESSORS}")
    require(not (scheme == "unbiased" and compressor is not None), "scheme", scheme,
            "be 'distill' when a compressor is used (Eq. (18))")
    require_positive(gamma, "gamma")
    lmbda = float(require_finite(lmbda, "lmbda"))
    n, d = A.shape
    c = least_squares_constants(A, b)
    Ai = np.einsum("ij,ik->ijk", A, A)
    B = np.eye(d)[None] - gamma * Ai
    v = gamma * (lmbda * (Ai @ theta) + (1 - lmbda) * A * b[:, None])
    if scheme == "unbiased":
        v = v - gamma * lmbda * (c.H @ (theta - c.x_star))[None, :]
    return AffineChain(B=B, v=v, Q=compression_second_moment(compressor, d, param), x_star=c.x_star, H=c.H,
                       f_star=c.f_star, A=A, b=b, gamma=float(gamma))


def _step(ch: AffineChain, m: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = ch.B.shape[0]
    m_new = np.einsum("ijk,k->j", ch.B, m) / n + ch.v.mean(axis=0)
    SQ = S * ch.Q
    Bm = np.einsum("ijk,k->ij", ch.B, m)
    cross = Bm.T @ ch.v / n
    BS = ch.B @ SQ
    S_new = np.einsum("ijk,imk->jm", BS, ch.B) / n + cross + cross.T + ch.v.T @ ch.v / n
    return m_new, 0.5 * (S_new + S_new.T)


def _summaries(ch: AffineChain, m: np.ndarray, S: np.ndarray) -> tuple[float, float, float]:
    """E||x-x*||^2, E f(x)-f*, E||y-x*||^2 for x = D y."""
    xs = ch.x_star
    Sx = S * ch.Q
    Ex = Sx - np.outer(m, xs) - np.outer(xs, m) + np.outer(xs, xs)
    Ey = S - np.outer(m, xs) - np.outer(xs, m) + np.outer(xs, xs)
    return float(np.trace(Ex)), float(0.5 * np.sum(ch.H * Ex)), float(np.trace(Ey))


def moment_trajectory(ch: AffineChain, x0: Any, T: int) -> dict:
    """Exact E||x^t-x*||^2, E f(x^t)-f*, E||y^t-x*||^2 and the mean for t = 0..T from y^0 = x0 (deterministic).

    Raises if the second moment overflows (a diverging run), naming the step.
    """
    x0 = require_finite(x0, "x0")
    require(isinstance(T, (int, np.integer)) and T >= 0, "T", T, "be an integer >= 0")
    m, S = x0.copy(), np.outer(x0, x0)
    dist, gap, ydist = np.empty(T + 1), np.empty(T + 1), np.empty(T + 1)
    means = np.empty((T + 1, x0.size))
    for t in range(T + 1):
        dist[t], gap[t], ydist[t] = _summaries(ch, m, S)
        means[t] = m
        if not np.isfinite(dist[t]):
            raise FloatingPointError(f"moment_trajectory: the second moment diverged at step {t}")
        if t < T:
            m, S = _step(ch, m, S)
    return {"dist_sq": dist, "gap": gap, "y_dist_sq": ydist, "mean": means}


def second_moment_operator(ch: AffineChain) -> np.ndarray:
    """The d^2 x d^2 matrix of S -> E[B_i D S D B_i^T] (row-major vec)."""
    n, d, _ = ch.B.shape
    K = np.einsum("ijk,ilm->jlkm", ch.B, ch.B).reshape(d * d, d * d) / n
    return K * ch.Q.reshape(1, -1)


def stationary_moments(ch: AffineChain) -> dict:
    """Stationary mean and second moment from the linear systems (I - E[B]) m = E v and (I - K) vec S = r.

    Raises ``ValueError`` when the mean or the second-moment map is not a contraction (no stationary law).
    """
    n, d, _ = ch.B.shape
    Bbar = ch.B.mean(axis=0)
    K = second_moment_operator(ch)
    rad_m = float(np.max(np.abs(np.linalg.eigvals(Bbar))))
    rad_S = float(np.max(np.abs(np.linalg.eigvals(K))))
    require(rad_S < 1, "gamma/compressor", rad_S,
            "give a second-moment map with spectral radius < 1 (the iteration has no stationary second moment)")
    m = np.linalg.solve(np.eye(d) - Bbar, ch.v.mean(axis=0))
    Bm = np.einsum("ijk,k->ij", ch.B, m)
    cross = Bm.T @ ch.v / n
    r = (cross + cross.T + ch.v.T @ ch.v / n).reshape(-1)
    S = np.linalg.solve(np.eye(d * d) - K, r).reshape(d, d)
    S = 0.5 * (S + S.T)
    dist, gap, ydist = _summaries(ch, m, S)
    return {"mean": m, "second": S, "dist_sq": dist, "gap": gap, "y_dist_sq": ydist,
            "radius_mean": rad_m, "radius_second": rad_S}


def second_moment_radius(ch: AffineChain) -> float:
    """Spectral radius of the second-moment map (>= 1 means E||y^t||^2 can diverge)."""
    return float(np.max(np.abs(np.linalg.eigvals(second_moment_operator(ch)))))


# ----------------------------------------------------------------------------------------------
# Monte Carlo chains (Numba kernel + NumPy twin)
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _chains_kernel(A, v, gamma, idx, masks, scale, y0, x_star, checkpoints, out_y, out_dist):
    # time outer, chains inner (serial: on the shared 2-core machine threads cost more than they give): idx[t, :] and masks[t, :, :] are contiguous
    T, C = idx.shape
    d = A.shape[1]
    use_mask = masks.shape[0] > 0
    for c in range(C):
        for j in range(d):
            out_y[c, j] = y0[j]
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            for c in range(C):
                s = 0.0
                for j in range(d):
                    s += (out_y[c, j] - x_star[j]) ** 2
                out_dist[k, c] = s
            k += 1
        if t == T:
            break
        for c in range(C):
            i = idx[t, c]
            r = 0.0
            for j in range(d):
                if use_mask:
                    out_y[c, j] = out_y[c, j] * masks[t, c, j] * scale
                r += A[i, j] * out_y[c, j]
            for j in range(d):
                out_y[c, j] = out_y[c, j] - gamma * r * A[i, j] + v[i, j]


def _chains_numpy(A, v, gamma, idx, masks, scale, y0, x_star, checkpoints, out_y, out_dist):
    T, C = idx.shape
    y = np.tile(y0, (C, 1))
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            out_dist[k] = np.sum((y - x_star) ** 2, axis=1)
            k += 1
        if t == T:
            break
        z = y * masks[t] * scale if masks.shape[0] > 0 else y
        a = A[idx[t]]
        r = np.sum(a * z, axis=1)
        y = z - gamma * r[:, None] * a + v[idx[t]]
    out_y[:] = y


def draw_chain_randomness(n: int, d: int, T: int, chains: int, *, compressor: str | None = None,
                          param: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Pre-drawn sample indices (T, chains) and compression masks (T, chains, d) (uint8) with their scale."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(T, chains))
    if compressor is None:
        return idx, np.zeros((0, 0, 0), dtype=np.uint8), 1.0
    if compressor == "rand_k":
        k = int(param)
        keys = rng.random((T, chains, d))
        thresh = np.partition(keys, k - 1, axis=2)[:, :, k - 1:k]
        return idx, (keys <= thresh).astype(np.uint8), d / k
    if compressor == "bernoulli":
        p = float(param)
        return idx, (rng.random((T, chains, d)) < p).astype(np.uint8), 1 / p
    raise ValueError(f"draw_chain_randomness: compressor must be one of {COMPRESSORS}, got {compressor!r}")


def simulate_chains(ch: AffineChain, x0: Any, T: int, chains: int, *, compressor: str | None = None,
                    param: float | None = None, checkpoints: Any = None, seed: int = 0,
                    backend: str = "numba", draws: tuple | None = None) -> dict:
    """Run ``chains`` independent chains of the affine iteration for T steps (y-recursion).

    Returns final ``y`` (chains, d) and ``dist_sq`` = ||y^t - x*||^2 at the checkpoints
    (n_checkpoints, chains). Randomness is pre-drawn (:func:`draw_chain_randomness`), so both backends
    see the same draws.
    """
    require(backend in ("numba", "numpy"), "backend", backend, "be 'numba' or 'numpy'")
    require(isinstance(T, (int, np.integer)) and T >= 0, "T", T, "be an integer >= 0")
    require(isinstance(chains, (int, np.integer)) and chains >= 1, "chains", chains, "be an integer >= 1")
    x0 = require_finite(x0, "x0")
    n, d = ch.A.shape
    cps = np.asarray([T] if checkpoints is None else checkpoints, dtype=np.int64)
    require(bool(np.all(np.diff(cps) > 0)) and cps[0] >= 0 and cps[-1] <= T, "checkpoints", cps,
            f"be increasing integers in [0, {T}]")
    idx, masks, scale = draws if draws is not None else draw_chain_randomness(
        n, d, T, chains, compressor=compressor, param=param, seed=seed)
    gamma = ch.gamma
    out_y = np.empty((chains, d))
    out_dist = np.empty((cps.size, chains))
    if backend == "numba":
        _chains_kernel(ch.A, ch.v, gamma, idx, masks, scale, x0, ch.x_star, cps, out_y, out_dist)
    else:
        _chains_numpy(ch.A, ch.v, gamma, idx, masks, scale, x0, ch.x_star, cps, out_y, out_dist)
    if not np.all(np.isfinite(out_dist)):
        bad = int(np.argmax(~np.all(np.isfinite(out_dist), axis=1)))
        raise FloatingPointError(f"simulate_chains: chains diverged by checkpoint step {int(cps[bad])}")
    return {"y": out_y, "dist_sq": out_dist, "checkpoints": cps}


# ----------------------------------------------------------------------------------------------
# the nonconvex PL example: f(x) = x^2 + 3 sin^2 x with additive Rademacher gradient noise
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _pl_kernel(x0, theta, lmbda, gamma, noise, signs, unbiased, checkpoints, out_f):
    T, C = signs.shape
    gth = 2.0 * theta + 3.0 * np.sin(2.0 * theta)
    for c in range(C):
        x = x0
        k = 0
        for t in range(T + 1):
            if k < checkpoints.shape[0] and checkpoints[k] == t:
                out_f[k, c] = x * x + 3.0 * np.sin(x) ** 2
                k += 1
            if t == T:
                break
            xi = noise * (2.0 * signs[t, c] - 1.0)
            g = 2.0 * x + 3.0 * np.sin(2.0 * x) + xi - lmbda * (gth + xi)
            if unbiased:
                g += lmbda * gth
            x = x - gamma * g


def _pl_numpy(x0, theta, lmbda, gamma, noise, signs, unbiased, checkpoints, out_f):
    T, C = signs.shape
    gth = 2.0 * theta + 3.0 * np.sin(2.0 * theta)
    x = np.full(C, float(x0))
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            out_f[k] = x * x + 3.0 * np.sin(x) ** 2
            k += 1
        if t == T:
            break
        xi = noise * (2.0 * signs[t] - 1.0)
        g = 2.0 * x + 3.0 * np.sin(2.0 * x) + xi - lmbda * (gth + xi)
        if unbiased:
            g = g + lmbda * gth
        x = x - gamma * g


def simulate_pl(x0: float, theta: float, lmbda: float, gamma: float, noise: float, T: int, chains: int, *,
                checkpoints: Any = None, unbiased: bool = False, seed: int = 0, backend: str = "numba") -> dict:
    """Chains of iteration (7) (or (16)) on f(x) = x^2 + 3 sin^2 x with grad f_xi(x) = f'(x) + xi,
    xi = +-noise (Rademacher). Returns f(x^t) at the checkpoints, shape (n_checkpoints, chains)."""
    require(backend in ("numba", "numpy"), "backend", backend, "be 'numba' or 'numpy'")
    require_positive(gamma, "gamma")
    require_positive(noise, "noise", strict=False)
    cps = np.asarray([T] if checkpoints is None else checkpoints, dtype=np.int64)
    raw = np.frombuffer(np.random.default_rng(seed).bytes((T * chains + 7) // 8), dtype=np.uint8)
    signs = np.unpackbits(raw)[:T * chains].reshape(T, chains)
    out = np.empty((cps.size, chains))
    fn = _pl_kernel if backend == "numba" else _pl_numpy
    fn(float(x0), float(theta), float(lmbda), float(gamma), float(noise), signs, bool(unbiased), cps, out)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("simulate_pl: chains diverged")
    return {"f": out, "checkpoints": cps}


# ----------------------------------------------------------------------------------------------
# instances
# ----------------------------------------------------------------------------------------------


def random_least_squares(n: int, d: int, rng: np.random.Generator, *, noise: float = 0.5,
                         spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian rows with heterogeneous scales exp(spread * N(0,1)/2) and labels b = A w + noise."""
    A = rng.normal(size=(n, d)) * np.exp(spread * rng.normal(size=(n, 1)) / 2)
    w = rng.normal(size=d)
    return A, A @ w + noise * rng.normal(size=n)


# ----------------------------------------------------------------------------------------------
# benchmarks
# ----------------------------------------------------------------------------------------------


@benchmark("kd.chains")
def _bench_chains() -> list[BenchCase]:
    rng = np.random.default_rng(0)
    A, b = random_least_squares(50, 5, rng)
    c = least_squares_constants(A, b)
    ch = affine_chain(A, b, c.x_star + 0.1, 0.5, 0.5 / c.cal_L)
    T, C = 200, 10_000
    draws = draw_chain_randomness(50, 5, T, C, seed=1)
    x0 = np.zeros(5)
    cases = [BenchCase(f"SGD+KD chains d=5 n=50, {C} chains x {T} steps", T * C, "chain-steps",
                       lambda: simulate_chains(ch, x0, T, C, draws=draws, backend="numba"),
                       lambda: simulate_chains(ch, x0, T, C, draws=draws, backend="numpy"))]
    chk = affine_chain(A, b, c.x_star + 0.1, 0.5, 0.1 / c.cal_L, compressor="rand_k", param=4)
    drawk = draw_chain_randomness(50, 5, T, C, compressor="rand_k", param=4, seed=2)
    cases.append(BenchCase(f"compressed (rand-4 of 5) chains, {C} x {T}", T * C, "chain-steps",
                           lambda: simulate_chains(chk, x0, T, C, draws=drawk, backend="numba"),
                           lambda: simulate_chains(chk, x0, T, C, draws=drawk, backend="numpy")))
    for d in (5, 10, 20, 30):
        Ad, bd = random_least_squares(4 * d, d, np.random.default_rng(d))
        cd = least_squares_constants(Ad, bd)
        chd = affine_chain(Ad, bd, cd.x_star + 0.1, 0.5, 0.5 / cd.cal_L)
        cases.append(BenchCase(f"exact stationary moments, d={d} (d^2 x d^2 solve)", 1, "solves",
                               lambda chd=chd: stationary_moments(chd)))
        cases.append(BenchCase(f"exact moment recursion, d={d}, 20 steps", 20, "steps",
                               lambda chd=chd, d=d: moment_trajectory(chd, np.zeros(d), 20)))
    return cases


# ----------------------------------------------------------------------------------------------
# augmented linear operator: exact moments at arbitrary times by matrix powers
# ----------------------------------------------------------------------------------------------


def augmented_operator(B: np.ndarray, v: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Matrix G with w' = G w for w = [vec S (row-major); m; 1] under y' = B_i D y + v_i.

    ``S' = mean_i B_i (S o Q) B_i^T + C(m) + C(m)^T + mean_i v_i v_i^T`` with
    ``C(m) = mean_i B_i m v_i^T``, ``m' = mean_i B_i m + mean_i v_i``.
    """
    n, d, _ = B.shape
    D2 = d * d
    G = np.zeros((D2 + d + 1, D2 + d + 1))
    G[:D2, :D2] = np.einsum("ijk,ilm->jlkm", B, B).reshape(D2, D2) / n * Q.reshape(1, -1)
    W = np.einsum("ijl,ik->jkl", B, v) / n
    G[:D2, D2:D2 + d] = (W + W.transpose(1, 0, 2)).reshape(D2, d)
    G[:D2, -1] = (v.T @ v / n).reshape(-1)
    G[D2:D2 + d, D2:D2 + d] = B.mean(axis=0)
    G[D2:D2 + d, -1] = v.mean(axis=0)
    G[-1, -1] = 1.0
    return G


def _unpack(w: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    S = w[:d * d].reshape(d, d)
    return w[d * d:d * d + d], 0.5 * (S + S.T)


def moments_at(ch: AffineChain, x0: Any, times: Any) -> dict:
    """Exact E||x^t-x*||^2, E f(x^t)-f*, E||y^t-x*||^2 at arbitrary (increasing) times t via powers of the
    augmented operator (no iteration over intermediate steps)."""
    x0 = require_finite(x0, "x0")
    times = np.asarray(times, dtype=np.int64)
    require(times.ndim == 1 and times.size >= 1 and bool(np.all(np.diff(times) >= 0)) and times[0] >= 0,
            "times", times, "be non-decreasing integers >= 0")
    d = x0.size
    G = augmented_operator(ch.B, ch.v, ch.Q)
    w = np.concatenate([np.outer(x0, x0).reshape(-1), x0, [1.0]])
    out = {k: np.empty(times.size) for k in ("dist_sq", "gap", "y_dist_sq")}
    last = 0
    for j, t in enumerate(times):
        w = np.linalg.matrix_power(G, int(t - last)) @ w
        last = int(t)
        m, S = _unpack(w, d)
        vals = _summaries(ch, m, S)
        if not np.all(np.isfinite(vals)):
            raise FloatingPointError(f"moments_at: the second moment diverged by step {int(t)}")
        out["dist_sq"][j], out["gap"][j], out["y_dist_sq"][j] = vals
    return out


def refresh_phases(A: Any, b: Any, x0: Any, gamma: float, tau: int, phases: int) -> np.ndarray:
    """Exact E f(x^{m tau}) - f*, m = 0..phases, for unbiased distillation (16) with lam = 1 and the teacher
    refreshed to the current iterate every tau steps (theta^m = x^{m tau}, theta^0 = x^0) [kd, after Thm. 3].

    The pair (x, theta) evolves affinely: x' = (I - g A_i) x + g (A_i - H) theta + g H x*, theta' = theta;
    at each phase end theta := x. Moments of the pair are propagated exactly.
    """
    A = require_finite(A, "A")
    b = require_finite(b, "b")
    x0 = require_finite(x0, "x0")
    require_positive(gamma, "gamma")
    require(isinstance(tau, (int, np.integer)) and tau >= 1, "tau", tau, "be an integer >= 1")
    c = least_squares_constants(A, b)
    n, d = A.shape
    Ai = np.einsum("ij,ik->ijk", A, A)
    B = np.zeros((n, 2 * d, 2 * d))
    B[:, :d, :d] = np.eye(d) - gamma * Ai
    B[:, :d, d:] = gamma * (Ai - c.H)
    B[:, d:, d:] = np.eye(d)
    v = np.zeros((n, 2 * d))
    v[:, :d] = gamma * c.H @ c.x_star
    G = np.linalg.matrix_power(augmented_operator(B, v, np.ones((2 * d, 2 * d))), int(tau))
    P = np.zeros((2 * d, 2 * d))
    P[:d, :d] = np.eye(d)
    P[d:, :d] = np.eye(d)
    z0 = np.concatenate([x0, x0])
    m, S = z0, np.outer(z0, z0)
    gaps = [ls_gap(c, m[:d], S[:d, :d])]
    for _ in range(phases):
        w = G @ np.concatenate([S.reshape(-1), m, [1.0]])
        m, S = _unpack(w, 2 * d)
        m, S = P @ m, P @ S @ P.T
        gaps.append(ls_gap(c, m[:d], S[:d, :d]))
    return np.array(gaps)


def ls_gap(c, m: np.ndarray, S: np.ndarray) -> float:
    """E f(x) - f* from the mean and second moment of x on least squares."""
    xs = c.x_star
    E = S - np.outer(m, xs) - np.outer(xs, m) + np.outer(xs, xs)
    return float(0.5 * np.sum(c.H * E))
