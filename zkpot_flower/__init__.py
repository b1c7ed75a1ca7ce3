"""zkpot as the verifiable, paid layer of a Flower federation.

Server side: ``ZkpotStrategy``, a Flower (Message API) strategy whose rounds are a
FederatedTask's rounds: it opens them with the global model, has the clients commit and then
reveal on chain, aggregates only the updates the contract accepted and the employer checked,
weighted by certified count, proves the new global model's count and closes the round with it.
Client side: ``zkpot_client(app, train)`` adds zkpot to a ``ClientApp``: the user's own torch
training, then prove, encrypt, commit and reveal. A door beside the core (``zkpot.federated``),
which never imports it. docs/federated.md shows the few lines a Flower app needs.
"""

from zkpot_flower.client import NodeConfig, zkpot_client
from zkpot_flower.strategy import RoundReport, ZkpotStrategy

__all__ = ["NodeConfig", "RoundReport", "ZkpotStrategy", "zkpot_client"]
