"""The docs against the tree: docs/method.md's folder map names every module, and only what exists."""

import re

from conftest import ROOT

PACKAGES = ("minimodel_fairseq", "minimodel_recipes", "benchmarks")


def _folder_map():
    """{folder: [files named under it]} from the code block under docs/method.md's "## Folder map"."""
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    block = re.search(r"^## Folder map\n.*?^```\n(.*?)^```\n", text, re.M | re.S).group(1)
    entries, folder = {}, None
    for line in block.splitlines():
        first = line.split()[0] if line.strip() else ""
        if line[:1] not in ("", " ") and first.endswith("/"):
            folder = first
            entries[folder] = []
        elif first.endswith(".py"):
            entries[folder].append(first)
    return entries


def test_the_folder_map_names_every_module_and_nothing_else():
    entries = _folder_map()
    for package in PACKAGES:
        on_disk = {
            str(p.relative_to(ROOT / package))
            for p in (ROOT / package).rglob("*.py")
            if p.name != "__init__.py"
        }
        named = set(entries[f"{package}/"])
        assert not on_disk - named, (
            f"docs/method.md's folder map lacks {sorted(on_disk - named)} in {package}/"
        )
        assert not named - on_disk, (
            f"docs/method.md's folder map names missing {sorted(named - on_disk)} in {package}/"
        )
    examples = {f"examples/{p.name}/" for p in (ROOT / "examples").iterdir() if p.is_dir()}
    assert examples <= set(entries), f"the folder map lacks {sorted(examples - set(entries))}"
    for folder in entries:
        assert (ROOT / folder).is_dir(), f"the folder map names {folder}, which does not exist"


def test_every_option_help_is_one_short_line():
    """fairseq's style: --help gives one line per option (<= 100 characters); the explanation is in docs/."""
    import ast

    long = []
    for path in sorted((ROOT / "minimodel_fairseq").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            values = [node.value] if isinstance(node, ast.keyword) and node.arg == "help" else []
            if isinstance(node, ast.Dict):
                values += [
                    v
                    for k, v in zip(node.keys, node.values)
                    if isinstance(k, ast.Constant) and k.value == "help"
                ]
            for value in values:
                try:
                    text = ast.literal_eval(value)
                except ValueError:  # built at run time (an f-string): not checked here
                    continue
                if isinstance(text, str) and (len(text) > 100 or "\n" in text):
                    long.append(f"{path.relative_to(ROOT)}:{value.lineno} ({len(text)} characters)")
    assert not long, f"help strings longer than one line: {long}"


# a repository path in the README or docs/: a folder of the tree, then a file with its extension
REPO_PATH = re.compile(
    r"(?<![\w/.])((?:examples|benchmarks|minimodel_recipes|minimodel_fairseq|scripts|tests)/"
    r"[\w/.-]*\w\.(?:py|sh|yaml|tsv|json|md))"
)


def test_every_file_the_docs_name_exists():
    """Files move (the recipes' Python went from examples/bible to minimodel_recipes): the docs follow."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    missing = sorted(
        {
            f"{page.relative_to(ROOT)}: {m.group(1)}"
            for page in pages
            for m in REPO_PATH.finditer(page.read_text(encoding="utf-8"))
            if not (ROOT / m.group(1)).exists()
        }
    )
    assert not missing, "\n".join(missing)
