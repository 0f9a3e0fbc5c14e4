"""Closed forms of the five papers, one module per paper.

``theory.<paper>`` holds calculators a researcher can import (divergences,
constants, bounds, step-size conditions) and ``derive_*`` functions that
reproduce the papers' algebra with SymPy; each calculator is either lambdified
from its derivation or written out and tested equal to it. SymPy is imported
inside the ``derive_*`` functions only, so importing a calculator is cheap.
This package imports nothing else from kdtheory.
"""
