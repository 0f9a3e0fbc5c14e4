"""Figures of [sd] (Mobahi, Farajtabar, Bartlett: self-distillation amplifies regularization in Hilbert space).

* ``sd.fig2``, ``sd.fig3`` are exact analogues of the worked example of Sec. 4 (spline regulariser on
  [0, 1], Green's function of Eq. (57), four rounds at eps = 0.04, diagonal of B_t of Eq. (46)). They
  differ from the paper's figures in two stated choices: the grid (k - 1/2)/11 instead of 0, 0.1, ..., 1
  (whose endpoints make the Gram matrix singular, claim ``sd.sec4_setup``) and the target sin(2 pi x)
  of the Fig. 2 caption (the text says sin x and y = x + noise); noise N(0, 0.5^2), one seed.
* ``sd.fig4`` to ``sd.fig6`` are small analogues of the CIFAR/ResNet experiments of Sec. 5: kernel
  regression (RBF kernel, one-vs-rest +-1 labels, Sec. 3.6) on scikit-learn's bundled digits.
* ``sd.spectrum`` is not in the paper: the normalised diagonal of B_t over many rounds.

This module only draws: every number comes from ``kdtheory.numerics.sd`` (the exact engine and the
experiments ``sec4_self_distillation``, ``digits_*``, ``early_stopping_filters``, ``spectrum_runs``),
checked in tests/test_sd_figures.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kdtheory.figures import style
from kdtheory.figures._core import figure
from kdtheory.numerics import sd as nsd

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
SPECTRUM_EPS = 1e-4  # near-interpolation regime: many rounds before the collapse (Prop. 4, Sec. 3.5)

# ---------------------------------------------------------------------------------------------------
# Sec. 4 worked example

_ROUND_COLORS = ("C0", "C1", "C2", "C3", "C4", "C5")
_SEC4_DIFFERENCES = ("grid (k - 1/2)/11 instead of 0, 0.1, ..., 1 (whose endpoints make G singular); "
                     "target sin(2 pi x) of the Fig. 2 caption (the text says sin x and y = x + noise)")


def _sec4(seed: int, n_grid: int) -> dict:
    """The Sec. 4 run shown in Figs. 2-3 (one round more than drawn, to report the collapse)."""
    return nsd.sec4_self_distillation(seed, eps=SEC4_EPS, rounds=SEC4_ROUNDS + 1, n_grid=n_grid, K=SEC4_K,
                                      sigma=SEC4_SIGMA)


@figure("sd.fig2", title="exact analogue of Fig. 2 (grid (k - 1/2)/11, target sin(2 pi x)): Green's function, "
        "noisy samples, four rounds of self-distillation")
def fig2(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = _sec4(seed, 201 if quick else 801)
    fig, ax = style.subplots(1, 3, height=2.9)
    a, b, c = ax[0]
    for j, s in enumerate(D["sources"]):
        a.plot(D["grid"], D["green"][:, j], label=rf"$x^\dagger={s:g}$")
    a.set(xlabel="$x$", ylabel=r"$g(x, x^\dagger)$", title="(a) Green's function, Eq. (57)")
    a.set_ylim(0, 0.034)
    a.legend(loc="upper center", fontsize=5.5, ncol=3, handlelength=1.0, columnspacing=0.6)
    truth = np.sin(2 * np.pi * D["grid"])
    b.plot(D["grid"], D["interp_eval"], color="C0", label="fit, no regularisation")
    b.plot(D["grid"], truth, color="C1", label=r"$\sin(2\pi x)$")
    b.plot(D["x"], D["y"], "o", color="C0", ms=3.5, label="noisy samples")
    b.set(xlabel="$x$", ylabel="$f(x)$", title="(b) samples and unregularised fit")
    c.plot(D["x"], D["y"], "o", color="0.6", ms=3, label="samples")
    c.plot(D["grid"], truth, ":", color="0.4", lw=1, label=r"$\sin(2\pi x)$")
    for t, f in enumerate(D["rounds_eval"][:SEC4_ROUNDS]):
        c.plot(D["grid"], f, color=_ROUND_COLORS[t], label=f"round $t={t}$")
    c.set(xlabel="$x$", ylabel="$f_t(x)$", title=rf"(c) self-distillation, $\epsilon={SEC4_EPS}$")
    ylim = (min(b.get_ylim()[0], c.get_ylim()[0]), max(b.get_ylim()[1], c.get_ylim()[1]))
    b.set_ylim(ylim)
    c.set_ylim(ylim)
    for axis, ncol in ((b, 3), (c, 3)):   # legends under the panels: no curve is hidden
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=5.5, ncol=ncol, handlelength=1.2,
                    columnspacing=0.6, frameon=False)
    col = D["collapsed"]
    collapse = (f"At round {col} the labels have collapsed (||y_t||^2/K <= eps, f = 0)." if col is not None
                else f"No collapse within {SEC4_ROUNDS + 1} rounds.")
    shown = D["rms_rounds"][:SEC4_ROUNDS]
    rms = (f"RMS distance to sin(2 pi x) on [0, 1]: unregularised fit {D['rms_interp'][0]:.2f}; "
           f"rounds t = 0..{shown.size - 1}: " + ", ".join(f"{v:.2f}" for v in shown) + ".")
    style.title(fig, "sd.fig2 - exact analogue of Fig. 2 of [sd] (spline regulariser of Sec. 4; computed exactly, "
                "two choices differ from the paper, see below)")
    style.caption(fig, f"Differs from the paper: {_SEC4_DIFFERENCES}. Noise N(0, {SEC4_SIGMA}^2), seed {seed}, "
                  f"K = {SEC4_K}, G = g/K (Eq. 16); unregularised fit = limit c -> 0 (interpolation). "
                  f"{collapse} {rms}")
    return style.save(fig, out, "sd_fig2", pdf=pdf)


def fig3_bars(D: dict) -> dict:
    """Fig. 3's bars from the Sec. 4 run: B_t (t = 0..3) ordered by decreasing eigenvalue d_k."""
    order = np.argsort(D["d"])[::-1]
    return {"B": D["B"][:SEC4_ROUNDS, order], "d": D["d"][order], "c": D["c"], "collapsed": D["collapsed"]}


