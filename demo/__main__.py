"""``python -m demo`` (what ``make demo`` runs)."""

from demo.run import main

raise SystemExit(main())
