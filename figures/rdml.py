"""Figures of [rdml] (Rényi divergence deep mutual learning): Fig. 1 exactly, Figs. 2-5 and Table 1 as analogues.

* ``rdml.fig1``: Fig. 1, the Rényi divergence of two-event distributions, exactly (analytic).
  Left: Q = (0.4, 0.6) fixed, P = (p, 1 - p), p in [0, 1]. Right: P = (0.4, 0.6) fixed,
  Q = (q, 1 - q), q in [0.001, 0.999] as in the paper. Orders: alpha = 0.5, 1 (KL, orange,
  dashed), 2, 10, 100. Our text copy of the paper names alpha = 10 and 100 and the dashed orange
  KL; the legend itself is not in the text, and 0.5 and 2 are the paper's usual orders (KL drawn
  second gives matplotlib's orange, as the caption says). As rdml.fig1_caption records, the
  alpha = 0.5 curve stays finite at q -> 0 and q -> 1 (it ends at log(1/0.6) and log(1/0.4)).
* ``rdml.fig2`` .. ``rdml.fig5``, ``rdml.table1``: small-scale analogues of the experiments of
  [rdml, Sec. 4] on sklearn's digits. The paper trains GoogLeNet/ResNet34/VGG16 on CIFAR for
  200 epochs (and ViT etc. on DTD/Flowers); here two students (K = 2, as in the paper) are
  softmax regressions or one-hidden-layer tanh MLPs trained with Algorithm 1 (plain SGD, batch
  size 1, constant step, no momentum/weight decay/schedule) on small subsets of the 8x8 digits,
  by the Numba simulator of :mod:`kdtheory.numerics.rdml` (runs over seeds and orders:
  :func:`kdtheory.numerics.rdml.generalisation_study`; this module only arranges and draws).
  Figs. 4-5 are designed so that overfitting can appear (few training digits, 30 % label noise,
  64 hidden units, long constant-step training) and state, from the runs, whether it does and
  whether RDML curbs it; Fig. 3 marks which best-alpha choices exceed the seed-to-seed noise.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from kdtheory.figures import style
from kdtheory.figures._core import figure
from kdtheory.theory.rdml import renyi_divergence
from kdtheory.verify.rdml import FIG1_FIXED, PAPER_FIG1_ALPHAS

# --- Section 2: Fig. 1 (analytic) ---


def fig1_data(n: int = 999) -> dict:
    """Curves of both panels: ``{"p": grid, "left": {alpha: D}, "q": grid, "right": {alpha: D}}``."""
    p = np.linspace(0.0, 1.0, n)
    q = np.linspace(0.001, 0.999, n)
    left_p = np.column_stack([p, 1 - p])
    right_q = np.column_stack([q, 1 - q])
    left = {a: renyi_divergence(left_p, FIG1_FIXED, a) for a in PAPER_FIG1_ALPHAS}
    right = {a: renyi_divergence(FIG1_FIXED, right_q, a) for a in PAPER_FIG1_ALPHAS}
    return {"p": p, "left": left, "q": q, "right": right}


@figure("rdml.fig1", title="Rényi divergence of two-event distributions; reproduces Fig. 1")
def fig1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    data = fig1_data(201 if quick else 1999)
    fig, axes = style.subplots(1, 2, height=2.6)
    colors = {0.5: "C0", 1.0: "C1", 2.0: "C2", 10.0: "C3", 100.0: "C4"}
    for ax, x, key, xlabel, title in (
        (axes[0, 0], data["p"], "left", r"$p$  ($P=(p,1-p)$, $Q=(0.4,0.6)$)", r"$D_\alpha(P\|Q)$, $Q$ fixed"),
        (axes[0, 1], data["q"], "right", r"$q$  ($P=(0.4,0.6)$, $Q=(q,1-q)$)", r"$D_\alpha(P\|Q)$, $P$ fixed"),
    ):
        for a in PAPER_FIG1_ALPHAS:
            label = "KL" if a == 1.0 else rf"$\alpha={a:g}$"
            ax.plot(x, data[key][a], color=colors[a], ls="--" if a == 1.0 else "-", label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"$D_\alpha(P\|Q)$")
        ax.set_title(title)
    axes[0, 1].set_xlim(0, 1)
    axes[0, 0].legend(loc="upper center")
    style.title(fig, "rdml.fig1 - reproduces Fig. 1: Rényi divergence of two-event distributions "
                     "(alpha = 0.5, KL dashed, 2, 10, 100)")
    style.caption(fig, "Exact (analytic). Right panel: the alpha = 0.5 curve stays finite as q -> 0 or 1 (it ends at log(1/0.6) and "
                       "log(1/0.4)); the orders >= 1 diverge there.")
    return style.save(fig, out, "rdml_fig1", pdf=pdf)


# --- Section 4: Figs. 2-5 and Table 1 (analogues on digits) ---

ALPHAS = (0.5, 1.0, 1.5, 2.0)
ORDERS = (None,) + ALPHAS  # None: independent students
COLORS = {None: "k", 0.5: "tab:blue", 1.0: "tab:orange", 1.5: "tab:green", 2.0: "tab:red"}


def _label(a):
    return "Ind." if a is None else ("DML" if a == 1.0 else f"RDML$_{{{a:g}}}$")


def _plain(a):
    return "Ind." if a is None else ("DML" if a == 1.0 else f"RDML{a:g}")


def _mean_se(x: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over ``axis`` (0 when there is a single value)."""
    n = x.shape[axis]
    se = x.std(axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(x.mean(axis=axis))
    return x.mean(axis=axis), se


@figure("rdml.fig2", title="analogue of Fig. 2 (digits, 2 MLP students, plain SGD; paper: CIFAR, GoogLeNet/ResNet)")
def fig2(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    """Base and divergence training losses per student for several alpha (K = 2 MLP students, 300 digits).

    Differs from the paper: 300 training digits, 1-hidden-layer tanh MLP (16 units), SGD batch size 1,
    constant step 0.05, every epoch shown (the paper: CIFAR, deep CNNs, from epoch 50, every third epoch).
    As in the paper, alpha = 0.5 gives identical divergence losses for the two students (D_1/2 is symmetric).
    """
    from kdtheory.numerics.rdml import generalisation_study

    n = 300
    epochs = 25 if quick else 120
    r = generalisation_study(orders=ALPHAS, seeds=[seed], n_train=n, n_test=10, model="mlp", hidden=16, eta=0.05,
                             epochs=epochs)
    fig, ax = style.subplots(1, 2, height=2.7)
    ep = r["epochs"]
    for i, a in enumerate(ALPHAS):
        for k, ls in ((0, "-"), (1, "--")):
            ax[0, 0].plot(ep, r["train_loss"][i, 0, :, k], ls, color=COLORS[a])
            ax[0, 1].plot(ep, r["div_loss"][i, 0, :, k], ls, color=COLORS[a])
    ax[0, 0].set(xlabel="epoch", ylabel="base loss (cross entropy, training)", yscale="log")
    ax[0, 1].set(xlabel="epoch", ylabel=r"divergence loss $D_\alpha$ (training)", yscale="log")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLORS[a], label=_label(a)) for a in ALPHAS]
    handles += [Line2D([], [], color="0.3", ls=ls, label=f"student {k}") for k, ls in ((0, "-"), (1, "--"))]
    fig.legend(handles=handles, loc="outside right center", fontsize=6.5)
    style.title(fig, "rdml.fig2 - analogue of Fig. 2: training losses per student (here digits, 2 MLP students, plain SGD; "
                     "paper: CIFAR, GoogLeNet/ResNet)")
    style.caption(fig, f"One run (seed {seed}): 300 training digits, one hidden layer of 16 tanh units, SGD with batch "
                       f"size 1 and constant step 0.05, {epochs} epochs, every epoch shown (the paper: from epoch 50, "
                       "every third). At alpha = 0.5 the two students' divergence losses coincide (D_1/2 is symmetric).")
    return style.save(fig, out, "rdml_fig2", pdf=pdf)


