"""zkpot: verifiable ML training paid from escrow on an EVM chain.

The core package shared by the API gateway and the workers: protocol objects, the
training stage and its secret, hashing, storage, the zk pipeline and the chain client.
"""

__version__ = "0.1.0"
