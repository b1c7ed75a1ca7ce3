"""The FastAPI application (``uvicorn api.main:app``)."""

from fastapi import FastAPI

app = FastAPI(title="zkpot", version="0.1.0")


@app.get("/api/health", summary="Liveness probe")
def health() -> dict[str, str]:
    return {"status": "ok"}
