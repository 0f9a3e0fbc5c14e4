"""Claims of "SoTeacher: toward student-oriented teacher network training" [sot].

Split by the paper's sections (each module registers its claims on import):

* :mod:`.scoring`: Sec. 2 (the setting), Def. 3.2 (proper scoring), Prop. 3.3;
* :mod:`.lemmas`: Appendix A, Steps I-III: Lemmas A.1-A.4, Eqs. (18) and (28), the decoupling of Step II;
* :mod:`.theorems`: Theorems 3.6 and 3.8;
* :mod:`.practice`: Sec. 4 and Apps. C, D, F: the Lipschitz and consistency regularisers, the
  schedules, Eq. (32);
* :mod:`.tables`: Tables 1-7.

Shared instance generators and outcome helpers are in :mod:`._common`.
"""

from kdtheory.verify.sot import scoring, lemmas, theorems, practice, tables  # noqa: F401  (registration)
