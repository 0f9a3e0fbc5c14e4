"""Claims of "Distillation ~ Early Stopping? Anisotropic Information Retrieval" [air], split by section.

* :mod:`.sec2` -- Sec. 2.3 (quasi-linear update, eigenprojections, static NTK, AIR ordering), Sec. 3.2 (noise among
  eigenspaces), Definition 2, Fig. 2;
* :mod:`.lemmas` -- Lemmas 1-5 (Jacobian bounds, the residual update);
* :mod:`.stage1` -- Lemmas 6-7 and the T1 bound (first stage of the proof of Theorem 1);
* :mod:`.stage2` -- Lemma 8, the final proof, the width requirement and Theorem 1;
* :mod:`.experiments` -- Sec. 3.4 schedule, Sec. 3.5 "no early stopping".
"""

from kdtheory.verify.air import sec2, lemmas, stage1, stage2, experiments  # noqa: F401,E402  (registers claims, in section order)
