"""The shared search engine. Knows nothing about LLMs or DAGs: problems plug in through `Problem`."""

from gfopt.core.engine import Budget, Engine, RunResult, run
from gfopt.core.problem import Genome, Problem

__all__ = ["Budget", "Engine", "Genome", "Problem", "RunResult", "run"]
