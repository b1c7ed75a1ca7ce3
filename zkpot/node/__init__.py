"""A worker node's own logic, apart from Celery: identity, durable secrets, strategy, work steps."""
