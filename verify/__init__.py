"""Verifications: one module per paper, one registered function per claim.

A claim function is registered with :func:`verify.claim` under its fixed id
(``<paper>.<label>``), receives a :class:`verify.Run` (mode, seed, whether to
run the negative control, a seeded generator) and returns an
:class:`verify.Outcome`; the registry turns it into a :class:`verify.Verdict`
with the timing and the claim's metadata. ``python -m verify`` and
``kdt verify`` list and run the registry. Paper modules import ``theory`` at
the top and ``numerics`` inside claim functions, so listing claims compiles
nothing.
"""

from verify._core import REGISTRY, Claim, Outcome, Run, Verdict, claim, claims, get_claim, run_claim

__all__ = ["REGISTRY", "Claim", "Outcome", "Run", "Verdict", "claim", "claims", "get_claim", "run_claim"]
