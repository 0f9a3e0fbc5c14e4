"""Simulators of the papers' settings, one module per paper.

Each simulator is a private ``@njit(cache=True)`` kernel that fills
preallocated arrays from pre-drawn randomness, a NumPy twin that computes the
same numbers, and a public wrapper that validates its inputs, draws with
``numpy.random.default_rng(seed)`` and offers ``backend="numba" | "numpy"``.
Exact engines (linear recursions for moments, spectral updates) live here
too. Kernels register their throughput in :mod:`kdtheory.numerics.bench`. This
package may import ``theory`` for constants, nothing above it.
"""
