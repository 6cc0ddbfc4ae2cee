"""The console tests' fixtures live in console_box.py (a unique module name: a test imports its helpers by it)."""

from console_box import admin, box, shot  # noqa: F401  (fixtures)
