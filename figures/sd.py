"""Figures of [sd] (Mobahi, Farajtabar, Bartlett: self-distillation amplifies regularization in Hilbert space).

* ``sd.fig2``, ``sd.fig3`` reproduce the worked example of Sec. 4 (spline regulariser on [0, 1]) exactly:
  Green's function of Eq. (57), noisy samples, four rounds of self-distillation at eps = 0.04, and the
  diagonal of B_t of Eq. (46).
* ``sd.fig4`` to ``sd.fig6`` are small analogues of the CIFAR/ResNet experiments of Sec. 5: kernel
  regression (RBF kernel, one-vs-rest +-1 labels, Sec. 3.6) on scikit-learn's bundled digits.
* ``sd.spectrum`` is not in the paper: the normalised diagonal of B_t over many rounds.

Every number behind a figure comes from a ``*_data`` function here (tested in tests/test_sd_figures.py);
the self-distillation rounds themselves are computed by ``kdtheory.numerics.sd.kernel_self_distillation``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from kdtheory.figures import style
from kdtheory.figures._core import figure

# ---------------------------------------------------------------------------------------------------
# choices the paper leaves open (stated in the captions)
SEC4_K = 11  # number of samples (Fig. 3 has 11 bars)
SEC4_SIGMA = 0.5  # noise standard deviation stated in Sec. 4
SEC4_EPS = 0.04  # loss tolerance of Fig. 2c
SEC4_ROUNDS = 4  # rounds t = 0..3 (Fig. 2c and Fig. 3)

DIGITS_LABEL_NOISE = 0.3  # fraction of training labels replaced by another class (top row of Fig. 4)
DIGITS_EPS = 0.02  # per-class loss tolerance of the l2 problem
DIGITS_ROUNDS = 10
DIGITS_CE_C = 2e-7  # ridge weight of the cross-entropy problem (fixed over rounds, K = 400)
DIGITS_CE_ROUNDS = 12


# ---------------------------------------------------------------------------------------------------
# engine adapter: every self-distillation round comes from kdtheory.numerics.sd


def _self_distill(gram: np.ndarray, y: np.ndarray, rounds: int, *, eps: float | None = None,
                  c: float | None = None, gram_eval: np.ndarray | None = None):
    """One problem: ``kdtheory.numerics.sd.kernel_self_distillation`` (its result object, eigenvalues ascending)."""
    from kdtheory.numerics.sd import kernel_self_distillation

    return kernel_self_distillation(gram, y, rounds, c=c, eps=eps, gram_eval=gram_eval)


def _self_distill_batch(gram: np.ndarray, Y: np.ndarray, rounds: int, *, eps, gram_eval=None) -> list:
    """Many label vectors (columns of ``Y``) on one Gram matrix, one eps per column (or one for all).

    The eigendecomposition is taken once from the engine's first run; the multipliers of every
    column come from one batched ``kdtheory.numerics.sd.spectral_rounds`` call, and each column's rounds are
    the engine's own ``SelfDistillation`` result built from them.
    """
    from kdtheory.numerics.sd import SelfDistillation, spectral_rounds

    eps = np.broadcast_to(np.asarray(eps, float), (Y.shape[1],))
    first = _self_distill(gram, Y[:, 0], rounds, eps=float(eps[0]), gram_eval=gram_eval)
    d, W = first.eigenvalues, first.eigenvectors
    Z0 = Y.T @ W  # row q: the labels of column q in the eigenbasis
    run = spectral_rounds(np.broadcast_to(d, Z0.shape), Z0, rounds, eps=eps)
    out = [first]
    for q in range(1, Y.shape[1]):
        n = int(run["n_done"][q])
        out.append(SelfDistillation(d, W, Y[:, q], Z0[q], run["c"][q, :n].copy(), 0.0,
                                    n if bool(run["collapsed"][q]) else None, gram_eval, "eps"))
    return out


def _self_distill_classes(gram, Y, rounds, *, eps, gram_eval=None) -> dict:
    """One-vs-rest multi-output run (Sec. 3.6): each column of ``Y`` has its own multiplier c_q.

    A class that collapses predicts the zero function from then on (the paper's fixed point).
    Returns ``train`` (rounds, K, Q), ``eval`` (rounds, n_eval, Q), ``collapsed`` (Q,) (first collapsed
    round, ``rounds`` if none), ``runs`` (the engine results) and the eigendecomposition ``d``, ``W``.
    """
    K, Q = Y.shape
    n_eval = 0 if gram_eval is None else gram_eval.shape[0]
    train = np.zeros((rounds, K, Q))
    ev = np.zeros((rounds, n_eval, Q))
    collapsed = np.full(Q, rounds)
    runs = _self_distill_batch(gram, Y, rounds, eps=eps, gram_eval=gram_eval)
    for q, r in enumerate(runs):
        T = r.rounds_run
        train[:T, :, q] = r.train_predictions
        if gram_eval is not None:
            ev[:T, :, q] = r.eval_predictions
        collapsed[q] = T
    return {"train": train, "eval": ev, "collapsed": collapsed, "runs": runs,
            "d": runs[0].eigenvalues, "W": runs[0].eigenvectors}


# ---------------------------------------------------------------------------------------------------
# Sec. 4 worked example



def _digits_self_distillation(seed: int, split: int, n_train: int, label_noise: float, rounds: int, eps: float):
    """One digits split, its RBF Gram matrices, one-vs-rest labels and the per-class self-distillation run."""
    S = digits_split(seed, split, n_train, label_noise)
    gram, gram_test = rbf_grams(S["X_train"], S["X_test"])
    Y0 = one_vs_rest(S["y_train"])
    return S, gram, gram_test, Y0, _self_distill_classes(gram, Y0, rounds, eps=eps, gram_eval=gram_test)

def sec4_points(K: int = SEC4_K) -> np.ndarray:
    """Evenly spaced interior points (k - 1/2)/K, k = 1..K.

    The paper's grid 0, 0.1, ..., 1 puts two of the 11 points where every Green's function of Eq. (57)
    vanishes (g(0, .) = g(1, .) = 0), so its Gram matrix would be singular; the midpoint grid keeps
    K = 11 with step 1/11 and a positive definite Gram matrix (footnote 7).
    """
    return (np.arange(K) + 0.5) / K


def sec4_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training points and noisy labels y_k = sin(2 pi x_k) + N(0, 0.5^2) [sd, Sec. 4, Fig. 2b]."""
    x = sec4_points()
    rng = np.random.default_rng(seed)
    return x, np.sin(2 * np.pi * x) + SEC4_SIGMA * rng.standard_normal(x.size)


def fig2_data(seed: int = 0, *, n_grid: int = 401) -> dict:
    """Everything plotted in Fig. 2: Green's function curves, samples, unregularised fit, rounds."""
    from kdtheory.theory.sd import gram_matrix, green_function, kernel_matrix

    x, y = sec4_data(seed)
    grid = np.linspace(0.0, 1.0, n_grid)
    sources = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    green = green_function(grid[:, None], sources[None, :])
    gram = gram_matrix(x, "spline")  # g(x_j, x_k)/K, Eq. (16)
    gram_eval = kernel_matrix(grid, x, "spline")  # rows are g_x^T, Eq. (17)
    interp = _self_distill(gram, y, 1, c=0.0, gram_eval=gram_eval)
    # one extra round, to report where the labels collapse (the paper: after t = 3)
    rounds = _self_distill(gram, y, SEC4_ROUNDS + 1, eps=SEC4_EPS, gram_eval=gram_eval)
    return {"x": x, "y": y, "grid": grid, "sources": sources, "green": green, "gram": gram,
            "interp_eval": interp.eval_predictions[0], "interp_train": interp.train_predictions[0],
            "rounds_eval": rounds.eval_predictions, "rounds_train": rounds.train_predictions, "c": rounds.c,
            "B": rounds.b_diag, "d": rounds.eigenvalues, "collapsed": rounds.collapsed_at,
            "rms_interp": _rms_to_truth(grid, interp.eval_predictions[0]),
            "rms_rounds": _rms_to_truth(grid, rounds.eval_predictions)}


def _rms_to_truth(grid: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Root mean square distance to sin(2 pi x) over [0, 1] (trapezoid rule on the grid), per row of ``f``."""
    from scipy.integrate import trapezoid

    return np.sqrt(trapezoid((np.atleast_2d(f) - np.sin(2 * np.pi * grid)) ** 2, grid, axis=-1))


_ROUND_COLORS = ("C0", "C1", "C2", "C3", "C4", "C5")


@figure("sd.fig2", title="reproduces Fig. 2: Green's function, noisy samples, four rounds of self-distillation")
def fig2(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = fig2_data(seed, n_grid=201 if quick else 801)
    fig, ax = style.subplots(1, 3, height=2.35, layout="constrained")
    a, b, c = ax[0]
    for j, s in enumerate(D["sources"]):
        a.plot(D["grid"], D["green"][:, j], label=rf"$x^\dagger={s:g}$")
    a.set(xlabel="$x$", ylabel=r"$g(x, x^\dagger)$", title="(a) Green's function, Eq. (57)")
    a.set_ylim(0, 0.029)
    a.legend(loc="upper center", fontsize=5.5, ncol=3, handlelength=1.0, columnspacing=0.6)
    truth = np.sin(2 * np.pi * D["grid"])
    b.plot(D["grid"], D["interp_eval"], color="C0", label="fit, no regularisation")
    b.plot(D["grid"], truth, color="C1", label=r"$\sin(2\pi x)$")
    b.plot(D["x"], D["y"], "o", color="C0", ms=3.5, label="noisy samples")
    b.set(xlabel="$x$", ylabel="$f(x)$", title="(b) samples and unregularised fit")
    b.legend(loc="upper right", fontsize=5.5, ncol=2, handlelength=1.2, columnspacing=0.6)
    c.plot(D["x"], D["y"], "o", color="0.6", ms=3, label="samples")
    c.plot(D["grid"], truth, ":", color="0.4", lw=1, label=r"$\sin(2\pi x)$")
    for t, f in enumerate(D["rounds_eval"][:SEC4_ROUNDS]):
        c.plot(D["grid"], f, color=_ROUND_COLORS[t], label=f"round $t={t}$")
    c.set(xlabel="$x$", ylabel="$f_t(x)$", title=rf"(c) self-distillation, $\epsilon={SEC4_EPS}$")
    c.legend(loc="upper right", fontsize=5.5, ncol=3, handlelength=1.2, columnspacing=0.6)
    ylim = (min(b.get_ylim()[0], c.get_ylim()[0]), 1.55 * max(b.get_ylim()[1], c.get_ylim()[1]))
    b.set_ylim(ylim)
    c.set_ylim(ylim)
    col = D["collapsed"]
    collapse = (f"At round {col} the labels have collapsed (||y_t||^2/K <= eps, f = 0)." if col is not None
                else f"No collapse within {SEC4_ROUNDS + 1} rounds.")
    shown = D["rms_rounds"][:SEC4_ROUNDS]
    rms = (f"RMS distance to sin(2 pi x) on [0, 1]: unregularised fit {D['rms_interp'][0]:.2f}; "
           f"rounds t = 0..{shown.size - 1}: " + ", ".join(f"{v:.2f}" for v in shown) + ".")
    fig.suptitle("sd.fig2 - reproduces Fig. 2 of [sd] (exact; spline regulariser of Sec. 4)")
    fig.text(0.0, -0.01, (
        f"Chosen where the paper is open or inconsistent: targets sin(2 pi x) (caption; the text says sin x and "
        f"y = x + noise), noise N(0, {SEC4_SIGMA}^2), seed {seed}; K = {SEC4_K} points at (k - 1/2)/11 "
        "(the paper's grid 0, 0.1, ..., 1\nputs 2 points where g vanishes, so G would be singular); "
        "G = g/K (Eq. 16); unregularised fit = limit c -> 0 (interpolation). " + collapse + "\n" + rms),
        fontsize=5.5, ha="left", va="top")
    return style.save(fig, out, "sd_fig2", pdf=pdf)


def fig3_data(seed: int = 0) -> dict:
    """Diagonal of B_t (Eq. 46) for t = 0..3 on the Sec. 4 data, ordered by decreasing eigenvalue d_k."""
    D = fig2_data(seed, n_grid=3)
    order = np.argsort(D["d"])[::-1]
    return {"B": D["B"][:SEC4_ROUNDS, order], "d": D["d"][order], "c": D["c"], "collapsed": D["collapsed"]}


@figure("sd.fig3", title="reproduces Fig. 3: diagonal of B_t for t = 0..3 (K = 11)")
def fig3(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = fig3_data(seed)
    T, K = D["B"].shape
    fig, ax = style.subplots(1, T, height=1.9, sharey=True, layout="constrained")
    k = np.arange(1, K + 1)
    for t in range(T):
        a = ax[0][t]
        a.bar(k, D["B"][t], color=_ROUND_COLORS[t], width=0.75)
        a.set(title=f"$t={t}$", xlabel="entry $k$ (by $d_k$ desc.)", xticks=[1, 6, 11])
        a.grid(axis="x", visible=False)
    ax[0][0].set_ylabel(r"$\mathbf{B}_t[k,k]$")
    ax[0][0].set_ylim(0, 1.02)
    fig.suptitle("sd.fig3 - reproduces Fig. 3 of [sd]: diagonal of $B_t = A_0 A_1 \\cdots A_t$, Eq. (46) "
                 f"(Sec. 4 data, $\\epsilon={SEC4_EPS}$, seed {seed})")
    fig.text(0.0, -0.01, "Entries ordered by decreasing eigenvalue d_k of G; same data and choices as sd.fig2. "
             "Small entries shrink fastest (Prop. 5).", fontsize=6, ha="left", va="top")
    return style.save(fig, out, "sd_fig3", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Sec. 5 analogues: kernel regression on scikit-learn digits


def _one_blas_thread():
    """BLAS on one thread: on a shared two-core machine threaded small matmuls are ~100x slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, lab = load_digits(return_X_y=True)
    X, lab = X / 16.0, lab.astype(np.int64)
    X.flags.writeable = False
    lab.flags.writeable = False
    return X, lab


def digits_split(seed: int, split: int, n_train: int, label_noise: float) -> dict:
    """A random train/test split of the 1797 digits (pixels / 16) with a fraction of training labels
    replaced by a uniformly drawn *other* class; the test labels stay clean."""
    X, lab = _digits()
    rng = np.random.default_rng([seed, split])
    perm = rng.permutation(lab.size)
    tr, te = perm[:n_train], perm[n_train:]
    y_train = lab[tr].copy()
    flip = rng.random(n_train) < label_noise
    y_train[flip] = (y_train[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    return {"X_train": X[tr], "X_test": X[te], "y_train": y_train, "y_clean": lab[tr], "y_test": lab[te]}


def rbf_grams(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RBF Gram matrices exp(-gamma ||x - x'||^2)/K with sklearn's 'scale' width gamma = 1/(p Var X),
    divided by K as in Eq. (16)."""
    from kdtheory.theory.sd import gram_matrix, kernel_matrix

    length_scale = np.sqrt(X_train.shape[1] * X_train.var() / 2.0)  # exp(-gamma r^2) = exp(-r^2 / (2 l^2))
    return (gram_matrix(X_train, "rbf", length_scale=length_scale),
            kernel_matrix(X_test, X_train, "rbf", length_scale=length_scale))


def one_vs_rest(labels: np.ndarray, Q: int = 10) -> np.ndarray:
    """+-1 one-vs-rest targets (Sec. 3.6): column q is +1 on class q, -1 elsewhere."""
    Y = -np.ones((labels.size, Q))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def digits_l2_curves(seed: int, *, n_splits: int, n_train: int, label_noise: float,
                     eps: float = DIGITS_EPS, rounds: int = DIGITS_ROUNDS) -> dict:
    """l2 self-distillation (eps-constrained, per-class c_q) on digits, per split and round:
    training accuracy on the original (possibly noisy) labels y_0, test accuracy, training loss on y_0."""
    train_acc = np.zeros((n_splits, rounds))
    test_acc = np.zeros((n_splits, rounds))
    loss = np.zeros((n_splits, rounds))
    with _one_blas_thread():
        for s in range(n_splits):
            S, gram, gram_test, Y0, r = _digits_self_distillation(seed, s, n_train, label_noise, rounds, eps)
            train_acc[s] = (r["train"].argmax(2) == S["y_train"]).mean(1)
            test_acc[s] = (r["eval"].argmax(2) == S["y_test"]).mean(1)
            loss[s] = ((r["train"] - Y0) ** 2).mean((1, 2))
    return {"train_acc": train_acc, "test_acc": test_acc, "loss": loss}


def _band(ax, t, values, color, label, marker="o"):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    m, sd = values.mean(0), values.std(0)
    ax.plot(t, m, marker=marker, ms=3, color=color, label=label)
    ax.fill_between(t, m - sd, m + sd, color=color, alpha=0.2, lw=0)


def _digits_sizes(quick: bool) -> tuple[int, int]:
    return (3, 400) if quick else (10, 400)


@figure("sd.fig4", title="analogue of Fig. 4 (digits, RBF kernel regression, l2 loss) for Fig. 4 "
        "(CIFAR-10/100, ResNet50/VGG16, l2 loss)")
def fig4(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    n_splits, n_train = _digits_sizes(quick)
    fig, ax = style.subplots(2, 2, width=style.COLUMN_WIDTH * 1.25, height=3.9, sharex=True, layout="constrained")
    t = np.arange(DIGITS_ROUNDS)
    for row, noise in enumerate((DIGITS_LABEL_NOISE, 0.0)):
        D = digits_l2_curves(seed, n_splits=n_splits, n_train=n_train, label_noise=noise)
        _band(ax[row][0], t, D["train_acc"], "C0", "train (original labels $y_0$)")
        _band(ax[row][1], t, D["test_acc"], "C1", "test")
        what = f"{noise:.0%} training labels flipped" if noise else "clean labels"
        ax[row][0].set_ylabel(f"accuracy\n({what})")
        for a in ax[row]:
            a.legend(loc="lower left", fontsize=6)
    for a in ax[1]:
        a.set_xlabel("self-distillation round $t$")
    ax[0][0].set_title("training accuracy")
    ax[0][1].set_title("test accuracy")
    fig.suptitle("sd.fig4 - analogue of Fig. 4 of [sd] (digits, RBF kernel regression)", fontsize=7.5)
    fig.text(0.0, -0.005, (
        f"Mean +- std over {n_splits} random splits, K = {n_train} training digits, rest test; one-vs-rest +-1\n"
        f"targets, per-class eps = {DIGITS_EPS} (c_q from the constraint); collapsed classes predict 0."),
        fontsize=5.5, ha="left", va="top")
    return style.save(fig, out, "sd_fig4", pdf=pdf)


def _eigen_features(gram: np.ndarray, rel_floor: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature map Phi = V sqrt(D) of the training Gram matrix (G = Phi Phi^T), dropping directions with
    d < rel_floor * d_max; returns (Phi, V, d) restricted to the kept directions."""
    d, V = np.linalg.eigh(gram)
    keep = d > rel_floor * d[-1]
    return V[:, keep] * np.sqrt(d[keep]), V[:, keep], d[keep]


def kernel_logistic_fit(phi: np.ndarray, targets: np.ndarray, c: float, W0: np.ndarray | None = None) -> np.ndarray:
    """Minimise (1/K) sum_k CE(targets_k, softmax(Phi W)_k) + c ||W||_F^2 (soft targets allowed).

    With Phi = V sqrt(D) this is the RKHS-norm-penalised multinomial logistic regression
    f = sum_j alpha_j g(., x_j), alpha = V D^{-1/2} W (the cross-entropy counterpart of Eq. (13)).
    Solved by diagonally preconditioned L-BFGS (strictly convex problem)."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    K, r = phi.shape
    Q = targets.shape[1]
    # diagonal preconditioner: Phi^T Phi = D, the softmax Hessian is <= I/2, so the Hessian in W is
    # about diag(d)/(4K) + 2c; optimise U = sqrt(h) W, which is well conditioned
    h = np.sqrt((phi * phi).sum(0) / (4 * K) + 2 * c)[:, None]

    def fun(u):
        W = u.reshape(r, Q) / h
        logp = log_softmax(phi @ W, axis=1)
        val = -(targets * logp).sum() / K + c * (W * W).sum()
        grad = (phi.T @ (np.exp(logp) - targets) / K + 2 * c * W) / h
        return val, grad.ravel()

    u0 = np.zeros(r * Q) if W0 is None else (W0 * h).ravel()
    res = minimize(fun, u0, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-14})
    if not res.success and res.status != 0:
        raise RuntimeError(f"kernel_logistic_fit: L-BFGS did not converge ({res.message})")
    return res.x.reshape(r, Q) / h


def _ce_split(seed: int, split: int, n_train: int, label_noise: float, c: float, rounds: int) -> dict:
    """Cross-entropy self-distillation on one digits split: features, targets and W of every round."""
    S = digits_split(seed, split, n_train, label_noise)
    gram, gram_test = rbf_grams(S["X_train"], S["X_test"])
    phi, V, d = _eigen_features(gram)
    phi_test = gram_test @ (V / np.sqrt(d))  # g_x^T alpha = g_x^T V D^{-1/2} W
    Y0 = (one_vs_rest(S["y_train"]) + 1) / 2
    targets, W, Ws = Y0, None, []
    for _ in range(rounds):
        W = kernel_logistic_fit(phi, targets, c, W)
        Ws.append(W)
        targets = _softmax(phi @ W)
    return {"split": S, "phi": phi, "phi_test": phi_test, "Y0": Y0, "W": Ws}


def _softmax(F: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(F, axis=1)


def cross_entropy(phi: np.ndarray, W: np.ndarray, Y: np.ndarray) -> float:
    """Mean softmax cross entropy of the scores ``phi @ W`` against the (soft or one-hot) targets ``Y``."""
    return _ce_scores(phi @ W, Y)


def _ce_scores(F: np.ndarray, Y: np.ndarray) -> float:
    from scipy.special import log_softmax

    return float(-(Y * log_softmax(F, axis=1)).sum(1).mean())


def digits_ce_curves(seed: int, *, n_splits: int, n_train: int, label_noise: float,
                     c: float = DIGITS_CE_C, rounds: int = DIGITS_CE_ROUNDS) -> dict:
    """Cross-entropy self-distillation on digits: round 0 fits the one-hot labels, round t+1 the softmax
    outputs of round t on the training set (fixed ridge weight c; the theory of [sd] covers l2 only).
    Per split and round: training accuracy on the original labels, test accuracy, cross entropy on y_0."""
    train_acc = np.zeros((n_splits, rounds))
    test_acc = np.zeros((n_splits, rounds))
    loss = np.zeros((n_splits, rounds))
    with _one_blas_thread():
        for s in range(n_splits):
            R = _ce_split(seed, s, n_train, label_noise, c, rounds)
            S = R["split"]
            for t, W in enumerate(R["W"]):
                train_acc[s, t] = np.mean((R["phi"] @ W).argmax(1) == S["y_train"])
                test_acc[s, t] = np.mean((R["phi_test"] @ W).argmax(1) == S["y_test"])
                loss[s, t] = cross_entropy(R["phi"], W, R["Y0"])
    return {"train_acc": train_acc, "test_acc": test_acc, "loss": loss}


def ce_gradient_descent_match(phi: np.ndarray, Y0: np.ndarray, targets: np.ndarray, *,
                              max_steps: int = 200_000) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Early stopping on the cross-entropy kernel problem: plain gradient descent from W = 0 on the
    unregularised mean cross entropy of ``phi @ W`` against ``Y0``, with step 1/L, L = d_max/(2K) (an upper
    bound on the curvature: Phi^T Phi = D and the softmax Hessian is <= I/2), stopped at each target loss.

    The loss decreases monotonically along the iterates; the step that crosses a target is shortened to
    the fraction theta in (0, 1] at which the loss equals the target (Brent), so the match is exact.
    Returns the stopped W per target, the losses reached and the (fractional) step counts."""
    from scipy.optimize import brentq

    K = phi.shape[0]
    eta = 2.0 * K / float((phi * phi).sum(0).max())
    order = np.argsort(targets)[::-1]  # largest loss is reached first
    Ws: list = [None] * len(targets)
    reached = np.zeros(len(targets))
    steps = np.zeros(len(targets))
    W = np.zeros((phi.shape[1], Y0.shape[1]))
    F = np.zeros((K, Y0.shape[1]))  # scores phi @ W, updated with W
    loss = _ce_scores(F, Y0)
    i = 0
    for k in range(max_steps):
        while i < len(order) and targets[order[i]] >= loss:  # target at or above the current loss
            Ws[order[i]], reached[order[i]], steps[order[i]] = W.copy(), loss, k
            i += 1
        if i == len(order):
            break
        step = eta * phi.T @ (_softmax(F) - Y0) / K
        dF = phi @ step
        new_loss = _ce_scores(F - dF, Y0)
        while i < len(order) and targets[order[i]] >= new_loss:
            tgt = targets[order[i]]
            theta = brentq(lambda th: _ce_scores(F - th * dF, Y0) - tgt, 0.0, 1.0, xtol=1e-15, rtol=1e-15)
            Ws[order[i]] = W - theta * step
            reached[order[i]] = cross_entropy(phi, Ws[order[i]], Y0)
            steps[order[i]] = k + theta
            i += 1
        W, F, loss = W - step, F - dF, new_loss
    if i < len(order):
        raise RuntimeError(f"ce_gradient_descent_match: loss {loss:.6g} after {max_steps} steps is still above "
                           f"the target {targets[order[i]]:.6g}")
    return Ws, reached, steps


def digits_ce_early_stopping(seed: int, *, n_splits: int, n_train: int, label_noise: float = DIGITS_LABEL_NOISE,
                             c: float = DIGITS_CE_C, rounds: int = DIGITS_CE_ROUNDS) -> dict:
    """Cross-entropy self-distillation vs early-stopped gradient descent at the same cross entropy on the
    original labels (right panel of the paper's Fig. 6)."""
    res = {k: np.zeros((n_splits, rounds)) for k in ("sd_loss", "gd_loss", "gd_steps", "sd_test", "gd_test")}
    with _one_blas_thread():
        for s in range(n_splits):
            R = _ce_split(seed, s, n_train, label_noise, c, rounds)
            y_test = R["split"]["y_test"]
            sd_loss = np.array([cross_entropy(R["phi"], W, R["Y0"]) for W in R["W"]])
            Ws, reached, steps = ce_gradient_descent_match(R["phi"], R["Y0"], sd_loss)
            res["sd_loss"][s], res["gd_loss"][s], res["gd_steps"][s] = sd_loss, reached, steps
            res["sd_test"][s] = [np.mean((R["phi_test"] @ W).argmax(1) == y_test) for W in R["W"]]
            res["gd_test"][s] = [np.mean((R["phi_test"] @ W).argmax(1) == y_test) for W in Ws]
    return res


@figure("sd.fig5", title="analogue of Fig. 5 (digits, RBF kernel logistic regression, cross entropy) for Fig. 5 "
        "(CIFAR-10/100, ResNet50, cross entropy)")
def fig5(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    n_splits, n_train = _digits_sizes(quick)
    D = digits_ce_curves(seed, n_splits=n_splits, n_train=n_train, label_noise=DIGITS_LABEL_NOISE)
    fig, ax = style.subplots(1, 2, width=style.COLUMN_WIDTH * 1.25, height=2.1, sharex=True, layout="constrained")
    t = np.arange(DIGITS_CE_ROUNDS)
    _band(ax[0][0], t, D["train_acc"], "C0", "train (original labels $y_0$)")
    _band(ax[0][1], t, D["test_acc"], "C1", "test")
    ax[0][0].set(title="training accuracy", ylabel="accuracy", xlabel="self-distillation round $t$")
    ax[0][1].set(title="test accuracy", xlabel="self-distillation round $t$")
    for a in ax[0]:
        a.legend(loc="best", fontsize=6)
    fig.suptitle("sd.fig5 - analogue of Fig. 5 of [sd] (digits, kernel logistic regression)", fontsize=7.5)
    fig.text(0.0, -0.01, (
        f"Mean +- std over {n_splits} splits, K = {n_train}, {DIGITS_LABEL_NOISE:.0%} training labels flipped; "
        f"softmax cross entropy + c ||f||_H^2,\nc = {DIGITS_CE_C} fixed; round t+1 fits the soft predictions "
        "of round t (outside the paper's l2 theory, as in the paper)."),
        fontsize=5.5, ha="left", va="top")
    return style.save(fig, out, "sd_fig5", pdf=pdf)


def gradient_flow_match(d: np.ndarray, W: np.ndarray, Y0: np.ndarray, target_loss: float,
                        gram_eval: np.ndarray) -> dict:
    """Early stopping by iterations: gradient descent on the kernel least-squares problem
    min_alpha mean((G alpha - Y0)^2), alpha <- alpha - eta (G alpha - Y0) from alpha = 0 (the NTK training
    of Sec. 5.1), in its small-step limit (gradient flow), stopped at the time tau at which the mean
    squared training error on Y0 equals ``target_loss``.

    Exact in the eigenbasis G = W diag(d) W^T (``d``, ``W`` as returned by the engine): the residual is
    W exp(-tau d) W^T Y0 and alpha(tau) = W diag((1 - exp(-tau d))/d) W^T Y0; tau is found by Brent's
    method on log tau.
    """
    from scipy.optimize import brentq

    d, V = np.maximum(np.asarray(d, float), 0.0), np.asarray(W, float)
    Z = V.T @ Y0
    n = Z.size

    def loss(tau):
        return float(np.sum((np.exp(-tau * d)[:, None] * Z) ** 2) / n)

    start = loss(0.0)
    if not loss(0.0) >= target_loss >= loss(np.inf) - 1e-15:
        raise ValueError(f"gradient_flow_match: target_loss must lie in [{loss(np.inf):.3g}, {start:.3g}], "
                         f"got {target_loss:.6g}")
    if target_loss >= start:
        tau = 0.0
    else:
        hi = 1.0 / d[-1]
        while loss(hi) > target_loss:
            hi *= 4.0
        tau = float(np.exp(brentq(lambda lt: loss(np.exp(lt)) - target_loss, np.log(hi) - 60, np.log(hi),
                                  xtol=1e-14, rtol=1e-15)))
    with np.errstate(divide="ignore", invalid="ignore"):
        filt = np.where(d > 0, -np.expm1(-tau * d) / np.where(d > 0, d, 1.0), tau)
    alpha = V @ (filt[:, None] * Z)
    return {"tau": tau, "loss": loss(tau), "train": V @ (d[:, None] * (V.T @ alpha)), "eval": gram_eval @ alpha,
            "filter": -np.expm1(-tau * d), "d": d}


def digits_early_stopping(seed: int, *, n_splits: int, n_train: int, label_noise: float = DIGITS_LABEL_NOISE,
                          eps: float = DIGITS_EPS, rounds: int = DIGITS_ROUNDS) -> dict:
    """Self-distillation vs early stopping at matched training loss (Sec. 3.4, Fig. 6), l2 loss.

    For every split and every round t before any class collapses: the SD model f_t, its mean squared
    error L_t on the original labels, and two early-stopped models with the same training loss:
    gradient flow stopped at L_t (:func:`gradient_flow_match`), and one eps-constrained fit (round 0)
    whose per-class tolerance is the SD model's per-class loss (the paper's Sec. 3.4 reading)."""
    T = rounds
    res = {k: np.full((n_splits, T), np.nan) for k in
           ("sd_loss", "gd_loss", "eps_loss", "sd_test", "gd_test", "eps_test")}
    with _one_blas_thread():
        for s in range(n_splits):
            S, gram, gram_test, Y0, r = _digits_self_distillation(seed, s, n_train, label_noise, rounds, eps)
            T = min(T, int(r["collapsed"].min()))
            T_s = int(r["collapsed"].min())
            # the Sec. 3.4 early stopping: one eps-constrained fit per (round, class), eps = SD's class loss
            per_round = ((r["train"][:T_s] - Y0) ** 2).mean(1)  # (T_s, Q)
            larger = _self_distill_batch(gram, np.tile(Y0, T_s), 1, eps=per_round.ravel(), gram_eval=gram_test)
            for t in range(T_s):
                per_class = ((r["train"][t] - Y0) ** 2).mean(0)
                res["sd_loss"][s, t] = per_class.mean()
                res["sd_test"][s, t] = np.mean(r["eval"][t].argmax(1) == S["y_test"])
                gd = gradient_flow_match(r["d"], r["W"], Y0, per_class.mean(), gram_test)
                res["gd_loss"][s, t] = gd["loss"]
                res["gd_test"][s, t] = np.mean(gd["eval"].argmax(1) == S["y_test"])
                fits = larger[t * Y0.shape[1]:(t + 1) * Y0.shape[1]]
                F_tr = np.stack([e.train_predictions[0] for e in fits], 1)
                F_te = np.stack([e.eval_predictions[0] for e in fits], 1)
                res["eps_loss"][s, t] = ((F_tr - Y0) ** 2).mean()
                res["eps_test"][s, t] = np.mean(F_te.argmax(1) == S["y_test"])
    res = {k: v[:, :T] for k, v in res.items()}
    res["rounds"] = T
    return res


def early_stopping_filters(seed: int, *, n_train: int, t: int, label_noise: float = DIGITS_LABEL_NOISE,
                           eps: float = DIGITS_EPS, q: int = 0) -> dict:
    """Spectral filters of class ``q`` (split 0) at SD round ``t``: SD's B_t diagonal (Eq. 46), gradient
    flow's 1 - exp(-tau d) and the larger-eps fit's d/(c0 + d) (Eq. 49), all at the SD model's
    training loss, ordered by decreasing eigenvalue."""
    with _one_blas_thread():
        S = digits_split(seed, 0, n_train, label_noise)
        gram, gram_test = rbf_grams(S["X_train"], S["X_test"])
        Y0 = one_vs_rest(S["y_train"])
        r = _self_distill(gram, Y0[:, q], t + 1, eps=eps)
        target = float(r.mse_to_original[t])
        gd = gradient_flow_match(r.eigenvalues, r.eigenvectors, Y0[:, [q]], target, gram_test[:1])
        e = _self_distill(gram, Y0[:, q], 1, eps=target)
    order = np.argsort(r.eigenvalues)[::-1]
    return {"sd": r.b_diag[t][order], "gd": gd["filter"][order], "eps": e.b_diag[0][order],
            "d": r.eigenvalues[order], "loss": target, "gd_loss": gd["loss"], "eps_loss": float(e.mse_to_original[0])}


@figure("sd.fig6", title="analogue of Fig. 6 (digits, RBF kernel regression, l2 and cross entropy) for Fig. 6 "
        "(CIFAR-10, ResNet50): self-distillation vs early stopping at matched training loss")
def fig6(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    n_splits, n_train = _digits_sizes(quick)
    n_ce = 2 if quick else n_splits
    D = digits_early_stopping(seed, n_splits=n_splits, n_train=n_train)
    C = digits_ce_early_stopping(seed, n_splits=n_ce, n_train=n_train)
    fig, ax = style.subplots(1, 3, height=2.4, layout="constrained")
    a, b, e = ax[0]
    t = np.arange(D["rounds"])
    _band(a, t, D["sd_test"], "C0", "self-distillation")
    _band(a, t, D["gd_test"], "C3", "early stopping: GD", marker="s")
    _band(a, t, D["eps_test"], "C2", r"early stopping: larger $\epsilon$", marker="^")
    a.set(xlabel="self-distillation round $t$", ylabel="test accuracy at matched training loss",
          title=r"(a) $\ell_2$ loss")
    a.legend(loc="lower left", fontsize=5.5, handlelength=1.5)
    t = np.arange(C["sd_test"].shape[1])
    _band(b, t, C["sd_test"], "C0", "self-distillation")
    _band(b, t, C["gd_test"], "C3", "early stopping: GD", marker="s")
    b.set(xlabel="self-distillation round $t$", title="(b) cross entropy")
    b.legend(loc="lower left", fontsize=5.5)
    t_show = min(3, D["rounds"] - 1)
    F = early_stopping_filters(seed, n_train=n_train, t=t_show)
    k = np.arange(1, F["d"].size + 1)
    e.loglog(k, F["sd"], color="C0", label=rf"self-distillation $B_{t_show}[k,k]$")
    e.loglog(k, F["gd"], color="C3", label=r"gradient descent $1-e^{-\tau d_k}$")
    e.loglog(k, F["eps"], color="C2", label=r"larger $\epsilon$: $d_k/(c_0+d_k)$")
    e.set(xlabel="eigen-direction $k$ (by $d_k$ desc.)", ylabel="filter factor", ylim=(1e-8, 2),
          title=rf"(c) $\ell_2$ spectral filters, class 0, $t={t_show}$")
    e.legend(loc="lower left", fontsize=5.5)
    fig.suptitle("sd.fig6 - analogue of Fig. 6 of [sd] (digits, RBF kernel): self-distillation vs early stopping")
    fig.text(0.0, -0.01, (
        f"Mean +- std over {n_splits} ((b): {n_ce}) splits, K = {n_train}, {DIGITS_LABEL_NOISE:.0%} training labels "
        "flipped. Every early-stopped model has exactly the training loss on the original labels of the "
        "self-distilled model of round t.\n"
        f"(a), (c): l2 as in sd.fig4 (eps = {DIGITS_EPS} per class); GD = gradient descent from 0 in its small-step "
        "limit; larger eps = Sec. 3.4 (one fit, per-class losses as tolerances); rounds before any collapse.\n"
        f"(b): cross entropy as in sd.fig5 (c = {DIGITS_CE_C:g}); plain gradient descent from 0 with step 1/L on the "
        "unregularised cross entropy, last step shortened to hit the loss."), fontsize=5.5, ha="left", va="top")
    return style.save(fig, out, "sd_fig6", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# not in the paper: the spectrum of B_t over many rounds


SPECTRUM_EPS = 1e-4  # near-interpolation regime: many rounds before the collapse (Prop. 4, Sec. 3.5)


def participation_ratio(b: np.ndarray) -> np.ndarray:
    """Effective number of basis functions (sum_k b_k)^2 / sum_k b_k^2 of each row of ``b`` (1 to K)."""
    b = np.atleast_2d(b)
    return b.sum(1) ** 2 / (b * b).sum(1)


def spectrum_data(seed: int = 0, *, n_train: int = 400, eps: float = SPECTRUM_EPS, max_rounds: int = 2000) -> dict:
    """Normalised diagonal B_t[k,k] / max_k B_t[k,k] (Eq. 46) for every round up to the collapse, on the
    Sec. 4 data and on digits (RBF kernel, class 0 one-vs-rest, no label noise), eigenvalues descending;
    plus the per-round rate d_k/d_max that pure power iteration on G would give."""
    out = {}
    x, y = sec4_data(seed)
    from kdtheory.theory.sd import gram_matrix

    problems = {"sec4": (gram_matrix(x, "spline"), y)}
    with _one_blas_thread():
        S = digits_split(seed, 0, n_train, 0.0)
        gram, _ = rbf_grams(S["X_train"], S["X_train"][:1])
        problems["digits"] = (gram, one_vs_rest(S["y_train"])[:, 0])
        for name, (G, labels) in problems.items():
            r = _self_distill(G, labels, max_rounds, eps=eps)
            order = np.argsort(r.eigenvalues)[::-1]
            B = r.b_diag[:, order]
            out[name] = {"B": B, "normalised": B / B.max(1, keepdims=True), "d": r.eigenvalues[order],
                         "c": r.c, "collapsed": r.collapsed_at, "effective": participation_ratio(B)}
    return out


@figure("sd.spectrum", title="not in the paper: normalised diagonal of B_t over many rounds (power-iteration-like "
        "concentration on the top eigen-direction)")
def spectrum(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = spectrum_data(seed, n_train=300 if quick else 600)
    fig, ax = style.subplots(1, 3, height=2.4, layout="constrained")
    a, b, e = ax[0]
    P = D["sec4"]
    T, K = P["B"].shape
    cmap = style.plt.get_cmap("viridis")
    t = np.arange(T)
    for k in range(K):
        a.semilogy(t, P["normalised"][:, k], color=cmap(k / (K - 1)), lw=1)
    a.set(xlabel="round $t$", ylabel=r"$B_t[k,k]\,/\,\max_j B_t[j,j]$", ylim=(1e-30, 3),
          title=f"(a) Sec. 4 data, K = {K}, $\\epsilon$ = {SPECTRUM_EPS:g}")
    sm = style.plt.cm.ScalarMappable(cmap=cmap, norm=style.plt.Normalize(1, K))
    fig.colorbar(sm, ax=a, label="$k$", ticks=[1, K // 2 + 1, K], fraction=0.06, pad=0.02)
    Q = D["digits"]
    img = np.log10(np.maximum(Q["normalised"].T, 1e-300))
    Kd = img.shape[0]
    im = b.imshow(img, aspect="auto", origin="lower", cmap="magma", vmin=-30, vmax=0,
                  extent=(-0.5, img.shape[1] - 0.5, 0.5, Kd + 0.5))
    b.set(xlabel="round $t$", ylabel="$k$ (by $d_k$ desc.)", yscale="log",
          title=f"(b) digits, RBF, K = {Kd}, class 0")
    b.grid(False)
    fig.colorbar(im, ax=b, label=r"$\log_{10}$ of the ratio in (a)", fraction=0.06, pad=0.02)
    for name, color, label in (("sec4", "C0", f"Sec. 4 (K = {K})"), ("digits", "C1", f"digits (K = {Kd})")):
        e.semilogy(np.arange(D[name]["effective"].size), D[name]["effective"], color=color, label=label)
    e.set(xlabel="round $t$", ylabel=r"$(\sum_k b_k)^2 / \sum_k b_k^2$, $b_k = B_t[k,k]$",
          title="(c) effective number of basis functions")
    e.legend(loc="upper right", fontsize=6)
    fig.suptitle("sd.spectrum - not in the paper: B_t concentrates on the top eigen-direction like power iteration")
    fig.text(0.0, -0.01, (
        f"Constrained self-distillation with eps = {SPECTRUM_EPS:g} (near interpolation, Sec. 3.5) "
        "up to the last round before the labels collapse; k orders the eigenvalues d_k of G descending.\n"
        "Each round multiplies B by D (c_t I + D)^-1, which tends to D / c_t as c_t grows, so B_t[k,k] / B_t[1,1] "
        "decays at the power-iteration rate d_k / d_1 per round.\n"
        "Digits: one-vs-rest +-1 labels of class 0, clean labels, G/K, RBF width of sd.fig4."),
        fontsize=5.5, ha="left", va="top")
    return style.save(fig, out, "sd_spectrum", pdf=pdf)
