"""A verdict does not depend on the seed: quick mode is ok for seeds 0-19 (slow; CI runs 0-4)."""

import pytest

from kdtheory.verify import claims

ALL = claims()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 20))
def test_every_claim_ok_for_seed(seed):
    bad = []
    for c in ALL:
        v = c.run(mode="quick", seed=seed)
        if not v.ok:
            bad.append(f"{c.id}: observed {v.observed} ({v.decided_by or 'headline'}: {v.measured:.6g} "
                       f"{v.relation} {v.reference:.6g})")
    assert not bad, f"seed {seed}: " + "; ".join(bad)
