"""Optuna integration behind the `gfopt_optuna` Hydra sweeper: grammar, samplers, storage, study loop, reports.

The Hydra plugin itself lives in `hydra_plugins/gfopt_optuna_sweeper/` and only wires these modules to Hydra.
"""
