"""Claims of "Knowledge Distillation Performs Partial Variance Reduction" [kd], one module per part of the paper.

* :mod:`.sec3` - the distillation loss as ERM on soft labels (Eqs. (2)-(3)), Algorithm 1's convention, Prop. 1;
* :mod:`.sec4` - iteration (7), Assumptions 1-3 (does (10) subsume smoothness?), the facts (20)-(30) of App. A;
* :mod:`.lemma1` - beta, rho (Eqs. (31)-(32)), lambda_* and the reduction N(lambda_*)/N(0) of Lemma 1;
* :mod:`.theorems` - Theorems 1-3 (transient and neighbourhood term checked separately, least squares with the
  exact engine up to d = 60 and condition number 1e6 (1e8 for Theorem 1), ridge logistic regression and the PL
  example by Monte Carlo), the unbiased iteration (16), the teacher refresh;
* :mod:`.compression` - compressors (Assumption 4), Lemmas 2-6, Theorem 4, Sec. 7's capacity ratio.

Least squares ``f_i(x) = 1/2 (a_i^T x - b_i)^2`` (uniform single-sample ``xi``) is the test bed on which every
quantity has a closed form; the exact moment engine of :mod:`kdtheory.numerics.kd` gives ``E||x^t - x*||^2`` and
``E f(x^t) - f*`` without sampling error. Non-quadratic objectives (ridge logistic regression, the nonconvex PL
example ``x^2 + 3 sin^2 x``) are simulated by Monte Carlo with one-sided z = 4 confidence bounds. Shared instance
generators and the extended-precision twins used by certifiers are in :mod:`._common`.
"""

from . import sec3  # noqa: F401,I001  (importing registers the claims; the order is the paper's)
from . import sec4  # noqa: F401
from . import lemma1  # noqa: F401
from . import theorems  # noqa: F401
from . import compression  # noqa: F401

__all__ = ["sec3", "sec4", "lemma1", "theorems", "compression"]
