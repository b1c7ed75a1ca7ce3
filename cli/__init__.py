"""zkpot's command line: `zkpot node`, `zkpot job`, `zkpot fl` (a door onto the core package).

The core package `zkpot` never imports this package; the CLI imports the core and the
workers.
"""

from cli.main import app, main

__all__ = ["app", "main"]