FIG3_MODELS = (("softmax", 1, "softmax reg."), ("mlp", 8, "MLP-8"), ("mlp", 32, "MLP-32"))
FIG3_DATA = (("digits 300", 300, 0.0), ("30% noisy labels", 300, 0.3), ("digits 100", 100, 0.0))


def fig3_data(*, quick: bool, seed: int) -> dict:
    """Per (data, model) cell: test accuracy of each alpha per seed (mean of the last 3 epochs and both students),
    the best alpha (highest seed mean) and its paired advantage over alpha = 1 (KL) with its standard error."""
    from kdtheory.numerics.rdml import generalisation_study

    epochs = 8 if quick else 60
    seeds = list(range(seed, seed + (3 if quick else 8)))
    acc = np.zeros((len(FIG3_DATA), len(FIG3_MODELS), len(ALPHAS), len(seeds)))
    for i, (_, n, noise) in enumerate(FIG3_DATA):
        for j, (m, h, _) in enumerate(FIG3_MODELS):
            r = generalisation_study(orders=ALPHAS, seeds=seeds, n_train=n, n_test=300, label_noise=noise, model=m,
                                     hidden=h, eta=0.05, epochs=epochs)
            acc[i, j] = 100.0 * r["test_acc"][:, :, -3:, :].mean(axis=(2, 3))
    best = acc.mean(axis=3).argmax(axis=2)
    kl = ALPHAS.index(1.0)
    diff = np.take_along_axis(acc, best[:, :, None, None], axis=2)[:, :, 0] - acc[:, :, kl]  # (D, M, S) paired
    gain, se = _mean_se(diff, axis=2)
    return {"acc": acc, "best": best, "gain": gain, "se": se, "seeds": seeds, "epochs": epochs}


