"""Plugins (the anchors, CompressAI, DiV-INR, the test fixtures) use the harness only through
the public contract, ``codecbench/__init__.py``: a private module they import is a failure."""

from __future__ import annotations

import ast
from pathlib import Path

import codecbench

ROOT = Path(__file__).resolve().parents[1]
#: Folders of plugin code: every file under them must keep to the contract.
PLUGIN_FOLDERS = [
    ROOT / "anchors",
    ROOT / "plugins" / "codecbench_compressai",
    ROOT / "tests" / "fixtures",
]


def private_imports(source: str, where: str = "<source>") -> list[str]:
    """Imports of ``source`` that reach past ``codecbench``'s public names, as ``where:line: text``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("codecbench.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("codecbench."):
                names = [node.module]
            elif node.module == "codecbench":
                names = [f"codecbench.{a.name}" for a in node.names if a.name not in codecbench.__all__]
            else:
                names = []
        else:
            names = []
        found += [f"{where}:{node.lineno}: {name}" for name in names]
    return found


def test_plugins_import_only_the_public_contract():
    problems = [
        problem
        for folder in PLUGIN_FOLDERS
        for path in sorted(folder.rglob("*.py"))
        for problem in private_imports(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not problems, "plugins import private harness modules:\n" + "\n".join(problems)


def test_the_check_catches_private_imports():
    assert private_imports("from codecbench.errors import BitstreamError\n")
    assert private_imports("import codecbench.yuv\n")
    assert private_imports("from codecbench import registry\n")
    assert not private_imports("from codecbench import Codec, ffmpeg\nimport codecbench\n")
    assert not private_imports("from codecbench_anchors.rates import MODES\n")


def test_the_contract_exports_what_it_lists():
    for name in codecbench.__all__:
        assert hasattr(codecbench, name), name
