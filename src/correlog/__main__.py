"""``python -m correlog``: the same as the ``correlog`` command."""

from correlog.cli import main

raise SystemExit(main())
