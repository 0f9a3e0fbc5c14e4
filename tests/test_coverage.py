"""Every public calculator of ``kdtheory.theory`` is evaluated by at least one verdict.

A fresh interpreter wraps each function of ``kdtheory.theory.<paper>.__all__`` (except the
SymPy ``derive_*``) in a counter before anything else of kdtheory is imported, so every
``from kdtheory.theory.<paper> import f`` in numerics/ and verify/, and every call between
calculators, goes through the counter; it then runs every claim in quick mode (seed 0) and
reports the calculators no verdict reached.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import functools, importlib, inspect, json, pkgutil, sys
import kdtheory.theory as theory
called, public = set(), []
for info in pkgutil.iter_modules(theory.__path__):
    if info.name.startswith("_"):
        continue
    mod = importlib.import_module(f"kdtheory.theory.{info.name}")
    for name in getattr(mod, "__all__", []):
        fn = getattr(mod, name)
        if not inspect.isfunction(fn) or name.startswith("derive_"):
            continue
        key = f"{info.name}.{name}"
        public.append(key)
        def counted(*a, __fn=fn, __key=key, **k):
            called.add(__key)
            return __fn(*a, **k)
        setattr(mod, name, functools.wraps(fn)(counted))
from kdtheory.verify import claims
bad = [c.id for c in claims() if not c.run(mode="quick", seed=0).ok]
print(json.dumps({"public": public, "uncalled": sorted(set(public) - called), "not_ok": bad}))
"""


def test_every_public_calculator_is_evaluated_by_a_verdict():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["public"], "no public calculators found"
    assert not report["uncalled"], (f"{len(report['uncalled'])} of {len(report['public'])} public calculators are "
                                    f"evaluated by no verdict (use them in a claim or make them private): "
                                    f"{report['uncalled']}")
