"""zkpot's Celery workers: thin tasks over the core package."""
