"""Published results: validated submissions and their bitstreams under ``results/``, re-checkable
from those bitstreams, and the static leaderboard."""

from codecbench.leaderboard.build import build
from codecbench.leaderboard.export import make_submission
from codecbench.leaderboard.schema import FORMAT, Submission, SubmissionError, parse, validate
from codecbench.leaderboard.store import Submitted, load_submissions, submit
from codecbench.leaderboard.verify import Verification, verify_submissions

__all__ = [
    "FORMAT",
    "Submission",
    "SubmissionError",
    "Submitted",
    "Verification",
    "build",
    "load_submissions",
    "make_submission",
    "parse",
    "submit",
    "validate",
    "verify_submissions",
]
