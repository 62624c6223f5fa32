"""The platform the browser tests share: the dashboard tests' small world (a scored run of the example model on
two hospitals), served by ``clinval dashboard`` for the whole session."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_server import CHROMIUM, serve_dashboard


@dataclass(frozen=True)
class Served:
    url: str
    home: Path
    public_key: str
    run_id: str
    accounts: dict  # role -> (username, password, printed name)


def _dash_world():
    path = Path(__file__).resolve().parents[1] / "dashboards" / "dash_world.py"
    spec = importlib.util.spec_from_file_location("clinval_e2e_dash_world", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def require_browser() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright")


@pytest.fixture(scope="session")
def small_dashboard(tmp_path_factory):
    require_browser()
    dash_world = _dash_world()
    world = dash_world.build_world(tmp_path_factory.mktemp("e2e-run"))
    from validation.audit.trail import public_key_text

    key = public_key_text(world.platform)
    world.platform.close()
    if world.run_id is None:
        pytest.skip(world.skip_reason)
    accounts = {role: (user, dash_world.password(user), f"{user} (printed)")
                for role, user in (("vendor", "vendor"), ("reviewer", "rev-h01"), ("regulator", "regulator"))}
    home = world.platform.settings.home
    with serve_dashboard(home) as url:
        yield Served(url=url, home=home, public_key=key, run_id=world.run_id, accounts=accounts)
