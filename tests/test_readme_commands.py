"""Every `python -m gfopt` command in the README's code blocks finishes, with exit status 0, in the time it states.

A command's comment ends with its time on 2 cores, `(10 s)`, or `(7 min; 2 min with <overrides>)`: then the
overrides the README names are added and the short time applies. Times are met with a margin for a loaded
machine (3x, plus a minute of start-up). Experiment scripts (`python experiments/...`) are benchmarks with their
own docs and are not run here.
"""

from __future__ import annotations

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


def test_the_readme_has_commands_and_each_states_its_time():
    assert len(COMMANDS) >= 10
    assert any(cmd.startswith("python -m gfopt -m hydra/sweeper=gfopt_optuna engine=ga") for cmd, _ in COMMANDS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.slow
@pytest.mark.parametrize(("cmd", "seconds"), COMMANDS, ids=[c[:70] for c, _ in COMMANDS])
def test_readme_command_finishes_in_its_stated_time(workdir, cmd, seconds):
    env = {**os.environ, "CI": "true", "GFOPT_HOME": str(workdir / "home")}  # the tiny zoo is built on first use
    args = [sys.executable, *shlex.split(cmd)[1:]]
    limit = 3 * seconds + 60
    try:
        p = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{cmd}` did not finish in {limit:.0f} s (the README says {seconds:.0f} s)")
    assert p.returncode == 0, f"`{cmd}` exited {p.returncode}: {p.stderr[-2000:]}"
