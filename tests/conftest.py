"""Test-suite settings: property-based tests draw the same examples on every run (CI must not flake)."""

from hypothesis import settings

settings.register_profile("kdtheory", derandomize=True, database=None)
settings.load_profile("kdtheory")
