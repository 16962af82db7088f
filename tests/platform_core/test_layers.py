"""The layer rules of pyproject.toml ([tool.importlinter]) hold, and a forbidden import breaks them.

platform_core above billing | integrations | infra, above crm, above tenants: a layer imports only layers below
it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("platform_core", "tenants", "crm", "infra", "billing", "integrations")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_layers_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_every_top_level_package_is_analysed() -> None:
    """A new layer (billing/, integrations/) is checked from its first line only once it is a root package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= set(config["root_packages"])
    layers = " ".join(config["contracts"][0]["layers"])
    assert all(name in layers for name in ("platform_core", "billing", "integrations", "infra", "crm", "tenants"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the layered packages' Python sources and of pyproject.toml, which lint-imports accepts."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=_not_python)
    result = _lint(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _not_python(directory: str, names: list[str]) -> list[str]:
    def skipped(name: str) -> bool:
        if name == "__pycache__":
            return True
        return not name.endswith(".py") and not (Path(directory) / name).is_dir()

    return [name for name in names if skipped(name)]


@pytest.mark.parametrize(
    ("module", "line", "refusal"),
    [
        ("tenants/accounts/scratch.py", "from crm.deals.models import Deal", "tenants is not allowed to import crm"),
        ("tenants/scratch.py", "from platform_core import api", "tenants is not allowed to import platform_core"),
        # Packages that do not exist yet are caught all the same.
        ("tenants/scratch.py", "import billing.seats", "tenants is not allowed to import billing"),
        ("crm/deals/scratch.py", "from integrations.core import client", "crm is not allowed to import integrations"),
        ("crm/scratch.py", "from platform_core.api import api", "crm.scratch -> platform_core.api"),
        ("crm/scratch.py", "from infra.backups import services", "crm is not allowed to import infra"),
        ("tenants/scratch.py", "import infra.backups.crypto", "tenants is not allowed to import infra"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tree: Path, module: str, line: str, refusal: str) -> None:
    scratch = tree / module
    scratch.write_text(f"{line}  # noqa\n")
    try:
        result = _lint(tree)
    finally:
        scratch.unlink()
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert refusal in result.stdout, result.stdout
