"""The version of codecbench, in a module of its own so harness modules can read it while the package loads."""

__version__ = "0.1.0"
