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
