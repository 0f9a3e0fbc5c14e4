"""Closed forms for "Knowledge Distillation Performs Partial Variance Reduction" [kd].

Everything is made explicit on finite-sum least squares,
``f_i(x) = 1/2 (a_i^T x - b_i)^2`` with ``xi`` uniform over the ``n`` rows,
where every constant of the paper has a closed form:

* ``mu``, ``L``: extreme eigenvalues of ``H = A^T A / n``;
* the best expected-smoothness constant of Assumption 3 [kd, Eq. (10)]: the largest
  generalised eigenvalue of ``(M, H)`` with ``M = mean_i ||a_i||^2 a_i a_i^T``;
* the mean-square Lipschitz constant of [kd, Eq. (39)]: ``sqrt(lambda_max(M))``;
* ``sigma_*^2``, the teacher moments, ``beta`` [kd, Eq. (31)], ``rho`` [kd, Eq. (32)],
  ``N(lambda)`` and ``lambda_*`` of Lemma 1 [kd, Eqs. (14), (33)] for any ``c``.

The theorem bounds are written out from their proofs (no O(.)): Theorem 1 from
[kd, Eq. (35)], Theorem 2 from [kd, Eq. (36)], Theorem 3 from [kd, Eq. (17)],
Theorem 4 from the last display of Appendix E.2 with (38). For general problems
the calculators take the constants as arguments.

Sign convention: ``lambda`` is the weight of the *teacher* term as in
[kd, Eqs. (2), (4), (5), (7)]; the distillation gradient is
``grad f_xi(x) - lambda grad f_xi(theta)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kdtheory.theory._checks import require, require_finite, require_in, require_positive

# ----------------------------------------------------------------------------------------------
# least squares: constants
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeastSquaresConstants:
    """Constants of ``f(x) = mean_i 1/2 (a_i^T x - b_i)^2`` with uniform single-sample ``xi``."""

    mu: float                 # strong convexity (= strong quasi-convexity = PL constant), lambda_min(H)
    L: float                  # smoothness of f, lambda_max(H)
    cal_L: float              # best expected-smoothness constant of Eq. (10)
    cal_L39: float            # best mean-square Lipschitz constant of Eq. (39)
    sigma_star_sq: float      # E ||grad f_xi(x*)||^2
    x_star: np.ndarray
    f_star: float
    H: np.ndarray
    M: np.ndarray             # mean_i ||a_i||^2 a_i a_i^T


def _check_ls(A: Any, b: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    A = require_finite(A, "A", func=func)
    b = require_finite(b, "b", func=func)
    require(A.ndim == 2 and A.shape[0] >= 1 and A.shape[1] >= 1, "A", A, "be a non-empty (n, d) matrix", func=func)
    require(b.shape == (A.shape[0],), "b", b, f"have shape ({A.shape[0]},)", func=func)
    return A, b


def least_squares_constants(A: Any, b: Any) -> LeastSquaresConstants:
    """All constants of Assumptions 1-3 and Eq. (39) for finite-sum least squares [kd, Sec. 4.1].

    ``H`` must be positive definite (Assumption 1 with ``mu > 0``). The expected-smoothness
    constant is the smallest ``cal_L`` with ``E||grad f_xi(x)-grad f_xi(x*)||^2 <= 2 cal_L (f(x)-f*)``,
    i.e. ``lambda_max(H^{-1/2} M H^{-1/2})``; Eq. (39) needs ``cal_L39^2 = lambda_max(M)``.
    """
    A, b = _check_ls(A, b, "least_squares_constants")
    n, d = A.shape
    H = A.T @ A / n
    w, V = np.linalg.eigh(H)
    require(bool(w[0] > 1e-12 * max(w[-1], 1e-300)), "A", A,
            "give a positive definite Hessian A^T A / n (Assumption 1 needs mu > 0)", func="least_squares_constants")
    norms = np.einsum("ij,ij->i", A, A)
    M = (A * norms[:, None]).T @ A / n
    Hm12 = V @ np.diag(w ** -0.5) @ V.T
    cal_L = float(np.linalg.eigvalsh(Hm12 @ M @ Hm12)[-1])
    cal_L39 = float(np.sqrt(np.linalg.eigvalsh(M)[-1]))
    x_star = np.linalg.solve(H, A.T @ b / n)
    r = A @ x_star - b
    return LeastSquaresConstants(mu=float(w[0]), L=float(w[-1]), cal_L=cal_L, cal_L39=cal_L39,
                                 sigma_star_sq=float(np.mean(norms * r ** 2)), x_star=x_star,
                                 f_star=float(0.5 * np.mean(r ** 2)), H=H, M=M)


def ls_loss(A: Any, b: Any, x: Any) -> float:
    """``f(x) = mean_i 1/2 (a_i^T x - b_i)^2``."""
    A, b = _check_ls(A, b, "ls_loss")
    r = A @ np.asarray(x, dtype=float) - b
    return float(0.5 * np.mean(r ** 2))


@dataclass(frozen=True)
class TeacherMoments:
    """Second-order statistics of the stochastic gradients at a teacher ``theta`` [kd, Sec. C.1].

    ``grad_sq = ||grad f(theta)||^2``, ``sigma_theta_sq = E||grad f_xi(theta)||^2``,
    ``sigma_star_sq = E||grad f_xi(x*)||^2``, ``cross = E<grad f_xi(x*), grad f_xi(theta)>``,
    ``gap = f(theta) - f*``, ``diff_sq = E||grad f_xi(theta) - grad f_xi(x*)||^2``.
    """

    grad_sq: float
    sigma_theta_sq: float
    sigma_star_sq: float
    cross: float
    gap: float
    diff_sq: float
    cross_diff: float | None = None   # E<grad f_xi(x*), grad f_xi(theta) - grad f_xi(x*)>, computed directly


def teacher_moments(A: Any, b: Any, theta: Any, consts: LeastSquaresConstants | None = None) -> TeacherMoments:
    """Exact teacher moments on least squares (all expectations are finite averages over rows)."""
    A, b = _check_ls(A, b, "teacher_moments")
    theta = require_finite(theta, "theta", func="teacher_moments")
    require(theta.shape == (A.shape[1],), "theta", theta, f"have shape ({A.shape[1]},)", func="teacher_moments")
    c = consts or least_squares_constants(A, b)
    norms = np.einsum("ij,ij->i", A, A)
    rs = A @ c.x_star - b
    rt = A @ theta - b
    g = c.H @ (theta - c.x_star)
    return TeacherMoments(grad_sq=float(g @ g), sigma_theta_sq=float(np.mean(norms * rt ** 2)),
                          sigma_star_sq=float(np.mean(norms * rs ** 2)), cross=float(np.mean(norms * rs * rt)),
                          gap=float(0.5 * np.mean((rt - rs) ** 2)),  # = 1/2 (theta-x*)^T H (theta-x*): no cancellation
                          diff_sq=float(np.mean(norms * (rt - rs) ** 2)), cross_diff=float(np.mean(norms * rs * (rt - rs))))


def moments_from_values(grad_sq: float, sigma_theta_sq: float, sigma_star_sq: float, cross: float,
                        gap: float = 0.0, diff_sq: float | None = None) -> TeacherMoments:
    """Teacher moments of a general problem, checked for consistency (Cauchy-Schwarz, Jensen)."""
    for name, v in (("grad_sq", grad_sq), ("sigma_theta_sq", sigma_theta_sq), ("sigma_star_sq", sigma_star_sq)):
        require_positive(v, name, strict=False, func="moments_from_values")
    require(grad_sq <= sigma_theta_sq * (1 + 1e-12), "grad_sq", grad_sq,
            f"be <= sigma_theta_sq = {sigma_theta_sq:g} (Jensen)", func="moments_from_values")
    require(abs(cross) <= math.sqrt(sigma_star_sq * sigma_theta_sq) * (1 + 1e-12) + 1e-300, "cross", cross,
            "satisfy Cauchy-Schwarz |cross| <= sigma_* sigma(theta)", func="moments_from_values")
    if diff_sq is None:
        diff_sq = sigma_theta_sq + sigma_star_sq - 2 * cross
    return TeacherMoments(float(grad_sq), float(sigma_theta_sq), float(sigma_star_sq), float(cross), float(gap),
                          float(diff_sq))


# ----------------------------------------------------------------------------------------------
# beta, rho, N(lambda), lambda_*  [kd, Eqs. (13)-(15), (31)-(33)]
# ----------------------------------------------------------------------------------------------


def snr_beta(m: TeacherMoments) -> float:
    """beta(theta) = ||grad f(theta)||^2 / E||grad f_xi(theta)||^2 in [0, 1] [kd, Eq. (31)]."""
    require(m.sigma_theta_sq > 0, "m.sigma_theta_sq", m.sigma_theta_sq, "be > 0 (beta undefined)")
    return m.grad_sq / m.sigma_theta_sq


def correlation_rho(m: TeacherMoments) -> float:
    """Correlation of the stochastic gradients at x* and theta, as used in the proof of Lemma 1.

    ``Cov(x*, theta) / sqrt(Var(x*) Var(theta))`` with ``Var(x) = Cov(x, x)`` (the variance; the
    printed Eq. (32) writes ``Var := sqrt(Cov)``, see :func:`correlation_rho_printed`).
    """
    var_t = m.sigma_theta_sq - m.grad_sq
    require(var_t > 0 and m.sigma_star_sq > 0, "m", m, "have positive gradient variances at x* and theta")
    return m.cross / math.sqrt(m.sigma_star_sq * var_t)


def correlation_rho_printed(m: TeacherMoments) -> float:
    """Eq. (32) read literally: ``Var(x) := sqrt(Cov(x, x))``, so ``rho = Cov / (Cov_** Cov_tt)^(1/4)``."""
    var_t = m.sigma_theta_sq - m.grad_sq
    require(var_t > 0 and m.sigma_star_sq > 0, "m", m, "have positive gradient variances at x* and theta")
    return m.cross / math.sqrt(math.sqrt(m.sigma_star_sq) * math.sqrt(var_t))


def distilled_noise(lmbda: float, m: TeacherMoments) -> float:
    """E||grad f_xi(x*) - lambda grad f_xi(theta)||^2 (the variance term of N(lambda))."""
    return m.sigma_star_sq - 2 * lmbda * m.cross + lmbda ** 2 * m.sigma_theta_sq


def neighborhood(lmbda: float, m: TeacherMoments, *, c: float, gamma: float) -> float:
    """N(lambda) = lambda^2 ||grad f(theta)||^2 + c gamma E||grad f_xi(x*) - lambda grad f_xi(theta)||^2 [kd, Lemma 1]."""
    require_positive(c, "c", strict=False)
    require_positive(gamma, "gamma")
    return lmbda ** 2 * m.grad_sq + c * gamma * distilled_noise(lmbda, m)


def lambda_star(m: TeacherMoments, *, c: float, gamma: float) -> float:
    """The minimiser of N(lambda) [kd, Eq. (33); Eq. (14) is c = 1].

    ``E<grad f_xi(x*), grad f_xi(theta)> / (E||grad f_xi(theta)||^2 + ||grad f(theta)||^2 / (c gamma))``.
    With ``c = 0`` the noise term vanishes and the minimiser is 0 (or any value if grad f(theta) = 0).
    """
    require_positive(c, "c", strict=False)
    require_positive(gamma, "gamma")
    if c == 0:
        return 0.0
    den = m.sigma_theta_sq + m.grad_sq / (c * gamma)
    require(den > 0, "m.sigma_theta_sq", m.sigma_theta_sq, "be > 0 (all stochastic gradients vanish at theta)")
    return m.cross / den


def reduction_factor(rho: float, beta: float, *, c: float, gamma: float) -> float:
    """N(lambda_*)/N(0) = 1 - rho^2 (1 - beta) / (1 + beta/(c gamma)) [kd, Eq. (15), Lemma 1]."""
    require_in(beta, "beta", 0.0, 1.0)
    require_positive(c, "c")
    require_positive(gamma, "gamma")
    return 1.0 - rho ** 2 * (1.0 - beta) / (1.0 + beta / (c * gamma))


def reduction_factor_direct(m: TeacherMoments, *, c: float, gamma: float) -> float:
    """N(lambda_*)/N(0) from the moments, without rho and beta."""
    return neighborhood(lambda_star(m, c=c, gamma=gamma), m, c=c, gamma=gamma) / neighborhood(0.0, m, c=c, gamma=gamma)


def reduction_factor_stable(m: TeacherMoments, *, c: float, gamma: float) -> float:
    """N(lambda_*)/N(0) without cancellation for teachers near x*:

    ``(sigma_*^2 E||D||^2 - E<g_*, D>^2 + sigma_*^2 ||grad f(theta)||^2/(c gamma)) / (sigma_*^2 (sigma^2(theta) + ||grad f(theta)||^2/(c gamma)))``
    with ``D = grad f_xi(theta) - grad f_xi(x*)`` (needs ``m.cross_diff``, as given by :func:`teacher_moments`).
    """
    require_positive(c, "c")
    require_positive(gamma, "gamma")
    require(m.cross_diff is not None, "m.cross_diff", None, "be available (use teacher_moments)")
    q = m.grad_sq / (c * gamma)
    num = m.sigma_star_sq * m.diff_sq - m.cross_diff ** 2 + m.sigma_star_sq * q
    return max(num, 0.0) / (m.sigma_star_sq * (m.sigma_theta_sq + q))


def teacher_condition_34(m: TeacherMoments, cal_L: float) -> bool:
    """Condition (34): f(theta) - f* <= sigma(x*) sigma(theta) / cal_L [kd, Lemma 1 proof]."""
    require_positive(cal_L, "cal_L")
    return m.gap <= math.sqrt(m.sigma_star_sq * m.sigma_theta_sq) / cal_L


def reduction_bound(m: TeacherMoments, *, cal_L: float, L: float, c: float, gamma: float) -> float:
    """Explicit form of Lemma 1's O(.) under (34):

    ``N(lambda_*)/N(0) <= min(1, (2 cal_L/(sigma_* sigma(theta)) + 2L/(c gamma sigma^2(theta))) (f(theta)-f*))``.
    """
    require_positive(cal_L, "cal_L")
    require_positive(L, "L")
    require_positive(c, "c")
    require_positive(gamma, "gamma")
    require(teacher_condition_34(m, cal_L), "m.gap", m.gap, "satisfy condition (34) f(theta)-f* <= sigma_* sigma(theta)/cal_L")
    st, ss = math.sqrt(m.sigma_theta_sq), math.sqrt(m.sigma_star_sq)
    k = 2 * cal_L / (ss * st) + 2 * L / (c * gamma * m.sigma_theta_sq)
    return min(1.0, k * m.gap)


def lambda_star_interval(m: TeacherMoments) -> tuple[float, float]:
    """Interval that always contains lambda_* (Cauchy-Schwarz): |lambda_*| <= sigma_*/sigma(theta)."""
    r = math.sqrt(m.sigma_star_sq / m.sigma_theta_sq)
    return -r, r


# ----------------------------------------------------------------------------------------------
# step sizes, theorem bounds written out
# ----------------------------------------------------------------------------------------------


def step_theorem1(cal_L: float, *, proof: bool = False) -> float:
    """Largest step of Theorem 1: 1/(8 cal_L) as stated; the proof only needs 1/(4 cal_L)."""
    return 1.0 / ((4 if proof else 8) * require_positive(cal_L, "cal_L"))


def step_theorem2(mu: float, L: float, cal_L: float) -> float:
    """Largest step of Theorem 2: mu / (4 cal_L L)."""
    return require_positive(mu, "mu") / (4 * require_positive(cal_L, "cal_L") * require_positive(L, "L"))


def step_theorem3(mu: float, L: float, cal_L: float) -> float:
    """Largest step of Theorem 3: mu / (3 L cal_L)."""
    return require_positive(mu, "mu") / (3 * require_positive(L, "L") * require_positive(cal_L, "cal_L"))


def step_refresh_printed(mu: float, L: float, cal_L: float) -> float:
    """Step size stated after Theorem 3 for the halving claim: mu / (12 L cal_L)."""
    return require_positive(mu, "mu") / (12 * require_positive(L, "L") * require_positive(cal_L, "cal_L"))


def step_refresh_corrected(mu: float, L: float, cal_L: float) -> float:
    """Step that makes the halving argument work: mu / (12 L (L + cal_L)) gives 3 gamma L (L+cal_L)/mu <= 1/4."""
    return require_positive(mu, "mu") / (12 * require_positive(L, "L") * (L + require_positive(cal_L, "cal_L")))


def refresh_phase_length(gamma: float, mu: float) -> int:
    """Smallest tau with (1 - gamma mu)^tau <= 1/4 (phase length of the corrected halving claim)."""
    require_positive(gamma, "gamma")
    require_positive(mu, "mu")
    require(gamma * mu < 1, "gamma", gamma, f"satisfy gamma * mu < 1 (mu = {mu:g})")
    return int(math.ceil(math.log(4.0) / -math.log1p(-gamma * mu)))


def refresh_factor(t: int, gamma: float, mu: float, L: float, cal_L: float) -> float:
    """(1 - gamma mu)^t + 3 gamma L (L + cal_L)/mu: the factor of f(x^0)-f* after one phase with theta = x^0."""
    return (1 - gamma * mu) ** t + 3 * gamma * L * (L + cal_L) / mu


def theorem1_bound(t: Any, dist0_sq: float, lmbda: float, m: TeacherMoments, *, mu: float, gamma: float) -> np.ndarray:
    """Eq. (35): E||x^t - x*||^2 <= (1-gamma mu)^t ||x^0-x*||^2 + (8/mu^2) N_1(lambda), c = mu/4.

    Valid for every lambda and gamma <= 1/(4 cal_L) (the theorem states 1/(8 cal_L)).
    """
    t = np.asarray(t, dtype=float)
    return (1 - gamma * mu) ** t * dist0_sq + 8.0 / mu ** 2 * neighborhood(lmbda, m, c=mu / 4, gamma=gamma)


def theorem1_neighborhood_explicit(m: TeacherMoments, *, mu: float, L: float, cal_L: float, gamma: float) -> float:
    """Eq. (11) written out: (2 sigma_*^2/mu) * gamma * min(1, K (f(theta)-f*)), K from Lemma 1, c = mu/4.

    Needs condition (34) for the K-branch; otherwise use min(1, .) = 1.
    """
    c = mu / 4
    ratio = reduction_bound(m, cal_L=cal_L, L=L, c=c, gamma=gamma) if teacher_condition_34(m, cal_L) else 1.0
    return 2 * m.sigma_star_sq / mu * gamma * ratio


def theorem2_bound(t: Any, gap0: float, lmbda: float, m: TeacherMoments, *, mu: float, L: float, gamma: float) -> np.ndarray:
    """Eq. (36): E f(x^t) - f* <= (1-gamma mu)^t (f(x^0)-f*) + N_2(lambda)/mu, c = L, gamma <= mu/(4 cal_L L)."""
    t = np.asarray(t, dtype=float)
    return (1 - gamma * mu) ** t * gap0 + neighborhood(lmbda, m, c=L, gamma=gamma) / mu


def theorem2_neighborhood_explicit(m: TeacherMoments, *, mu: float, L: float, cal_L: float, gamma: float) -> float:
    """Eq. (12) written out: (L sigma_*^2/mu) gamma min(1, K (f(theta)-f*)) with c = L."""
    ratio = reduction_bound(m, cal_L=cal_L, L=L, c=L, gamma=gamma) if teacher_condition_34(m, cal_L) else 1.0
    return L * m.sigma_star_sq / mu * gamma * ratio


def theorem3_bound(t: Any, gap0: float, teacher_gap: float, *, mu: float, L: float, cal_L: float, gamma: float) -> np.ndarray:
    """Eq. (17): E f(x^t)-f* <= (1-gamma mu)^t (f(x^0)-f*) + 3 L (L+cal_L) gamma (f(theta)-f*)/mu."""
    t = np.asarray(t, dtype=float)
    return (1 - gamma * mu) ** t * gap0 + 3 * L * (L + cal_L) / mu * gamma * teacher_gap


# ----------------------------------------------------------------------------------------------
# compression (Section 6) and Theorem 4
# ----------------------------------------------------------------------------------------------


def omega_rand_k(d: int, k: int) -> float:
    """Variance parameter of rand-k sparsification (scaled by d/k): omega = d/k - 1 [kd, Sec. 7]."""
    require(isinstance(d, (int, np.integer)) and d >= 1, "d", d, "be an integer >= 1")
    require(isinstance(k, (int, np.integer)) and 1 <= k <= d, "k", k, f"be an integer in [1, d={d}]")
    return d / k - 1.0


def omega_bernoulli(p: float) -> float:
    """Bernoulli keep-and-rescale (keep each coordinate w.p. p, divide by p): omega = 1/p - 1."""
    require_in(p, "p", 0.0, 1.0, closed="right")
    return 1.0 / p - 1.0


def omega_dithering(d: int, s: int) -> float:
    """QSGD random dithering with s levels (l2 norm): omega = min(d/s^2, sqrt(d)/s) [Alistarh et al.]."""
    require(isinstance(d, (int, np.integer)) and d >= 1, "d", d, "be an integer >= 1")
    require(isinstance(s, (int, np.integer)) and s >= 1, "s", s, "be an integer >= 1")
    return min(d / s ** 2, math.sqrt(d) / s)


def theorem4_cal_L(cal_L10: float, cal_L39: float) -> float:
    """Theorem 4 needs one cal_L satisfying both (10) and (39): the larger of the two best constants."""
    return max(require_positive(cal_L10, "cal_L10"), require_positive(cal_L39, "cal_L39"))


def step_theorem4(cal_L: float) -> float:
    """Largest step of Theorem 4: 1/(16 cal_L)."""
    return 1.0 / (16 * require_positive(cal_L, "cal_L"))


def omega_max_theorem4(gamma: float, *, mu: float, L: float, cal_L: float) -> float:
    """Largest omega with 2 gamma A + alpha (L - mu) <= 1/2 (proof of Theorem 4), alpha = 2 omega/mu:

    ``omega <= (mu/2) (1/2 - 4 gamma cal_L) / (2 gamma cal_L^2 + 2/gamma + L - mu)``.
    """
    require_positive(gamma, "gamma")
    require_positive(mu, "mu")
    require(L >= mu, "L", L, f"be >= mu = {mu:g}")
    require(gamma <= 1 / (8 * cal_L), "gamma", gamma, f"be <= 1/(8 cal_L) = {1 / (8 * cal_L):g} (else no omega >= 0 works)")
    return mu / 2 * (0.5 - 4 * gamma * cal_L) / (2 * gamma * cal_L ** 2 + 2 / gamma + L - mu)


def capacity_ratio_max(gamma: float, *, mu: float, L: float, cal_L: float) -> float:
    """Largest d/k that rand-k may use in Theorem 4's proof: 1 + omega_max (omega = d/k - 1) [kd, Sec. 7]."""
    return 1.0 + omega_max_theorem4(gamma, mu=mu, L=L, cal_L=cal_L)


