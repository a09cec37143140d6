"""The hostile-input and fault catalogue (``pytest tests/hostile``): every case asserts its
expected behaviour and that nothing was lost; the session ends with a line per group."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support.py
