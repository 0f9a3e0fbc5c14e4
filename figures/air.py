"""Figures of [air] (Distillation ~ Early Stopping? Anisotropic Information Retrieval).

The paper's experiments use CIFAR-10/100 and Fashion-MNIST with WRN-28, ResNet56 and shake-shake networks.
The analogues here use scikit-learn's bundled digits as a binary task (0-4 against 5-9, 4x4 pooled, unit-norm
rows, symmetric label noise) and two-layer tanh networks ``v^T tanh(W x)`` with the fixed output layer of
Sec. 3.3, trained by full-batch gradient descent (no momentum, no weight decay, no augmentation), and the
exact infinite-width kernel dynamics on (eps, rho)-clusterable data.  Algorithm 1 uses the label function
``h`` of Theorem 1 with ``rho`` equal to the noise level and the weight ``a_t = 1`` for the first 10 % of the
steps, then linear to 0 at 30 % (the paper's accuracy-driven weight leaves [0, 1], see ``air.sec34_schedule``).

* ``air.fig1``: students distilled from snapshots of a wide teacher against the teacher's training time;
* ``air.fig2``: share of the label energy in the top-5 NTK eigenspace against the noise level, exact formula
  beside Monte Carlo;
* ``air.fig4``: test accuracy per step, plain GD against Algorithm 1, 40 % noise;
* ``air.fig5``: information gain of Algorithm 1's labels per step;
* ``air.table1``: test accuracy against noise for plain GD, early-stopped GD and Algorithm 1 (Markdown);
* ``air.spectrum`` (not in the paper): exact per-eigendirection residuals of the kernel dynamics, clean
  signal against label noise.

Every number comes from ``kdtheory.numerics.air`` and ``kdtheory.theory.air``; this module only arranges and draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import kdtheory.theory.air as ta
from kdtheory.figures import style
from kdtheory.figures._core import figure
from kdtheory.numerics import air as na

NOISES = (0.0, 0.2, 0.4)
SETUP = "binary digits (4x4 pooled, n = 150), 2-layer tanh net of width 128, full-batch GD"
_RUNS: dict = {}


def _steps(quick: bool) -> int:
    return 900 if quick else 1500


def _runs(noise: float, seed: int, quick: bool) -> dict:
    """Plain GD and Algorithm 1 on noisy digits (cached per process: fig4, fig5 and table1 share them)."""
    key = (noise, seed, quick)
    if key not in _RUNS:
        _RUNS[key] = na.digits_noisy_runs(noise, seed=seed, width=128, steps=_steps(quick), n_train=150,
                                          record_every=30 if quick else 50)
    return _RUNS[key]


@figure("air.fig1", title="analogue of Fig. 1 (binary digits, 30% noise, teacher width 512, student width 8; "
        "paper: CIFAR-100, WRN-28 teacher, 5-layer CNN student)")
def fig1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    seeds = [seed] if quick else [seed + i for i in range(3)]
    runs = [na.teacher_student(0.3, seed=s, teacher_width=512, student_width=8, teacher_steps=600 if quick else 2000,
                               snapshots=7 if quick else 10, student_steps=300, n_train=200) for s in seeds]
    t = runs[0]["times"]
    fig, ax = style.subplots(1, 1, height=2.6)
    a = ax[0, 0]
    for key, label, c in (("teacher_test_accuracy", "teacher", "C0"), ("student_test_accuracy", "student (distilled)", "C1")):
        vals = np.array([r[key] for r in runs])
        a.plot(t, vals.mean(axis=0), "o-", color=c, label=label, ms=3)
        if len(runs) > 1:
            a.fill_between(t, vals.min(axis=0), vals.max(axis=0), color=c, alpha=0.2)
    a.set_xscale("log")
    a.set(xlabel="teacher training steps (snapshot)", ylabel="test accuracy (clean labels)")
    a.legend(loc="lower right")
    style.title(fig, "air.fig1 - analogue of Fig. 1: students distilled from a teacher stopped at different times")
    style.caption(fig, f"binary digits, 30% label noise; teacher 512 tanh units, student 8 units fitted by MSE to the "
                       f"teacher's training outputs; seeds {seeds}" + ("" if quick else " (band: min-max)"))
    return style.save(fig, out, "air_fig1", pdf=pdf)


@figure("air.fig2", title="analogue of Fig. 2 (binary digits and clusterable data, tanh NTK): share of the label "
        "energy in the top-5 eigenspace against the noise level, exact beside Monte Carlo")
def fig2(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    D = na.digits_binary(n_train=120 if quick else 300, noise=0.0, seed=seed, pool=2)
    c = na.clusterable_data(60, 4, 6, 0.05, 0.0, seed=seed)
    sets = [("digits (tanh NTK)", ta.ntk_gram(D["X_train"], "tanh"), D["y_train_clean"], "C0"),
            ("clusterable, K = 4 (tanh NTK)", ta.ntk_gram(c.X, "tanh"), c.y_clean, "C1")]
    ps = np.linspace(0, 0.5, 11)
    draws = 300 if quick else 2000
    fig, ax = style.subplots(1, 1, height=3.6)
    a = ax[0, 0]
    for name, G, yc, col in sets:
        exact = [ta.expected_top_energy(G, yc, p) for p in ps]
        a.plot(ps, exact, "-", color=col, label=f"{name}: exact")
        for j, p in enumerate(ps[::2]):
            smp = na.top_energy_monte_carlo(G, yc, p, draws=draws, seed=seed + j)
            se = smp.std(ddof=1) / np.sqrt(draws)
            a.errorbar([p], [smp.mean()], yerr=[4 * se], fmt="o", color=col, ms=3,
                       label=f"{name}: Monte Carlo (mean, 4 s.e.)" if j == 0 else None)
    a.set(xlabel="label noise level p", ylabel=r"$E\,\|P_5 y\|^2 / \|y\|^2$")
    a.legend(fontsize=5.5, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=1)
    style.title(fig, "air.fig2 - analogue of Fig. 2: label energy in the top-5 NTK eigenspace decreases with the noise")
    style.caption(fig, f"exact: ((1-2p)^2 ||P5 y~||^2 + 4p(1-p) 5)/n; Monte Carlo over {draws} label draws per level; "
                       f"the paper plots a ResNet56 NTK on a CIFAR-10 batch of 128; seed {seed}")
    return style.save(fig, out, "air_fig2", pdf=pdf)


@figure("air.fig4", title="analogue of Fig. 4 (binary digits, 40% noise, 2-layer tanh net; paper: CIFAR-10, "
        "shake-shake): test accuracy per step, plain GD against Algorithm 1")
def fig4(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    seeds = [seed] if quick else [seed + i for i in range(3)]
    runs = [_runs(0.4, s, quick) for s in seeds]
    steps = runs[0]["steps"]
    fig, ax = style.subplots(1, 1, height=2.6)
    a = ax[0, 0]
    for key, label, c in (("gd", "plain GD", "C0"), ("self_distillation", "self-distillation (Alg. 1)", "C3")):
        vals = np.array([r[key]["test_accuracy"] for r in runs])
        a.plot(steps, vals.mean(axis=0), color=c, label=label)
        if len(runs) > 1:
            a.fill_between(steps, vals.mean(axis=0) - vals.std(axis=0), vals.mean(axis=0) + vals.std(axis=0),
                           color=c, alpha=0.2)
    a.set(xlabel="gradient step", ylabel="test accuracy (clean labels)")
    a.legend(loc="lower right")
    style.title(fig, "air.fig4 - analogue of Fig. 4: training with 40% label noise")
    style.caption(fig, f"{SETUP}; Alg. 1 weight a_t = 1 then linear to 0 between 10% and 30% of the steps, h with "
                       f"rho = 0.4; seeds {seeds}" + ("" if quick else " (band: +- 1 std)"))
    return style.save(fig, out, "air_fig4", pdf=pdf)


@figure("air.fig5", title="analogue of Fig. 5 (binary digits, 40% noise): information gain of Algorithm 1's labels "
        "(top-5 NTK energy share minus that of the noisy labels) per step")
def fig5(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    r = _runs(0.4, seed, quick)
    G = ta.ntk_gram(r["X_train"], "tanh")
    V = np.linalg.eigh(G)[1][:, -5:]
    share = lambda z: float(np.sum((V.T @ z) ** 2) / np.sum(z ** 2))
    base = share(r["y_train"])
    gain = [share(z) - base for z in r["self_distillation"]["labels"]]
    fig, ax = style.subplots(1, 1, height=2.4)
    a = ax[0, 0]
    a.plot(r["steps"], gain, color="C3", label="self-distillation labels")
    a.axhline(0.0, color="0.4", lw=0.8, ls=":")
    a.axhline(share(r["y_train_clean"]) - base, color="C2", lw=1.0, ls="--", label="clean labels (for reference)")
    a.set(xlabel="gradient step", ylabel="information gain (top-5 share)")
    a.legend(loc="lower right")
    style.title(fig, "air.fig5 - analogue of Fig. 5: self-distillation gains information")
    style.caption(fig, f"share of ||P5 y_t||^2/||y_t||^2 of the labels Algorithm 1 trains on, minus that of the noisy "
                       f"labels; tanh NTK of the {r['y_train'].size} training inputs; {SETUP}; seed {seed}")
    return style.save(fig, out, "air_fig5", pdf=pdf)


@figure("air.table1", title="analogue of Table 1 (binary digits, 2-layer tanh net): test accuracy against noise for "
        "plain GD, early-stopped GD and Algorithm 1 (Markdown)")
def table1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    seeds = [seed, seed + 1] if quick else [seed + i for i in range(5)]
    lines = ["Analogue of Table 1 (CIFAR-10 / Fashion-MNIST in the paper): " + SETUP + ", " + str(_steps(quick)) +
             " steps; test accuracy on clean labels, mean +- std over seeds " + str(seeds) + ". Early stopping picks the "
             "step with the best accuracy on a held-out split with noisy labels.", "",
             "| noise | plain GD (final) | GD, early-stopped | Algorithm 1 (final) |", "|---|---|---|---|"]
    for p in NOISES:
        gd, es, sd = [], [], []
        for s in seeds:
            r = _runs(p, s, quick)
            gd.append(r["gd"]["test_accuracy"][-1])
            es.append(r["gd"]["test_accuracy"][int(np.argmax(r["gd"]["val_accuracy"]))])
            sd.append(r["self_distillation"]["test_accuracy"][-1])
        cell = lambda v: f"{100 * np.mean(v):.1f} +- {100 * np.std(v):.1f}"
        lines.append(f"| {p:.1f} | {cell(gd)} | {cell(es)} | {cell(sd)} |")
    return style.save_table("\n".join(lines), out, "air_table1")


@figure("air.spectrum", title="exact kernel dynamics (not in the paper): per-eigendirection residuals and how fast "
        "the clean signal and the label noise are fitted")
def spectrum(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    c = na.clusterable_data(40, 4, 6, 0.1, 0.3, seed=seed)
    H = ta.ntk_gram(c.X, "tanh")
    eta = ta.theorem1_step_size(1.0, c.n)
    t = np.unique(np.round(np.logspace(0, 7, 120 if quick else 300))).astype(int)
    zero = np.zeros(c.n)
    clean = na.kernel_gd_exact(H, c.y_clean, zero, t, eta=eta)
    noise = na.kernel_gd_exact(H, c.y_noisy - c.y_clean, zero, t, eta=eta)
    lam = clean["eigenvalues"]
    fig, ax = style.subplots(1, 2, height=2.6)
    a, b = ax[0]
    cmap = __import__("matplotlib").colormaps["viridis"]
    lo, hi = np.log10(max(lam.min(), 1e-16)), np.log10(lam.max())
    for i, l in enumerate(lam):
        col = cmap((np.log10(max(l, 1e-16)) - lo) / max(hi - lo, 1e-12))
        a.plot(t, np.abs(ta.residual_factors(np.array([l]), 1, eta=eta)[0]) ** t, color=col, lw=0.8)
    a.set(xscale="log", yscale="log", ylim=(1e-6, 2), xlabel="gradient step t",
          ylabel=r"$|1-\eta\lambda_i|^t$", title="(a) residual factor per eigendirection")
    sm = __import__("matplotlib").cm.ScalarMappable(cmap=cmap, norm=__import__("matplotlib").colors.Normalize(lo, hi))
    fig.colorbar(sm, ax=a, label=r"$\log_{10}\lambda_i$")
    fit_clean = np.linalg.norm(clean["outputs"], axis=1) / np.linalg.norm(c.y_clean)
    w = c.y_noisy - c.y_clean
    fit_noise = np.linalg.norm(noise["outputs"], axis=1) / np.linalg.norm(w)
    b.plot(t, fit_clean, color="C2", label=r"clean labels: $\|u_t\|/\|\tilde y\|$")
    b.plot(t, fit_noise, color="C3", label=r"label noise: $\|u_t\|/\|y-\tilde y\|$")
    b.axhline(ta.noise_top_fraction(c.assignment, c.y_noisy, c.y_clean) ** 0.5, color="C3", ls=":", lw=0.8,
              label="noise share on S+ (sqrt)")
    b.set(xscale="log", xlabel="gradient step t", ylabel="fraction fitted", title="(b) signal first, noise later")
    b.legend(fontsize=5.5, loc="lower right")
    style.title(fig, "air.spectrum - not in the paper: exact kernel dynamics u_{t+1} = u_t - eta Sigma(X)(u_t - y) "
                     "on clusterable data")
    style.caption(fig, f"(eps, rho) = (0.1, 0.3) clusterable data, n = 40, K = 4, tanh NTK, eta = 1/(2n), u_0 = 0; the "
                       f"noise part projected on the cluster subspace is fitted with the signal, the rest only after "
                       f"~1/(eta lambda) steps for the small eigenvalues; seed {seed}")
    return style.save(fig, out, "air_spectrum", pdf=pdf)
