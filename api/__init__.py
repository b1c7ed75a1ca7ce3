"""zkpot's HTTP gateway (FastAPI): a thin door over the core package."""