def lemma6_AB(omega: float, *, mu: float, cal_L: float, gamma: float, x_star_sq: float,
              printed: bool = False) -> tuple[float, float]:
    """A and B of Lemma 6. The proof gives ``B = (cal_L^2 + 1/gamma^2) nu``; ``printed=True`` uses the
    statement's ``B = (cal_L + 1/gamma^2) nu``. ``alpha = 2 omega/mu``, ``nu = 2 omega ||x*||^2``."""
    alpha = 2 * omega / mu
    nu = 2 * omega * x_star_sq
    A = 2 * cal_L + (cal_L ** 2 + 1 / gamma ** 2) * alpha
    B = ((cal_L if printed else cal_L ** 2) + 1 / gamma ** 2) * nu
    return A, B


def theorem4_bound(t: Any, dist0_sq: float, lmbda: float, m: TeacherMoments, *, omega: float, mu: float, L: float,
                   cal_L: float, gamma: float, x_star_sq: float) -> np.ndarray:
    """Theorem 4 written out from its proof (Appendix E.2 with (38)), for y^0 = x^0:

    ``E||x^t-x*||^2 <= (2 omega+1) [(1-gamma mu)^t ||x^0-x*||^2 + D/(gamma mu)] + 2 omega ||x*||^2`` with
    ``D/(gamma mu) = (nu/mu)(2 gamma cal_L^2 + 2/gamma + L - mu) + (2/mu^2) N_3(lambda)``, ``c = 2 mu``.
    Requires gamma <= 1/(16 cal_L) and omega <= omega_max_theorem4.
    """
    t = np.asarray(t, dtype=float)
    nu = 2 * omega * x_star_sq
    neigh = nu / mu * (2 * gamma * cal_L ** 2 + 2 / gamma + L - mu) + 2 / mu ** 2 * neighborhood(lmbda, m, c=2 * mu, gamma=gamma)
    return (2 * omega + 1) * ((1 - gamma * mu) ** t * dist0_sq + neigh) + 2 * omega * x_star_sq


