"""Published results: validated submission files under ``results/`` and the static leaderboard."""

from codecbench.leaderboard.build import build
from codecbench.leaderboard.export import make_submission
from codecbench.leaderboard.schema import FORMAT, Submission, SubmissionError, parse, validate
from codecbench.leaderboard.store import load_submissions, submit

__all__ = [
    "FORMAT",
    "Submission",
    "SubmissionError",
    "build",
    "load_submissions",
    "make_submission",
    "parse",
    "submit",
    "validate",
]
