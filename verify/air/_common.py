"""Instance generators and shared runs for the [air] claims (no claim is registered here)."""

from __future__ import annotations

import functools
import math
import zlib

import numpy as np

import kdtheory.theory.air as ta
from kdtheory.verify._core import Run

SMOOTH = ("tanh", "softplus")
NODES = 24  # quadrature nodes per sector (machine precision: the kernels of clustered data are nearly singular)


def sub_rng(run: Run, tag: str) -> np.random.Generator:
    """A generator shared by several claims: seeded by ``(seed, mode, tag)`` only (not the claim id)."""
    return np.random.default_rng([run.seed, int(run.quick), zlib.crc32(tag.encode())])


def unit_rows(rng, n: int, d: int) -> np.ndarray:
    X = rng.normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1)[:, None]


def seed_of(rng) -> int:
    return int(rng.integers(2 ** 31 - 1))


def s_plus_basis(assignment: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, K) of S+ (vectors constant on each cluster) [air, Definition 4]."""
    K = int(assignment.max()) + 1
    U = np.zeros((assignment.size, K))
    for l in range(K):
        idx = assignment == l
        U[idx, l] = 1.0 / math.sqrt(idx.sum())
    return U


def gram_from_jacobian_factors(W, X, v, activation: str) -> np.ndarray:
    """``J(W, X) J(W, X)^T`` without forming J: ``(D^T diag(v^2) D) o (X X^T)``."""
    from kdtheory.numerics.air import jacobian

    J = jacobian(W, X, v, activation)
    return J @ J.T


def sigma_min_on(J: np.ndarray, U: np.ndarray | None = None, *, gram: bool = False) -> float:
    """``sigma_min(J)`` over R^n (``U=None``) or over the subspace spanned by the columns of ``U`` (Def. 5);
    ``gram=True`` when ``J`` is already ``J J^T``."""
    G = J if gram else J @ J.T
    if U is not None:
        G = U.T @ G @ U
    return float(math.sqrt(max(np.linalg.eigvalsh((G + G.T) / 2)[0], 0.0)))


def gaussian_draw(rng, cov: np.ndarray, size: int) -> np.ndarray:
    """Rows ~ N(0, cov) for a PSD (possibly singular) covariance, through its eigendecomposition."""
    w, V = np.linalg.eigh((cov + cov.T) / 2)
    root = V * np.sqrt(np.maximum(w, 0.0))[None, :]
    return rng.normal(size=(size, cov.shape[0])) @ root.T


# ---------------------------------------------------------------------------------------------
# Theorem 1 in the kernel regime: one instance, its schedule, and the post-T2 certificate
# ---------------------------------------------------------------------------------------------


def theorem_schedule(*, n, K, c_low, lam_C, Lam, Gamma, rho, T1, tail: int = 50) -> tuple[np.ndarray, int]:
    """The fastest schedule Theorem 1 allows: ``a_t = 1`` up to ``T1``, then linear decay at 0.99 of the
    admissible rate until below ``1/(24 sqrt(n))`` (``T2``), then ``tail`` steps at the post-``T2`` rate (held
    constant when that rate is below the float resolution of ``a_T2``)."""
    # the admissible decay rates before and after T2, from the public calculator (on a placeholder schedule)
    limits = ta.schedule_conditions(np.concatenate([np.ones(T1 + 1), [0.0]]), n=n, K=K, c_low=c_low, lam_C=lam_C,
                                    Lam=Lam, Gamma=Gamma, rho=rho, T1=T1)
    lim_b, lim_a = limits["decay_before_T2"][1], limits["decay_after_T2"][1]
    step_b = 0.99 * lim_b / (2 * math.sqrt(n))
    step_a = 0.99 * lim_a / (2 * math.sqrt(n))
    thr = 1.0 / (24 * math.sqrt(n))
    n_decay = int(math.ceil((1.0 - thr) / step_b)) + 1
    a = np.concatenate([np.ones(T1 + 1), 1.0 - step_b * np.arange(1, n_decay + 1)])
    T2 = ta.t2_index(np.clip(a, 0.0, 1.0), n)
    a = a[:T2 + 1]
    if step_a < 1e3 * np.spacing(a[-1]):    # below float resolution (tiny lambda(X)): keep the tail constant
        step_a = 0.0
    a = np.concatenate([a, np.maximum(a[-1] - step_a * np.arange(1, tail + 1), 0.0)])
    return a, T2


def post_t2_certificate(e_T2: np.ndarray, w: np.ndarray, a_T2: float, V: np.ndarray, rho: float) -> dict:
    """Certify ``lim ||f_t - y~|| = 0`` from the state at ``T2`` (kernel regime, S = I - eta H, eta lambda_max <= 1).

    For every schedule with ``a_s <= a_T2`` decreasing to 0, as long as ``h(f_s) = y~``:
    ``e_{s+1} = S e_s + (I - S) a_s w`` (``e = f - y~``, ``w = y - y~``), a convex combination per
    eigendirection, so ``||e_s||^2 <= B^2 = sum_j max(e_j^2, a_T2^2 w_j^2)``; if
    ``B <= 1 - (1 - 2 rho)/4`` every output keeps the sign margin for which ``h = y~``, the
    induction never breaks, and ``e_s -> 0`` (``S^s -> 0`` for positive definite ``H``, ``a_s -> 0``).
    """
    ej, wj = V.T @ e_T2, V.T @ w
    B = float(math.sqrt(np.sum(np.maximum(ej ** 2, (a_T2 * wj) ** 2))))
    limit = 1.0 - (1.0 - 2.0 * rho) / 4.0
    return {"B": B, "limit": limit, "ok": bool(B <= limit)}


def kernel_theorem_instance(rng, activation: str, *, delta: float = 0.1, rho_max: float = 0.35,
                            n_range=(6, 14), K_range=(1, 3), eps_range=(3e-3, 3e-2), flip_majority: bool = False,
                            schedule: str = "theorem") -> dict:
    """One draw of Theorem 1's setting at infinite width: data, NTK, initial outputs, schedule, the run to T2.

    ``f_0 ~ N(0, Cov)`` with ``Cov`` the exact covariance of ``f(W_0, X)`` (:func:`initial_output_covariance`),
    the law of the initial outputs as ``k -> oo``; the dynamics use ``H = Sigma(X)``.
    ``flip_majority`` (a control) flips most labels of cluster 0, violating ``rho_l <= rho < 1/2``;
    ``schedule="none"`` (a control) sets ``a_t = 0`` from the start.
    """
    from kdtheory.numerics.air import clusterable_data, kernel_self_distillation

    n = int(rng.integers(n_range[0], n_range[1] + 1))
    K = int(rng.integers(K_range[0], min(K_range[1], n // 2) + 1))
    d = int(rng.integers(3, 7))
    rho = float(rng.uniform(0.0, rho_max))
    eps = float(10 ** rng.uniform(math.log10(eps_range[0]), math.log10(eps_range[1])))
    for _ in range(50):   # centers with lambda(C) >= 0.05: schedules of at most ~1e6 steps
        data = clusterable_data(n, K, d, eps, rho, seed=seed_of(rng))
        if ta.ntk_lambda(data.centers, activation, nodes=NODES) >= 0.05:
            break
    y = data.y_noisy.copy()
    if flip_majority:
        idx = np.flatnonzero(data.assignment == 0)
        y[idx[: idx.size // 2 + 1]] = -data.y_clean[idx[0]]
    cons = ta.data_model_constants(data.X, data.centers, data.assignment, data.y_noisy, data.y_clean)
    Gamma = ta.activation_gamma(activation)
    H = ta.ntk_gram(data.X, activation, nodes=NODES)
    lam_C = ta.ntk_lambda(data.centers, activation, nodes=NODES)
    lam_X = float(np.linalg.eigvalsh(H)[0])
    Lam = min(lam_C, lam_X)
    cov = ta.initial_output_covariance(data.X, activation, nodes=NODES)
    f0 = gaussian_draw(rng, cov, 1)[0]
    T1 = ta.t1_theorem(Gamma, K, cons["c_low"], lam_C, n, delta, rho)
    a, T2 = theorem_schedule(n=n, K=K, c_low=cons["c_low"], lam_C=lam_C, Lam=max(Lam, 1e-300), Gamma=Gamma, rho=rho,
                             T1=T1)
    conditions = ta.schedule_conditions(a, n=n, K=K, c_low=cons["c_low"], lam_C=lam_C, Lam=max(Lam, 1e-300),
                                        Gamma=Gamma, rho=rho, T1=T1)
    if schedule == "none":
        a = np.zeros_like(a)
    eta = ta.theorem1_step_size(Gamma, n)
    run = kernel_self_distillation(H, y, f0, a[:T2], rho=rho, eta=eta)
    return {"data": data, "y": y, "H": H, "lam_C": lam_C, "lam_X": lam_X, "Lam": Lam, "cons": cons, "f0": f0,
            "T1": T1, "T2": T2, "a": a, "eta": eta, "run": run, "rho": rho, "Gamma": Gamma, "activation": activation,
            "schedule_conditions": conditions,
            "n": n, "K": K, "d": d, "eps": eps, "delta": delta}


def theorem_outcome(inst: dict) -> dict:
    """Did the run reach, at ``T2``, a state from which ``f_t -> y~`` is certified? Plus the numbers."""
    run, data = inst["run"], inst["data"]
    fT2 = run["outputs"][-1]
    e = fT2 - data.y_clean
    cert = post_t2_certificate(e, inst["y"] - data.y_clean, float(inst["a"][inst["T2"]]), run["eigenvectors"],
                               inst["rho"])
    # Sigma(X) is positive definite when no two inputs are parallel (analytic, non-polynomial phi'; Du et al. 2019,
    # Jacot et al. 2018); its smallest eigenvalue can sit below the rounding of eigvalsh for tight clusters
    U = data.X / np.linalg.norm(data.X, axis=1)[:, None]
    cos = np.abs(U @ U.T)[~np.eye(data.n, dtype=bool)]
    pd = bool(np.all(cos < 1.0))
    return {"converges": bool(cert["ok"] and pd), "B": cert["B"], "limit": cert["limit"], "lam_X": inst["lam_X"],
            "dist_T2": float(np.linalg.norm(e)), "signs_ok_T2": bool(np.all(np.sign(fT2) == data.y_clean))}


@functools.lru_cache(maxsize=8)
def kernel_theorem_batch(seed: int, quick: bool, count: int) -> tuple:
    """A batch of Theorem 1 instances shared by several claims (cached per process)."""
    rng = np.random.default_rng([seed, int(quick), zlib.crc32(b"air.kernel_theorem_batch")])
    out = []
    for i in range(count):
        act = SMOOTH[i % 2]
        out.append(kernel_theorem_instance(rng, act))
    return tuple(out)
