"""The ClientApp: the user's training, with zkpot added (prove, encrypt, commit, reveal)."""

from flwr.app import ConfigRecord, Context
from flwr.clientapp import ClientApp

from flower_digits.task import load_partition, train
from zkpot_flower import zkpot_client

app = ClientApp()


def local_train(global_state: dict, config: ConfigRecord, context: Context) -> dict:
    X, y = load_partition(int(context.node_config["partition-id"]), int(context.node_config["num-partitions"]),
                          int(context.run_config["zkpot-test-size"]))
    return train(global_state, X, y, int(context.run_config["local-epochs"]),
                 float(context.run_config["learning-rate"]), seed=int(config["server-round"]))


zkpot_client(app, train=local_train)  # the one zkpot line: proofs, encryption, commitments, reveals
