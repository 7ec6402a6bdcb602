"""`.ci/run` runs both README Quickstart commands verbatim, in a fresh copy of the tracked files (a new venv)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quickstart() -> list[str]:
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)[1]
    return [ln for ln in block.splitlines() if ln.strip()]


def test_ci_runs_both_quickstart_commands_in_a_fresh_copy():
    script = (REPO / ".ci" / "run").read_text()
    commands = quickstart()
    assert len(commands) == 2 and commands[1].endswith("ruff check . && pytest")
    for cmd in commands:  # verbatim, and executed (eval), not only compared
        assert f"'{cmd}'" in script
    assert 'eval "$RUN_CMD"' in script and 'eval "$TEST_CMD"' in script
    # the commands run in a new directory made from `git ls-files`, never in this checkout (and its .venv)
    assert re.search(r"WORK=.*mktemp -d", script) and "git ls-files -z" in script
    assert script.index('cd "$WORK"') < script.index('eval "$RUN_CMD"')
    assert subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")]).returncode == 0
