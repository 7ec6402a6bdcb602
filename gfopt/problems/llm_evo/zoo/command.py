"""The `python -m gfopt zoo build|info` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from gfopt.errors import ConfigError, InputError


def run_cli(argv: list[str]) -> int:
    """Parse argv and build the zoo or print its summary; returns the exit status."""
    from gfopt.problems.llm_evo.zoo import ensure_zoo, load_manifest, zoo_dir
    from gfopt.problems.llm_evo.zoo.presets import PRESETS

    parser = argparse.ArgumentParser(prog="python -m gfopt zoo", description="The built-in llm_evo model zoo.")
    parser.add_argument("action", choices=["build", "info", "path", "mixtures"])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the build (default: torch's)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--size", type=int, default=2, help="mixtures: experts per mixture")
    parser.add_argument("--count", type=int, default=2, help="mixtures: how many")
    parser.add_argument("--mix-seed", type=int, default=1, help="mixtures: seed of the expert sets and shares")
    parser.add_argument("--out", default=None, help="mixtures: output dir (default <zoo>/mixtures/s<mix>-k<size>)")
    args = parser.parse_args(argv)
    # phase lines of a build (the bar shows them on a terminal; logs and CI get these lines)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    try:
        if args.action == "path":
            print(zoo_dir(args.preset, args.seed))
            return 0
        if args.action == "mixtures":
            from pathlib import Path

            from gfopt.problems.llm_evo.zoo.mixtures import make_mixtures, overrides
            from gfopt.problems.llm_evo.zoo.presets import get_preset

            out = Path(args.out) if args.out else (zoo_dir(args.preset, args.seed) / "mixtures"
                                                  / f"s{args.mix_seed}-k{args.size}")
            index = make_mixtures(get_preset(args.preset), args.seed, args.mix_seed, args.size, args.count, out)
            for name, t in index["tasks"].items():
                print(f"{name}: {t['dir']} needs {t['letter_shares']}")
            print(f"use with (zoo {args.preset}-s{args.seed}): python -m gfopt problem=llm_evo "
                  f"problem.zoo.preset={args.preset} problem.zoo.seed={args.seed} {overrides(index)}")
            return 0
        if args.action == "build":
            if args.threads:
                import torch

                torch.set_num_threads(args.threads)
            path = ensure_zoo(args.preset, args.seed, progress=not args.no_progress)
        else:
            path = zoo_dir(args.preset, args.seed)
            if not (path / "manifest.json").exists():
                build = "python -m gfopt zoo build"
                build += f" --preset {args.preset}" if args.preset != "default" else ""
                build += f" --seed {args.seed}" if args.seed else ""
                raise InputError(f"zoo {args.preset}-s{args.seed} is not built ({path}); build it with `{build}`")
        print(summary(load_manifest(path), str(path)))
        return 0
    except (ConfigError, InputError) as e:
        print(f"gfopt: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        from gfopt.problems.llm_evo.zoo.build import remove_stale_temps

        remove_stale_temps(zoo_dir(args.preset, args.seed))  # this process's partial build
        print(f"gfopt: zoo {args.action} interrupted; nothing was kept, run it again to build the zoo", file=sys.stderr)
        return 130


def summary(manifest: dict, path: str) -> str:
    """A few lines describing a built zoo."""
    model = manifest.get("model", {})
    lines = [
        f"zoo {manifest['preset']}-s{manifest['seed']} at {path}",
        f"  base: {model.get('architecture', '?')} with {model.get('parameters', '?')} parameters "
        f"(built in {manifest.get('build_seconds', '?')} s on {manifest.get('torch_threads', '?')} threads)",
        f"  shared adapter: {manifest.get('shared_adapter')}",
        f"  experts ({len(manifest['experts'])}): {', '.join(manifest['experts'])}",
    ]
    needed = manifest.get("experts_needed", {})
    for task in manifest["target_tasks"]:
        kind = manifest["tasks"].get(task, {}).get("kind", "generation")
        label = "" if kind == "generation" else f" ({kind.replace('_', ' ')})"
        lines.append(f"  held-out task {task}{label}: needs {', '.join(needed.get(task, [])) or '?'}")
    return "\n".join(lines)
