"""The ServerApp: zkpot's strategy in place of FedAvg, on a FederatedTask it creates."""

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from flower_digits.task import SPEC, model, split
from zkpot_flower import ZkpotStrategy
from zkpot_flower.records import to_arrays
from zkpot_flower.server import TaskTerms, open_task

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    c = context.run_config
    test, _ = split(int(c["zkpot-test-size"]))
    initial = model().state_dict()
    # deploys the contracts on a development chain, escrows the rewards, commits the test set
    employer, task_id, clock = open_task(c, SPEC, test, initial, TaskTerms.from_run_config(c))
    strategy = ZkpotStrategy(employer, task_id, clock, min_available_nodes=2)
    strategy.start(grid, to_arrays(initial), num_rounds=int(c["num-server-rounds"]), timeout=3600)