# ----------------------------------------------------------------------------------------------
# the nonconvex PL example for Theorem 2
# ----------------------------------------------------------------------------------------------


def pl_example_f(x: Any) -> np.ndarray:
    """f(x) = x^2 + 3 sin^2 x: nonconvex, PL, unique minimiser 0 with f* = 0 [Karimi et al.]."""
    x = np.asarray(x, dtype=float)
    return x ** 2 + 3 * np.sin(x) ** 2


def pl_example_grad(x: Any) -> np.ndarray:
    """f'(x) = 2x + 3 sin(2x)."""
    x = np.asarray(x, dtype=float)
    return 2 * x + 3 * np.sin(2 * x)


def pl_example_constants(*, grid: int = 400001, half_width: float = 40.0) -> dict:
    """mu (PL), L (sup |f''| = 8) and the expected-smoothness cal_L = sup f'^2/(2 f) of the PL example.

    With additive zero-mean gradient noise ``grad f_xi(x) = f'(x) + xi``, Eq. (10) reads
    ``f'(x)^2 <= 2 cal_L f(x)``. Outside ``[-half_width, half_width]`` the ratio f'^2/(2f) stays within
    ``[(2|x|-3)^2 / (2(x^2+3)), (2|x|+3)^2/(2 x^2)]`` which tends to 2, far from both extremes.
    """
    x = np.linspace(-half_width, half_width, grid)
    x = x[x != 0]
    r = pl_example_grad(x) ** 2 / (2 * pl_example_f(x))
    return {"mu": float(r.min()), "L": 8.0, "cal_L": float(max(r.max(), 8.0 ** 2 / (2 * 4.0))),
            "argmin_mu": float(x[np.argmin(r)])}


