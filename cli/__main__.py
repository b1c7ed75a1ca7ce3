"""``python -m cli`` runs the ``zkpot`` command."""

from cli.main import main

main()
