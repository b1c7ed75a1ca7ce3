"""The repository's foundation: deployment files, settings and local services."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from web3 import Web3

from zkpot.config import PROJECT_ROOT, Settings
from zkpot.devnet import Anvil, Redis, dev_private_keys

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_every_deployment_service():
    services = compose()["services"]
    assert {"anvil", "redis", "ipfs", "api", "worker", "worker-gpu", "frontend"} <= set(services)


def test_compose_build_contexts_and_dockerfiles_exist():
    for name, svc in compose()["services"].items():
        build = svc.get("build")
        if build is None:
            assert "image" in svc, f"{name} has neither build nor image"
            continue
        context = PROJECT_ROOT / build["context"]
        assert context.is_dir(), f"{name}: build context {context} missing"
        assert (context / build["dockerfile"]).is_file(), f"{name}: Dockerfile missing"


def test_compose_gpu_worker_reserves_an_nvidia_device():
    gpu = compose()["services"]["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "gpu" in gpu["profiles"]


def test_compose_env_references_are_settings():
    text = COMPOSE.read_text()
    referenced = set(re.findall(r"\b(ZKPOT_[A-Z_]+)", text))
    known = {"ZKPOT_" + f.upper() for f in Settings.model_fields}
    # the GPU worker's key is a compose-level variable mapped onto ZKPOT_NODE_KEY
    unknown = referenced - known - {"ZKPOT_GPU_NODE_KEY"}
    assert not unknown, f"compose references variables zkpot does not read: {unknown}"


def test_compose_commands_point_at_modules_that_exist():
    services = compose()["services"]
    api_module = services["api"]["command"][1].split(":")[0]
    assert (PROJECT_ROOT / (api_module.replace(".", "/") + ".py")).is_file()


def test_settings_read_from_environment(tmp_path):
    s = Settings.from_env(environ={"ZKPOT_RPC_URL": "http://10.0.0.1:1", "ZKPOT_API_PORT": "9",
                                   "ZKPOT_STATE_DIR": str(tmp_path), "ZKPOT_NODE_KEY": "0xabc"})
    assert s.rpc_url == "http://10.0.0.1:1" and s.api_port == 9
    assert s.store_dir == tmp_path / "store" and s.store_dir.is_dir()
    assert "0xabc" not in repr(s), "secrets must not appear in reprs/logs"


def test_every_contract_states_the_pinned_compiler():
    from zkpot.zk.evm import SOLC_VERSION, one_pragma

    config = yaml.safe_load((PROJECT_ROOT / "brownie-config.yaml").read_text())
    assert config["compiler"]["solc"]["version"] == SOLC_VERSION
    pragmas = {path.relative_to(PROJECT_ROOT).as_posix(): re.search(r"^pragma solidity ([^;]+);", path.read_text(), re.M)[1]
               for path in sorted((PROJECT_ROOT / "contracts").rglob("*.sol"))}
    assert set(pragmas.values()) == {f"^{SOLC_VERSION}"}, pragmas
    # what ezkl writes is brought to the same pragma when generated
    assert one_pragma("// x\npragma solidity ^0.8.0;\ncontract A {}") == f"// x\npragma solidity ^{SOLC_VERSION};\ncontract A {{}}"


def test_every_error_and_event_of_zkpot_s_contracts_has_natspec():
    # ezkl's generated verifier is its own; everything zkpot writes documents what it reverts with and emits
    undocumented = []
    for path in sorted((PROJECT_ROOT / "contracts").rglob("*.sol")):
        if "generated" in path.parts:
            continue
        lines = path.read_text().splitlines()
        undocumented += [f"{path.name}:{i + 1}" for i, line in enumerate(lines)
                         if re.match(r"\s*(error|event) \w+", line) and not lines[i - 1].strip().startswith("///")]
    assert undocumented == []


def test_brownie_config_pins_the_compiler():
    cfg = yaml.safe_load((PROJECT_ROOT / "brownie-config.yaml").read_text())
    assert re.fullmatch(r"0\.8\.\d+", str(cfg["compiler"]["solc"]["version"]))


def test_anvil_starts_serves_and_stops(tmp_path):
    with Anvil(log_dir=tmp_path) as chain:
        w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
        assert w3.eth.chain_id == 31337
        first = w3.eth.accounts[0]
        key = dev_private_keys(1)[0]
        assert w3.eth.account.from_key(key).address == first
    assert chain.proc.poll() is not None


def test_redis_starts_serves_and_stops():
    import redis

    with Redis() as server:
        client = redis.Redis.from_url(server.url)
        client.set("zkpot", "1")
        assert client.get("zkpot") == b"1"
    assert server.proc.poll() is not None


def test_solc_shim_reports_the_pinned_version():
    out = subprocess.run([str(PROJECT_ROOT / ".tools/bin/solc"), "--version"],
                         capture_output=True, text=True, check=True).stdout
    cfg = yaml.safe_load((PROJECT_ROOT / "brownie-config.yaml").read_text())
    assert f"Version: {cfg['compiler']['solc']['version']}+commit" in out


def test_solc_shim_returns_large_outputs_whole():
    # native-compatible output beyond 64 KiB must not be truncated (exit after stdout drains)
    body = "".join(f"function f{i}() external pure returns (uint) {{ return {i}; }}\n"
                   for i in range(400))
    src = {"language": "Solidity",
           "sources": {"Big.sol": {"content": "pragma solidity ^0.8.0;\ncontract Big {\n" + body + "}"}},
           "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}}
    import json
    out = subprocess.run([str(PROJECT_ROOT / ".tools/bin/solc"), "--standard-json"],
                         input=json.dumps(src), capture_output=True, text=True, check=True).stdout
    assert len(out) > 65536
    assert len(json.loads(out)["contracts"]["Big.sol"]["Big"]["abi"]) == 400


def test_locks_pin_only_public_versions():
    # a local version (torch==2.13.0+cpu, as pip freeze writes it) is served by no public index,
    # and a GPU host needs the CUDA build of the same release: pins name public versions only
    locks = [PROJECT_ROOT / "requirements.lock", *sorted((PROJECT_ROOT / "tools").glob("requirements-*.lock"))]
    local = [f"{lock.name}: {line}" for lock in locks for line in lock.read_text().splitlines()
             if re.match(r"^[A-Za-z0-9_.-]+==[^ ;#]*\+", line)]
    assert not local, f"locks pin local versions: {local}"
    assert "torch==2.13.0" in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()


def test_every_setting_is_in_the_readme_table():
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Architecture")]
    for field in Settings.model_fields:
        name = "ZKPOT_" + field.upper()
        # the keystore password row reads "ZKPOT_NODE_KEYSTORE (+_PASSWORD)"
        assert name in table or (name == "ZKPOT_NODE_KEYSTORE_PASSWORD" and "`_PASSWORD`" in table), name


def test_the_runtime_never_imports_brownie():
    # brownie lives in its own tool environment (.venv-brownie); the runtime reads compiled
    # artifacts from build/contracts and must import neither brownie nor its pins' packages
    code = ("import sys, cli.main, zkpot.federated.employer, zkpot.federated.participant, zkpot.chain, "
            "zkpot.jobs, zkpot.node.proving, api.main, workers.app, workers.tasks, zkpot_flower, zkpot_flower.federation\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'brownie'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "[]"
    assert subprocess.run([sys.executable, "-c", "import brownie"], capture_output=True).returncode != 0


def test_contract_tools_have_their_own_environment():
    lock = (PROJECT_ROOT / "tools" / "requirements-brownie.lock").read_text().splitlines()
    assert "eth-brownie==1.22.2" in lock
    runtime = (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
    assert not any(line.startswith("eth-brownie==") for line in runtime)
    assert any(line.startswith("flwr==") for line in runtime)
