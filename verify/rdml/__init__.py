"""Claims of [rdml], one module per part of the paper, registered in the paper's order:

* :mod:`.divergence`   Sec. 2.1 and Fig. 1: Remarks 1-2, the alpha -> 1 limit, alpha = 1/2, the Fig. 1 caption;
* :mod:`.supplement_a` Supplement A and Eq. (2): additivity over products, the derivation of the loss;
* :mod:`.gradients`    Proposition 1 and the gradient-growth remark after Remark 2;
* :mod:`.smoothness`   Supplement C.1: Lemma C.1, Corollary C.1, Lemma C.2, Corollary C.2, Theorem 1;
* :mod:`.noise`        Lemma 1, Lemma C.3, Eqs. (C.17)-(C.19);
* :mod:`.convergence`  Theorem 2 and Theorem C.1 on runs of Algorithm 1.

Shared pieces: :mod:`._common` (order grids, extended-precision evaluators, outcome helpers that certify
every near-boundary instance) and :mod:`._families` (the Assumption-1 model families and the worst-case
search of Supplement C). ``numerics`` is imported inside the claim functions only, so listing claims
compiles nothing.
"""

from ._common import FIG1_FIXED, PAPER_FIG1_ALPHAS  # noqa: F401  (used by kdtheory.figures.rdml)
from . import divergence, supplement_a, gradients, smoothness, noise, convergence  # noqa: F401  (registration order)

__all__ = ["FIG1_FIXED", "PAPER_FIG1_ALPHAS", "divergence", "supplement_a", "gradients", "smoothness", "noise",
           "convergence"]
