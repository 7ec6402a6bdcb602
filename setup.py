"""Ship the top-level ``conf/`` tree inside the wheel as ``gfopt/conf`` (Hydra reads it from there)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithConf(build_py):
    def run(self) -> None:
        super().run()
        src = Path(__file__).parent / "conf"
        dst = Path(self.build_lib) / "gfopt" / "conf"
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithConf})
