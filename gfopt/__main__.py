"""`python -m gfopt`: the Hydra app (and `python -m gfopt zoo ...` for the LLM model zoo)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gfopt.config import register_configs
from gfopt.errors import ConfigError, InputError


def conf_dir() -> str:
    """The config tree: shipped inside the wheel as gfopt/conf, or the top-level conf/ of a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if packaged.is_dir() else here.parent / "conf")


register_configs()


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def hydra_main(cfg: DictConfig) -> float | list[float]:
    """Hydra task: returns the run's objective (or the `optimized_metric` fields) so sweepers can optimize it."""
    from gfopt.app import execute

    try:
        return execute(cfg, Path(HydraConfig.get().runtime.output_dir))
    except (ConfigError, InputError) as e:
        print(f"gfopt: error: {e}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    """Console entry point."""
    if len(sys.argv) > 1 and sys.argv[1] == "zoo":
        from gfopt.problems.llm_evo.zoo import cli

        sys.exit(cli(sys.argv[2:]))
    args = sys.argv[1:]
    try:
        from gfopt.sweep.grammar import check_command_line

        check_command_line(args)  # sweep grammar (interval(1), ...) fails here as one line
    except ConfigError as e:
        print(f"gfopt: error: {e}", file=sys.stderr)
        sys.exit(2)
    if args and not any(a.startswith("-") for a in args):  # a single run: check the config first
        from gfopt.precheck import precheck

        error = precheck(conf_dir(), args)
        if error:
            print(f"gfopt: error: {error}", file=sys.stderr)
            sys.exit(2)
    hydra_main()


if __name__ == "__main__":
    main()
