"""``python -m pipepilot``: the ``pipepilot`` command (needs the ``cli`` extra: ``pip install 'pipepilot[cli]'``)."""

from __future__ import annotations

import sys

from pipepilot.cli import main

if __name__ == "__main__":
    sys.exit(main())
