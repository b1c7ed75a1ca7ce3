"""zkpot: verifiable ML training paid from escrow on an EVM chain.

The core package shared by the API gateway and the workers: protocol objects, the
training stage and its secret, hashing, storage, the zk pipeline and the chain client.
"""

from pathlib import Path

__version__ = "0.1.0"

# the project's working folder (the package's parent); here rather than in zkpot.config so that
# brownie's environment (no pydantic-settings) can import zkpot.devnet for the contract tests
PROJECT_ROOT = Path(__file__).resolve().parent.parent
