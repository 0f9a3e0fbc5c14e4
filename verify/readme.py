"""Regenerate the generated parts of README.md: ``python -m kdtheory.verify.readme [--check]``.

The claim table comes from the registry; the errata list runs each erratum
claim (quick mode, seed 0) and quotes its counterexample; the gallery lists
the PNGs under ``docs/figures`` (made by ``kdt figures all --out docs/figures``).
``--check`` exits 1 when the README is out of date instead of writing it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from kdtheory.verify._core import claims
from kdtheory.verify.cli import markdown_claims

ROOT = Path(__file__).resolve().parent.parent


def _section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"readme: README.md lacks the markers for section {name!r}")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def errata_markdown() -> str:
    """One bullet per erratum: statement, deciding numbers, certified counterexample, correction."""
    rows = []
    for c in claims():
        if c.expected != "erratum":
            continue
        v = c.run(mode="quick", seed=0)
        cert = v.details.get("certificate")
        shown = ""
        if isinstance(cert, dict):
            what = f" ({cert['what']})" if cert.get("what") else ""
            shown = (f" Certified ({cert['precision']}){what}: `{cert['lhs']} {cert['relation']} {cert['rhs']}` "
                     f"is {'true' if cert['holds'] else 'false'}.")
        cx = json.dumps(v.details.get("counterexample"), separators=(", ", ": "))
        if len(cx) > 300:
            cx = cx[:300] + " ..."
        deciding = f"{v.decided_by}: " if v.decided_by else ""
        rows.append(f"- **`{c.id}`** ({c.ref}): {c.statement.rstrip('.')}. Observed: {v.observed} "
                    f"({deciding}{v.measured:.4g} {v.relation} {v.reference:.4g}).{shown} Counterexample: `{cx}`. "
                    f"Correction: `{c.id}_corrected`.")
    return "\n".join(rows) if rows else "No erratum has been confirmed yet."


def gallery_markdown() -> str:
    """Every committed figure, one paragraph per paper in the registry's order (tables as links)."""
    folder = ROOT / "docs" / "figures"
    files = sorted(folder.glob("*.png")) + sorted(folder.glob("*.md")) if folder.exists() else []
    if not files:
        return "No figures committed yet."
    papers = list(dict.fromkeys(c.id.split(".")[0] for c in claims()))
    papers += sorted({p.stem.split("_")[0] for p in files} - set(papers))
    blocks = []
    for paper in papers:
        mine = [p for p in files if p.stem.split("_")[0] == paper]
        images = [f"![{p.stem}](docs/figures/{p.name})" for p in mine if p.suffix == ".png"]
        tables = [f"[{p.stem}](docs/figures/{p.name})" for p in mine if p.suffix == ".md"]
        if tables:
            images.append("Tables: " + ", ".join(tables))
        if images:
            blocks.append(f"**{paper}**\n\n" + "\n".join(images))
    return "\n\n".join(blocks)


def render(text: str, *, with_errata: bool = True) -> str:
    text = _section(text, "claims", markdown_claims(claims()))
    if with_errata:
        text = _section(text, "errata", errata_markdown())
    return _section(text, "gallery", gallery_markdown())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = ROOT / "README.md"
    old = path.read_text()
    new = render(old)
    if "--check" in argv:
        if new != old:
            print("README.md is out of date: run python -m kdtheory.verify.readme", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
