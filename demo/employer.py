"""The demo's employer: talks to the API like the dashboard does, with a dev key as its wallet.

It signs in (EIP-4361), posts the job (the API validates, chunks, stores and, in dev mode,
sends ``createJob`` itself) and, once training is over, asks the API to publish the test set.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import httpx
import numpy as np
from eth_account import Account
from eth_account.messages import encode_defunct


class ApiError(RuntimeError):
    """The API refused a request; the message carries its problem detail."""


@dataclass(frozen=True)
class JobRequest:
    """What the employer posts: a spec, a dataset (bundled name or NPZ bytes) and its terms."""

    spec: dict
    reward_per_declaration_wei: int
    quorum: int
    theta: float
    stage_flops: int
    shard_size: int
    bounty_wei: int = 0
    deadline_s: int = 24 * 3600
    commit_window_s: int = 10 * 60
    reveal_window_s: int = 10 * 60
    demo_dataset: str | None = None
    dataset_npz: bytes | None = None


def digits_subset_npz(samples: int, seed: int = 0) -> bytes:
    """The first ``samples`` of a seeded shuffle of the bundled digits, as an NPZ upload."""
    from zkpot.datasets import demo_dataset

    ds = demo_dataset("digits")
    keep = np.sort(np.random.default_rng(seed).permutation(len(ds))[:samples])
    buf = io.BytesIO()
    np.savez(buf, x=ds.features[keep], y=ds.labels[keep])
    return buf.getvalue()


class ApiEmployer:
    """An employer wallet (a private key) using the zkpot API at ``base_url``."""

    def __init__(self, base_url: str, private_key: str, timeout: float = 600.0):
        self.account = Account.from_key(private_key)
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.token: str | None = None

    @property
    def address(self) -> str:
        return self.account.address

    def _check(self, r: httpx.Response) -> dict:
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise ApiError(f"{r.request.method} {r.request.url.path}: {r.status_code} {detail}")
        return r.json()

    def sign_in(self) -> None:
        challenge = self._check(self.http.get("/api/auth/nonce", params={"address": self.address}))
        signature = self.account.sign_message(encode_defunct(text=challenge["message"])).signature
        out = self._check(self.http.post("/api/auth/verify", json={
            "message": challenge["message"], "signature": signature.to_0x_hex(), "bearer": True}))
        self.token = out["token"]

    @property
    def _auth(self) -> dict[str, str]:
        if self.token is None:
            self.sign_in()
        return {"Authorization": f"Bearer {self.token}"}

    def post_job(self, job: JobRequest) -> dict:
        """``POST /api/jobs``: the API's ``JobPrepared`` answer (with ``tx_hash`` in dev mode)."""
        form = {"spec": json.dumps(job.spec), "reward_per_declaration_wei": str(job.reward_per_declaration_wei),
                "quorum": str(job.quorum), "theta": str(job.theta), "deadline_s": str(job.deadline_s),
                "bounty_wei": str(job.bounty_wei), "stage_flops": str(job.stage_flops),
                "shard_size": str(job.shard_size), "commit_window_s": str(job.commit_window_s),
                "reveal_window_s": str(job.reveal_window_s)}
        files = None
        if job.dataset_npz is not None:
            files = {"dataset": ("dataset.npz", job.dataset_npz, "application/octet-stream")}
        else:
            form["demo_dataset"] = job.demo_dataset or "digits"
        return self._check(self.http.post("/api/jobs", data=form, files=files, headers=self._auth))

    def publish_test_set(self, job_id: int) -> dict:
        """``POST /api/jobs/{id}/test-set``: the API (dev mode) posts T's shards on chain."""
        return self._check(self.http.post(f"/api/jobs/{job_id}/test-set", headers=self._auth))

    def job(self, job_id: int) -> dict:
        return self._check(self.http.get(f"/api/jobs/{job_id}"))

    def close(self) -> None:
        self.http.close()
