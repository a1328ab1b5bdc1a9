"""House rules that ruff cannot check: no function in validator/ over 80 lines of code.

A line of code is a line of the function (its signature included) that is
not blank, not only a comment, and not part of its docstring; a nested
function counts inside the function that holds it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "validator"
#: Most lines of code in one function.
MAX_FUNCTION_LINES = 80


def _comment_only_lines(source: str) -> set[int]:
    """Line numbers holding a comment and nothing else."""
    code, comments = set(), set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments.add(tok.start[0])
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            code.update(range(tok.start[0], tok.end[0] + 1))
    return comments - code


def function_lengths(path: Path) -> list[tuple[str, int, int]]:
    """``(qualified name, first line, lines of code)`` of every function in ``path``."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    comments = _comment_only_lines(source)
    out: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = getattr(child, "name", "")
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                doc: set[int] = set()
                first = child.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                        and isinstance(first.value.value, str):
                    doc = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
                end = child.end_lineno or child.lineno
                n = sum(1 for i in range(child.lineno, end + 1)
                        if lines[i - 1].strip() and i not in comments and i not in doc)
                out.append((f"{prefix}{name}", child.lineno, n))
                visit(child, f"{prefix}{name}.")
            else:
                visit(child, f"{prefix}{name}." if isinstance(child, ast.ClassDef) else prefix)

    visit(ast.parse(source, filename=str(path)), "")
    return out


def test_no_function_in_validator_is_over_80_lines() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        too_long += [f"validator/{rel}:{line} {name}: {n} lines"
                     for name, line, n in function_lengths(path) if n > MAX_FUNCTION_LINES]
    assert not too_long, "functions over 80 lines of code:\n" + "\n".join(too_long)


def test_the_line_count_leaves_out_docstrings_comments_and_blank_lines(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text('def f(x):\n    """Doc.\n\n    More.\n    """\n    # a comment\n\n'
                   '    y = x  # code with a comment\n    return y\n\n\n'
                   'class C:\n    def g(self):\n        def h():\n            return 1\n'
                   '        return h()\n')
    assert function_lengths(src) == [("f", 1, 3), ("C.g", 13, 4), ("C.g.h", 14, 2)]


def test_readme_architecture_lists_every_room() -> None:
    """Each folder and module of validator/ has its line in the README's architecture tree."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    tree = readme.split("The package is a pipeline; one folder per stage:", 1)[1]
    tree = tree.split("```", 2)[1]
    rooms = {f"{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    rooms |= {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py",
                                                                    "__main__.py")}
    listed = {line.split()[0] for line in tree.splitlines() if line.startswith("  ")
              and not line.startswith("   ")}
    missing = sorted(r for r in rooms if r not in listed and r not in tree)
    assert not missing, f"README architecture section does not list {missing}"
