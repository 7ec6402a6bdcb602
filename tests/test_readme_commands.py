"""Every `python -m gfopt` command in the README's code blocks finishes, with exit status 0, in the time it states.

A command's comment ends with its time on 2 cores, `(10 s)`, or `(7 min; 2 min with <overrides>)`: then the
overrides the README names are added and the short time applies. Times are met with a margin for a loaded
machine (3x, plus a minute of start-up). Experiment scripts (`python experiments/...`) are benchmarks with their
own docs and are not run here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TIME = r"(\d+(?:\.\d+)?) (s|min|h)"
LINE = re.compile(rf"^(python -m gfopt\b.*?)\s+#.*\({TIME}(?:; {TIME} with (.+))?\)\s*$")
UNIT = {"s": 1, "min": 60, "h": 3600}


def readme_commands() -> list[tuple[str, float]]:
    """(command with the README's short-run overrides, stated seconds) for each distinct command, in order."""
    text = (REPO / "README.md").read_text()
    out: dict[str, float] = {}
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if not line.startswith("python -m gfopt"):
                continue
            m = LINE.match(line)
            assert m, f"README command without a stated time `(N s)` / `(N min; N s with ...)`: {line}"
            cmd, seconds = m[1], float(m[2]) * UNIT[m[3]]
            if m[4]:
                cmd, seconds = f"{cmd} {m[6]}", float(m[4]) * UNIT[m[5]]
            out.setdefault(cmd, seconds)
    return list(out.items())


COMMANDS = readme_commands()


def smoke_test_claim(res: dict) -> None:
    """The README's smoke test claim: with the tiny zoo and 120 evaluations, the chosen GENOME+ result beats the
    validation-chosen best single expert on test on every held-out task, multiple choice included, by a wide margin."""
    assert "mc0" in res["targets"] and len(res["targets"]) == 4
    chosen, expert = res["test"]["chosen"], res["test"]["baselines"]["best_expert"]
    for task in res["targets"]:
        assert chosen[task] >= 0.5 and chosen[task] > expert[task] + 0.3, (task, chosen, expert)


SMOKE_TEST = "python -m gfopt problem=llm_evo problem.zoo.preset=tiny budget.evaluations=120"
CLAIMS = {SMOKE_TEST: smoke_test_claim}  # what a command's README comment promises of its result, checked after it


def test_the_readme_has_commands_and_each_states_its_time():
    assert len(COMMANDS) >= 10
    assert any(cmd.startswith("python -m gfopt -m hydra/sweeper=gfopt_optuna engine=ga") for cmd, _ in COMMANDS)
    assert set(CLAIMS) <= {cmd for cmd, _ in COMMANDS}, "a checked claim's command is no longer in the README"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.slow
@pytest.mark.parametrize(("cmd", "seconds"), COMMANDS, ids=[c[:70] for c, _ in COMMANDS])
def test_readme_command_finishes_in_its_stated_time(workdir, cmd, seconds):
    env = {**os.environ, "CI": "true", "GFOPT_HOME": str(workdir / "home")}  # the tiny zoo is built on first use
    args = [sys.executable, *shlex.split(cmd)[1:]]
    limit = 3 * seconds + 60
    p = subprocess.Popen(args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"`{cmd}` did not finish in {limit:.0f} s (the README says {seconds:.0f} s)")
    assert p.returncode == 0, f"`{cmd}` exited {p.returncode}: {stderr[-2000:]}"
    if cmd in CLAIMS:
        # the run dir is conf/config.yaml's hydra.run.dir, which ends in the process id (newest: pids are reused)
        run_dir = max(workdir.glob(f"outputs/*/*_{p.pid}"), key=lambda q: q.stat().st_mtime)
        CLAIMS[cmd](json.loads((run_dir / "result.json").read_text()))
