"""``python -m zkpot.demo`` (what ``make demo`` runs)."""

from zkpot.demo.run import main

raise SystemExit(main())
