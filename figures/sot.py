"""Figures of [sot] (SoTeacher: student-oriented teacher network training).

All are small analogues of the paper's CIFAR-100 / Tiny-ImageNet experiments: a two-layer ReLU
teacher (``kdtheory.numerics.sot.train_teacher``) on synthetic data with a known true label
distribution ``p*`` (so the teacher's distance to ``p*`` on its training inputs can be measured) or
on scikit-learn's digits, with and without the Lipschitz and consistency penalties, and a small
student distilled from it on the teacher's training inputs (``distill_student``).

* ``sot.fig1``: teacher and student accuracy over teacher checkpoints, Standard vs SoTeacher, and the
  teacher's distance to ``p*`` on the training inputs (analogue of Fig. 1);
* ``sot.fig2``: sweeps of ``lambda_LR``, ``lambda_CR^max`` and the schedule (analogue of Fig. 2);
* ``sot.table3``: ECE and NLL before and after temperature scaling (analogue of Table 3, Markdown);
* ``sot.table4``: student-teacher top-1 agreement (analogue of Table 4, Markdown);
* ``sot.bound_vs_n`` (not in the paper): the corrected Theorem 3.6 bound and the measured error
  against N, from the exact Monte Carlo engine.

Every number comes from a ``*_data`` function (tested in tests/test_sot.py through the registry).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kdtheory.figures import style
from kdtheory.figures._core import figure

# choices the paper leaves open or that scale the experiment down (stated in the captions)
SYN = dict(n_train=300, n_test=2000, n_cal=1000, n_features=8, n_classes=4, sharpness=2.0)
TEACHER = dict(hidden=128, lr=0.05, augment="jitter", augment_strength=0.3, lr_milestones=(0.5, 0.75))
SOTEACHER = dict(lambda_lr=3e-3, lambda_cr=3.0, schedule="linear")
STUDENT = dict(hidden=8, epochs=60, temperature=4.0, alpha=0.5)
DIGITS_TEACHER = dict(hidden=64, lr=0.05, augment="shift", augment_strength=1.0, lr_milestones=(0.5, 0.75))
DIGITS_SOTEACHER = dict(lambda_lr=1e-3, lambda_cr=1.0, schedule="linear")


def _epochs(quick: bool, q: int, full: int) -> int:
    return q if quick else full


def _seeds(quick: bool, seed: int, q: int, full: int) -> list[int]:
    return [100 * seed + s for s in range(q if quick else full)]


def _acc(P: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(P.argmax(axis=1) == y))


def _teacher_student(data, teacher_kw: dict, *, epochs: int, every: int, seed: int, student_epochs: int,
                     all_checkpoints: bool = True) -> dict:
    """Train one teacher; distil a student from each checkpoint (or the last); collect the metrics."""
    from kdtheory.numerics.sot import distill_student, predict, train_teacher

    run = train_teacher(data, epochs=epochs, checkpoint_every=every, seed=seed, **teacher_kw)
    cks = list(zip(run.checkpoint_epochs, run.checkpoints))
    if not all_checkpoints:
        cks = cks[-1:]
    out = {"epoch": [], "teacher_acc": [], "student_acc": [], "distance": [], "agreement": []}
    for ep, ck in cks:
        Pt = predict(ck, data.X_test)
        st = distill_student(data, predict(ck, data.X_train, STUDENT["temperature"]), hidden=STUDENT["hidden"],
                             epochs=student_epochs, temperature=STUDENT["temperature"], alpha=STUDENT["alpha"],
                             seed=seed + 7)
        Ps = predict(st, data.X_test)
        out["epoch"].append(ep)
        out["teacher_acc"].append(_acc(Pt, data.y_test))
        out["student_acc"].append(_acc(Ps, data.y_test))
        out["agreement"].append(float(np.mean(Ps.argmax(1) == Pt.argmax(1))))
        out["distance"].append(float(np.mean(np.abs(predict(ck, data.X_train) - data.pstar_train).sum(axis=1)))
                               if data.pstar_train is not None else float("nan"))
    out["final"] = run.checkpoints[-1]
    out["lipschitz"] = float(run.lipschitz[-1])
    return {k: (np.array(v) if isinstance(v, list) else v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------
# Fig. 1


def fig1_data(*, quick: bool, seed: int = 0) -> dict:
    """Teacher/student accuracy and the teacher's mean l1 distance to p* on its training inputs per
    checkpoint, Standard vs SoTeacher, mean and std over seeds."""
    from kdtheory.numerics.sot import pstar_data

    epochs = _epochs(quick, 60, 150)
    every = _epochs(quick, 10, 10)
    seeds = _seeds(quick, seed, 1, 3)
    res = {}
    for name, kw in (("Standard", {}), ("SoTeacher", SOTEACHER)):
        runs = [_teacher_student(pstar_data(seed=s, **SYN), {**TEACHER, **kw}, epochs=epochs, every=every, seed=s,
                                 student_epochs=_epochs(quick, 30, STUDENT["epochs"])) for s in seeds]
        res[name] = {k: (np.mean([r[k] for r in runs], axis=0), np.std([r[k] for r in runs], axis=0))
                     for k in ("teacher_acc", "student_acc", "distance")}
        res[name]["epoch"] = runs[0]["epoch"]
    res["seeds"] = len(seeds)
    res["epochs"] = epochs
    return res


def _band(ax, x, m, s, label, color, marker):
    ax.plot(x, m, marker=marker, ms=3, color=color, label=label)
    if np.any(s > 0):
        ax.fill_between(x, m - s, m + s, color=color, alpha=0.2, lw=0)


@figure("sot.fig1", title="analogue of Fig. 1 (synthetic data with known p*, 2-layer ReLU teacher; paper: "
                          "CIFAR-100, WRN40-2): accuracy over teacher checkpoints, Standard vs SoTeacher")
def fig1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig1_data(quick=quick, seed=seed)
    fig, axes = style.subplots(1, 3, height=2.4)
    colors = {"Standard": "C0", "SoTeacher": "C3"}
    marks = {"Standard": "s", "SoTeacher": "^"}
    for name in ("Standard", "SoTeacher"):
        r = d[name]
        for ax, key in zip(axes[0], ("teacher_acc", "student_acc", "distance")):
            _band(ax, r["epoch"], *r[key], name, colors[name], marks[name])
    for ax, lab in zip(axes[0], ("teacher test accuracy", "student test accuracy",
                                 r"mean $\|f(x) - p^*(x)\|_1$ (train)")):
        ax.set_xlabel("teacher checkpoint (epoch)")
        ax.set_ylabel(lab)
    axes[0][0].set_title("(a) teacher")
    axes[0][1].set_title("(b) student distilled from it")
    axes[0][2].set_title("(c) distance to p* on training inputs")
    axes[0][0].legend(loc="lower right")
    style.title(fig, "Analogue of Fig. 1 (synthetic data with known p*, 2-layer ReLU teacher, 128 units; paper: "
                     "CIFAR-100, WRN40-2 teacher): Standard vs SoTeacher over teacher checkpoints")
    style.caption(fig, f"300 training inputs, d = 8, K = 4, labels drawn from p*; teacher: SGD (lr 0.05, momentum 0.9, "
                       f"decay x0.1 at 50%/75%), Gaussian-jitter augmentation (std 0.3), {d['epochs']} epochs; SoTeacher: "
                       f"lambda_LR = {SOTEACHER['lambda_lr']:g}, lambda_CR^max = {SOTEACHER['lambda_cr']:g} (linear); "
                       f"student: 8 hidden units, KD at T = 4, alpha = 0.5, on the teacher's training inputs. "
                       f"Mean +- std over {d['seeds']} seed(s). Panel (c) is measurable only because p* is known.")
    return style.save(fig, out, "sot_fig1", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Fig. 2


LR_SWEEP = (0.0, 1e-3, 3e-3, 1e-2, 3e-2)
CR_SWEEP = (0.0, 0.3, 1.0, 3.0, 10.0)
SCHEDULES = ("linear", "cosine", "cyclic", "piecewise")


def fig2_data(*, quick: bool, seed: int = 0) -> dict:
    """Final teacher and student accuracy when sweeping lambda_LR (lambda_CR = 0), lambda_CR^max
    (lambda_LR = 0, linear schedule) and the schedule (lambda_CR^max as SoTeacher's), over seeds."""
    from kdtheory.numerics.sot import pstar_data

    epochs = _epochs(quick, 40, 120)
    seeds = _seeds(quick, seed, 1, 3)
    lr_sweep = LR_SWEEP[::2] if quick else LR_SWEEP
    cr_sweep = CR_SWEEP[::2] if quick else CR_SWEEP

    def run(kw):
        rs = [_teacher_student(pstar_data(seed=s, **SYN), {**TEACHER, **kw}, epochs=epochs, every=epochs, seed=s,
                               student_epochs=_epochs(quick, 30, STUDENT["epochs"]), all_checkpoints=False)
              for s in seeds]
        return {k: (float(np.mean([r[k][-1] for r in rs])), float(np.std([r[k][-1] for r in rs])))
                for k in ("teacher_acc", "student_acc")}

    return {"lr": {v: run({"lambda_lr": v}) for v in lr_sweep},
            "cr": {v: run({"lambda_cr": v}) for v in cr_sweep},
            "schedule": {s: run({"lambda_cr": SOTEACHER["lambda_cr"], "schedule": s}) for s in SCHEDULES},
            "standard": run({}), "seeds": len(seeds), "epochs": epochs}


@figure("sot.fig2", title="analogue of Fig. 2 (synthetic data with known p*, 2-layer ReLU teacher; paper: "
                          "Tiny-ImageNet, ResNet34): sweeps of lambda_LR, lambda_CR^max and the schedule")
def fig2(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = fig2_data(quick=quick, seed=seed)
    fig, axes = style.subplots(1, 3, height=2.5)
    std = d["standard"]
    for ax, key, xlab in ((axes[0][0], "lr", r"$\lambda_{LR}$"), (axes[0][1], "cr", r"$\lambda_{CR}^{max}$")):
        xs = list(d[key])
        xpos = np.arange(len(xs))
        for what, color, mark in (("student_acc", "C3", "o"), ("teacher_acc", "C0", "s")):
            m = np.array([d[key][x][what][0] for x in xs])
            s = np.array([d[key][x][what][1] for x in xs])
            ax.errorbar(xpos, m, yerr=s, color=color, marker=mark, ms=3, capsize=2,
                        label="student" if what == "student_acc" else "teacher")
            ax.plot([-0.3], [std[what][0]], marker="s", color=color, ms=6, ls="none", mfc="none")
        ax.set_xticks(xpos, [f"{x:g}" for x in xs])
        ax.set_xlabel(xlab)
        ax.set_ylabel("test accuracy")
    ax = axes[0][2]
    xpos = np.arange(len(SCHEDULES))
    for what, color, mark in (("student_acc", "C3", "o"), ("teacher_acc", "C0", "s")):
        m = np.array([d["schedule"][s][what][0] for s in SCHEDULES])
        sd = np.array([d["schedule"][s][what][1] for s in SCHEDULES])
        ax.errorbar(xpos, m, yerr=sd, color=color, marker=mark, ms=3, capsize=2, ls="none",
                    label="student" if what == "student_acc" else "teacher")
    ax.set_xticks(xpos, SCHEDULES, rotation=25)
    ax.set_xlabel(r"$\lambda_{CR}$ schedule")
    ax.set_ylabel("test accuracy")
    axes[0][0].set_title("(a) Lipschitz weight (no CR)")
    axes[0][1].set_title("(b) consistency weight (no LR)")
    axes[0][2].set_title(rf"(c) schedule ($\lambda_{{CR}}^{{max}}$ = {SOTEACHER['lambda_cr']:g})")
    handles, labels = axes[0][2].get_legend_handles_labels()
    std_marker = axes[0][0].plot([], [], marker="s", color="0.3", mfc="none", ls="none", ms=6)[0]
    axes[0][0].legend(handles + [std_marker], labels + ["Standard"], loc="upper left")
    style.title(fig, "Analogue of Fig. 2 (synthetic data with known p*, 2-layer ReLU teacher; paper: Tiny-ImageNet, "
                     "ResNet34/ResNet18): effect of lambda_LR, lambda_CR^max and the schedule")
    style.caption(fig, f"Final teacher and student test accuracy after {d['epochs']} epochs; open squares at the left: "
                       f"Standard training (the paper's square marker). Mean +- std over {d['seeds']} seed(s); set-up as "
                       f"sot.fig1.")
    return style.save(fig, out, "sot_fig2", pdf=pdf)


# ---------------------------------------------------------------------------------------------------
# Tables 3 and 4


def _datasets(quick: bool, seed: int):
    from kdtheory.numerics.sot import digits_images, pstar_data

    return (("synthetic (K = 4)", lambda s: pstar_data(seed=s, **SYN), TEACHER, SOTEACHER),
            ("digits (K = 10)", lambda s: digits_images(seed=s, n_train=600), DIGITS_TEACHER, DIGITS_SOTEACHER))


def table3_data(*, quick: bool, seed: int = 0) -> dict:
    """ECE and NLL of the final teacher on the test split, before and after temperature scaling fitted on
    the calibration split, Standard vs SoTeacher, mean and std over seeds."""
    from kdtheory.numerics.sot import (expected_calibration_error, fit_temperature, negative_log_likelihood,
                                       predict, train_teacher)

    epochs = _epochs(quick, 40, 120)
    seeds = _seeds(quick, seed, 1, 3)
    out = {}
    for dname, make, tkw, skw in _datasets(quick, seed):
        for method, kw in (("Standard", {}), ("SoTeacher", skw)):
            vals = []
            for s in seeds:
                data = make(s)
                run = train_teacher(data, epochs=epochs, checkpoint_every=epochs, seed=s, **tkw, **kw)
                ck = run.checkpoints[-1]
                T = fit_temperature(np.log(np.maximum(predict(ck, data.X_cal), 1e-300)), data.y_cal)
                P, PT = predict(ck, data.X_test), predict(ck, data.X_test, T)
                vals.append([expected_calibration_error(P, data.y_test), negative_log_likelihood(P, data.y_test),
                             expected_calibration_error(PT, data.y_test), negative_log_likelihood(PT, data.y_test), T])
            v = np.array(vals)
            out[(dname, method)] = (v.mean(axis=0), v.std(axis=0))
    return {"rows": out, "seeds": len(seeds), "epochs": epochs}


@figure("sot.table3", title="analogue of Table 3 (synthetic and digits, 2-layer ReLU teacher) for Table 3 "
                            "(CIFAR-100 / Tiny-ImageNet): ECE and NLL before and after temperature scaling")
def table3(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = table3_data(quick=quick, seed=seed)
    lines = ["Analogue of Table 3 (2-layer ReLU teacher on synthetic data with known p* and on digits) for Table 3 "
             "(CIFAR-100 WRN40-2 / ResNet32x4, Tiny-ImageNet ResNet34).", "",
             "| Dataset | Method | ECE | NLL | ECE (w/ TS) | NLL (w/ TS) | T |", "|---|---|---|---|---|---|---|"]
    for (dname, method), (m, s) in d["rows"].items():
        cells = " | ".join(f"{m[i]:.3f} +- {s[i]:.3f}" for i in range(4))
        lines.append(f"| {dname} | {method} | {cells} | {m[4]:.2f} |")
    lines += ["", f"Test split; temperature fitted on a separate calibration split (NLL, bounded search on log T). "
                  f"{d['epochs']} teacher epochs, mean +- std over {d['seeds']} seed(s); SoTeacher weights as in sot.fig1 "
                  f"(synthetic) and lambda_LR = {DIGITS_SOTEACHER['lambda_lr']:g}, lambda_CR^max = "
                  f"{DIGITS_SOTEACHER['lambda_cr']:g} with 1-pixel shift augmentation (digits)."]
    return style.save_table("\n".join(lines), out, "sot_table3")


def table4_data(*, quick: bool, seed: int = 0) -> dict:
    """Top-1 agreement between the final teacher and its distilled student on the test split, for two
    student sizes, Standard vs SoTeacher, mean and std over seeds."""
    epochs = _epochs(quick, 40, 120)
    seeds = _seeds(quick, seed, 1, 3)
    out = {}
    for dname, make, tkw, skw in _datasets(quick, seed):
        for hidden in ((4, 16) if dname.startswith("synthetic") else (8, 32)):
            for method, kw in (("Standard", {}), ("SoTeacher", skw)):
                vals = []
                for s in seeds:
                    saved = STUDENT["hidden"]
                    STUDENT["hidden"] = hidden
                    try:
                        r = _teacher_student(make(s), {**tkw, **kw}, epochs=epochs, every=epochs, seed=s,
                                             student_epochs=_epochs(quick, 30, STUDENT["epochs"]), all_checkpoints=False)
                    finally:
                        STUDENT["hidden"] = saved
                    vals.append([r["agreement"][-1], r["student_acc"][-1], r["teacher_acc"][-1]])
                v = np.array(vals)
                out[(dname, hidden, method)] = (v.mean(axis=0), v.std(axis=0))
    return {"rows": out, "seeds": len(seeds), "epochs": epochs}


@figure("sot.table4", title="analogue of Table 4 (synthetic and digits, 2-layer ReLU teacher and students) for "
                            "Table 4 (CIFAR-100 / Tiny-ImageNet): student-teacher top-1 agreement")
def table4(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = table4_data(quick=quick, seed=seed)
    lines = ["Analogue of Table 4 (2-layer ReLU teacher -> 2-layer ReLU student with 4 or 16 (synthetic), 8 or 32 "
             "(digits) hidden units; synthetic data with known p* and digits) for Table 4 (WRN/ResNet/ShuffleNet pairs on CIFAR-100 and Tiny-ImageNet).",
             "", "| Dataset | Student | Method | Agreement (%) | Student acc. (%) | Teacher acc. (%) |",
             "|---|---|---|---|---|---|"]
    for (dname, hidden, method), (m, s) in d["rows"].items():
        lines.append(f"| {dname} | {hidden} units | {method} | {100 * m[0]:.2f} +- {100 * s[0]:.2f} | "
                     f"{100 * m[1]:.2f} +- {100 * s[1]:.2f} | {100 * m[2]:.2f} +- {100 * s[2]:.2f} |")
    lines += ["", f"Agreement of argmax predictions on the test split. {d['epochs']} teacher epochs; KD at T = 4, "
                  f"alpha = 0.5 on the teacher's training inputs; mean +- std over {d['seeds']} seed(s)."]
    return style.save_table("\n".join(lines), out, "sot_table4")


# ---------------------------------------------------------------------------------------------------
# bound vs N (not in the paper)


def bound_vs_n_data(*, quick: bool, seed: int = 0) -> dict:
    """Corrected Thm. 3.6 bound (|C| cells, kappa = 1) and measured errors of the exact ERM against N.

    Four disjoint cells of N/4 inputs, K = 3, max-norm, L = L* = 0.01, r = 1, delta = 0.1; per N the
    largest (over inputs) (1 - delta)-quantile of the per-input worst-case error (what the per-input
    statement bounds) and the (1 - delta)-quantile of the largest error over all inputs (what the
    simultaneous statement bounds, against the union-bounded Eq. (6) with no augmentation).
    """
    from kdtheory.numerics.sot import make_setting, monte_carlo_errors
    from kdtheory.theory.sot import theorem3_6_bound, theorem3_8_bound_corrected, xi_K

    M, K, L, Ls, delta = 4, 3, 0.01, 0.01, 0.1
    ns = [10, 30, 100, 300, 1000] + ([] if quick else [3000, 10000])
    R = _epochs(quick, 300, 2000)
    rows = {"N": [], "bound": [], "bound_uniform": [], "per_input": [], "uniform": [], "floor": None}
    for n in ns:
        s = make_setting([n] * M, K, r=1.0, spacing=3.0, L_star=Ls, p=math.inf, seed=seed)
        err = monte_carlo_errors(s, L, R, p=math.inf, seed=seed + n)["errors"]
        rows["N"].append(s.N)
        rows["bound"].append(theorem3_6_bound(s.N, K, M, L, 1.0, Ls, delta, math.inf))
        rows["bound_uniform"].append(theorem3_8_bound_corrected(s.N, K, M, L, 1.0, Ls, delta, math.inf, 0.0, 0.0))
        rows["per_input"].append(float(np.max(np.quantile(err, 1 - delta, axis=0))))
        rows["uniform"].append(float(np.quantile(err.max(axis=1), 1 - delta)))
    rows["floor"] = L * xi_K(K, math.inf) + 2 * Ls
    rows.update({"replicates": R, "delta": delta, "M": M, "K": K, "L": L, "L_star": Ls})
    return {k: (np.array(v) if isinstance(v, list) else v) for k, v in rows.items()}


@figure("sot.bound_vs_n", title="not in the paper: the corrected Theorem 3.6 bound and the measured error of the "
                                "exact ERM against N")
def bound_vs_n(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    d = bound_vs_n_data(quick=quick, seed=seed)
    fig, axes = style.subplots(1, 1, width=style.FULL_WIDTH * 0.8, height=2.8)
    ax = axes[0][0]
    ax.loglog(d["N"], d["bound"], "C3-", label="Eq. (4), |C| cells (per input)")
    ax.loglog(d["N"], d["bound_uniform"], "C3--", label="Eq. (6) with delta/|C| (all inputs)")
    ax.loglog(d["N"], d["per_input"], "C0o-", ms=3, label="measured, worst input (1-delta quantile)")
    ax.loglog(d["N"], d["uniform"], "C0s--", ms=3, label="measured, max over inputs (1-delta quantile)")
    ax.axhline(d["floor"], color="0.5", lw=0.8, ls=":", label=r"the bounds' N-independent term $L r \xi_K + 2 L^* r$")
    ax.set_xlabel("number of training inputs N")
    ax.set_ylabel(r"$\|f^*(x) - p^*(x)\|_\infty$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6)
    style.title(fig, "Not in the paper: Theorem 3.6 (corrected) against N, exact ERM of problem (19)")
    style.caption(fig, f"{d['M']} disjoint cells of N/{d['M']} inputs, K = {d['K']}, max-norm, L = {d['L']:g}, "
                       f"L* = {d['L_star']:g}, r = 1, delta = {d['delta']:g}, kappa = 1; worst-case minimiser per input; "
                       f"{d['replicates']} data sets per N (Monte Carlo engine).")
    return style.save(fig, out, "sot_bound_vs_n", pdf=pdf)
