"""The container and deployment files: Dockerfile, .dockerignore, docker-compose.yml, deploy/.

No Docker engine runs here, so the compose files are validated by Debian's ``docker-compose`` (v1), which
resolves and checks a file offline (``docker-compose -f FILE config``), and their resolved form is checked
against the code: image pins, the settings the containers receive (parsed by the real settings loaders),
volumes, healthchecks, start-up order, and the ClickHouse XML they mount.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SINGLE = REPO / "docker-compose.yml"
CLUSTER = REPO / "deploy" / "cluster" / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]

SECRETS = {
    "CLICKHOUSE_PASSWORD": "0123456789abcdef0123456789abcdef",
    "TRACEHOUSE_ADMIN_KEY": "test-admin-key",
    "TRACEHOUSE_API_KEY": "th_test_read_key",
    "CLICKHOUSE_CLUSTER_SECRET": "cluster-secret",
    "CLICKHOUSE_INTERSERVER_PASSWORD": "interserver-password",
}
PINNED = re.compile(r"^[a-z0-9./_-]+:[0-9][\w.-]*@sha256:[0-9a-f]{64}$")

needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose is not installed (apt-get install -y --no-install-recommends docker-compose; "
           ".ci/run installs it)",
)


# -- helpers ------------------------------------------------------------------------------------------------

def _yaml_to_data(text: str) -> Any:
    """Parse YAML with PyYAML, borrowing docker-compose's interpreter when this one lacks it (Debian's
    docker-compose is a Python program that depends on python3-yaml)."""
    try:
        import yaml  # type: ignore[import-untyped]

        return yaml.safe_load(text)
    except ImportError:
        pass
    assert DOCKER_COMPOSE
    shebang = Path(DOCKER_COMPOSE).read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    assert shebang.startswith("#!"), f"{DOCKER_COMPOSE} is not a script; install PyYAML to parse its output"
    interpreter = shlex.split(shebang[2:])
    result = subprocess.run([*interpreter, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), "
                             "sys.stdout)"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _compose(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(path.parent)}
    return subprocess.run([DOCKER_COMPOSE, "-f", str(path), *args], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=120, cwd=path.parent)


def _config(path: Path, *profiles: str) -> dict[str, Any]:
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = _compose(path, *flags, "config", env=SECRETS)
    assert result.returncode == 0, f"docker-compose config rejected {path}:\n{result.stderr}"
    return _yaml_to_data(result.stdout)


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    return _config(SINGLE)


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    return _config(CLUSTER, "worker")


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _tracehouse_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in config["services"].items() if str(s.get("image", "")).startswith("tracehouse:")}


def _known_variables() -> set[str]:
    from tracehouse import _settings as sdk_settings
    from tracehouse.collector.settings import ENVIRONMENT
    from tracehouse.dashboard import settings as dash_settings

    names = {variable for variable, _ in ENVIRONMENT.values()}
    for module in (sdk_settings, dash_settings):
        names |= {v for k, v in vars(module).items() if k.startswith("ENV_") and isinstance(v, str)}
    return names


def _subcommands() -> set[str]:
    import argparse

    from tracehouse.cli.main import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source (volume name or host path)."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        out[target] = source
    return out


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # raises on malformed XML


def _host_file(config_dir: Path, service: dict[str, Any], container_path: str) -> Path:
    source = _mounts(service)[container_path]
    path = (config_dir / source).resolve()
    assert path.is_file(), f"{container_path} is mounted from {source}, which does not exist"
    return path


# -- docker-compose validates the files ---------------------------------------------------------------------

@needs_compose
@pytest.mark.parametrize("path", [SINGLE, CLUSTER], ids=["single", "cluster"])
def test_docker_compose_config_validates(path: Path) -> None:
    result = _compose(path, "config", "--quiet", env=SECRETS)
    assert result.returncode == 0, result.stderr


@needs_compose
@pytest.mark.parametrize("path", [SINGLE, CLUSTER], ids=["single", "cluster"])
def test_secrets_have_no_defaults(path: Path) -> None:
    """Without the secrets the files refuse to resolve, naming the variable: no built-in password."""
    for missing in ("CLICKHOUSE_PASSWORD", "TRACEHOUSE_ADMIN_KEY"):
        env = {k: v for k, v in SECRETS.items() if k != missing}
        result = _compose(path, "config", "--quiet", env=env)
        assert result.returncode != 0 and missing in result.stderr, (missing, result.stderr)


# -- images -------------------------------------------------------------------------------------------------

@needs_compose
@pytest.mark.parametrize("which", ["single", "cluster"])
def test_images_are_pinned(which: str, request: pytest.FixtureRequest) -> None:
    config = request.getfixturevalue(which)
    for name, service in config["services"].items():
        image = str(service.get("image", ""))
        assert image, f"{name}: no image"
        assert "latest" not in image, f"{name}: {image} is not pinned"
        if image.startswith("tracehouse:"):
            assert image == f"tracehouse:{VERSION}", f"{name}: the built image is tagged with the project version"
            assert service.get("build"), f"{name}: {image} must be built from the Dockerfile"
        else:
            assert PINNED.match(image), f"{name}: {image} must be pinned by exact version tag and digest"
    clickhouse = {s["image"] for s in config["services"].values() if "clickhouse-server" in s["image"]}
    assert len(clickhouse) == 1, f"one ClickHouse version for every server and Keeper: {clickhouse}"


@needs_compose
def test_same_clickhouse_image_everywhere(single: dict[str, Any], cluster: dict[str, Any]) -> None:
    ours = {s["image"] for c in (single, cluster) for s in c["services"].values() if "clickhouse" in s["image"]}
    assert len(ours) == 1, ours


# -- what the tracehouse containers receive -----------------------------------------------------------------

@needs_compose
@pytest.mark.parametrize("which", ["single", "cluster"])
def test_settings_are_real_and_load(which: str, request: pytest.FixtureRequest) -> None:
    from tracehouse.collector.settings import load_settings
    from tracehouse.dashboard.settings import dashboard_settings

    config = request.getfixturevalue(which)
    known = _known_variables()
    subcommands = _subcommands()
    services = _tracehouse_services(config)
    assert {"serve", "dashboard"} <= {_command(s)[1] for s in services.values()}
    for name, service in services.items():
        command = _command(service)
        assert command[0] == "tracehouse", f"{name}: {command}"
        assert command[1] in subcommands, f"{name}: no subcommand {command[1]!r}"
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        unknown = sorted(set(env) - known)
        assert not unknown, f"{name}: {unknown} are not variables the settings code reads"
        if command[1] in ("serve", "worker"):
            settings = load_settings(env=env)
            assert settings.storage_url.startswith("http://"), f"{name}: a ClickHouse server, not embedded chDB"
        if command[1] == "dashboard":
            dashboard_settings(environ=env)


@needs_compose
def test_single_node_wiring(single: dict[str, Any]) -> None:
    from tracehouse.collector.settings import load_settings
    from tracehouse.dashboard.settings import dashboard_settings
    from tracehouse.storage import parse_storage_url

    services = single["services"]
    assert set(services) == {"clickhouse", "collector", "dashboard"}
    collector = services["collector"]
    assert _command(collector)[:4] == ["tracehouse", "serve", "--host", "0.0.0.0"]
    settings = load_settings(env={k: str(v) for k, v in collector["environment"].items()})
    target = parse_storage_url(settings.storage_url)
    assert (target.kind, target.username, target.password, target.host, target.port, target.database) == (
        "http", "tracehouse", SECRETS["CLICKHOUSE_PASSWORD"], "clickhouse", 8123, "tracehouse")
    assert settings.admin_key == SECRETS["TRACEHOUSE_ADMIN_KEY"]
    assert settings.wal_dir == "/var/lib/tracehouse/wal"
    assert _mounts(collector)[settings.wal_dir] in single["volumes"], "the write-ahead log must be on a volume"
    dashboard = dashboard_settings(environ={k: str(v) for k, v in services["dashboard"]["environment"].items()})
    assert dashboard.endpoint == "http://collector:4318"
    assert dashboard.api_key == SECRETS["TRACEHOUSE_API_KEY"]
    assert _mounts(services["clickhouse"])["/var/lib/clickhouse"] in single["volumes"]


@needs_compose
def test_cluster_wiring(cluster: dict[str, Any]) -> None:
    from tracehouse.collector.settings import load_settings
    from tracehouse.dashboard.settings import dashboard_settings
    from tracehouse.storage import parse_storage_url

    services = cluster["services"]
    collectors = {n: s for n, s in _tracehouse_services(cluster).items() if _command(s)[1] == "serve"}
    assert len(collectors) >= 2, "several collector replicas"
    wal_volumes = []
    for name, service in collectors.items():
        settings = load_settings(env={k: str(v) for k, v in service["environment"].items()})
        target = parse_storage_url(settings.storage_url)
        assert target.cluster == "tracehouse" and target.host in services, (name, target.describe())
        wal_volumes.append(_mounts(service)[settings.wal_dir])
        assert "ports" not in service, f"{name}: reached through the load balancer only"
    assert len(set(wal_volumes)) == len(wal_volumes), "each replica needs its own write-ahead log volume"
    assert set(wal_volumes) <= set(cluster["volumes"])
    workers = [s for s in _tracehouse_services(cluster).values() if _command(s)[1] == "worker"]
    assert len(workers) == 1, "exactly one process runs the scheduled jobs"
    assert not any(target.endswith("/wal") for target in _mounts(workers[0])), "the worker keeps no log"
    dashboard = next(s for s in _tracehouse_services(cluster).values() if _command(s)[1] == "dashboard")
    endpoint = dashboard_settings(environ={k: str(v) for k, v in dashboard["environment"].items()}).endpoint
    assert endpoint == "http://lb:4318", "the dashboard reads through the load balancer"

    upstreams = re.findall(r"^\s*server\s+([\w-]+):4318", (CLUSTER.parent / "nginx" / "nginx.conf").read_text(), re.M)
    assert sorted(upstreams) == sorted(collectors), "the load balancer sends to every collector replica"


@needs_compose
@pytest.mark.parametrize("which", ["single", "cluster"])
def test_healthchecks_and_start_order(which: str, request: pytest.FixtureRequest) -> None:
    config = request.getfixturevalue(which)
    services = config["services"]
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}: wait until healthy"
    for name, service in _tracehouse_services(config).items():
        test = " ".join(service["healthcheck"]["test"])
        assert ("/healthz" in test) if _command(service)[1] in ("serve", "worker") else ("/_stcore/health" in test)
        if _command(service)[1] == "serve":
            assert any("clickhouse" in d or d.startswith("ch-") for d in _all_dependencies(services, name)), name


def _all_dependencies(services: dict[str, Any], name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dependency in services[todo.pop()].get("depends_on") or {}:
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


# -- ClickHouse users and cluster configuration -------------------------------------------------------------

@needs_compose
@pytest.mark.parametrize("which,path", [("single", SINGLE), ("cluster", CLUSTER)])
def test_clickhouse_users_are_closed(which: str, path: Path, request: pytest.FixtureRequest) -> None:
    config = request.getfixturevalue(which)
    servers = {n: s for n, s in config["services"].items()
               if "clickhouse-server" in s["image"] and not s.get("entrypoint")}
    assert servers
    for name, service in servers.items():
        users_file = _host_file(path.parent, service, "/etc/clickhouse-server/users.d/tracehouse.xml")
        users = _xml(users_file).find("users")
        assert users is not None
        default = users.find("default")
        assert default is not None and default.get("remove") is not None, "the passwordless default user goes"
        logins = [u for u in users if u.get("remove") is None]
        assert [u.tag for u in logins] == ["tracehouse"]
        env = service["environment"]
        assert env.get("CLICKHOUSE_SKIP_USER_SETUP") == "1", "the entrypoint must not rewrite users"
        for user in logins:
            passwords = [p for p in user if p.tag.startswith("password")]
            assert len(passwords) == 1, f"{user.tag}: exactly one password element"
            variable = passwords[0].get("from_env")
            assert variable and not (passwords[0].text or "").strip(), f"{user.tag}: password from the environment"
            assert env.get(variable) == SECRETS["CLICKHOUSE_PASSWORD"], f"{name} must pass {variable}"
            grants = [q.text for q in user.iter("query")]
            assert "GRANT ALL ON tracehouse.*" in grants
            assert not [g for g in grants if re.search(r"\bALL\b.*\bON \*\.\*", g or "")], "no ALL on every database"


@needs_compose
def test_cluster_topology_matches_compose(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    servers = {n: s for n, s in services.items() if "clickhouse-server" in s["image"] and not s.get("entrypoint")}
    keepers = {n: s for n, s in services.items() if s.get("entrypoint") and "keeper" in " ".join(s["entrypoint"])}
    root = _xml(CLUSTER.parent / "clickhouse" / "config.d" / "cluster.xml")

    remote = root.find("remote_servers/tracehouse")
    assert remote is not None and remote.find("secret").get("from_env") == "CLICKHOUSE_CLUSTER_SECRET"
    shards = remote.findall("shard")
    assert len(shards) == 2 and all(len(s.findall("replica")) == 2 for s in shards), "two shards, two replicas"
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    layout = {(f"{i:02d}", r.findtext("host")) for i, s in enumerate(shards, 1) for r in s.findall("replica")}
    assert {host for _, host in layout} == set(servers)
    for name, service in servers.items():
        env = service["environment"]
        assert service["hostname"] == name
        assert (env["CLICKHOUSE_SHARD"], name) in layout and env["CLICKHOUSE_REPLICA"] == name
        assert env["CLICKHOUSE_CLUSTER_SECRET"] and env["CLICKHOUSE_INTERSERVER_PASSWORD"]
        assert _host_file(CLUSTER.parent, service, "/etc/clickhouse-server/config.d/cluster.xml").name == "cluster.xml"
        assert set(_all_dependencies(services, name)) >= set(keepers)
    macros = root.find("macros")
    assert macros.find("shard").get("from_env") == "CLICKHOUSE_SHARD"
    assert macros.find("replica").get("from_env") == "CLICKHOUSE_REPLICA"
    assert root.find("interserver_http_credentials/password").get("from_env") == "CLICKHOUSE_INTERSERVER_PASSWORD"

    assert {n.findtext("host") for n in root.findall("zookeeper/node")} == set(keepers)
    keeper_xml = _xml(CLUSTER.parent / "keeper" / "keeper_config.xml")
    raft = {(s.findtext("id"), s.findtext("hostname")) for s in keeper_xml.findall("keeper_server/raft_configuration/server")}
    assert {h for _, h in raft} == set(keepers) and len(raft) == 3, "a three-node Keeper quorum"
    for name, service in keepers.items():
        assert (service["environment"]["KEEPER_SERVER_ID"], name) in raft
        assert service["hostname"] == name
        assert _mounts(service)["/var/lib/clickhouse"] in cluster["volumes"]


def test_xml_files_parse() -> None:
    files = sorted((REPO / "deploy").rglob("*.xml"))
    assert len(files) >= 5
    for path in files:
        _xml(path)


# -- Dockerfile and .dockerignore ---------------------------------------------------------------------------

def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in (REPO / "Dockerfile").read_text().splitlines()
                                           if not line.lstrip().startswith("#")))
    out = []
    for line in text.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def test_dockerfile_base_is_pinned_slim_and_stages_agree() -> None:
    froms = [args.split()[0] for instruction, args in _dockerfile() if instruction == "FROM"]
    assert froms
    for image in froms:
        assert PINNED.match(image) and "slim" in image, f"{image}: pin a slim base by tag and digest"
    assert len(set(froms)) == 1


def test_dockerfile_runs_as_non_root_with_healthcheck() -> None:
    instructions = _dockerfile()
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users, "no USER: the container would run as root"
    final_user = users[-1].split(":")[0]
    assert final_user not in ("root", "0")
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    assert any(instruction == "USER" for instruction, _ in instructions[last_from:]), "USER in the final stage"
    checks = [args for instruction, args in instructions if instruction == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0] and "TRACEHOUSE_PORT" in checks[0]
    cmd = json.loads(next(args for instruction, args in reversed(instructions) if instruction == "CMD"))
    assert cmd[:4] == ["tracehouse", "serve", "--host", "0.0.0.0"]
    assert any(instruction == "RUN" and '".[server]"' in args for instruction, args in instructions)


def test_dockerfile_settings_are_real() -> None:
    from tracehouse.collector.settings import load_settings

    env: dict[str, str] = {}
    for instruction, args in _dockerfile():
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    ours = {k: v for k, v in env.items() if k.startswith("TRACEHOUSE_")}
    assert set(ours) <= _known_variables(), sorted(set(ours) - _known_variables())
    settings = load_settings(env=ours)
    assert settings.wal_dir.startswith("/var/lib/tracehouse/") and "/var/lib/tracehouse/" in settings.storage_url


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[:i]), pattern) or fnmatch.fnmatch(parts[i - 1], pattern.removeprefix("**/"))
                  for i in range(1, len(parts) + 1))
        if hit:
            ignored = not negate
    return ignored


def test_build_context_has_the_package_and_nothing_else() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    sources = []
    for instruction, args in _dockerfile():
        if instruction == "COPY" and "--from" not in args:
            sources += args.split()[:-1]
    sources = [s.rstrip("/") for s in sources]
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: missing"
        assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    folders = {d.split("/")[0] for d in pyproject["tool"]["setuptools"]["package-dir"].values()}
    assert folders <= set(sources), f"the image must copy every package folder: {sorted(folders - set(sources))}"
    assert pyproject["project"]["readme"] in sources
    for heavy in (".git", ".venv", ".tracehouse", "tests", "test-artifacts", ".env"):
        assert _ignored(heavy, patterns), f"{heavy} must stay out of the build context"
