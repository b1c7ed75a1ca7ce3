"""Deploying zkpot's contracts and the deployment map (contract name → address) as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from zkpot.chain.client import ChainClient
from zkpot.config import Settings

DEFAULT_MIN_STAKE = 10**16  # 0.01 ether
# a declaration's collateral: a minimum stake backs this many open declarations at once
DEFAULT_DECLARATIONS_PER_STAKE = 4
DEFAULT_EXIT_COOLDOWN = 24 * 3600


@dataclass
class Deployment:
    """Where the contracts live on one chain. ``contracts`` maps artifact names to addresses."""

    chain_id: int
    block: int
    contracts: dict[str, str] = field(default_factory=dict)
    # accuracy verifier address -> what it was set up with (circuit, shard size, SRS sha256 and
    # origin, VKA hash, statement hash): ``zkpot.zk.evm.verifier_record``
    verifiers: dict[str, dict] = field(default_factory=dict)

    @property
    def escrow(self) -> str:
        return self.contracts["JobEscrow"]

    @property
    def registry(self) -> str:
        return self.contracts["NodeRegistry"]

    @property
    def verifier(self) -> str | None:
        """The accuracy verifier jobs use by default: the real one if deployed, else the mock."""
        return self.contracts.get("EzklAccuracyVerifier") or self.contracts.get("MockAccuracyVerifier")

    def to_json(self) -> str:
        data = {"chain_id": self.chain_id, "block": self.block, "contracts": self.contracts}
        if self.verifiers:
            data["verifiers"] = self.verifiers
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save(self, path: Path) -> None:
        """Write the map; contracts another part deployed into the same file are kept."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("chain_id") == self.chain_id:
                self.contracts = {**old.get("contracts", {}), **self.contracts}
                self.verifiers = {**old.get("verifiers", {}), **self.verifiers}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)

    @classmethod
    def from_json(cls, text: str) -> "Deployment":
        """The map from its JSON; ``ValueError`` naming what is wrong with anything else (a
        corrupt or hostile file is a reason, never a bare KeyError or RecursionError)."""
        try:
            data = json.loads(text)
            contracts, verifiers = dict(data["contracts"]), dict(data.get("verifiers", {}))
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in contracts.items()):
                raise TypeError("contracts must map names to addresses")
            return cls(chain_id=int(data["chain_id"]), block=int(data.get("block", 0)),
                       contracts=contracts, verifiers=verifiers)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)[:200] or type(exc).__name__
            raise ValueError(f"the deployment map is unreadable: {detail}") from None


def deploy_all(client: ChainClient, *, min_stake: int = DEFAULT_MIN_STAKE, slash_amount: int | None = None,
               exit_cooldown: int = DEFAULT_EXIT_COOLDOWN, mock_verifier: bool = False,
               path: Path | None = None) -> Deployment:
    """Deploy JobEscrow (which creates its NodeRegistry), and the mock verifier when asked.

    Writes the deployment map to ``path`` when given. ``slash_amount`` (the collateral of one
    open declaration) defaults to a quarter of ``min_stake``.
    """
    block = client.block_number()
    slash = min_stake // DEFAULT_DECLARATIONS_PER_STAKE if slash_amount is None else slash_amount
    escrow = client.deploy("JobEscrow", min_stake, slash, exit_cooldown)
    contracts = {"JobEscrow": escrow.address, "NodeRegistry": client.call(escrow.functions.registry())}
    if mock_verifier:
        contracts["MockAccuracyVerifier"] = client.deploy("MockAccuracyVerifier").address
    deployment = Deployment(chain_id=client.chain_id, block=block, contracts=contracts)
    if path is not None:
        deployment.save(path)
    return deployment


def load_deployment(settings: Settings) -> Deployment:
    """The deployment map at ``settings.deployment_path``."""
    path = settings.deployment_path
    if not path.exists():
        raise FileNotFoundError(f"no deployment map at {path}; run scripts/deploy.py first")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the deployment map {path} is not UTF-8 text") from None
    deployment = Deployment.from_json(text)
    if settings.chain_id is not None and deployment.chain_id != settings.chain_id:
        raise ValueError(f"{path} is for chain {deployment.chain_id}, settings expect {settings.chain_id}")
    return deployment