@figure("sd.fig3", title="exact analogue of Fig. 3 (grid (k - 1/2)/11, target sin(2 pi x)): diagonal of B_t for "
        "t = 0..3 (K = 11)")
def fig3(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = fig3_bars(_sec4(seed, 3))
    T, K = D["B"].shape
    fig, ax = style.subplots(1, T, height=2.3, sharey=True)
    k = np.arange(1, K + 1)
    for t in range(T):
        a = ax[0][t]
        a.bar(k, D["B"][t], color=_ROUND_COLORS[t], width=0.75)
        a.set(title=f"$t={t}$", xlabel="entry $k$ (by $d_k$ desc.)", xticks=[1, 6, 11])
        a.grid(axis="x", visible=False)
    ax[0][0].set_ylabel(r"$\mathbf{B}_t[k,k]$")
    ax[0][0].set_ylim(0, 1.02)
    style.title(fig, "sd.fig3 - exact analogue of Fig. 3 of [sd]: diagonal of B_t = A_0 A_1 ... A_t, Eq. (46) "
                f"(Sec. 4 data, eps = {SEC4_EPS}, seed {seed})")
    style.caption(fig, f"Entries ordered by decreasing eigenvalue d_k of G; same data and choices as sd.fig2 "
                  f"(differs from the paper: {_SEC4_DIFFERENCES}). Small entries shrink fastest (Prop. 5).")
    return style.save(fig, out, "sd_fig3", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Sec. 5 analogues: kernel regression on scikit-learn digits


def _band(ax, t, values, color, label, marker="o"):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    m, sd = values.mean(0), values.std(0)
    ax.plot(t, m, marker=marker, ms=3, color=color, label=label)
    ax.fill_between(t, m - sd, m + sd, color=color, alpha=0.2, lw=0)


def _digits_sizes(quick: bool) -> tuple[int, int]:
    return (3, 400) if quick else (10, 400)


@figure("sd.fig4", title="analogue of Fig. 4 (digits, RBF kernel regression, l2 loss; paper: "
        "CIFAR-10/100, ResNet50/VGG16, l2 loss)")
def fig4(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    n_splits, n_train = _digits_sizes(quick)
    fig, ax = style.subplots(2, 2, width=style.COLUMN_WIDTH * 1.25, height=4.4, sharex=True)
    t = np.arange(DIGITS_ROUNDS)
    for row, noise in enumerate((DIGITS_LABEL_NOISE, 0.0)):
        D = nsd.digits_l2_curves(seed, n_splits=n_splits, n_train=n_train, label_noise=noise, eps=DIGITS_EPS,
                                 rounds=DIGITS_ROUNDS)
        _band(ax[row][0], t, D["train_acc"], "C0", "train ($y_0$)")
        _band(ax[row][1], t, D["test_acc"], "C1", "test")
        what = f"{noise:.0%} training labels flipped" if noise else "clean labels"
        ax[row][0].set_ylabel(f"accuracy\n({what})")
        for a in ax[row]:
            a.legend(loc="center left", fontsize=6)
    for a in ax[1]:
        a.set_xlabel("self-distillation round $t$")
    ax[0][0].set_title("training accuracy")
    ax[0][1].set_title("test accuracy")
    style.title(fig, "sd.fig4 - analogue of Fig. 4 of [sd] (digits, RBF kernel regression, l2 loss)")
    style.caption(fig, f"Mean +- std over {n_splits} random splits (seed {seed}), K = {n_train} training digits, "
                  f"rest test; train accuracy on the original labels y_0; one-vs-rest +-1 targets, per-class eps = {DIGITS_EPS} (c_q from the constraint); "
                  "collapsed classes predict 0.")
    return style.save(fig, out, "sd_fig4", pdf=pdf)


@figure("sd.fig5", title="analogue of Fig. 5 (digits, RBF kernel logistic regression, cross entropy; paper: "
        "CIFAR-10/100, ResNet50, cross entropy)")
def fig5(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    n_splits, n_train = _digits_sizes(quick)
    D = nsd.digits_ce_curves(seed, n_splits=n_splits, n_train=n_train, label_noise=DIGITS_LABEL_NOISE,
                             c=DIGITS_CE_C, rounds=DIGITS_CE_ROUNDS)
    fig, ax = style.subplots(1, 2, width=style.COLUMN_WIDTH * 1.25, height=2.6, sharex=True)
    t = np.arange(DIGITS_CE_ROUNDS)
    _band(ax[0][0], t, D["train_acc"], "C0", "train (original labels $y_0$)")
    _band(ax[0][1], t, D["test_acc"], "C1", "test")
    ax[0][0].set(title="training accuracy", ylabel="accuracy", xlabel="self-distillation round $t$")
    ax[0][1].set(title="test accuracy", xlabel="self-distillation round $t$")
    for a in ax[0]:
        a.legend(loc="best", fontsize=6)
    style.title(fig, "sd.fig5 - analogue of Fig. 5 of [sd] (digits, kernel logistic regression, cross entropy)")
    style.caption(fig, f"Mean +- std over {n_splits} splits (seed {seed}), K = {n_train}, {DIGITS_LABEL_NOISE:.0%} "
                  f"training labels flipped; softmax cross entropy + c ||f||_H^2, c = {DIGITS_CE_C} fixed; round t+1 "
                  "fits the soft predictions of round t (outside the paper's l2 theory, as in the paper).")
    return style.save(fig, out, "sd_fig5", pdf=pdf)


@figure("sd.fig6", title="analogue of Fig. 6 (digits, RBF kernel regression, l2 and cross entropy; paper: "
        "CIFAR-10, ResNet50): self-distillation vs early stopping at matched training loss")
def fig6(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    n_splits, n_train = _digits_sizes(quick)
    n_ce = 2 if quick else n_splits
    D = nsd.digits_early_stopping(seed, n_splits=n_splits, n_train=n_train, label_noise=DIGITS_LABEL_NOISE,
                                  eps=DIGITS_EPS, rounds=DIGITS_ROUNDS)
    C = nsd.digits_ce_early_stopping(seed, n_splits=n_ce, n_train=n_train, label_noise=DIGITS_LABEL_NOISE,
                                     c=DIGITS_CE_C, rounds=DIGITS_CE_ROUNDS)
    fig, ax = style.subplots(1, 3, height=3.0)
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
    F = nsd.early_stopping_filters(seed, n_train=n_train, t=t_show, label_noise=DIGITS_LABEL_NOISE, eps=DIGITS_EPS)
    k = np.arange(1, F["d"].size + 1)
    e.loglog(k, F["sd"], color="C0", label=rf"self-distillation $B_{t_show}[k,k]$")
    e.loglog(k, F["gd"], color="C3", label=r"gradient descent $1-e^{-\tau d_k}$")
    e.loglog(k, F["eps"], color="C2", label=r"larger $\epsilon$: $d_k/(c_0+d_k)$")
    e.set(xlabel="eigen-direction $k$ (by $d_k$ desc.)", ylabel="filter factor", ylim=(1e-8, 2),
          title=rf"(c) $\ell_2$ spectral filters, class 0, $t={t_show}$")
    e.legend(loc="lower left", fontsize=5.5)
    style.title(fig, "sd.fig6 - analogue of Fig. 6 of [sd] (digits, RBF kernel): self-distillation vs early "
                "stopping at matched training loss")
    style.caption(fig, (
        f"Mean +- std over {n_splits} ((b): {n_ce}) splits (seed {seed}), K = {n_train}, {DIGITS_LABEL_NOISE:.0%} "
        "training labels flipped. Every early-stopped model has exactly the training loss on the original labels of "
        f"the self-distilled model of round t. (a), (c): l2 as in sd.fig4 (eps = {DIGITS_EPS} per class); GD = "
        "gradient descent from 0 in its small-step limit; larger eps = Sec. 3.4 (one fit, per-class losses as "
        f"tolerances); rounds before any collapse. (b): cross entropy as in sd.fig5 (c = {DIGITS_CE_C:g}); plain "
        "gradient descent from 0 with step 1/L on the unregularised cross entropy, last step shortened to hit the "
        "loss."))
    return style.save(fig, out, "sd_fig6", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# not in the paper: the spectrum of B_t over many rounds


@figure("sd.spectrum", title="not in the paper: normalised diagonal of B_t over many rounds (power-iteration-like "
        "concentration on the top eigen-direction)")
def spectrum(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = nsd.spectrum_runs(seed, n_train=300 if quick else 600, eps=SPECTRUM_EPS)
    fig, ax = style.subplots(1, 3, height=2.8)
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
    style.title(fig, "sd.spectrum - not in the paper: B_t concentrates on the top eigen-direction like power iteration")
    style.caption(fig, (
        f"Constrained self-distillation with eps = {SPECTRUM_EPS:g} (near interpolation, Sec. 3.5) up to the last "
        "round before the labels collapse; k orders the eigenvalues d_k of G descending. Each round multiplies B by "
        "D (c_t I + D)^-1, which tends to D / c_t as c_t grows, so B_t[k,k] / B_t[1,1] decays at the "
        f"power-iteration rate d_k / d_1 per round. Sec. 4 data as in sd.fig2 (seed {seed}); digits: one-vs-rest "
        "+-1 labels of class 0, clean labels, G/K, RBF width of sd.fig4."))
    return style.save(fig, out, "sd_spectrum", pdf=pdf)
