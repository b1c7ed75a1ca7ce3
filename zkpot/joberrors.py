"""Why a job cannot be prepared or acted on: one exception type per kind of reason.

Each message is the reason for the user; the doors map the type to their own answer (the API
to an HTTP status, the CLI to an exit code) and never parse the text.
"""

from __future__ import annotations


class JobError(ValueError):
    """A job cannot be prepared or acted on; the message is the reason for the user."""


class JobInputError(JobError):
    """The dataset, spec or terms are not acceptable (the caller's input); ``field`` names it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class JobStateError(JobError):
    """The job on chain is not in the state the action needs (e.g. stages still open)."""


class JobNotFound(JobError):
    """No such job on this chain."""


class NotEmployerError(JobError):
    """Only the job's employer may do this."""


class TestSetNotHeld(JobError):
    """This machine holds no private test set prepared by the job's employer for its manifest."""


class JobChainError(JobError):
    """The chain does not answer, or zkpot is not deployed there (nothing was done)."""


class JobRefused(JobError):
    """The contract would refuse the job as it stands (e.g. the employer cannot pay for it)."""


class JobsPending(JobError):
    """Too many prepared jobs are waiting for their createJob (this wallet's, or the server's)."""


class JobStorageError(JobError):
    """The content store failed while the job was stored (what was stored is removed again)."""