@figure("rdml.fig3", title="analogue of Fig. 3 (best alpha over seeds, digits variants x small models; paper: "
                           "18 CV/NLP runs)")
def fig3(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    """Heat map of the alpha in {0.5, 1, 1.5, 2} with the best mean test accuracy of two students, over seeds.

    Differs from the paper: 3 small models x 3 digits variants (not 8 models x 7 data sets), short plain-SGD runs;
    each cell is decided by the mean over seeds (3 quick, 8 full), and a cell is starred when the best alpha beats
    alpha = 1 (KL) by more than 2 paired standard errors over seeds.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    d = fig3_data(quick=quick, seed=seed)
    best_alpha = np.array(ALPHAS)[d["best"]]
    fig, ax = style.subplots(1, 1, width=5.0, height=3.4)
    cmap = ListedColormap([COLORS[a] for a in ALPHAS])
    norm = BoundaryNorm([0.25, 0.75, 1.25, 1.75, 2.25], cmap.N)
    im = ax[0, 0].imshow(best_alpha, cmap=cmap, norm=norm)
    ax[0, 0].set_xticks(range(len(FIG3_MODELS)), [m[2] for m in FIG3_MODELS])
    ax[0, 0].set_yticks(range(len(FIG3_DATA)), [x[0] for x in FIG3_DATA])
    ax[0, 0].set(xlabel="student model", ylabel="data")
    n_star = 0
    for i in range(len(FIG3_DATA)):
        for j in range(len(FIG3_MODELS)):
            if best_alpha[i, j] == 1.0:
                text = "α=1\n(KL best)"
            else:
                star = d["gain"][i, j] > 2 * d["se"][i, j]
                n_star += int(star)
                text = f"α={best_alpha[i, j]:g}{' *' if star else ''}\n{d['gain'][i, j]:+.2f}±{d['se'][i, j]:.2f}"
            ax[0, 0].text(j, i, text, ha="center", va="center", color="w", fontsize=6.5,
                          fontweight="bold" if "*" in text else "normal")
    ax[0, 0].grid(False)
    fig.colorbar(im, ax=ax[0, 0], ticks=ALPHAS, label=r"best $\alpha$ (mean over seeds)")
    style.title(fig, "rdml.fig3 - analogue of Fig. 3: best alpha per (data, model) (here digits variants x small models, "
                     "2 students; paper: 18 CV/NLP runs)")
    style.caption(fig, f"Best of alpha in {{0.5, 1, 1.5, 2}} by test accuracy (mean of the last 3 of {d['epochs']} epochs "
                       f"and both students) averaged over {len(d['seeds'])} seeds; below it the best minus KL accuracy "
                       f"(percentage points, paired over seeds) ± its standard error; * (bold) = more than 2 s.e. "
                       f"({n_star} of {best_alpha.size} cells; the best is selected on the same seeds, so the gain is "
                       "biased upwards). Plain SGD, batch 1, step 0.05."
                       + (" Quick mode (full mode: 60 epochs, 8 seeds)." if quick else ""))
    return style.save(fig, out, "rdml_fig3", pdf=pdf)


FIG45_WINDOW = 5  # epochs averaged when the overfitting of Figs. 4-5 is measured
FIG45_ZOOM_FROM = 3  # the curves' y range covers the seed means from this epoch on


def _overfitting_setup(quick: bool) -> dict:
    """The Figs. 4-5 experiment: few training digits with 30 % label noise, 64 hidden units, long training."""
    return dict(n_train=100 if quick else 200, n_test=200 if quick else 1000, label_noise=0.3, model="mlp",
                hidden=64, eta=0.05, epochs=30 if quick else 150)


@lru_cache(maxsize=4)
def fig45_data(*, quick: bool, seed: int) -> dict:
    """Runs of Figs. 4-5 (independent students and RDML for each alpha, same seeds, splits and draws)."""
    from kdtheory.numerics.rdml import generalisation_study

    setup = _overfitting_setup(quick)
    seeds = list(range(seed, seed + (3 if quick else 8)))
    r = generalisation_study(orders=ORDERS, seeds=seeds, **setup)
    r["setup"] = setup
    return r


def _generalisation_figure(out, quick, pdf, seed, key, name, fig_no):
    r = fig45_data(quick=quick, seed=seed)
    s = r["setup"]
    curves = r[key] * (100.0 if key == "test_acc" else 1.0)  # (C, S, E+1, K)
    ep = r["epochs"]
    n_seeds = len(r["seeds"])
    # overfitting per run (students averaged), on the 5-epoch moving average (so that the minimum of a noisy
    # curve does not fake a rise): last window minus the lowest window (loss), highest minus last (accuracy)
    w = FIG45_WINDOW
    smooth = np.stack([curves[:, :, i:i + w].mean(axis=2) for i in range(len(ep) - w + 1)], axis=2).mean(axis=3)
    over = (smooth[:, :, -1] - smooth.min(axis=2)) if key == "test_loss" else (smooth.max(axis=2) - smooth[:, :, -1])
    over_m, over_se = _mean_se(over, axis=1)
    final = smooth[:, :, -1]  # (C, S): mean of the last w epochs
    sign = 1.0 if key == "test_loss" else -1.0
    gap = sign * (final[0][None, :] - final[1:])  # Ind. minus RDML loss (RDML minus Ind. accuracy), paired
    gap_m, gap_se = _mean_se(gap, axis=1)

    fig, ax = style.subplots(1, 3, height=2.9, gridspec_kw={"width_ratios": [1, 1, 0.8]})
    for c, a in enumerate(r["orders"]):
        for k in range(2):
            m, se = _mean_se(curves[c, :, :, k], axis=0)
            ax[0, k].plot(ep, m, color=COLORS[a], label=_label(a), lw=1.6 if a is None else 1.0)
            ax[0, k].fill_between(ep, m - se, m + se, color=COLORS[a], alpha=0.18, lw=0)
    # y range from epoch FIG45_ZOOM_FROM on (the first epochs, far from the rest, would flatten the curves)
    later = curves[:, :, FIG45_ZOOM_FROM:].mean(axis=1)
    lo, hi = float(later.min()), float(later.max())
    ax[0, 0].set_ylim(lo - 0.08 * (hi - lo), hi + 0.08 * (hi - lo))
    unit = "test loss (cross entropy)" if key == "test_loss" else "test accuracy (%)"
    for k in range(2):
        ax[0, k].set(xlabel="epoch", title=f"student {k} (MLP-{s['hidden']})")
    ax[0, 0].set_ylabel(unit)
    ax[0, 1].sharey(ax[0, 0])
    handles, labels = ax[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=6.5)
    x = np.arange(len(r["orders"]))
    ax[0, 2].bar(x, over_m, yerr=2 * over_se, color=[COLORS[a] for a in r["orders"]], capsize=2)
    ax[0, 2].set_xticks(x, [_plain(a) for a in r["orders"]], rotation=45, fontsize=6)
    ax[0, 2].set(ylabel="rise of the test loss" if key == "test_loss" else "fall of the accuracy (pts)",
                 title="overfitting (± 2 s.e.)")
    # the outcome, from the runs
    overfits = over_m[0] > 2 * over_se[0] and over_m[0] > 0
    what = "test loss rises" if key == "test_loss" else "test accuracy falls"
    if overfits:
        first = (f"Independent students overfit: their {what} by {over_m[0]:.3g} ± {over_se[0]:.2g} (s.e.) from the "
                 f"best to the last {w} epochs.")
    else:
        first = (f"Independent students do not overfit measurably here ({what} by {over_m[0]:.3g} ± {over_se[0]:.2g}, "
                 "within 2 s.e.).")
    better = [f"{_plain(a)} {gap_m[i]:+.3g} ± {gap_se[i]:.2g}" + ("*" if abs(gap_m[i]) > 2 * gap_se[i] else "")
              for i, a in enumerate(r["orders"][1:])]
    meaning = (f"Gain of RDML over Ind. in test loss over the last {w} epochs (Ind. minus RDML" if key == "test_loss"
               else f"Gain of RDML over Ind. in test accuracy over the last {w} epochs (pts, RDML minus Ind.")
    meaning += "; > 0: RDML better; paired over seeds, * beyond 2 s.e.)"
    style.title(fig, f"rdml.fig{fig_no} - analogue of Fig. {fig_no} (here digits, {int(100 * s['label_noise'])}% label noise, "
                     f"2 MLP-{s['hidden']} students, plain SGD; paper: CIFAR100, GoogLeNet/ResNet34/VGG16)")
    style.caption(fig, f"{first} {meaning}: " + "; ".join(better) + ". Overfitting (right) = "
                       + ("last minus lowest" if key == "test_loss" else "highest minus last")
                       + f" {w}-epoch mean of the curve, per seed (the best window of a noisy curve biases it upwards, "
                         "alike for every order). "
                       + ("Quick mode (full mode: 200 digits, 150 epochs, 8 seeds). " if quick else "")
                       + f"Setup: {s['n_train']} training digits ({int(100 * s['label_noise'])}% of labels replaced at "
                       f"random), {s['n_test']} clean test digits, one hidden layer of {s['hidden']} tanh units, SGD "
                       f"batch 1, step {s['eta']:g}, {s['epochs']} epochs; mean over {n_seeds} seeds (splits, "
                       f"initialisations and draws shared by all orders), bands ± 1 s.e.; y range set by epochs >= "
                       f"{FIG45_ZOOM_FROM}.")
    return style.save(fig, out, name, pdf=pdf)


@figure("rdml.fig4", title="analogue of Fig. 4 (digits with 30% label noise, 2 MLP-64 students, seeds with bands) for "
                           "Fig. 4 (CIFAR100, GoogLeNet/ResNet34/VGG16)")
def fig4(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    """Test base loss per epoch: independent students against RDML with alpha in {0.5, 1, 1.5, 2}, over seeds.

    Designed so that overfitting can appear at this scale: 100 (quick) or 200 (full) training digits with 30 %
    of the labels replaced at random, 64 tanh hidden units, constant step 0.05 for 30 / 150 epochs, 3 / 8 seeds.
    The caption states, from the runs, whether the independent students' test loss rises after its minimum
    (the effect of the paper's Fig. 4) and by how much each alpha changes the final test loss (paired over seeds).
    Differs from the paper: digits instead of CIFAR100, small MLPs, plain SGD without schedule or weight decay.
    """
    return _generalisation_figure(out, quick, pdf, seed, "test_loss", "rdml_fig4", 4)


@figure("rdml.fig5", title="analogue of Fig. 5 (digits with 30% label noise, 2 MLP-64 students, seeds with bands) for "
                           "Fig. 5 (CIFAR100, GoogLeNet/ResNet34/VGG16)")
def fig5(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    """Test accuracy per epoch, same runs as rdml.fig4; the caption states whether accuracy falls after its peak."""
    return _generalisation_figure(out, quick, pdf, seed, "test_acc", "rdml_fig5", 5)


def _bootstrap_std(x, rng, B=1000):
    idx = rng.integers(0, x.size, size=(B, x.size))
    return float(x[idx].mean(axis=1).std(ddof=1))


@figure("rdml.table1", title="analogue of Table 1 (digits 150, MLP-32 and softmax students) for Table 1 (CIFAR10/100)")
def table1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    """Top-1 test accuracy (%), mean +- bootstrap std over the last 10 epochs, per student (index 0/1).

    Differs from the paper: digits (150 training, 400 test) instead of CIFAR, two small models
    (MLP-32, softmax regression) instead of GoogLeNet/ResNet34/VGG16; students are not re-sorted by value.
    """
    from kdtheory.numerics.rdml import generalisation_study

    rng = np.random.default_rng(seed)
    epochs = 40 if quick else 150
    n_test = 400 if quick else 1000
    runs = {m: generalisation_study(orders=ORDERS, seeds=[seed], n_train=150, n_test=n_test, model=m, hidden=32,
                                    eta=0.1, epochs=epochs) for m in ("mlp", "softmax")}
    header = "| | MLP$_0$ | MLP$_1$ | SR$_0$ | SR$_1$ |\n|---|---|---|---|---|\n"
    lines = []
    for c, a in enumerate(ORDERS):
        cells = []
        for m in ("mlp", "softmax"):
            for k in range(2):
                if a is None and k == 1:
                    continue
                x = 100.0 * runs[m]["test_acc"][c, 0, -10:, k]
                cells.append(f"{x.mean():.2f} ± {_bootstrap_std(x, rng):.2f}")
        if a is None:
            cells = [cells[0], "", cells[1], ""]
        lines.append(f"| {_plain(a)} | " + " | ".join(cells) + " |")
    caption = ("Analogue of Table 1 [rdml]: top-1 test accuracy (%) on digits (150 training / "
               f"{n_test} test images), mean ± bootstrap std over the last 10 of {epochs} epochs (seed {seed}); "
               "MLP = one hidden layer of 32 tanh units, SR = softmax regression; two students (index 0/1), plain "
               "SGD with batch size 1 and step 0.1. The independent case (Ind.) trains one model per column pair.\n\n")
    return style.save_table(caption + header + "\n".join(lines), out, "rdml_table1")
