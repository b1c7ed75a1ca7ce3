"""zkpot's chain client: the one transaction path, contract wrappers, deployment map, events.

Imports web3 but never torch.
"""

from zkpot.chain.artifacts import ArtifactMissing, decode_revert, load_artifact
from zkpot.chain.client import ChainClient, Receipt
from zkpot.chain.deployment import Deployment, deploy_all, load_deployment
from zkpot.chain.errors import ChainError, ContractError
from zkpot.chain.escrow import (AttemptView, DeclarationView, JobEscrowClient, JobParams, JobStatus, JobView,
                                Opening, Revealed, SlashReason, StagePhase, StageResult, StageView)
from zkpot.chain.events import ChainEvent, fetch_events
from zkpot.chain.registry import NodeRegistryClient, NodeView

__all__ = [
    "ArtifactMissing", "AttemptView", "ChainClient", "ChainError", "ChainEvent", "ContractError",
    "DeclarationView", "Deployment", "JobEscrowClient", "JobParams", "JobStatus", "JobView", "NodeRegistryClient",
    "NodeView", "Opening", "Receipt", "Revealed", "SlashReason", "StagePhase", "StageResult", "StageView",
    "decode_revert", "deploy_all",
    "fetch_events", "load_artifact", "load_deployment",
]


def _cap_recursion_limit(limit: int = 10_000) -> None:
    """web3 imports py_ecc, which raises the interpreter's recursion limit to 100,000 on its first
    import: deep enough for a nested JSON document to overflow the C stack and kill the process
    instead of raising ``RecursionError`` (found by an attack: one request of 100,000 '[' killed
    the API). Back to a depth the stack holds (about 1.6 MB of it for JSON)."""
    import sys

    import py_ecc  # noqa: F401  -- its import is what raises the limit; from here on it is done

    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


_cap_recursion_limit()

