"""Where the repository's files are: one place, so no module walks up ``__file__`` itself.

allockit runs from a source checkout (``pip install -e .``): ``params/``, ``data/``,
``notebooks/`` and ``lab/`` sit beside the package. Every path here is absolute, so nothing
depends on the working directory (a notebook's kernel runs in ``notebooks/``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAMS_DIR = ROOT / "params"
DATA_DIR = ROOT / "data"
NOTEBOOKS_DIR = ROOT / "notebooks"
LAB_DIR = ROOT / "lab"