# ----------------------------------------------------------------------------------------------
# SymPy derivations
# ----------------------------------------------------------------------------------------------


def derive_lambda_star():
    """SymPy: minimise N(lambda) = lambda^2 g + c gamma (s_* - 2 lambda p + lambda^2 s_t) [kd, Eq. (33)].

    Returns ``(expr, symbols)`` where symbols = (g, s_t, s_star, p, c, gamma).
    """
    import sympy as sp

    lam, g, st, ss, p, c, gam = sp.symbols("lambda g s_t s_star p c gamma", positive=True)
    N = lam ** 2 * g + c * gam * (ss - 2 * lam * p + lam ** 2 * st)
    sol = sp.solve(sp.diff(N, lam), lam)
    assert len(sol) == 1
    return sp.simplify(sol[0]), (g, st, ss, p, c, gam)


def derive_reduction_ratio():
    """SymPy: N(lambda_*)/N(0) and the difference to Eq. (15) (returns ``(ratio, difference)``; difference == 0)."""
    import sympy as sp

    lam_star, (g, st, ss, p, c, gam) = derive_lambda_star()
    lam = sp.Symbol("lambda")
    N = lam ** 2 * g + c * gam * (ss - 2 * lam * p + lam ** 2 * st)
    ratio = sp.simplify(N.subs(lam, lam_star) / N.subs(lam, 0))
    rho2 = p ** 2 / (ss * (st - g))
    beta = g / st
    eq15 = 1 - rho2 * (1 - beta) / (1 + beta / (c * gam))
    return ratio, sp.simplify(ratio - eq15)


