"""Claims of "Self-Distillation Amplifies Regularization in Hilbert Space" [sd], by section of the paper.

* :mod:`.sec2` -- collapse, KKT, Prop. 1, Prop. 2 / Eq. (27), the interval for c (Eq. 25);
* :mod:`.recursion` -- the rounds (Eqs. 26-36) and the representation through B_t (Eq. 32);
* :mod:`.props3_4` -- Props. 3-4 and footnote 10;
* :mod:`.props5_6` -- Props. 5-6 and the conclusion of Sec. 3.5;
* :mod:`.sec3_sec4` -- sparsification, early stopping, multiclass (Secs. 3.3-3.6), Sec. 4.

Notation: ``u_t = ||z_t|| / sqrt(K eps)`` (labels of round t in units of the collapse threshold),
``kappa = d_max / d_min``.  The paper writes the threshold ``sqrt(K) eps``; the constraint of Eq. (1)
makes it ``sqrt(K eps)`` (claim ``sd.collapse``), the one correction carried by ``sd.eq25_corrected``,
``sd.prop3_corrected``, ``sd.prop4_corrected`` and ``sd.prop5_corrected``.  Every claim evaluates the
public calculators of ``kdtheory.theory.sd`` and the exact engine of ``kdtheory.numerics.sd``; instances
and extended-precision tools are in :mod:`._common`.
"""

from kdtheory.verify.sd import sec2, recursion, props3_4, props5_6, sec3_sec4  # noqa: F401  (registration order)
