"""gfopt's Optuna sweeper for Hydra (`hydra/sweeper=gfopt_optuna`): ask/tell on Optuna 4/5, shared studies.

Hydra discovers this package through the `hydra_plugins` namespace; the sweeper's logic is in `gfopt.sweep`.
"""
