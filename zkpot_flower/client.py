"""The client side: zkpot added to a Flower ``ClientApp``.

    app = ClientApp()
    zkpot_client(app, train=my_train)      # my_train(global_state, config, context) -> trained state

registers two handlers. ``train`` (the round's commit phase): the message carries the round's
global model and the task; the participant checks the model against its on-chain commitment,
runs the user's training on its private data, picks the step the reward rule pays best, proves
its accuracy, encrypts it to the employer, stores it and commits on chain; the reply carries
only figures, never weights. ``train.reveal`` (the reveal phase, sent by the strategy once the
commit phase is over): submit the committed update with its proofs. Each node signs with its
own key (``ZKPOT_NODE_KEY`` or keystore; on a development chain, a dev key per partition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from zkpot.chain import ChainClient
from zkpot.chain.clock import LiveChainClock
from zkpot.config import Settings
from zkpot.federated.chain import FederatedTaskClient
from zkpot.federated.participant import STEPS, Participant, PendingReveal, RoundOutcome, RoundSkipped, participant_for_task
from zkpot.storage import open_store
from zkpot_flower.records import CONTRACT_KEY, PENDING_KEY, TASK_KEY, decode_pending, encode_pending

# the user's training: the round's global model (a torch state dict), the message's config
# (``server-round`` and the strategy's train config) and the node's context in; the trained
# state dict out
UserTrain = Callable[[dict, ConfigRecord, Context], dict]


@dataclass(frozen=True)
class NodeConfig:
    """Where a node's chain, store and circuits are, and which key it signs with.

    Read from the run config (``zkpot-rpc-url``, ``zkpot-state-dir``, ``zkpot-storage-dir``,
    ``zkpot-circuit-dir``, ``zkpot-dev-keys``) over the node's ``ZKPOT_*`` environment. With the
    local store backend, ``storage_dir`` must be the folder the employer stores the task in. For
    simulations on a local chain only: ``partition_keys`` (partition i signs with key i), or
    ``dev_keys`` (the development chain's key ``partition-id`` + 1; key 0 is the employer's).
    """

    rpc_url: str | None = None
    state_dir: str | None = None
    storage_dir: str | None = None
    circuit_dir: str | None = None
    dev_keys: bool = False
    partition_keys: tuple[str, ...] = ()
    steps: tuple[float, ...] = STEPS
    submit_unpaid: bool = False

    def merged(self, context: Context) -> "NodeConfig":
        c = context.run_config
        return replace(self, rpc_url=c.get("zkpot-rpc-url", self.rpc_url) or self.rpc_url,
                       state_dir=c.get("zkpot-state-dir", self.state_dir) or self.state_dir,
                       storage_dir=c.get("zkpot-storage-dir", self.storage_dir) or self.storage_dir,
                       circuit_dir=c.get("zkpot-circuit-dir", self.circuit_dir) or self.circuit_dir,
                       dev_keys=bool(c.get("zkpot-dev-keys", self.dev_keys)))

    def settings(self) -> Settings:
        env = {k: v for k, v in {"ZKPOT_RPC_URL": self.rpc_url, "ZKPOT_STATE_DIR": self.state_dir,
                                 "ZKPOT_STORAGE_DIR": self.storage_dir,
                                 "ZKPOT_CIRCUIT_DIR": self.circuit_dir}.items() if v}
        import os

        return Settings.from_env(environ={**os.environ, **env})

    def private_key(self, context: Context, settings: Settings) -> str:
        if self.partition_keys:
            return self.partition_keys[int(context.node_config["partition-id"])]
        if self.dev_keys:
            from zkpot.devnet import dev_private_keys

            index = int(context.node_config.get("partition-id", 0)) + 1
            return dev_private_keys(index + 1)[index]
        from zkpot.node.identity import load_identity

        return load_identity(settings).account.key.to_0x_hex()


@lru_cache(maxsize=64)
def _participant(config: NodeConfig, key: str, contract: str, task_id: int, label: str) -> Participant:
    """One participant per (node key, task) in this process: its circuit is loaded once."""
    settings = config.settings()
    chain = ChainClient(settings.rpc_url, key, lock_dir=settings.path("locks"))
    tasks = FederatedTaskClient(chain, contract)
    return participant_for_task(tasks, open_store(settings), settings, task_id, steps=config.steps,
                                submit_unpaid=config.submit_unpaid, label=label)


def zkpot_client(app: ClientApp, train: UserTrain, config: NodeConfig | Callable[[Context], NodeConfig] = NodeConfig(),
                 label: Callable[[Context], str] | None = None) -> ClientApp:
    """Register zkpot's commit (``train``) and reveal (``train.reveal``) handlers on ``app``.

    ``config`` may depend on the node (a function of its context), say to make some
    simulated nodes attackers; ``label`` names a node in the outcomes (default: its partition).
    """

    def node(msg: Message, context: Context) -> Participant:
        base = config(context) if callable(config) else config
        cfg = base.merged(context)
        settings = cfg.settings()
        name = label(context) if label else f"partition-{context.node_config.get('partition-id', '?')}"
        task_cfg = msg.content["config"]
        return _participant(cfg, cfg.private_key(context, settings), str(task_cfg[CONTRACT_KEY]),
                            int(task_cfg[TASK_KEY]), name)

    @app.train()
    def commit(msg: Message, context: Context) -> Message:
        participant = node(msg, context)
        task_id = int(msg.content["config"][TASK_KEY])
        config_record = msg.content["config"]
        result = participant.commit_round(task_id, lambda state: train(state, config_record, context))
        if isinstance(result, PendingReveal):
            context.state[PENDING_KEY] = ConfigRecord({"pending": encode_pending(result)})
            return _reply(msg, result.outcome, committed=True)
        if isinstance(result, RoundSkipped):
            return Message(RecordDict({"metrics": MetricRecord({"zkpot-committed": 0, "num-examples": 1})}),
                           reply_to=msg)
        return _reply(msg, result, committed=False)

    @app.train("reveal")
    def reveal(msg: Message, context: Context) -> Message:
        participant = node(msg, context)
        record = context.state.get(PENDING_KEY)
        if record is None:
            return Message(RecordDict({"metrics": MetricRecord({"zkpot-accepted": 0, "num-examples": 1})}),
                           reply_to=msg)
        pending = decode_pending(str(record["pending"]))
        del context.state[PENDING_KEY]
        outcome = participant.reveal(pending, LiveChainClock(participant.task_client.client))
        return _reply(msg, outcome, committed=True)

    return app


def _reply(msg: Message, outcome: RoundOutcome, committed: bool) -> Message:
    """Figures only: the proven count, the chosen step, acceptance, reward and gas."""
    metrics = MetricRecord({
        "zkpot-committed": int(committed), "zkpot-accepted": int(outcome.accepted),
        "zkpot-proven": int(outcome.proven_correct), "zkpot-step": float(outcome.step),
        "zkpot-reward-gwei": float(outcome.reward) / 1e9, "zkpot-gas": int(outcome.gas_used or 0),
        "num-examples": 1})
    info = ConfigRecord({"participant": outcome.participant, "label": outcome.label,
                         "refusal": outcome.refusal or "", "reward-wei": str(outcome.reward)})
    return Message(RecordDict({"metrics": metrics, "outcome": info}), reply_to=msg)
