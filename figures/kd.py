"""Figures of [kd] (knowledge distillation performs partial variance reduction).

The paper trains linear models on MNIST and on CIFAR-10 ResNet50 features and a one-hidden-layer ReLU
network on MNIST. The analogues here use scikit-learn's bundled digits, pooled to 4x4 pixels (16
standardised features) with 10% of the training labels replaced by random classes, so that the
unregularised cross-entropy of softmax regression has a finite minimiser x* (the raw 64-pixel training
set is separable: its infimum 0 is not attained, and an "optimal" L-BFGS teacher would not exist). All
training runs go through :func:`kdtheory.numerics.nets.train` (SGD, minibatch 10, constant step, no momentum,
reshuffled batches as in the paper), vectorised over the lambda grid with common random numbers.

* ``kd.fig1`` - ``kd.fig6``: analogues of Figs. 1-6.
* ``kd.exact_plateau`` (not in the paper): the exact stationary E f - f* of SGD with self-distillation (7)
  on a least-squares problem against lambda, for teachers of increasing quality, with lambda* of Eq. (14).

Every number behind a figure comes from a ``*_data`` function; ``exact_plateau_data`` is cross-checked in
tests/test_nets.py against an independent solve of the stationary moment system.

On the loss metric (Fig. 2): the paper's running average of minibatch losses, under reshuffled batches,
evaluates each sample at an iterate that has not yet seen it this epoch but has just fitted the others,
so it sits well above the full-batch loss of the same iterates (here 0.045 vs 0.011 above f* for SGD at
lr 0.2) by an amount that shrinks with the update variance. It therefore rewards variance reduction
directly: with the SGD teacher it decreases monotonically in lambda, while the full-batch loss (averaged
over the epoch or at its end) has an interior optimum near lambda = 0.3-0.4, the shape Theorem 1 predicts.
Fig. 2 plots all three.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from kdtheory.figures import style
from kdtheory.figures._core import figure

# ---------------------------------------------------------------------------------------------------
# choices the paper leaves open or that differ from it (stated in titles/captions)
BATCH = 10  # paper: minibatch 10
LR = 0.2  # a constant step in the noise-dominated regime (digits has 134 steps per epoch, MNIST 6000)
LABEL_NOISE = 0.1
LAMS_FULL = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
LAMS_QUICK = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0])
HIDDEN = 32  # width of the one-hidden-layer ReLU net of fig1
WEIGHT_DECAY_FIG1 = 1e-4  # paper: "SGD with weight decay" for Fig. 1 (value not stated)
LAST = 10  # "average over the last 10 epochs" (quick mode: last 5)

DATA_TAG = "digits 4x4, 10% label noise, softmax regression"


def _epochs(quick: bool, q: int, full: int = 100) -> int:
    return q if quick else full


def _seeds(quick: bool, q: int, full: int) -> list[int]:
    return list(range(q if quick else full))


def _lams(quick: bool) -> np.ndarray:
    return LAMS_QUICK if quick else LAMS_FULL


def _last(quick: bool) -> int:
    return 5 if quick else LAST


@lru_cache(maxsize=4)
def _digits(seed: int):
    from kdtheory.numerics import nets

    return nets.digits_data(seed=seed, label_noise=LABEL_NOISE)


@lru_cache(maxsize=4)
def _optimum(seed: int):
    """(x*, f*) of the unregularised training CE by L-BFGS (the paper's "optimal" teacher)."""
    from kdtheory.numerics import nets

    data = _digits(seed)
    net = nets.Net(data.n_features, data.n_classes)
    xs = nets.fit_lbfgs(data, net, maxiter=5000, gtol=1e-10)
    return xs, float(nets.cross_entropy(net, xs, data.X_train, data.y_train)[0])


def _stats(curves: np.ndarray, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Min over epochs and mean over the last ``last`` epochs of curves (R, E)."""
    return curves.min(axis=1), curves[:, -min(last, curves.shape[1]):].mean(axis=1)


def _sgd_teacher(data, net, *, lr: float, epochs: int, seed: int) -> np.ndarray:
    from kdtheory.numerics import nets

    return nets.train(data, net, lr=lr, batch_size=BATCH, epochs=epochs, seed=10_000 + seed).params[0]


def _grid_sweep(data, net, lams, teachers, *, lr, epochs, seeds, record=("running",), density=None,
                **kw) -> list[dict]:
    """One vectorised run per seed over a grid of (setting, lambda); seed-averaged curves per setting.

    ``teachers`` (S, P), ``lr`` scalar or (S,), ``density`` None or (S,): setting s pairs teacher s with lr s
    and density s. Returns S dicts of arrays (len(lams), epochs) keyed by the recorded metrics.
    """
    from kdtheory.numerics import nets

    S, L = len(teachers), len(lams)
    expand = lambda v: np.repeat(np.broadcast_to(np.asarray(v, float), (S,)), L)  # noqa: E731
    kw = dict(kw)
    if density is not None:
        kw["density"] = expand(density)
    acc: list[dict] = [{} for _ in range(S)]
    for s in seeds:
        r = nets.train(data, net, lam=np.tile(lams, S), teacher=np.repeat(np.asarray(teachers), L, axis=0),
                       lr=expand(lr), batch_size=BATCH, epochs=epochs, seed=s, record=record, **kw)
        for key, val in (("running", r.running_loss), ("full", r.full_loss), ("full_avg", r.full_avg_loss),
                         ("val", r.val_loss)):
            if val is None:
                continue
            for i in range(S):
                acc[i][key] = acc[i].get(key, 0.0) + val[i * L:(i + 1) * L] / len(seeds)
    return acc


# ---------------------------------------------------------------------------------------------------
# Fig. 1: exact distillation gradient vs approximation (5) for a one-hidden-layer ReLU network

FIG1_LAMS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
FIG1_LR = 0.05


def fig1_data(*, quick: bool, seed: int = 0) -> dict:
    """Per-epoch cosine, l2 distance and SNR between grad of (4) and (5); student starts at the teacher."""
    from kdtheory.numerics import nets

    data = _digits(seed)
    net = nets.Net(data.n_features, data.n_classes, HIDDEN)
    teacher = nets.train(data, net, lr=FIG1_LR, batch_size=BATCH, epochs=_epochs(quick, 6, 30), seed=20_000 + seed,
                         weight_decay=WEIGHT_DECAY_FIG1).params[0]
    r = nets.train(data, net, lam=FIG1_LAMS, teacher=teacher, init=teacher, method="kd", lr=FIG1_LR,
                   batch_size=BATCH, epochs=_epochs(quick, 6, 40), seed=seed, weight_decay=WEIGHT_DECAY_FIG1,
                   record=("running", "alignment"))
    return {"lams": FIG1_LAMS, "cosine": r.cosine, "distance": r.distance, "snr": r.snr}


def _panels_with_legend_row(ncols: int, *, height: float, legend_rows: int, width: float | None = None, **kw):
    """One row of panels and, under it, a row that holds only the figure's legend (so that the legend, the
    suptitle and the caption each get their own room under constrained layout). Returns (fig, panels, legend_ax)."""
    fig, axes = style.subplots(2, ncols, height=height, width=width,
                               gridspec_kw={"height_ratios": [1.0, 0.075 * legend_rows + 0.02]}, **kw)
    gs = axes[0, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    legend_ax = fig.add_subplot(gs[1, :])
    legend_ax.axis("off")
    return fig, list(axes[0]), legend_ax


def _lam_colors(lams):
    import matplotlib.pyplot as plt

    return plt.cm.viridis(np.linspace(0.0, 0.9, len(lams)))


@figure("kd.fig1", title="analogue of Fig. 1 (digits 4x4, 1-hidden-layer ReLU net, 32 units; paper: "
                         "MNIST, 1-hidden-layer ReLU net): exact KD gradient vs approximation (5)")
def fig1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig1_data(quick=quick, seed=seed)
    fig, axes = style.subplots(1, 3, height=2.6)
    epochs = np.arange(1, d["cosine"].shape[1] + 1)
    labels = ("cosine similarity", r"$\ell_2$ distance $\|g-\hat g\|$",
              r"relative error $\|g-\hat g\|/\|g\|$")
    for ax, key, label in zip(axes[0], ("cosine", "distance", "snr"), labels):
        for lam, c, y in zip(d["lams"], _lam_colors(d["lams"]), d[key]):
            ax.plot(epochs, y, color=c, marker="o", ms=2.5, label=rf"$\lambda={lam:g}$")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", fontsize=6.5)
    style.title(fig, "Analogue of Fig. 1 (digits 4x4, one-hidden-layer ReLU net with 32 units; paper: MNIST, "
                     "one-hidden-layer ReLU net): exact gradient g of the distillation loss (4) vs its approximation "
                     "\u011d of (5)")
    style.caption(fig, f"Student started at the teacher (SGD, lr {FIG1_LR}, weight decay {WEIGHT_DECAY_FIG1:g}); "
                       "epoch means over minibatches, one seed. Right: the relative error of (5), "
                       "||g - \u011d|| / ||g|| (not a signal-to-noise ratio).")
    return style.save(fig, out, "kd_fig1", pdf=pdf)


def _lambda_sweep_setup(quick: bool, seed: int):
    """Shared set-up of the lambda sweeps (Figs. 2, 5, 6): data, softmax-regression net, optimum
    (x*, f*), epochs, student seeds, the lambda grid and the number of final epochs averaged."""
    from kdtheory.numerics import nets

    data = _digits(seed)
    net = nets.Net(data.n_features, data.n_classes)
    xs, fstar = _optimum(seed)
    seeds = [seed * 100 + s for s in _seeds(quick, 1, 3)]
    return data, net, xs, fstar, _epochs(quick, 10, 100), seeds, _lams(quick), _last(quick)


# ---------------------------------------------------------------------------------------------------
# Fig. 2 and Fig. 4: training and validation loss vs lambda, SGD and L-BFGS teachers


@lru_cache(maxsize=4)
def fig2_data(*, quick: bool, seed: int = 0) -> dict:
    """Seed-averaged min / last-10 losses vs lambda for an SGD teacher and an L-BFGS teacher.

    Three training-loss measurements: the paper's running average of minibatch losses over each epoch,
    the full-batch loss averaged over 4 iterates of each epoch (2 in quick mode), and the full-batch loss at each epoch end;
    plus the validation loss (Fig. 4).
    """
    from kdtheory.numerics import nets

    data, net, xs, fstar, epochs, seeds, lams, last = _lambda_sweep_setup(quick, seed)
    teachers = {"SGD teacher": _sgd_teacher(data, net, lr=LR, epochs=epochs, seed=seed), "L-BFGS teacher": xs}
    sweeps = _grid_sweep(data, net, lams, list(teachers.values()), lr=LR, epochs=epochs, seeds=seeds,
                         record=("running", "full", "full_avg", "val"), variance_points=2 if quick else 4)
    res = {"lams": lams, "fstar": fstar, "epochs": epochs, "n_seeds": len(seeds), "last": last, "panels": {}}
    for (name, th), sweep in zip(teachers.items(), sweeps):
        gap = float(nets.cross_entropy(net, th, data.X_train, data.y_train)[0]) - fstar
        res["panels"][name] = {"gap": gap, **{k: _stats(v, last) for k, v in sweep.items()}}
    return res


@figure("kd.fig2", title="analogue of Fig. 2 (digits 4x4 + 10% label noise, softmax regression; paper: "
                         "MNIST linear model; CIFAR-10 ResNet50 features): training loss vs lambda")
def fig2(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig2_data(quick=quick, seed=seed)
    fig, panels, lax = _panels_with_legend_row(2, height=3.6, legend_rows=3)
    axes = np.array([panels])
    styles = (("running", "running minibatch loss (the paper's metric)", "C0"),
              ("full_avg", "full-batch loss, mean over the epoch", "C1"),
              ("full", "full-batch loss at the epoch's end", "C2"))
    for ax, (name, p) in zip(axes[0], d["panels"].items()):
        for key, label, c in styles:
            mn, last = p[key]
            ax.plot(d["lams"], last - d["fstar"], color=c, marker="o", ms=2.5)
            ax.plot(d["lams"], mn - d["fstar"], color=c, ls="--", lw=0.9)
        ax.axhline(0.0, color="grey", lw=0.6, ls=":")
        ax.set_xlabel(r"distillation weight $\lambda$ ($\lambda=0$: SGD)")
        ax.set_title(f"{name}, $f(\\theta)-f^*$ = {p['gap']:.2g}")
    axes[0, 0].set_ylabel(r"training loss $-\ f^*$")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=label) for _, label, c in styles]
    handles += [Line2D([], [], color="k", marker="o", ms=2.5, label=f"solid with dots: mean of the last {d['last']} epochs"),
                Line2D([], [], color="k", ls="--", lw=0.9, label="dashed: minimum over the epochs"),
                Line2D([], [], color="grey", ls=":", lw=0.6, label="dotted: $f^*$ (L-BFGS)")]
    lax.legend(handles=handles, loc="center", ncol=2, fontsize=6.5, frameon=False)
    style.title(fig, f"Analogue of Fig. 2 ({DATA_TAG}; paper: MNIST linear model; CIFAR-10 ResNet50 features): "
                     "training loss vs the distillation weight")
    style.caption(fig, f"lr {LR}, batch {BATCH}, {d['epochs']} epochs, {d['n_seeds']} seed(s); f* = {d['fstar']:.4f}. "
                       "Colour: how the training loss is measured; line style: which summary of the epochs.")
    return style.save(fig, out, "kd_fig2", pdf=pdf)


@figure("kd.fig4", title="analogue of Fig. 4 (digits 4x4 + 10% training-label noise, softmax regression, clean "
                         "validation labels; paper: MNIST linear model): validation loss vs lambda")
def fig4(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig2_data(quick=quick, seed=seed)
    fig, (ax,), lax = _panels_with_legend_row(1, height=3.4, legend_rows=2)
    for (name, p), c in zip(d["panels"].items(), ("C0", "C3")):
        mn, last = p["val"]
        ax.plot(d["lams"], last, color=c, marker="o", ms=2.5, label=f"{name}: last {d['last']} epochs")
        ax.plot(d["lams"], mn, color=c, ls="--", lw=0.9, label=f"{name}: min over epochs")
    ax.set_xlabel(r"distillation weight $\lambda$ ($\lambda=0$: SGD)")
    ax.set_ylabel("validation cross-entropy")
    lax.legend(*ax.get_legend_handles_labels(), loc="center", ncol=2, fontsize=6, frameon=False)
    style.title(fig, "Analogue of Fig. 4 (digits 4x4, 10% training-label noise, softmax regression; paper: "
                     "MNIST linear model): validation loss vs lambda")
    style.caption(fig, f"Clean validation labels; lr {LR}, batch {BATCH}, {d['epochs']} epochs, {d['n_seeds']} seed(s).")
    return style.save(fig, out, "kd_fig4", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Fig. 3: SGD vs distillation (7) vs unbiased distillation (16): loss and gradient variance per epoch

FIG3_LAM = 0.4  # the paper's choice


def fig3_data(*, quick: bool, seed: int = 0) -> dict:
    from kdtheory.numerics import nets

    data = _digits(seed)
    net = nets.Net(data.n_features, data.n_classes)
    _, fstar = _optimum(seed)
    epochs = _epochs(quick, 10, 100)
    n_seeds = 2 if quick else 3
    teacher = _sgd_teacher(data, net, lr=LR, epochs=epochs, seed=seed)
    runs = {"SGD": (0.0, "linearized"), rf"KD (7), $\lambda$={FIG3_LAM}": (FIG3_LAM, "linearized"),
            rf"unbiased KD (16), $\lambda$={FIG3_LAM}": (FIG3_LAM, "unbiased"),
            r"unbiased KD (16), $\lambda$=1": (1.0, "unbiased")}
    res = {"fstar": fstar, "epochs": epochs, "n_seeds": n_seeds, "runs": {},
           "teacher_gap": float(nets.cross_entropy(net, teacher, data.X_train, data.y_train)[0]) - fstar}
    for name, (lam, method) in runs.items():
        r = nets.train(data, net, lam=lam, teacher=teacher, method=method, lr=LR, batch_size=BATCH, epochs=epochs,
                       seed=seed * 100 + 7, replicas=n_seeds, common_batches=False,
                       record=("running", "full_avg", "variance"), variance_points=2 if quick else 4)
        res["runs"][name] = {"running": r.running_loss.mean(0), "full_avg": r.full_avg_loss.mean(0),
                             "variance": r.variance.mean(0)}
    return res


@figure("kd.fig3", title="analogue of Fig. 3 (digits 4x4 + 10% label noise, softmax regression; paper: "
                         "CIFAR-10 ResNet50 features, linear model): SGD vs KD (7) vs unbiased KD (16)")
def fig3(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig3_data(quick=quick, seed=seed)
    fig, panels, lax = _panels_with_legend_row(2, height=3.1, legend_rows=2)
    axes = np.array([panels])
    for (name, r), c in zip(d["runs"].items(), ("k", "C0", "C3", "C1")):
        ep = np.arange(1, r["running"].size + 1)
        axes[0, 0].plot(ep, r["running"] - d["fstar"], color=c, label=name)
        axes[0, 0].plot(ep, r["full_avg"] - d["fstar"], color=c, ls=":", lw=0.9)
        axes[0, 1].plot(ep, r["variance"], color=c, label=name)
    sgd = d["runs"]["SGD"]["running"] - d["fstar"]
    axes[0, 0].set_ylim(-0.1 * sgd[2:].max(), 1.6 * sgd[2:].max())  # epoch 1 is off scale
    axes[0, 0].axhline(0.0, color="grey", lw=0.6)
    axes[0, 0].set_ylabel(r"train loss $-\ f^*$")
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_ylabel(r"direction variance $\frac{1}{n}\sum_i\|g_i-\bar g\|^2$", fontsize=7)
    for ax in axes[0]:
        ax.set_xlabel("epoch")
    handles, names = axes[0, 1].get_legend_handles_labels()
    lax.legend(handles, names, loc="center", ncol=2, fontsize=6.5, frameon=False)
    style.title(fig, f"Analogue of Fig. 3 ({DATA_TAG}; paper: CIFAR-10 ResNet50 features, linear model): "
                     "SGD vs KD (7) vs unbiased KD (16)")
    style.caption(fig, f"SGD teacher, f(\u03b8) - f* = {d['teacher_gap']:.2g}; lr {LR}, batch {BATCH}; mean of "
                       f"{d['n_seeds']} seeds. Left: solid = running minibatch loss, dotted = full-batch loss "
                       "(epoch 1 is off scale).")
    return style.save(fig, out, "kd_fig3", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Fig. 5: step size and teacher quality

FIG5_LRS = (0.05, 0.2, 0.5)
FIG5_BETTER_LBFGS_ITERS = 8  # partly trained L-BFGS teacher: better than the SGD teachers, not optimal


def fig5_data(*, quick: bool, seed: int = 0) -> dict:
    from kdtheory.numerics import nets

    data, net, _, fstar, epochs, seeds, lams, last = _lambda_sweep_setup(quick, seed)
    better = nets.fit_lbfgs(data, net, maxiter=FIG5_BETTER_LBFGS_ITERS)
    gap = lambda th: float(nets.cross_entropy(net, th, data.X_train, data.y_train)[0]) - fstar  # noqa: E731
    own = [_sgd_teacher(data, net, lr=lr, epochs=epochs, seed=seed) for lr in FIG5_LRS]
    settings = [("a", lr, th) for lr, th in zip(FIG5_LRS, own)] + [("b", lr, better) for lr in FIG5_LRS]
    sweeps = _grid_sweep(data, net, lams, [t for _, _, t in settings], lr=[lr for _, lr, _ in settings],
                         epochs=epochs, seeds=seeds)
    res = {"lams": lams, "fstar": fstar, "epochs": epochs, "n_seeds": len(seeds), "last": last,
           "better_gap": gap(better), "a": {}, "b": {}}
    for (panel, lr, th), sweep in zip(settings, sweeps):
        res[panel][lr] = {"gap": gap(th), "last": _stats(sweep["running"], last)[1]}
    return res


@figure("kd.fig5", title="analogue of Fig. 5 (digits 4x4 + 10% label noise, softmax regression; paper: "
                         "MNIST linear model): effect of the step size and of a better teacher")
def fig5(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig5_data(quick=quick, seed=seed)
    fig, axes = style.subplots(1, 2, height=2.6, sharey=True)
    colors = dict(zip(FIG5_LRS, ("C0", "C1", "C3")))
    for ax, panel in zip(axes[0], ("a", "b")):
        for lr, r in d[panel].items():
            ax.plot(d["lams"], r["last"] - d["fstar"], color=colors[lr], marker="o", ms=2.5,
                    label=f"lr {lr:g}" + (f", teacher gap {r['gap']:.2g}" if panel == "a" else ""))
            i = int(np.argmin(r["last"]))
            ax.plot(d["lams"][i], r["last"][i] - d["fstar"], "k*", ms=6)
        ax.set_yscale("log")
        ax.set_xlabel(r"distillation weight $\lambda$")
        ax.legend(fontsize=6)
    axes[0, 0].set_ylabel(rf"train loss $-\ f^*$ (running, last {d['last']} epochs)", fontsize=7)
    axes[0, 0].set_title("(a) teacher: SGD with the same step size")
    axes[0, 1].set_title(f"(b) better teacher (L-BFGS, {FIG5_BETTER_LBFGS_ITERS} it.), gap {d['better_gap']:.2g}")
    style.title(fig, f"Analogue of Fig. 5 ({DATA_TAG}; paper: MNIST linear model): effect of the step size "
                     "and of a better teacher")
    style.caption(fig, f"{d['epochs']} epochs, {d['n_seeds']} seed(s), batch {BATCH}; stars: the best lambda of each "
                       "curve; teacher gap = f(theta) - f*.")
    return style.save(fig, out, "kd_fig5", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Fig. 6: compressed (masked) students

FIG6_DENSITIES = (1.0, 0.75, 0.5, 0.25)


def fig6_data(*, quick: bool, seed: int = 0) -> dict:
    from kdtheory.numerics import nets

    data, net, _, fstar, epochs, seeds, lams, last = _lambda_sweep_setup(quick, seed)
    better = nets.fit_lbfgs(data, net, maxiter=FIG5_BETTER_LBFGS_ITERS)
    sweeps = _grid_sweep(data, net, lams, [better] * len(FIG6_DENSITIES), lr=LR, epochs=epochs, seeds=seeds,
                         density=FIG6_DENSITIES, compressor="fixed_mask")
    res = {"lams": lams, "fstar": fstar, "epochs": epochs, "n_seeds": len(seeds), "last": last, "curves": {}}
    for rho, sweep in zip(FIG6_DENSITIES, sweeps):
        res["curves"][rho] = _stats(sweep["running"], last)[1]
    return res


@figure("kd.fig6", title="analogue of Fig. 6 (digits 4x4 + 10% label noise, softmax regression, fixed random "
                         "mask; paper: MNIST linear model): compressed students, train loss vs lambda")
def fig6(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig6_data(quick=quick, seed=seed)
    fig, panels, lax = _panels_with_legend_row(2, height=3.1, legend_rows=2)
    axes = np.array([panels])
    colors = dict(zip(FIG6_DENSITIES, ("k", "C0", "C1", "C3")))
    for rho, last in d["curves"].items():
        lab = f"sparsity {1 - rho:.0%}"
        axes[0, 0].plot(d["lams"], last, color=colors[rho], marker="o", ms=2.5, label=lab)
        axes[0, 1].plot(d["lams"], last / last[0], color=colors[rho], marker="o", ms=2.5, label=lab)
    axes[0, 0].set_ylabel(f"train loss (running, last {d['last']} epochs)")
    axes[0, 1].set_ylabel(r"relative to SGD ($\lambda=0$)")
    for ax in axes[0]:
        ax.set_xlabel(r"distillation weight $\lambda$")
    axes[0, 0].axhline(d["fstar"], color="grey", ls=":", lw=0.8, label=r"$f^*$ of the dense model (left panel)")
    h, lab = axes[0, 0].get_legend_handles_labels()
    lax.legend(h, lab, loc="center", ncol=3, fontsize=6.5, frameon=False)
    style.title(fig, f"Analogue of Fig. 6 ({DATA_TAG}, random mask fixed at initialisation; paper: MNIST linear "
                     "model): compressed students, train loss vs lambda")
    style.caption(fig, f"Dense L-BFGS teacher ({FIG5_BETTER_LBFGS_ITERS} iterations); lr {LR}, batch {BATCH}, "
                       f"{d['epochs']} epochs, {d['n_seeds']} seed(s). Right: the same curves divided by their value "
                       "at lambda = 0 (SGD).")
    return style.save(fig, out, "kd_fig6", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# exact_plateau (not in the paper): exact stationary E f - f* of SGD with self-distillation (7)


def least_squares_instance(*, n: int = 20, d: int = 4, noise: float = 1.0, seed: int = 0) -> tuple:
    """Seeded least squares f(x) = (1/n) sum_i (a_i^T x - b_i)^2 / 2 with uneven feature scales: (A, b)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * np.linspace(1.0, 0.4, d)
    b = A @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    return A, b


EXACT_GAPS_REL = (3.0, 1.0, 0.3, 0.1, 0.03, 0.01)  # teacher gap f(theta) - f* in units of gamma sigma*^2


def exact_plateau_data(*, quick: bool, seed: int = 0) -> dict:
    """Exact stationary E f - f* of (7) over a lambda grid (moment engine of numerics.kd, no sampling).

    Teachers theta = x* + r v along one seeded direction v, r set so that f(theta) - f* is a multiple of
    gamma sigma*^2 (the scale of plain SGD's plateau); gamma = 1/(8 cal_L) (Theorem 1's largest step with
    the best expected-smoothness constant). lambda* is Eq. (14) (c = 1) and, for comparison, the minimiser
    of N(lambda) with the c = L that the proof of Theorem 2 uses.
    """
    from kdtheory.numerics.kd import affine_chain, stationary_moments
    from kdtheory.theory.kd import lambda_star, least_squares_constants, step_theorem1, teacher_moments

    A, b = least_squares_instance(seed=seed)
    consts = least_squares_constants(A, b)
    gamma = step_theorem1(consts.cal_L)
    xs, H = consts.x_star, consts.H
    v = np.random.default_rng(seed + 1).standard_normal(A.shape[1])
    lams = np.linspace(0.0, 1.0, 41 if quick else 201)
    excess = lambda th, lam: stationary_moments(affine_chain(A, b, th, lam, gamma))["gap"]  # noqa: E731
    res = {"lams": lams, "gamma": gamma, "sigma2": consts.sigma_star_sq, "cal_L": consts.cal_L, "teachers": []}
    for rel in EXACT_GAPS_REL:
        gap = rel * gamma * consts.sigma_star_sq
        theta = xs + v * np.sqrt(2 * gap / (v @ H @ v))
        ex = np.array([excess(theta, lam) for lam in lams])
        m = teacher_moments(A, b, theta, consts)
        ls14 = lambda_star(m, c=1.0, gamma=gamma)
        lsL = lambda_star(m, c=consts.L, gamma=gamma)
        res["teachers"].append({"gap": gap, "rel": rel, "excess": ex, "sgd": ex[0],
                                "lambda_star": ls14, "excess_at_lambda_star": excess(theta, ls14),
                                "lambda_star_cL": lsL, "excess_at_lambda_star_cL": excess(theta, lsL),
                                "lambda_best": float(lams[np.argmin(ex)])})
    return res


@figure("kd.exact_plateau", title="not in the paper: exact stationary E f - f* of SGD with self-distillation (7) "
                                  "on least squares vs lambda, teachers of increasing quality, lambda* of Eq. (14)")
def exact_plateau(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    import matplotlib.pyplot as plt

    d = exact_plateau_data(quick=quick, seed=seed)
    fig, (ax,), lax = _panels_with_legend_row(1, height=4.4, legend_rows=5)
    colors = plt.cm.plasma(np.linspace(0.0, 0.85, len(d["teachers"])))
    for t, c in zip(d["teachers"], colors):
        ax.plot(d["lams"], t["excess"], color=c, label=rf"$f(\theta)-f^*={t['rel']:g}\,\gamma\sigma_*^2$")
        ax.plot(t["lambda_star"], t["excess_at_lambda_star"], "o", color=c, mec="k", mew=0.5, ms=4)
        ax.plot(t["lambda_star_cL"], t["excess_at_lambda_star_cL"], "s", color=c, mec="k", mew=0.5, ms=3)
        ax.plot(t["lambda_best"], t["excess"].min(), "x", color="k", ms=3.5, mew=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(r"distillation weight $\lambda$")
    ax.set_ylabel(r"stationary $\mathrm{E}\,f(x)-f^*$ (exact)")
    from matplotlib.lines import Line2D

    handles, names = ax.get_legend_handles_labels()
    handles += [Line2D([], [], ls="", marker="o", color="w", mec="k", ms=4, label=r"$\lambda_*$ of Eq. (14)"),
                Line2D([], [], ls="", marker="s", color="w", mec="k", ms=3, label=r"same with $c = L$ (Thm. 2 proof)"),
                Line2D([], [], ls="", marker="x", color="k", ms=3.5, label=r"exact best $\lambda$")]
    lax.legend(handles=handles, loc="center", ncol=2, fontsize=6, frameon=False)
    style.title(fig, "Not in the paper: exact stationary E f - f* of SGD with self-distillation (7) on least squares "
                     "(n = 20, d = 4) vs lambda, for teachers of increasing quality", fontsize=7)
    style.caption(fig, "Step 1/(8 cal_L) (Theorem 1's limit); exact moment engine, no sampling.")
    return style.save(fig, out, "kd_exact_plateau", pdf=pdf)
