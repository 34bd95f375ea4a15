"""Plugins (the anchors, CompressAI, DiV-INR, the test fixtures) use the harness only through
the public contract, ``codecbench/__init__.py`` and the two public modules it names
(``codecbench.ffmpeg``, ``codecbench.datasets``): a private module they import is a failure."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import codecbench
import codecbench.datasets
import codecbench.ffmpeg

ROOT = Path(__file__).resolve().parents[1]
#: Public names of the contract, by module.
PUBLIC = {
    "codecbench": set(codecbench.__all__),
    "codecbench.ffmpeg": set(codecbench.ffmpeg.__all__),
    "codecbench.datasets": set(codecbench.datasets.__all__),
}
#: Folders of plugin code: every file under them must keep to the contract.
PLUGIN_FOLDERS = [
    ROOT / "anchors",
    ROOT / "plugins" / "codecbench_compressai",
    ROOT / "plugins" / "codecbench_divinr",
    ROOT / "tests" / "fixtures",
]


def plugin_files(folder: Path) -> list[Path]:
    """The Python files of ``folder`` under version control (files not yet committed are checked
    once they are); every file when this is not a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.py"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(folder.rglob("*.py"))
    return sorted(folder / name for name in listed.split("\0") if name)


def private_imports(source: str, where: str = "<source>") -> list[str]:
    """Imports of ``source`` that reach past ``codecbench``'s public names, as ``where:line: text``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [
                a.name for a in node.names if a.name.split(".")[0] == "codecbench" and a.name not in PUBLIC
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in PUBLIC:
                names = [f"{node.module}.{a.name}" for a in node.names if a.name not in PUBLIC[node.module]]
            elif node.module.startswith("codecbench."):
                names = [node.module]
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
        for path in plugin_files(folder)
        for problem in private_imports(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not problems, "plugins import private harness modules:\n" + "\n".join(problems)


def test_every_plugin_folder_is_checked():
    assert all(plugin_files(folder) for folder in PLUGIN_FOLDERS)


def test_the_check_catches_private_imports():
    assert private_imports("from codecbench.errors import BitstreamError\n")
    assert private_imports("import codecbench.yuv\n")
    assert private_imports("from codecbench import registry\n")
    assert private_imports("from codecbench.datasets.registry import resolve\n")
    assert private_imports("from codecbench.ffmpeg import _query\n")
    assert not private_imports("from codecbench import Codec, ffmpeg\nimport codecbench\n")
    assert not private_imports("from codecbench.datasets import resolve\nimport codecbench.ffmpeg\n")
    assert not private_imports("from codecbench_anchors.rates import MODES\n")


def test_the_contract_exports_what_it_lists():
    for name in codecbench.__all__:
        assert hasattr(codecbench, name), name
