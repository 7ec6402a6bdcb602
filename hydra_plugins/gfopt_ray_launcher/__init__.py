"""gfopt's Ray launcher for Hydra (`hydra/launcher=gfopt_ray`): each job of a sweep is a Ray task on one cluster.

Hydra's own `hydra-ray-launcher` pins cloudpickle<3, which joblib 1.6 (a dependency of the test and peer extras)
refuses; this launcher needs only Ray. Jobs that use `parallel=ray` put their actors on the same cluster.
"""
