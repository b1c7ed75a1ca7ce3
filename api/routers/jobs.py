"""Jobs: the catalog to post one, job creation (upload → ``zkpot.jobs.prepare_job`` → createJob
transaction), the job views, loss/accuracy curves, test-set publication and reclaim."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from api import chainlink
from api.deps import GivenUpDep, IndexDep, SessionDep, SettingsDep
from api.index import ChainIndex, JobRecord
from api.problems import ProblemError, responses
from api.schemas import (PAGE_LIMIT_MAX, GivenUpPublic, JobCreate, JobCurves, JobPage, JobPrepared,
                         JobPublic, StagePoint, TestSetRelease, UnsignedTx)
from api.views import job_public, job_summary, jobs_of
from zkpot import datasets
from zkpot.jobs import JobTerms
from zkpot.spec import PRESETS, ModelSpec, SpecError

router = APIRouter(prefix="/api", tags=["jobs"])
# the form's fields with their defaults (also the catalog's defaults)
FORM = JobCreate.model_fields
JobIdPath = Annotated[int, Path(ge=0, le=2**63, description="on-chain job id")]
PageLimit = Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="items per page")]
STAGES_LIMIT_MAX = 1024
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
    reward_per_declaration_eth: str
    quorum: int
    theta: float
    deadline_hours: float
    stage_flops: int = Field(description=FORM["stage_flops"].description)
    shard_size: int = Field(description=FORM["shard_size"].description)


class Catalog(BaseModel):
    """What the dashboard offers when posting a job."""

    datasets: list[DatasetInfo]
    presets: list[PresetInfo]
    defaults: JobDefaults
    max_upload_bytes: int


@router.get("/catalog", response_model=Catalog, summary="Demo datasets, spec presets, defaults")
def catalog(settings: SettingsDep) -> Catalog:
    return Catalog(
        datasets=[DatasetInfo(name=k, description=v) for k, v in DEMO_DATASETS.items()],
        presets=[PresetInfo(name=k, spec=ModelSpec.from_json(v).to_dict()) for k, v in PRESETS.items()],
        defaults=JobDefaults(reward_per_declaration_eth="0.01", quorum=FORM["quorum"].default,
                             theta=FORM["theta"].default, deadline_hours=FORM["deadline_s"].default / 3600,
                             stage_flops=FORM["stage_flops"].default, shard_size=FORM["shard_size"].default),
        max_upload_bytes=settings.max_upload_bytes)


def _read_dataset(upload: UploadFile, settings) -> datasets.Dataset:
    """Read the uploaded file (already bounded while streaming) and load it by its kind, every
    size bounded before it is inflated or parsed (``ZKPOT_MAX_DATASET_BYTES``)."""
    limit = settings.max_upload_bytes
    if upload.size is not None and upload.size > limit:
        raise ProblemError(413, f"dataset file is {upload.size} bytes; the limit is {limit} bytes")
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ProblemError(413, f"dataset file is over the limit of {limit} bytes")
    if not data:
        raise ProblemError(422, "dataset file is empty")
    try:
        return datasets.load_file(data, upload.filename or "", max_bytes=settings.max_dataset_bytes)
    except datasets.DatasetError as e:
        raise ProblemError(422, f"dataset: {e}") from e


@router.post("/jobs", response_model=JobPrepared, status_code=201, summary="Create a job",
             description="Upload a CSV/NPZ dataset (or name a bundled demo set) and a model spec. "
                         "The server validates everything, splits train/test, cuts the train part "
                         "into stage chunks by Δ, stores chunks and manifest and answers with the "
                         "exact createJob transaction for the employer's wallet (sent by the "
                         "server in dev mode, for the dev employer's own wallet only). Needs a "
                         "Sign-In with Ethereum session. Every term createJob checks is checked "
                         "first and createJob is simulated for the signed-in wallet: nothing is "
                         "stored for a job that cannot be created.",
             responses=responses(401, 403, 409, 413, 422, 429, 503))
def create_job(
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    form: Annotated[JobCreate, Form(media_type="multipart/form-data")],
) -> JobPrepared:
    if (form.dataset is None) == (form.demo_dataset is None):
        raise ProblemError(422, "give exactly one of: a dataset file, or demo_dataset")
    try:
        model = ModelSpec.from_json(form.spec)
    except SpecError as e:
        raise ProblemError(422, f"spec: {e}") from e
    if form.dataset is not None:
        data = _read_dataset(form.dataset, settings)
    else:
        try:
            data = datasets.demo_dataset(form.demo_dataset)
        except datasets.DatasetError as e:
            raise ProblemError(422, f"demo_dataset: {e}") from e
    terms = JobTerms(reward_per_declaration=int(form.reward_per_declaration_wei), quorum=form.quorum,
                     theta=form.theta, deadline=index.now() + form.deadline_s,  # chain time
                     bounty=int(form.bounty_wei), stage_flops=form.stage_flops,
                     shard_size=form.shard_size, commit_window=form.commit_window_s,
                     reveal_window=form.reveal_window_s)
    return chainlink.prepare_job(settings, spec=model, dataset=data, terms=terms, employer=session.address,
                                 created=index.has_job)


def _job(index: ChainIndex, job_id: int) -> JobRecord:
    """The indexed job, or 404."""
    job = index.jobs.get(job_id)
    if job is None:
        raise ProblemError(404, f"no job {job_id} on this chain (yet)")
    return job


@router.get("/jobs", response_model=JobPage, summary="Jobs, newest first, a page at a time",
            responses=responses(422))
async def list_jobs(index: IndexDep, limit: PageLimit = 50,
                    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$",
                                                        description="next_cursor of the previous page")] = None,
                    ) -> JobPage:
    page = jobs_of(index, before=int(cursor) if cursor else None, limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    now = index.now()
    return JobPage(items=[job_summary(j, now) for j in page],
                   next_cursor=str(page[-1].job_id) if more and page else None)


@router.get("/jobs/{job_id}", response_model=JobPublic, summary="One job with its stages and proofs",
            responses=responses(404, 422))
async def get_job(job_id: JobIdPath, index: IndexDep, settings: SettingsDep, board: GivenUpDep,
                  stages_from: Annotated[int, Query(ge=1, le=2**16, description="first stage listed")] = 1,
                  stages_limit: Annotated[int, Query(ge=1, le=STAGES_LIMIT_MAX,
                                                     description="stages listed from stages_from")] = 256,
                  ) -> JobPublic:
    # the hottest read: served on the event loop from the index; the store (maybe a Kubo
    # node) is read in a thread until the job's manifest lookup is cached
    job = _job(index, job_id)
    if chainlink.extras_cached(settings, job):
        theta, metrics = chainlink.job_extras(settings, job)
    else:
        theta, metrics = await run_in_threadpool(chainlink.job_extras, settings, job)
    public = job_public(job, index.now(), theta, metrics, stages_from, stages_limit)
    try:   # the job reads without Redis; then given_up is null ("not known"), not empty
        reports = await run_in_threadpool(board.of_job, index.escrow_address, job_id, job.tx)
        public.given_up = [GivenUpPublic.model_validate(r) for r in reports]
    except (ProblemError, ValidationError):
        public.given_up = None
    return public


@router.get("/jobs/{job_id}/reclaim-tx", response_model=UnsignedTx,
            summary="The reclaim transaction for the employer (when the job's lifecycle allows it)",
            responses=responses(404, 409, 422, 503))
def reclaim_tx(job_id: JobIdPath, index: IndexDep, settings: SettingsDep) -> UnsignedTx:
    job = _job(index, job_id)
    view = job_public(job, index.now(), stages_limit=1)
    if not view.can_reclaim:
        raise ProblemError(409, f"job {job_id} cannot be reclaimed now: it is {view.status}, waiting for "
                                f"{view.waiting_for}")
    return chainlink.reclaim_transaction(settings, job_id)


@router.get("/jobs/{job_id}/curves", response_model=JobCurves,
            summary="Loss and accuracy of every finalised stage",
            description="Each finalised stage's weights S_i are fetched by their CID, checked "
                        "against the weights hash finalised on chain and evaluated in float: mean "
                        "cross-entropy on the stage's chunk B_i, accuracy on the published test "
                        "set once there is one, else on the training chunks. Cached per weights "
                        "CID. Needs the job's manifest in this server's store.",
            responses=responses(404, 422))
def job_curves(job_id: JobIdPath, index: IndexDep, settings: SettingsDep) -> JobCurves:
    job = _job(index, job_id)
    curves = chainlink.job_curves(settings, job)
    if curves is None:
        return JobCurves(job_id=job_id, evaluated_on=None, points=[],
                         unavailable={}, reason="the job's manifest is not in this server's store")
    return JobCurves(job_id=job_id, evaluated_on=curves.evaluated_on,
                     points=[StagePoint(stage=p.stage, weights_cid=p.weights_cid, mean_loss=p.mean_loss,
                                        accuracy=p.accuracy) for p in curves.points],
                     unavailable={str(k): v for k, v in curves.unavailable.items()})


@router.post("/jobs/{job_id}/test-set", response_model=TestSetRelease,
             summary="Publish the job's test set (employer, after the last stage is final)",
             description="Answers with one publishTestShard transaction per shard not yet posted: "
                         "the test set kept private since the job was created, in the canonical "
                         "bytes the job committed to, for the employer's wallet (sent by the "
                         "server in dev mode). The escrow hashes each shard and refuses anything "
                         "else. Refused with 409 while stages are open, 403 for anyone but the "
                         "employer, 404 when this server did not prepare the job.",
             responses=responses(401, 403, 404, 409, 422, 503))
def publish_test_set(job_id: JobIdPath, session: SessionDep, settings: SettingsDep) -> TestSetRelease:
    return chainlink.release_test_set(settings, job_id, session.address)
