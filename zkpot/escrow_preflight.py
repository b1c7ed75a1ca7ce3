"""Ask the chain before a job's work starts: does it answer, is zkpot deployed there, and would
``createJob`` with this job's numbers pass for this employer (balance included)?

``zkpot.jobs.prepare_job`` calls :meth:`EscrowPreflight.check_create` after the input checks
and before the zk commitments and any write, so a job the contract would refuse stores
nothing. The createJob call is simulated with ``eth_estimateGas`` from the employer's address
with the exact escrow value; the manifest hash, CID and shard commitments are placeholders of
the right shape (the contract does not look inside them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zkpot.config import Settings
from zkpot.jobs import JobChainError, JobInputError, JobRefused
from zkpot.revert_reasons import explain, param_name, unreachable

if TYPE_CHECKING:
    from zkpot.chain import Deployment, JobEscrowClient, JobParams

# JobParamInvalid(name) → the form field a user changes
_PARAM_FIELDS = {"stages": "stage_flops", "confirmations": "quorum", "amount": "reward_per_declaration",
                 "shards": "shard_size", "samples": "dataset", "threshold": "theta",
                 "deadline": "deadline"}


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.6f}".rstrip("0").rstrip(".") + " ETH"


class EscrowPreflight:
    """The chain as job creation needs it, for one employer address (read-only, never sends)."""

    def __init__(self, settings: Settings, employer: str):
        from web3 import Web3

        self.settings = settings
        self.employer = Web3.to_checksum_address(employer)
        self._escrow: "JobEscrowClient | None" = None
        self._deployment: "Deployment | None" = None

    def connect(self) -> "JobEscrowClient":
        """The escrow, once the chain answered and the deployment map matches it."""
        if self._escrow is not None:
            return self._escrow
        from zkpot.chain import ChainClient, JobEscrowClient, load_deployment

        url = self.settings.rpc_url
        try:
            deployment = load_deployment(self.settings)
        except (OSError, ValueError) as e:
            raise JobChainError(f"zkpot contracts are not deployed for {url}: {e}") from e
        try:
            client = ChainClient.from_settings(self.settings, read_only=True, retries=1)
            chain_id = client.chain_id
            code = client.rpc(lambda: client.w3.eth.get_code(deployment.escrow))
        except Exception as e:  # refused, timed out, a bad URL, an HTTP error page, not JSON-RPC
            raise JobChainError(f"the chain at {url} does not answer ({unreachable(e)})") from e
        if deployment.chain_id != chain_id:
            raise JobChainError(f"the deployment map {self.settings.deployment_path} is for chain "
                                f"{deployment.chain_id}; {url} serves chain {chain_id}")
        if not code:
            raise JobChainError(f"no JobEscrow contract at {deployment.escrow} on chain {chain_id}: "
                                "deploy zkpot there first (scripts/deploy.py)")
        self._deployment = deployment
        self._escrow = JobEscrowClient(client, deployment.escrow)
        return self._escrow

    @property
    def chain_id(self) -> int:
        return self.connect().client.chain_id

    def verifier(self) -> str:
        """The accuracy verifier the deployment names."""
        self.connect()
        verifier = self._deployment.verifier
        if verifier is None:
            raise JobChainError("no accuracy verifier is deployed on this chain")
        return verifier

    def verifier_for(self, circuit) -> str:
        """The deployed accuracy verifier of the job's circuit (its statement, shard size, δ,
        SRS and verifying key), found among the deployment map's verifiers; a job without one
        could never be proven, so it is refused (``JobInputError`` on ``shard_size``) with what
        is deployed and how to deploy its own. A deployment with only the mock verifier (for
        development) gets the mock."""
        from zkpot.zk.evm import ADAPTER_NAME, verifier_mismatches

        client = self.connect().client
        deployment = self._deployment
        candidates = list(deployment.verifiers)
        named = deployment.contracts.get(ADAPTER_NAME)
        if named and named not in candidates:
            candidates.append(named)
        if not candidates:
            return self.verifier()
        seen = []
        for address in candidates:
            try:
                wrong = verifier_mismatches(client, address, circuit)
            except Exception as e:   # the chain did not answer
                raise JobChainError(f"the chain at {self.settings.rpc_url} does not answer "
                                    f"({unreachable(e)})") from e
            if not wrong:
                return address
            seen.append(f"{address}: {', '.join(wrong)}")
        raise JobInputError(
            f"no accuracy verifier on chain {client.chain_id} proves this job's circuit (shards of "
            f"{circuit.n}, margin {circuit.margin_steps}, statement 0x{circuit.statement_hash.hex()}"
            f"): its proofs would all be refused. Deployed: " + "; ".join(seen) + ". Use the shard "
            f"size of a deployed verifier, or deploy this circuit's (scripts/deploy_verifier.py)",
            field="shard_size")

    def check_create(self, params: "JobParams") -> None:
        """Raise ``JobRefused``/``JobInputError`` when createJob(params) would fail for the employer."""
        from web3.exceptions import ContractLogicError, Web3RPCError

        from zkpot.chain import ChainError, decode_revert

        escrow = self.connect()
        client = escrow.client
        try:
            balance = client.balance(self.employer)
        except ChainError as e:
            raise JobChainError(f"the chain at {self.settings.rpc_url} does not answer "
                                f"({unreachable(e)})") from e
        if balance < params.escrow:
            raise JobRefused(f"the employer {self.employer} holds {_eth(balance)}; this job escrows "
                             f"{_eth(params.escrow)} (plus gas)")
        fn = escrow.contract.functions.createJob(params.as_tuple())
        try:
            client.rpc(lambda: fn.estimate_gas({"from": self.employer, "value": params.escrow}))
        except ContractLogicError as e:
            self._refuse(decode_revert(e.data) if isinstance(e.data, str) else None, e)
        except Web3RPCError as e:
            message = str(getattr(e, "message", "") or e)
            if "insufficient funds" in message.lower():
                raise JobRefused(f"the employer {self.employer} cannot pay {_eth(params.escrow)} "
                                 "plus gas") from e
            raise JobRefused(f"createJob would fail: {message}") from e
        except ChainError as e:
            raise JobChainError(f"the chain at {self.settings.rpc_url} does not answer "
                                f"({unreachable(e)})") from e

    @staticmethod
    def _refuse(error, cause: Exception) -> None:
        if error is None:
            raise JobRefused(f"createJob would revert: {cause}") from cause
        if error.name == "JobParamInvalid" and error.args_:
            field = _PARAM_FIELDS.get(param_name(error.args_[0]) or "")
            raise JobInputError(f"the contract would refuse the job: {explain(error)}",
                                field=field) from cause
        raise JobRefused(f"the contract would refuse the job: {explain(error)}") from cause
