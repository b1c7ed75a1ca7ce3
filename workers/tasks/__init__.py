"""Celery task modules: thin doors over ``zkpot.node``."""
