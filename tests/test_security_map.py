"""README's «## Безопасность» maps the security checklist (items 1–44) to tests: one test per item taken,
a reason for each item not taken.

The section's table names each item's tests as `tests/test_x.py::test_name`; every such test must exist.
Each bullet of «### Что не сделано и почему» starts with its item number in bold (`- **15.** …`).
The table's numbers and the bullets' numbers together must cover the whole checklist.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
README = PROJECT_DIR / "README.md"
SECTION = "## Безопасность"
NOT_TAKEN = "### Что не сделано и почему"
CHECKLIST_ITEMS = frozenset(range(1, 45))

TEST_REFERENCE = re.compile(r"\b(tests/[\w/]+\.py)::(\w+)")
BULLET_NUMBERS = re.compile(r"^\s*[-*]\s+\*\*(\d+(?:\s*,\s*\d+)*)\.?\*\*")


@dataclass
class SecurityMap:
    table: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # item → (test file, test name)
    not_taken: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def section_lines(text: str) -> list[str]:
    """The lines of the «## Безопасность» section, up to the next second-level heading."""
    lines = text.splitlines()
    starts = [number for number, line in enumerate(lines) if line.strip() == SECTION]
    assert starts, f"{README.name} has no «{SECTION}» section"
    section = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith("## "):
            break
        section.append(line)
    return section


def read_map(lines: list[str]) -> SecurityMap:
    """The table rows before «Что не сделано и почему» and the item numbers of the bullets after it."""
    found = SecurityMap()
    in_not_taken = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            in_not_taken = stripped == NOT_TAKEN
            continue
        if in_not_taken:
            bullet = BULLET_NUMBERS.match(line)
            if bullet:
                found.not_taken.update(int(number) for number in bullet.group(1).split(","))
            elif re.match(r"\s*[-*]\s", line):
                found.problems.append(f"a bullet without its item number in bold («- **N.** …»): {stripped!r}")
            continue
        if not stripped.startswith("|"):
            continue
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        if not cells[0].isdigit():  # the header and the |---| line
            continue
        item = int(cells[0])
        if item in found.table:
            found.problems.append(f"item {item} has two rows in the table")
        references = TEST_REFERENCE.findall(cells[-1])
        if not references:
            found.problems.append(f"item {item}: the table names no test (tests/test_x.py::test_name)")
        found.table[item] = references
    return found


@cache
def defined_tests(path: str) -> frozenset[str]:
    """The functions (sync or async) the test file defines at module level or in a class, as pytest collects them."""
    tree = ast.parse((PROJECT_DIR / path).read_text(encoding="utf-8"), filename=path)
    nodes = [*tree.body, *(node for cls in tree.body if isinstance(cls, ast.ClassDef) for node in cls.body)]
    return frozenset(node.name for node in nodes if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))


def test_every_checklist_item_has_a_test_or_a_reason() -> None:
    found = read_map(section_lines(README.read_text(encoding="utf-8")))
    problems = list(found.problems)

    for item, references in sorted(found.table.items()):
        for path, name in references:
            if not (PROJECT_DIR / path).is_file():
                problems.append(f"item {item}: {path} does not exist")
            elif not name.startswith("test"):
                problems.append(f"item {item}: `{name}` in {path} is not a test")
            elif name not in defined_tests(path):
                problems.append(f"item {item}: {path} defines no test `{name}`")

    for item in sorted((found.table.keys() | found.not_taken) - CHECKLIST_ITEMS):
        problems.append(f"item {item} is not in the checklist (1–{max(CHECKLIST_ITEMS)})")
    missing = sorted(CHECKLIST_ITEMS - found.table.keys() - found.not_taken)
    if missing:
        problems.append(
            "checklist items neither in the table nor in «Что не сделано и почему»: " + ", ".join(map(str, missing))
        )

    assert not problems, f"{README.name}, «{SECTION}»:\n" + "\n".join(problems)
