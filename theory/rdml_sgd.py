r"""Constants and bounds of the convergence analysis of RDML [rdml, Sec. 3, Supplement C].

The analysis needs, for each student ``k`` with class probabilities ``p_k(mu | x, theta)``:

* Assumption 1: ``|p(theta) - p(theta')| <= L ||theta - theta'||`` (so ``||grad p|| <= L``),
  ``||grad^2 p|| <= H`` and ``p >= tau`` on the domain;
* Assumption 2: the per-point base loss is ``V``-smooth;
* Assumption 3: ``E ||grad L^base(d, theta_t)||^2 <= sigma_tilde^2`` along the run.

From these the paper builds phi (Lipschitz constant of the divergence, Lemma C.1),
L-hat (smoothness of the divergence loss, Lemma C.2), W = V + L-hat (Theorem 1),
sigma^2 = 2 sigma_tilde^2 + 2 phi^2 (Lemma 1) and the worst-case rate of Theorem 2.
This module evaluates the printed constants and, where a printed constant is not
valid, the corrected one (``*_corrected``), and gives the exact derivatives of the
divergence in the parameters of *any* model (Jacobian and Hessians of p supplied),
which is what the verification searches over.

Divergence conventions follow :mod:`theory.rdml`: ``D_alpha(q || p)`` with ``q`` the
peer and ``p`` the student, ``w = escort(q, alpha, p)`` the tilted law
``w ∝ q^alpha p^(1-alpha)``. SymPy is imported inside ``derive_*`` only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from theory._checks import require, require_distribution, require_finite, require_in, require_positive
from theory.rdml import escort

__all__ = [
    "phi_printed", "phi_corrected", "phi_sharp_two_class", "lhat_printed", "lhat_corrected",
    "lhat_dml_printed", "lhat_dml_corrected", "smoothness_W_printed", "smoothness_W_corrected",
    "noise_sigma2", "theorem2_bound", "eqC16_bound", "eqC14_bound", "max_step_size", "step_size_ok",
    "softmax_regression_constants", "sigma_tilde2_along_run",
    "renyi_grad_params", "renyi_hessian_params", "base_grad_params", "base_hessian_params",
    "psi_power_mean", "derive_lhat_dml_limit", "derive_theorem2_bound", "derive_grad_params",
    "derive_phi_sharp_two_class", "derive_psi_power_mean",
]


# --------------------------------------------------------------------------- input checks


def _check_common(tau: float, M: int, func: str) -> tuple[float, int]:
    require(isinstance(M, (int, np.integer)) and M >= 2, "M", M, "be an integer >= 2", func=func)
    tau = require_in(tau, "tau", 0.0, 1.0 / M, closed="right", func=func)
    return tau, int(M)


def _check_alpha(alpha: float, func: str) -> float:
    require(np.isfinite(alpha) and alpha >= 0, "alpha", alpha, "lie in [0, inf)", func=func)
    return float(alpha)


# --------------------------------------------------------------------------- phi (Lemma C.1)


def phi_printed(L: float, tau: float, M: int, alpha: float) -> float:
    r"""The Lipschitz constant phi of the divergence as printed [rdml, Lemma C.1, Eq. (C.4), Theorem 1].

    ``phi = min{1/tau, M (tau e^{(M-1) tau})^{-alpha}} L``. The second branch comes from
    Eq. (C.4), which drops the normaliser ``1/Z`` (``Z < 1`` for alpha < 1); it is smaller
    than ``1/tau`` only for alpha < 1, where it is *not* a valid Lipschitz constant
    (see :func:`phi_corrected`). For alpha >= 1 the printed value equals ``L / tau``.
    """
    L = require_positive(L, "L", func="phi_printed")
    tau, M = _check_common(tau, M, "phi_printed")
    alpha = _check_alpha(alpha, "phi_printed")
    second = M * np.exp(-alpha * (np.log(tau) + (M - 1) * tau))
    return float(min(1.0 / tau, second) * L)


def phi_corrected(L: float, tau: float) -> float:
    r"""A valid Lipschitz constant of ``D_alpha(q || p(theta))`` in theta, for every alpha: ``L / tau``.

    Eq. (C.3) of [rdml, Lemma C.1] alone: ``grad D = -sum_mu w_mu grad p_mu / p_mu`` with
    ``w`` the tilted law (a probability vector), so ``||grad D|| <= L / tau``. It is the
    correction of the printed phi (drop the second branch of the min). It is the sharp
    constant as alpha -> inf (and near-sharp for alpha >= 1/2 and small tau, see
    :func:`phi_sharp_two_class`).
    """
    L = require_positive(L, "L", func="phi_corrected")
    tau = require_in(tau, "tau", 0.0, 0.5, closed="right", func="phi_corrected")
    return float(L / tau)


def phi_sharp_two_class(L: float, tau: float, alpha: float) -> float:
    r"""Smallest Lipschitz constant valid for every two-class Assumption-1 model with constants (L, tau).

    With M = 2, ``grad p_2 = -grad p_1`` and ``||grad D|| = ||grad p_1|| |w_1/p_1 - w_2/p_2|``;
    the supremum over student/peer laws in ``[tau, 1 - tau]`` is attained at
    ``p = (tau, 1 - tau)``, ``q = (1 - tau, tau)`` and equals
    ``L (r^{2 alpha} - 1) / (tau r^{2 alpha} + 1 - tau)``, ``r = (1 - tau) / tau``
    (a linear model ``p_1 = tau + L theta`` on ``theta >= 0`` attains it). Tends to
    ``L / tau`` as alpha -> inf; equals ``L (1 - 2 tau) / (2 tau (1 - tau))`` at alpha = 1/2.
    """
    L = require_positive(L, "L", func="phi_sharp_two_class")
    tau = require_in(tau, "tau", 0.0, 0.5, closed="right", func="phi_sharp_two_class")
    alpha = _check_alpha(alpha, "phi_sharp_two_class")
    if tau == 0.5:
        return 0.0
    lr = np.log((1.0 - tau) / tau)
    e = np.exp(-2.0 * alpha * lr)  # r^{-2 alpha} in (0, 1]
    return float(L * (1.0 - e) / (tau + (1.0 - tau) * e))


# --------------------------------------------------------------------------- L-hat, W (Lemma C.2, Cor. C.2, Thm 1)


def lhat_printed(L: float, H: float, tau: float, M: int, alpha: float) -> float:
    r"""Smoothness constant of the divergence loss as printed: ``|alpha-1| phi^2 + alpha L^2 + tau H``
    [rdml, Lemma C.2] with the printed phi.

    Not valid: the last step of Eq. (C.8) multiplies by tau where Eq. (C.2) gives a
    division (the second-order term is ``<= (alpha L^2 / tau + H) / tau``). See
    :func:`lhat_corrected`.
    """
    H = require_positive(H, "H", strict=False, func="lhat_printed")
    phi = phi_printed(L, tau, M, alpha)
    return float(abs(alpha - 1.0) * phi ** 2 + alpha * L ** 2 + tau * H)


def lhat_corrected(L: float, H: float, tau: float, alpha: float) -> float:
    r"""A valid smoothness constant of the divergence loss: ``H / tau + max(1, alpha) L^2 / tau^2``.

    From ``grad^2 D = -sum w grad^2 p / p + alpha E_w[s s^T] + (1 - alpha) m m^T`` with
    ``s = grad log p``, ``m = E_w s`` [rdml, Lemma C.2 proof, corrected]: the last two terms
    form a PSD matrix below ``E_w[s s^T]`` (alpha <= 1) or ``alpha E_w[s s^T]`` (alpha > 1), and
    ``E_w ||s||^2 <= L^2 / tau^2``, ``sum_mu w_mu / p_mu <= 1 / tau``. The repaired printed form
    ``|alpha-1| (L/tau)^2 + alpha L^2/tau^2 + H/tau`` is also valid but never smaller.
    """
    L = require_positive(L, "L", func="lhat_corrected")
    H = require_positive(H, "H", strict=False, func="lhat_corrected")
    tau = require_in(tau, "tau", 0.0, 0.5, closed="right", func="lhat_corrected")
    alpha = _check_alpha(alpha, "lhat_corrected")
    return float(H / tau + max(1.0, alpha) * L ** 2 / tau ** 2)


def lhat_dml_printed(L: float, H: float, tau: float) -> float:
    r"""The alpha -> 1 (KL, vanilla DML) smoothness constant as printed: ``L^2 + tau H`` [rdml, Corollary C.2]."""
    L = require_positive(L, "L", func="lhat_dml_printed")
    H = require_positive(H, "H", strict=False, func="lhat_dml_printed")
    tau = require_in(tau, "tau", 0.0, 0.5, closed="right", func="lhat_dml_printed")
    return float(L ** 2 + tau * H)


def lhat_dml_corrected(L: float, H: float, tau: float) -> float:
    r"""A valid KL (alpha = 1) smoothness constant: ``H / tau + L^2 / tau^2`` (limit of :func:`lhat_corrected`)."""
    return lhat_corrected(L, H, tau, 1.0)


def smoothness_W_printed(V: float, L: float, H: float, tau: float, M: int, alpha: float) -> float:
    r"""``W = V + |alpha-1| phi^2 + alpha L^2 + tau H`` as printed [rdml, Theorem 1]."""
    V = require_positive(V, "V", strict=False, func="smoothness_W_printed")
    return float(V + lhat_printed(L, H, tau, M, alpha))


def smoothness_W_corrected(V: float, L: float, H: float, tau: float, alpha: float) -> float:
    r"""A valid smoothness constant of ``L_k``: ``V + H / tau + max(1, alpha) L^2 / tau^2`` [rdml, Theorem 1, corrected]."""
    V = require_positive(V, "V", strict=False, func="smoothness_W_corrected")
    return float(V + lhat_corrected(L, H, tau, alpha))


# --------------------------------------------------------------------------- sigma^2 (Lemma 1), Theorem 2


def noise_sigma2(sigma_tilde2: float, phi: float) -> float:
    r"""Second-moment bound of the stochastic gradient: ``sigma^2 = 2 sigma_tilde^2 + 2 phi^2`` [rdml, Lemma 1].

    Valid whenever ``phi`` bounds the per-point divergence gradient (use :func:`phi_corrected`).
    """
    s = require_positive(sigma_tilde2, "sigma_tilde2", strict=False, func="noise_sigma2")
    phi = require_positive(phi, "phi", strict=False, func="noise_sigma2")
    return float(2.0 * s + 2.0 * phi ** 2)


def max_step_size(W: float, T: int) -> float:
    r"""Largest constant step allowed by Theorem 2: ``eta_t = eta / sqrt(T) <= 1 / (W sqrt(T))`` [rdml, Theorem 2]."""
    W = require_positive(W, "W", func="max_step_size")
    require(isinstance(T, (int, np.integer)) and T >= 1, "T", T, "be an integer >= 1", func="max_step_size")
    return float(1.0 / (W * np.sqrt(T)))


def step_size_ok(eta: float, W: float) -> bool:
    r"""Whether ``eta <= 1 / W`` (i.e. ``eta_t = eta/sqrt(T) <= 1/(W sqrt(T))``) [rdml, Theorem 2]."""
    eta = require_positive(eta, "eta", func="step_size_ok")
    W = require_positive(W, "W", func="step_size_ok")
    return bool(eta <= 1.0 / W)


def _check_thm2(delta_base, eta, T, W, sigma2, func):
    delta_base = require_positive(delta_base, "delta_base", strict=False, func=func)
    eta = require_positive(eta, "eta", func=func)
    require(isinstance(T, (int, np.integer)) and T >= 1, "T", T, "be an integer >= 1", func=func)
    W = require_positive(W, "W", func=func)
    require(eta <= 1.0 / W * (1 + 1e-12), "eta", eta, f"satisfy the step-size condition eta <= 1/W = {1.0 / W:.6g}", func=func)
    sigma2 = require_positive(sigma2, "sigma2", strict=False, func=func)
    return delta_base, eta, int(T), W, sigma2


def theorem2_bound(delta_base: float, eta: float, T: int, W: float, sigma2: float,
                   sigma_tilde2: float, phi: float) -> float:
    r"""The bound of Theorem 2 without O(.): ``2 Delta/(eta sqrt T) + sigma^2/sqrt T + 2 max(phi sigma_tilde, phi^2)``.

    [rdml, Theorem 2] with ``Delta = L^base_k(theta_1) - L^base_{k,*}`` and step
    ``eta_t = eta / sqrt(T)``, ``eta <= 1/W``. It dominates :func:`eqC16_bound` (which the
    proof actually derives) because ``eta W <= 1`` and ``sigma <= 2 max(sigma_tilde, phi)``.
    """
    delta_base, eta, T, W, sigma2 = _check_thm2(delta_base, eta, T, W, sigma2, "theorem2_bound")
    st = np.sqrt(require_positive(sigma_tilde2, "sigma_tilde2", strict=False, func="theorem2_bound"))
    phi = require_positive(phi, "phi", strict=False, func="theorem2_bound")
    rt = np.sqrt(T)
    return float(2.0 * delta_base / (eta * rt) + sigma2 / rt + 2.0 * max(phi * st, phi ** 2))


def eqC16_bound(delta_base: float, eta: float, T: int, W: float, sigma2: float, phi: float) -> float:
    r"""Eq. (C.16) with ``eta_t = eta/sqrt(T)``: ``2 Delta/(eta sqrt T) + eta W sigma^2/sqrt T + phi sigma`` [rdml, Eq. (C.16)]."""
    delta_base, eta, T, W, sigma2 = _check_thm2(delta_base, eta, T, W, sigma2, "eqC16_bound")
    phi = require_positive(phi, "phi", strict=False, func="eqC16_bound")
    rt = np.sqrt(T)
    return float(2.0 * delta_base / (eta * rt) + eta * W * sigma2 / rt + phi * np.sqrt(sigma2))


def eqC14_bound(delta_base: float, etas, W: float, sigma2: float, psi_sum: float) -> float:
    r"""Eq. (C.14): ``(Delta + sum eta_t^2 W sigma^2 / 2 + sum E Psi_t) / sum eta_t`` [rdml, Eq. (C.14)].

    With ``psi_sum <= 0`` and ``eta_t = eta/sqrt(T)`` this is the O(1/sqrt T) bound of
    [rdml, Theorem C.1]. The result may be negative only if ``psi_sum`` is very negative.
    """
    delta_base = require_positive(delta_base, "delta_base", strict=False, func="eqC14_bound")
    etas = require_finite(etas, "etas", func="eqC14_bound").ravel()
    require(etas.size >= 1 and bool(np.all(etas > 0)), "etas", etas, "be a non-empty array of positive steps",
            func="eqC14_bound")
    W = require_positive(W, "W", func="eqC14_bound")
    sigma2 = require_positive(sigma2, "sigma2", strict=False, func="eqC14_bound")
    require(np.isfinite(psi_sum), "psi_sum", psi_sum, "be finite", func="eqC14_bound")
    return float((delta_base + 0.5 * W * sigma2 * np.sum(etas ** 2) + psi_sum) / np.sum(etas))


def sigma_tilde2_along_run(base_sqnorm_means) -> float:
    r"""``sigma_tilde^2`` of Assumption 3 along a run: the largest logged ``E_d ||grad L^base(d, theta_t)||^2`` [rdml, Assumption 3]."""
    x = require_finite(base_sqnorm_means, "base_sqnorm_means", func="sigma_tilde2_along_run")
    require(x.size >= 1 and bool(np.all(x >= 0)), "base_sqnorm_means", x, "be non-empty and >= 0",
            func="sigma_tilde2_along_run")
    return float(x.max())


# --------------------------------------------------------------------------- softmax regression constants


def _l_sq_poly(M: int, tau: float) -> np.ndarray:
    """Coefficients of a^2 [(1-a)^2 + (1-a-(M-2)tau)^2 + (M-2) tau^2] (highest degree first)."""
    c = 1.0 - (M - 2) * tau
    inner = np.polyadd(np.polyadd([1.0, -2.0, 1.0], [1.0, -2.0 * c, c * c]), [(M - 2) * tau ** 2])
    return np.polymul([1.0, 0.0, 0.0], inner)


def _tau_simplex(u: np.ndarray, tau: float) -> np.ndarray:
    M = u.shape[-1]
    e = np.exp(u - u.max())
    return tau + (1.0 - M * tau) * e / e.sum()


@lru_cache(maxsize=256)
def _softmax_reg_H(M: int, tau: float) -> float:
    from scipy import optimize

    def h_of(p):
        C = np.diag(p) - np.outer(p, p)
        best = 0.0
        for mu in range(M):
            e = -p.copy()
            e[mu] += 1.0
            best = max(best, p[mu] * np.max(np.abs(np.linalg.eigvalsh(np.outer(e, e) - C))))
        return best

    rng = np.random.default_rng(12345)
    starts = [np.zeros(M)] + [rng.normal(scale=2.0, size=M) for _ in range(4)]
    for i in range(min(M, 3)):
        s = np.full(M, -1.0)
        s[i] = 1.0
        starts.append(s)
    best = 0.0
    for x0 in starts:
        res = optimize.minimize(lambda u: -h_of(_tau_simplex(u, tau)), x0, method="Nelder-Mead",
                                options={"maxiter": 150 * M, "xatol": 1e-9, "fatol": 1e-13})
        best = max(best, -res.fun)
    return best


def softmax_regression_constants(M: int, R: float, tau: float) -> dict:
    r"""Assumption 1-2 constants of a softmax-regression student ``p = softmax(W x)``, ``||x|| <= R``.

    Parameters theta = W (M x d, Frobenius norm), sup over every law ``p`` with all
    classes ``>= tau`` [rdml, Assumptions 1-2]:

    * ``L = R max_mu sup p_mu ||e_mu - p||``, exact: for fixed ``p_mu = a`` the sum of the other
      squares is largest at a vertex, leaving a quartic in ``a`` maximised at its critical points;
    * ``H = R^2 sup p_mu ||(e_mu - p)(e_mu - p)^T - diag(p) + p p^T||_2`` (multi-start search);
    * ``V = R^2 sup lambda_max(diag(p) - p p^T) = R^2 (1 - (M - 2) tau) / 2`` (smoothness of the
      per-point cross entropy; attained at ``p = (a, a, tau, ..., tau)``, eigenvector ``e_1 - e_2``;
      the tests confirm it against a multi-start search).

    Returns ``{"L", "H", "V", "tau", "R", "M"}``.
    """
    tau, M = _check_common(tau, M, "softmax_regression_constants")
    R = require_positive(R, "R", func="softmax_regression_constants")
    lo, hi = tau, 1.0 - (M - 1) * tau
    poly = _l_sq_poly(M, tau)
    cands = [lo, hi] + [r.real for r in np.roots(np.polyder(poly)) if abs(r.imag) < 1e-12 and lo <= r.real <= hi]
    l2 = max(np.polyval(poly, a) for a in cands)
    Hs = _softmax_reg_H(M, float(tau))
    Vs = 0.5 * (1.0 - (M - 2) * tau)
    return {"L": float(R * np.sqrt(max(l2, 0.0))), "H": float(R ** 2 * Hs), "V": float(R ** 2 * Vs),
            "tau": float(tau), "R": float(R), "M": int(M)}


# --------------------------------------------------------------------------- derivatives for any model


def _model_args(q, p, jac, func):
    q = require_distribution(q, "q", func=func)
    p = require_distribution(p, "p", func=func)
    require(bool(np.all(p > 0)), "p", p, "be > 0 in every class (Assumption 1: p >= tau > 0)", func=func)
    jac = require_finite(jac, "jac", func=func)
    require(q.shape == p.shape and jac.ndim == p.ndim + 1 and jac.shape[:-1] == p.shape, "jac", jac.shape,
            f"have shape p.shape + (P,) with p.shape = {p.shape} (and q like p)", func=func)
    colsum = np.abs(jac.sum(axis=-2))
    require(bool(np.all(colsum <= 1e-8 * (1.0 + np.abs(jac).sum(axis=-2)))), "jac", jac,
            "have columns summing to 0 (probabilities sum to 1)", func=func)
    return q, p, jac


def renyi_grad_params(q, p, jac, alpha: float) -> np.ndarray:
    r"""Gradient in theta of ``D_alpha(q || p(theta))`` for any model, from ``jac = d p / d theta``.

    ``grad D = -sum_mu w_mu jac_mu / p_mu``, ``w = escort(q, alpha, p)`` [rdml, Eq. (C.1)].
    Shapes: ``q, p`` (..., M), ``jac`` (..., M, P); returns (..., P).
    """
    q, p, jac = _model_args(q, p, jac, "renyi_grad_params")
    alpha = _check_alpha(alpha, "renyi_grad_params")
    w = escort(q, alpha, p)
    return -np.einsum("...m,...mi->...i", w / p, jac)


def renyi_hessian_params(q, p, jac, hess, alpha: float) -> np.ndarray:
    r"""Hessian in theta of ``D_alpha(q || p(theta))`` for any model [rdml, Lemma C.2 proof].

    ``-sum w_mu hess_mu / p_mu + alpha E_w[s s^T] + (1 - alpha) m m^T`` with
    ``s_mu = jac_mu / p_mu``, ``m = E_w s``; ``hess`` of shape (..., M, P, P).
    """
    q, p, jac = _model_args(q, p, jac, "renyi_hessian_params")
    alpha = _check_alpha(alpha, "renyi_hessian_params")
    hess = require_finite(hess, "hess", func="renyi_hessian_params")
    P = jac.shape[-1]
    require(hess.shape == jac.shape + (P,), "hess", hess.shape, f"have shape jac.shape + (P,) = {jac.shape + (P,)}")
    w = escort(q, alpha, p)
    s = jac / p[..., None]
    m = np.einsum("...m,...mi->...i", w, s)
    return (-np.einsum("...m,...mij->...ij", w / p, hess) + alpha * np.einsum("...m,...mi,...mj->...ij", w, s, s)
            + (1.0 - alpha) * m[..., :, None] * m[..., None, :])


def base_grad_params(y: int, p, jac) -> np.ndarray:
    r"""Gradient of the cross entropy ``-log p_y(theta)`` [rdml, Eq. (1)] for any model: ``-jac_y / p_y``."""
    p = require_distribution(p, "p", func="base_grad_params")
    jac = require_finite(jac, "jac", func="base_grad_params")
    require(isinstance(y, (int, np.integer)) and 0 <= y < p.shape[0], "y", y, f"be a class index in [0, {p.shape[0]})")
    return -jac[y] / p[y]


def base_hessian_params(y: int, p, jac, hess) -> np.ndarray:
    r"""Hessian of ``-log p_y(theta)`` for any model: ``-hess_y / p_y + s_y s_y^T`` [rdml, Assumption 2]."""
    p = require_distribution(p, "p", func="base_hessian_params")
    jac = require_finite(jac, "jac", func="base_hessian_params")
    hess = require_finite(hess, "hess", func="base_hessian_params")
    require(isinstance(y, (int, np.integer)) and 0 <= y < p.shape[0], "y", y, f"be a class index in [0, {p.shape[0]})")
    s = jac[y] / p[y]
    return -hess[y] / p[y] + np.outer(s, s)


def psi_power_mean(q, p_t, p_next, alpha: float) -> tuple[float, float]:
    r"""Eqs. (C.17)-(C.18): ``Psi = D(q||p_t) - D(q||p_{t+1}) = -log phi_tilde`` [rdml, Supplement C.2.3].

    ``phi_mu = p_t(mu) / p_{t+1}(mu)`` and ``phi_tilde`` is the power mean of order
    ``1 - alpha`` of ``phi`` under the tilted law ``escort(q, alpha, p_{t+1})`` (the
    geometric mean at alpha = 1), so ``min phi <= phi_tilde <= max phi``. Returns
    ``(phi_tilde, -log phi_tilde)``.
    """
    q = require_distribution(q, "q", func="psi_power_mean")
    p_t = require_distribution(p_t, "p_t", func="psi_power_mean")
    p_next = require_distribution(p_next, "p_next", func="psi_power_mean")
    require(bool(np.all(p_t > 0)) and bool(np.all(p_next > 0)), "p_t", p_t, "and p_next be > 0 in every class",
            func="psi_power_mean")
    alpha = _check_alpha(alpha, "psi_power_mean")
    with np.errstate(divide="ignore"):
        lv = alpha * np.log(q) + (1.0 - alpha) * np.log(p_next)  # log of the tilted law, unnormalised
    lv = lv - lv.max()
    lv = lv - np.log(np.exp(lv).sum())
    lphi = np.log(p_t) - np.log(p_next)
    if alpha == 1.0:
        lt = float(np.exp(lv) @ lphi)
    else:
        e = lv + (1.0 - alpha) * lphi
        mx = e.max()
        lt = float((mx + np.log(np.exp(e - mx).sum())) / (1.0 - alpha))
    return float(np.exp(lt)), -lt


# --------------------------------------------------------------------------- SymPy derivations


def derive_lhat_dml_limit():
    r"""SymPy: the alpha -> 1 limits of the printed L-hat (``L^2 + tau H``, Corollary C.2) and of the corrected one.

    Returns ``(printed_limit, corrected_limit)`` as SymPy expressions in ``L, H, tau``
    (with the printed phi, whose value at alpha = 1 is ``L / tau`` because ``M e^{-(M-1) tau} >= 1``).
    """
    import sympy as sp

    a = sp.Symbol("alpha", positive=True)
    L, H, tau = sp.symbols("L H tau", positive=True)
    phi1 = L / tau  # printed phi, any alpha near 1 (bounded)
    printed = sp.limit(sp.Abs(a - 1) * phi1 ** 2 + a * L ** 2 + tau * H, a, 1)
    corrected = sp.limit(H / tau + sp.Max(1, a) * L ** 2 / tau ** 2, a, 1, dir="-")
    return sp.simplify(printed), sp.simplify(corrected)


def derive_theorem2_bound():
    r"""SymPy: Eqs. (C.14)/(C.16) with ``eta_t = eta / sqrt(T)``, summed over t = 1..T.

    Returns ``(c16, symbols)``: the right side ``2 (Delta + sum eta_t^2 W sigma^2 / 2) / sum eta_t
    + sum eta_t phi sigma / sum eta_t`` simplified, in the symbols ``(Delta, eta, T, W, sigma, phi)``.
    """
    import sympy as sp

    Delta, eta, T, W, sigma, phi = sp.symbols("Delta eta T W sigma phi", positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    eta_t = eta / sp.sqrt(T)
    s1 = sp.summation(eta_t, (t, 1, T))
    s2 = sp.summation(eta_t ** 2, (t, 1, T))
    c16 = 2 * (Delta + s2 * W * sigma ** 2 / 2) / s1 + s1 * phi * sigma / s1
    return sp.simplify(c16), (Delta, eta, T, W, sigma, phi)


def derive_grad_params():
    r"""SymPy: gradient of ``D_alpha(q || p(theta))`` for a 3-class model with arbitrary smooth ``p(theta)``.

    Returns ``(symbols, grad, closed)`` where ``grad`` is ``d D / d theta`` and ``closed`` the
    escort form ``-sum w_mu p_mu' / p_mu``; ``p_3 = 1 - p_1 - p_2`` and ``p_1, p_2`` are
    undefined functions of a scalar theta.
    """
    import sympy as sp

    a, th = sp.symbols("alpha theta", positive=True)
    q = sp.symbols("q1:4", positive=True)
    f1, f2 = sp.Function("p1")(th), sp.Function("p2")(th)
    p = [f1, f2, 1 - f1 - f2]
    Z = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p))
    D = sp.log(Z) / (a - 1)
    grad = sp.diff(D, th)
    closed = -sum((qi ** a * pi ** (1 - a) / Z) * sp.diff(pi, th) / pi for qi, pi in zip(q, p))
    return (a, th, q, (f1, f2)), grad, closed


def derive_phi_sharp_two_class():
    r"""SymPy: ``|w_1/p_1 - w_2/p_2|`` at ``p = (tau, 1-tau)``, ``q = (1-tau, tau)`` for M = 2.

    Returns ``(expr, closed, symbols)`` with ``closed = (r^{2 alpha} - 1)/(tau r^{2 alpha} + 1 - tau)``,
    ``r = (1 - tau)/tau`` (see :func:`phi_sharp_two_class`).
    """
    import sympy as sp

    a, tau = sp.symbols("alpha tau", positive=True)
    p = [tau, 1 - tau]
    q = [1 - tau, tau]
    Z = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p))
    w = [qi ** a * pi ** (1 - a) / Z for qi, pi in zip(q, p)]
    expr = w[0] / p[0] - w[1] / p[1]
    r = (1 - tau) / tau
    closed = (r ** (2 * a) - 1) / (tau * r ** (2 * a) + 1 - tau)
    return expr, closed, (a, tau)


def derive_psi_power_mean():
    r"""SymPy: for 3 classes, ``D(q||p_t) - D(q||p_{t+1}) + log phi_tilde`` with ``phi_tilde`` the
    power mean of order ``1 - alpha`` under the tilted law of ``p_{t+1}`` [rdml, Eq. (C.17)].

    Returns ``(difference, symbols)``; the difference simplifies to 0.
    """
    import sympy as sp

    a = sp.Symbol("alpha", positive=True)
    q = sp.symbols("q1:4", positive=True)
    p0 = sp.symbols("u1:4", positive=True)
    p1 = sp.symbols("v1:4", positive=True)
    Z0 = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p0))
    Z1 = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p1))
    psi = (sp.log(Z0) - sp.log(Z1)) / (a - 1)
    v = [qi ** a * pi ** (1 - a) / Z1 for qi, pi in zip(q, p1)]
    mean = sum(vi * (ui / wi) ** (1 - a) for vi, ui, wi in zip(v, p0, p1))
    log_tilde = sp.log(mean) / (1 - a)
    return psi + log_tilde, (a, q, p0, p1)
