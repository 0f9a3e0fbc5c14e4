"""Every registered figure renders in quick mode to a non-empty file."""

import pytest

from kdtheory.figures import figure_specs, make_figure

SPECS = figure_specs()


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_figure_renders_quick(spec, tmp_path):
    paths = make_figure(spec.id, tmp_path, quick=True)
    assert paths, f"{spec.id} wrote nothing"
    for p in paths:
        assert p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(w in spec.title.lower() for w in ("reproduces", "analogue", "not in the paper")), spec.title
