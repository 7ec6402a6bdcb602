"""The `python -m gfopt zoo build|info` command line."""

from __future__ import annotations

import argparse
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
        print(summary(load_manifest(path), str(path)))
        return 0
    except (ConfigError, InputError) as e:
        print(f"gfopt: error: {e}", file=sys.stderr)
        return 2


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
        lines.append(f"  held-out task {task}: needs {', '.join(needed.get(task, [])) or '?'}")
    return "\n".join(lines)
