"""A small linter: tokenize and parse stdlib modules, report long lines and naming issues."""
import ast
import io
import os
import tokenize

import argparse
import textwrap

SOURCES = [argparse.__file__, textwrap.__file__, os.__file__]
issues = {"long": 0, "camel_func": 0, "bare_except": 0, "todo": 0}
tokens = names = 0
for path in SOURCES:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        tokens += 1
        if tok.type == tokenize.COMMENT and "XXX" in tok.string:
            issues["todo"] += 1
    issues["long"] += sum(1 for line in text.splitlines() if len(line) > 79)
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(c.isupper() for c in node.name):
            issues["camel_func"] += 1
        elif isinstance(node, ast.ExceptHandler) and node.type is None:
            issues["bare_except"] += 1
        elif isinstance(node, ast.Name):
            names += 1
print(tokens, names, sorted(issues.items()))
