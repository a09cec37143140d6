"""``python -m benchmarks.accuracy``: run the ``main()`` of every part in :data:`PARTS`.

A part whose module is absent is skipped with a line saying so."""

from __future__ import annotations

import importlib
import sys

from benchmarks.accuracy import PARTS


def main() -> int:
    """Run each part in turn (imported lazily); the exit code is the worst of theirs."""
    worst = 0
    for part in PARTS:
        name = f"benchmarks.accuracy.{part}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            print(f"accuracy: part {part!r} skipped: no module {name}")
            continue
        print(f"== accuracy: {part} ==", flush=True)
        code = module.main()
        worst = max(worst, int(code or 0))
    return worst


if __name__ == "__main__":
    sys.exit(main())
