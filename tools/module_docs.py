"""The Inputs and Outputs of each Terraform module's README, generated from its variables.tf
and outputs.tf (names, descriptions, types, defaults), between the markers terraform-docs
uses, so the tables cannot drift from the code. The prose above the markers is hand-written.

terraform-docs itself ships as a binary from GitHub only, which this project's machines
cannot download; python-hcl2 (already a pinned tool) reads the same blocks.

    python -m tools.module_docs            rewrite the READMEs whose tables are stale
    python -m tools.module_docs --check    list them and exit 1 (tests/static/test_module_docs.py)
"""

import argparse
import json
import sys
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "modules"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
# Plain values: "prod" instead of '"prod"', no block markers or comments.
PLAIN = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def blocks(path: Path, kind: str) -> dict[str, dict]:
    """name -> attributes of every `kind` block ("variable", "output") of one file."""
    if not path.exists():
        return {}
    parsed = hcl2.loads(path.read_text(), serialization_options=PLAIN)
    return {name: body for block in parsed.get(kind, []) for name, body in block.items()}


def expression(value) -> str:
    """An HCL type or value as written in Terraform."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return value if isinstance(value, str) and value.isidentifier() else json.dumps(value)


def code(text: str) -> str:
    """A table cell of code: one line, `|` escaped (GitHub's tables split on it even there)."""
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"


def prose(text: str) -> str:
    """A table cell of text: one line, `|` and `<` escaped (`<prefix>` is not an HTML tag)."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<")


def tables(module: Path) -> str:
    """The generated part of `module`'s README, markers included."""
    lines = [BEGIN, "## Inputs", ""]
    variables = blocks(module / "variables.tf", "variable")
    if variables:
        lines += [
            "| Name | Description | Type | Default | Required |",
            "|------|-------------|------|---------|:--------:|",
        ]
        for name, body in sorted(variables.items()):
            default, required = (code(json.dumps(body["default"])), "no") if "default" in body else ("n/a", "yes")
            kind = code(expression(body.get("type", "any")))
            lines.append(f"| `{name}` | {prose(body.get('description', ''))} | {kind} | {default} | {required} |")
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    outputs = blocks(module / "outputs.tf", "output")
    if outputs:
        lines += ["| Name | Description |", "|------|-------------|"]
        lines += [f"| `{name}` | {prose(body.get('description', ''))} |" for name, body in sorted(outputs.items())]
    else:
        lines.append("No outputs.")
    return "\n".join([*lines, END])


def current(readme: str, module: Path) -> str:
    """`readme` with its generated part made current: appended when it has none, and running
    to the end of the file when its end marker was lost."""
    generated = tables(module)
    if BEGIN not in readme:
        return readme.rstrip("\n") + "\n\n" + generated + "\n"
    head, rest = readme.split(BEGIN, 1)
    return head + generated + (rest.split(END, 1)[1] if END in rest else "\n")


def stale(modules_dir: Path = MODULES) -> list[Path]:
    """The READMEs of `modules_dir` whose generated part is missing or out of date."""
    readmes = [module / "README.md" for module in sorted(modules_dir.iterdir()) if (module / "variables.tf").exists()]
    return [
        readme
        for readme in readmes
        if not readme.exists() or readme.read_text() != current(readme.read_text(), readme.parent)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list the stale READMEs and exit 1, write nothing")
    args = parser.parse_args()
    outdated = stale()
    for readme in outdated:
        if args.check:
            print(f"{readme.relative_to(ROOT)} is stale: run `make docs`")
        else:
            readme.write_text(
                current(readme.read_text() if readme.exists() else f"# {readme.parent.name}\n", readme.parent)
            )
            print(f"wrote {readme.relative_to(ROOT)}")
    return 1 if args.check and outdated else 0


if __name__ == "__main__":
    sys.exit(main())
