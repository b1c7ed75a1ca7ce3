"""Jobs: the catalog to post one, job creation (upload → validate → chunk → store → manifest →
createJob transaction), the job views and the reclaim transaction."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile
from pydantic import BaseModel, Field

from api import chainlink
from api.deps import SessionDep, SettingsDep, get_index
from api.index import ChainIndex
from api.problems import ProblemError, responses
from api.schemas import JobPublic, JobSummary, UnsignedTx
from api.views import job_public, job_summary, jobs_of
from zkpot import datasets
from zkpot.spec import PRESETS, ModelSpec, SpecError

router = APIRouter(prefix="/api", tags=["jobs"])
IndexDep = Annotated[ChainIndex, Depends(get_index)]
JobIdPath = Annotated[int, Path(ge=0, le=2**63, description="on-chain job id")]
# default work per stage: a few seconds of CPU training for the bundled presets
DEFAULT_STAGE_FLOPS = 1_000_000
DEMO_DATASETS = {
    "digits": "8×8 handwritten digits, 64 features, 10 classes (1,797 samples)",
    "digits-images": "the same digits as 1×8×8 images (for Conv2d specs)",
    "wine": "13 wine measurements, 3 classes (178 samples)",
}


class DatasetInfo(BaseModel):
    name: str
    description: str


class PresetInfo(BaseModel):
    name: str
    spec: dict


class JobDefaults(BaseModel):
    reward_per_stage_eth: str
    quorum: int
    theta: float
    deadline_hours: float


class Catalog(BaseModel):
    """What the dashboard offers when posting a job."""

    datasets: list[DatasetInfo]
    presets: list[PresetInfo]
    defaults: JobDefaults
    max_upload_bytes: int


class JobPrepared(BaseModel):
    """A validated, chunked and stored job: the manifest and the escrow transaction to sign."""

    manifest_hash: str
    manifest_cid: str
    stage_count: int
    chunk_cids: list[str]
    train_samples: int
    test_samples: int
    threshold: int = Field(description="correct test predictions required: ⌈θ·N⌉")
    deposit: str = Field(description="wei the transaction escrows")
    deposit_eth: str
    transaction: UnsignedTx
    tx_hash: str | None = Field(None, description="set when the server signed it (dev mode)")


@router.get("/catalog", response_model=Catalog, summary="Demo datasets, spec presets, defaults")
def catalog(settings: SettingsDep) -> Catalog:
    return Catalog(
        datasets=[DatasetInfo(name=k, description=v) for k, v in DEMO_DATASETS.items()],
        presets=[PresetInfo(name=k, spec=ModelSpec.from_json(v).to_dict()) for k, v in PRESETS.items()],
        defaults=JobDefaults(reward_per_stage_eth="0.01", quorum=2, theta=0.8, deadline_hours=24),
        max_upload_bytes=settings.max_upload_bytes)


def _read_dataset(upload: UploadFile, limit: int) -> datasets.Dataset:
    """Read the uploaded file (already bounded while streaming) and load it by its kind."""
    if upload.size is not None and upload.size > limit:
        raise ProblemError(413, f"dataset file is {upload.size} bytes; the limit is {limit} bytes")
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ProblemError(413, f"dataset file is over the limit of {limit} bytes")
    if not data:
        raise ProblemError(422, "dataset file is empty")
    name = (upload.filename or "").lower()
    is_npz = name.endswith(".npz") or data[:4] == b"PK\x03\x04"
    try:
        return datasets.load_npz(data) if is_npz else datasets.load_csv(data)
    except datasets.DatasetError as e:
        raise ProblemError(422, f"dataset: {e}") from e


@router.post("/jobs", response_model=JobPrepared, status_code=201, summary="Create a job",
             description="Upload a CSV/NPZ dataset (or name a bundled demo set) and a model spec. "
                         "The server validates everything, splits train/test, cuts the train part "
                         "into stage chunks by Δ, stores chunks and manifest and answers with the "
                         "exact createJob transaction for the employer's wallet. Needs a "
                         "Sign-In with Ethereum session. Nothing is stored when validation fails.",
             responses=responses(401, 413, 422, 503))
def create_job(
    session: SessionDep,
    settings: SettingsDep,
    spec: Annotated[str, Form(max_length=65536, description="model spec JSON")],
    reward_per_stage_wei: Annotated[str, Form(pattern=r"^[0-9]{1,30}$", description="wei per confirmed declaration")],
    quorum: Annotated[int, Form(ge=1, le=16, description="C: agreeing nodes per stage")] = 2,
    theta: Annotated[float, Form(ge=0.0, le=1.0, description="accuracy threshold θ")] = 0.8,
    deadline_s: Annotated[int, Form(ge=60, le=365 * 86400, description="seconds from now")] = 86400,
    bounty_wei: Annotated[str, Form(pattern=r"^[0-9]{1,30}$", description="wei for the accuracy proof")] = "0",
    dataset: Annotated[UploadFile | None, File(description="CSV or NPZ dataset")] = None,
    demo_dataset: Annotated[str | None, Form(max_length=64, description="bundled dataset name")] = None,
    stage_flops: Annotated[int, Form(ge=10**3, le=10**15, description="target training FLOPs per stage (Δ)")] = DEFAULT_STAGE_FLOPS,
    shard_size: Annotated[int, Form(ge=1, le=256, description="test samples per accuracy proof shard (N)")] = 32,
) -> JobPrepared:
    if (dataset is None) == (demo_dataset is None):
        raise ProblemError(422, "give exactly one of: a dataset file, or demo_dataset")
    try:
        model = ModelSpec.from_json(spec)
    except SpecError as e:
        raise ProblemError(422, f"spec: {e}") from e
    if dataset is not None:
        data = _read_dataset(dataset, settings.max_upload_bytes)
    else:
        try:
            data = datasets.demo_dataset(demo_dataset)
        except datasets.DatasetError as e:
            raise ProblemError(422, f"demo_dataset: {e}") from e
    try:
        model.check_against(data.input_shape, data.num_classes)
    except SpecError as e:
        raise ProblemError(422, f"spec does not fit the dataset: {e}") from e
    return chainlink.prepare_job(
        settings, employer=session.address, spec=model, dataset=data,
        reward_per_stage=int(reward_per_stage_wei), quorum=quorum, theta=theta,
        deadline=int(time.time()) + deadline_s, bounty=int(bounty_wei), stage_flops=stage_flops,
        shard_size=shard_size)


@router.get("/jobs", response_model=list[JobSummary], summary="Every job, newest first")
def list_jobs(index: IndexDep) -> list[JobSummary]:
    return [job_summary(j) for j in jobs_of(index)]


@router.get("/jobs/{job_id}", response_model=JobPublic, summary="One job with its stages and proofs",
            responses=responses(404, 422))
def get_job(job_id: JobIdPath, index: IndexDep, settings: SettingsDep) -> JobPublic:
    job = index.jobs.get(job_id)
    if job is None:
        raise ProblemError(404, f"no job {job_id} on this chain (yet)")
    theta, metrics = chainlink.job_extras(settings, job)
    return job_public(job, int(time.time()), theta, metrics)


@router.get("/jobs/{job_id}/reclaim-tx", response_model=UnsignedTx,
            summary="The reclaim transaction for the employer (after the deadline)",
            responses=responses(404, 409, 422, 503))
def reclaim_tx(job_id: JobIdPath, index: IndexDep, settings: SettingsDep) -> UnsignedTx:
    job = index.jobs.get(job_id)
    if job is None:
        raise ProblemError(404, f"no job {job_id} on this chain (yet)")
    view = job_public(job, int(time.time()))
    if not view.can_reclaim:
        raise ProblemError(409, f"job {job_id} cannot be reclaimed: status {view.status}, "
                                f"deadline {view.deadline}")
    return chainlink.reclaim_transaction(settings, job_id)
