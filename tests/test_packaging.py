"""The installed distribution holds the whole package: every folder with an __init__.py is listed."""

import tomllib

from kdtheory.verify.readme import ROOT


def test_every_package_folder_is_installed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"kdtheory"}
    for top in ("theory", "numerics", "verify", "figures"):
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add("kdtheory." + ".".join(init.parent.relative_to(ROOT).parts))
    assert found == listed, f"pyproject.toml packages: missing {sorted(found - listed)}, extra {sorted(listed - found)}"
