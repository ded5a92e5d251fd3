"""``python -m solverhub``: the same command line as the ``solverhub`` script."""

from solverhub.core.cli import main

raise SystemExit(main())
