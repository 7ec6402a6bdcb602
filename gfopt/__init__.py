"""gfopt: gradient-free optimization with one search engine for LLM weight evolution and DAG learning."""

__version__ = "0.1.0"
