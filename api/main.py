"""The FastAPI application (``uvicorn api.main:app``): routers, problems, index, dashboard."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from api import problems
from api.security import BodyLimit, SameOriginWrites, SecurityHeaders, install_docs
from api.shutdown import on_exit_signal
from api.siwe import SiweAuthority
from zkpot.config import PROJECT_ROOT, Settings, get_settings

DASHBOARD_DIR = PROJECT_ROOT / "frontend" / "dist"
# room for the spec and the other form fields next to the dataset file
FORM_OVERHEAD_BYTES = 256 * 1024


class Health(BaseModel):
    status: str


def _redis(settings: Settings, timeout_s: float = 5):
    from redis import Redis

    return Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=timeout_s,
                          socket_connect_timeout=timeout_s, health_check_interval=30)


def create_app(settings: Settings | None = None, *, follow_chain: bool = True,
               dashboard_dir: Path | None = DASHBOARD_DIR) -> FastAPI:
    """Build the gateway for ``settings``; ``follow_chain`` starts the event index's poller."""
    settings = settings or get_settings()
    from api.given_up import GivenUpBoard
    from api.index import ChainIndex
    from api.routers import auth, content, events, jobs, nodes

    index = ChainIndex(settings)
    redis = _redis(settings)
    # the job page reads the given-up reports on every request: it never waits long for them
    reports_redis = _redis(settings, timeout_s=1)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        restore = on_exit_signal(index.close)  # end live streams first, then stop as usual
        if follow_chain:
            index.start()
        try:
            yield
        finally:
            restore()
            index.close()
            await index.stop()
            redis.close()
            reports_redis.close()

    app = FastAPI(
        title="zkpot",
        version="0.1.0",
        summary="Verifiable ML training on an EVM chain: post jobs, follow Proof of Training "
                "stages and zk accuracy proofs, download models.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.siwe = SiweAuthority(redis, settings.sign_in_domain, settings.sign_in_uri,
                                   settings.session_ttl_s)
    app.state.index = index
    app.state.given_up = GivenUpBoard(reports_redis)
    problems.install(app)
    install_docs(app, "zkpot")

    @app.get("/api/health", summary="Liveness probe", response_model=Health, tags=["meta"])
    def health() -> Health:
        return Health(status="ok")

    for module in (auth, jobs, nodes, events, content):
        app.include_router(module.router)
    if dashboard_dir is not None and (dashboard_dir / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dashboard_dir, html=True), name="dashboard")
    # outermost last: headers on everything, then same-origin writes, then the body limit
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(SameOriginWrites, origin=settings.sign_in_uri)
    app.add_middleware(SecurityHeaders)
    return app


app = create_app()
