"""`python -m gfopt`: the Hydra app (and `python -m gfopt zoo ...` for the LLM model zoo)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gfopt.config import register_configs
from gfopt.errors import ConfigError, InputError, Interrupted, RunInterrupted, Terminated
from gfopt.pairing import conf_dir as _conf_dir


def conf_dir() -> str:
    """The config tree as a string (what Hydra's decorator wants)."""
    return str(_conf_dir())


register_configs()


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def hydra_main(cfg: DictConfig) -> float | list[float]:
    """Hydra task: returns the run's objective (or the `optimized_metric` fields) so sweepers can optimize it."""
    from gfopt.app import execute

    hc = HydraConfig.get()
    try:
        with terminate_as_interrupt():
            return execute(cfg, Path(hc.runtime.output_dir), engine_name=hc.runtime.choices.get("engine"),
                           hydra_cfg=hc)
    except (ConfigError, InputError) as e:
        print(f"gfopt: error: {e}", file=sys.stderr)
        sys.exit(2)
    except RunInterrupted as e:
        print(f"gfopt: {e.line()}", file=sys.stderr)
        sys.exit(e.exit_status)
    except KeyboardInterrupt as e:  # outside the search loop (building the problem, writing the results)
        e = e if isinstance(e, Interrupted) else Interrupted()
        how = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        print(f"gfopt: {how} outside the search; run the same command to start or resume", file=sys.stderr)
        sys.exit(e.exit_status)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread, so it ends in one line like Ctrl-C;
    inside the search loop `StopOnInterrupt` takes over and saves the last finished step."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> None:
    """Console entry point."""
    if len(sys.argv) > 1 and sys.argv[1] == "zoo":
        from gfopt.problems.llm_evo.zoo import cli

        sys.exit(cli(sys.argv[2:]))
    args = sys.argv[1:]
    from gfopt.config import moved_key_error

    moved = moved_key_error(args)
    if moved:
        print(f"gfopt: error: {moved}", file=sys.stderr)
        sys.exit(2)
    try:
        from gfopt.sweep.grammar import check_command_line

        check_command_line(args)  # sweep grammar (interval(1), ...) fails here as one line
    except ConfigError as e:
        print(f"gfopt: error: {e}", file=sys.stderr)
        sys.exit(2)
    flags = [a for a in args if a.startswith("-")]
    multirun = bool(flags) and all(a in ("-m", "--multirun") for a in flags)
    if not flags or multirun:  # check the config and the run dir first: one line instead of Hydra's report
        from gfopt.precheck import precheck
        from gfopt.rundir import check_writable

        overrides = [a for a in args if not a.startswith("-")]
        error = precheck(conf_dir(), overrides, multirun=multirun) if overrides else None
        run_dir = next((a.split("=", 1)[1] for a in overrides if a.startswith("hydra.run.dir=")), "outputs")
        if error is None and not multirun:
            error = check_writable(run_dir)
        if error:
            print(f"gfopt: error: {error}", file=sys.stderr)
            sys.exit(2)
    hydra_main()


if __name__ == "__main__":
    main()
