"""README.md tells the truth: set-up commands, claim table, errata, CLI parts."""

import re
import shlex
import subprocess
import sys

from kdtheory.verify import claims
from kdtheory.verify.readme import ROOT

README = (ROOT / "README.md").read_text()


def test_two_setup_commands():
    block = re.search(r"<!-- setup:start -->(.*?)<!-- setup:end -->", README, re.S).group(1)
    cmds = [l for l in block.splitlines() if l.startswith("python3 -m venv")]
    assert len(cmds) == 2
    assert cmds[0].endswith("kdt verify all") and "pytest" in cmds[1] and "[test]" in cmds[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "setup:start" in ci, ".ci/run must take its commands from the README"


def test_claim_table_is_generated_from_the_registry():
    table = re.search(r"<!-- claims:start -->\n(.*?)<!-- claims:end -->", README, re.S).group(1)
    listed = re.findall(r"^\| `([^`]+)`", table, re.M)
    assert listed == [c.id for c in claims()], "run: python -m kdtheory.verify.readme"


def test_every_erratum_is_listed():
    errata = re.search(r"<!-- errata:start -->\n(.*?)<!-- errata:end -->", README, re.S).group(1)
    for c in claims():
        if c.expected == "erratum":
            assert f"`{c.id}`" in errata, f"{c.id} missing from the README errata list"


def test_gallery_images_exist():
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / path).exists(), path


def test_gallery_shows_every_registered_figure():
    from kdtheory.figures._core import figure_specs
    gallery = re.search(r"<!-- gallery:start -->\n(.*?)<!-- gallery:end -->", README, re.S).group(1)
    for spec in figure_specs():
        stem = spec.id.replace(".", "_")
        assert f"docs/figures/{stem}." in gallery, f"{spec.id}: run kdt figures all --out docs/figures"


def test_cli_examples_in_readme_run():
    block = re.search(r"<!-- examples:start -->(.*?)<!-- examples:end -->", README, re.S).group(1)
    cmds = [l.strip() for l in block.splitlines() if l.strip().startswith("kdt ") and "list" in l]
    assert cmds, "README shows no 'kdt ... list' command"
    for cmd in cmds:
        args = shlex.split(cmd)[1:]
        r = subprocess.run([sys.executable, "-c", "import sys, kdtheory.cli as k; sys.exit(k.main())", *args],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (cmd, r.stderr)