def derive_reduction_inequality():
    """SymPy: (2+v) u - (1 - (1-u)^2/(1+uv)) = u^2 (1+v)^2 / (1+uv) >= 0, the last step of Lemma 1."""
    import sympy as sp

    u, v = sp.symbols("u v", nonnegative=True)
    gap = (2 + v) * u - (1 - (1 - u) ** 2 / (1 + u * v))
    return sp.factor(sp.simplify(gap)), (u, v)


def derive_theorem4_omega():
    """SymPy: solve 2 gamma (2 cal_L + (cal_L^2 + 1/gamma^2) alpha) + alpha (L - mu) = 1/2 for alpha."""
    import sympy as sp

    a, gam, cl, L, mu = sp.symbols("alpha gamma calL L mu", positive=True)
    sol = sp.solve(sp.Eq(2 * gam * (2 * cl + (cl ** 2 + 1 / gam ** 2) * a) + a * (L - mu), sp.Rational(1, 2)), a)
    return sp.simplify(sol[0]), (gam, cl, L, mu)


def derive_unrolled_recursion():
    """SymPy: sum_{j<t} (1-eta)^j N = N (1 - (1-eta)^t)/eta <= N/eta [kd, Eq. (29)]."""
    import sympy as sp

    eta, N = sp.symbols("eta N", positive=True)
    t, j = sp.symbols("t j", integer=True, nonnegative=True)
    s = sp.summation((1 - eta) ** j * N, (j, 0, t - 1))
    return sp.simplify(s), (eta, N, t)


def derive_squared_loss_mixture():
    """SymPy: (1-l)(t-b)^2 + l (t-q)^2 - (t - ((1-l) b + l q))^2 = l (1-l) (b-q)^2 (independent of t)."""
    import sympy as sp

    l, t, b, q = sp.symbols("lambda t b q", real=True)
    return sp.factor(sp.expand((1 - l) * (t - b) ** 2 + l * (t - q) ** 2 - (t - ((1 - l) * b + l * q)) ** 2)), (l, t, b, q)
