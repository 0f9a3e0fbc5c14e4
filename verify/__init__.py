"""Verifications: one module per paper, one registered function per claim.

A claim function is registered with :func:`kdtheory.verify.claim` under its fixed id
(``<paper>.<label>``), receives a :class:`kdtheory.verify.Run` (mode, seed, whether to
run the negative control, a seeded generator) and returns an
:class:`kdtheory.verify.Outcome`; the registry turns it into a :class:`kdtheory.verify.Verdict`
with the timing and the claim's metadata. ``python -m kdtheory.verify`` and
``kdt verify`` list and run the registry. Paper modules import ``theory`` at
the top and ``numerics`` inside claim functions, so listing claims compiles
nothing.
"""

from kdtheory.verify._core import REGISTRY, Claim, Outcome, Run, Verdict, claim, claims, get_claim, run_claim

__all__ = ["REGISTRY", "Claim", "Outcome", "Run", "Verdict", "claim", "claims", "get_claim", "run_claim"]
