import stat

from typer.testing import CliRunner

from zkpot.cli import app
from zkpot.federated.crypto import EncryptionKeyPair


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path):
    path = tmp_path / "employer.x25519"
    result = CliRunner().invoke(app, ["fl", "keygen", str(path)])
    assert result.exit_code == 0, result.output
    keys = EncryptionKeyPair.from_private(bytes.fromhex(path.read_text().strip()))
    assert f"0x{keys.public.hex()}" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keygen_never_overwrites_a_key(tmp_path):
    path = tmp_path / "employer.x25519"
    path.write_text("existing")
    result = CliRunner().invoke(app, ["fl", "keygen", str(path)])
    assert result.exit_code == 1
    assert path.read_text() == "existing"
