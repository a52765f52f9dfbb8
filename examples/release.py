"""A whole release with pipepilot: offline by default, on a real AWS account with ``--live``.

::

    python examples/release.py                  # offline (pipepilot.local): virtual time, about a second
    python examples/release.py --speed 120      # offline, two minutes of release per second: watchable
    python examples/release.py --throttle 0.3 --lose 0.05    # offline, on a hostile network
    python examples/release.py --live --role-arn ARN --artifact-bucket BUCKET [--keep]

The story (create a pipeline, build on CodeBuild, approve, hold a release at a disabled transition and let
it through, fail a deploy and retry the stage) is in ``pipepilot.cli._demo``, so that the ``pipepilot demo``
command runs it from an installed package too; read it there. It needs the ``local`` extra only.
"""

from __future__ import annotations

import sys

from pipepilot.cli._demo import main

if __name__ == "__main__":
    sys.exit(main())
