"""kdtheory: executable theory of knowledge distillation.

Four subpackages, imported one way (figures -> verify -> numerics -> theory):

- :mod:`kdtheory.theory`: closed-form calculators and their SymPy derivations;
- :mod:`kdtheory.numerics`: simulators (Numba kernels with NumPy twins) and exact engines;
- :mod:`kdtheory.verify`: one registered verification per claim, returning a verdict;
- :mod:`kdtheory.figures`: the papers' figures, exact or as labelled analogues.

Importing ``kdtheory`` imports none of them.
"""

__version__ = "0.2.0"
__all__ = ["__version__"]
