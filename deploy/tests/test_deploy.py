"""The deployment files, checked offline (`make test-deploy`, analytics environment).

* nginx for `make cluster` (deploy/render_nginx.py): the rendered file passes
  `nginx -t`, and a real nginx in front of two stand-in upstreams exposes only
  the webhook and socket paths, refuses oversized bodies and skips a dead
  upstream; the systemd topology's site file passes `nginx -t` too;
* the supervisor of scripts/cluster.sh restarts a killed process and
  `cluster.sh stop` ends it;
* deploy/k8s: every object valid against Kubernetes' schemas
  (kubernetes-validate, bundled, no network), probes on every Deployment,
  Ingresses that route only the allowed paths, Secrets with placeholders only;
* deploy/systemd: units that start what exists, as the service user.

nginx and openssl are Debian packages (`make nginx`); tests that need them
skip with that reason when they are missing.
"""

from __future__ import annotations

import configparser
import contextlib
import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from deploy import render_nginx
from deploy.render_nginx import Layout, max_request_bytes, read_timeout, render
from nps.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SYSTEMD = REPO / "deploy" / "systemd"
NGINX = Path("/usr/sbin/nginx")
TURN_TIMEOUT = load_settings({}).turn_timeout
WEBHOOK_PATHS = {f"/webhooks/{name}/webhook" for name in ("facebook", "whatsapp", "twilio")}
SOCKET_PATH = "/socket.io/"

needs_nginx = pytest.mark.skipif(
    not NGINX.exists(), reason=f"nginx is not installed ({NGINX}): `make nginx` installs it"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def layout(tmp_path: Path, rasa=("127.0.0.1:1",), actions=("127.0.0.1:2",), rest=False) -> Layout:
    return Layout(
        prefix=tmp_path,
        listen=f"127.0.0.1:{free_port()}",
        actions_listen=f"127.0.0.1:{free_port()}",
        rasa=tuple(rasa),
        actions=tuple(actions),
        rest=rest,
        # Started as root, nginx's workers must not become nobody (tmp_path
        # is private to us).
        user="root" if os.geteuid() == 0 else None,
    )


def blocks(config: str, keyword: str) -> list[str]:
    """The bodies of every `keyword ... { ... }` block (braces balanced)."""
    found = []
    for match in re.finditer(rf"^\s*{keyword}\b[^{{;]*{{", config, re.M):
        depth, start = 1, match.end()
        for index in range(start, len(config)):
            depth += {"{": 1, "}": -1}.get(config[index], 0)
            if depth == 0:
                found.append(config[match.start() : index])
                break
    return found


def public_server(config: str, listen: str) -> str:
    (server,) = [s for s in blocks(config, "server") if f"listen {listen};" in s]
    return server


# --- rendering, pure ---------------------------------------------------------------


def test_read_timeout_outlasts_the_turn_bound():
    assert read_timeout(60) > 60
    assert read_timeout(59.2) > 59.2
    assert read_timeout(TURN_TIMEOUT) == int(read_timeout(TURN_TIMEOUT))


def test_body_limit_is_read_from_rasas_own(tmp_path):
    source = tmp_path / "ingress.py"
    source.write_text("OTHER = 1\nMAX_REQUEST_BYTES = 1_234\n")
    assert max_request_bytes(source) == 1234
    source.write_text("MAX_REQUEST_BYTES = 'big'\n")
    with pytest.raises(ValueError):
        max_request_bytes(source)
    assert max_request_bytes() > 2_000_000  # Meta's batches are up to 2 MB


def test_rendered_config_exposes_only_webhooks_and_socket(tmp_path):
    cluster = layout(tmp_path, rasa=("127.0.0.1:7001", "127.0.0.1:7002"), rest=False)
    config = render(cluster, TURN_TIMEOUT, 2_200_000)
    assert "@{" not in config
    server = public_server(config, cluster.listen)
    locations = re.findall(r"^\s*location\s+(.+?)\s*{", server, re.M)
    assert locations == [
        "~ ^/webhooks/(facebook|whatsapp|twilio)/webhook$",
        SOCKET_PATH,
        "/",
    ]
    (catch_all,) = [b for b in blocks(server, "location") if re.match(r"\s*location\s+/\s", b)]
    assert "return 404" in catch_all
    with_rest = render(layout(tmp_path, rest=True), TURN_TIMEOUT, 2_200_000)
    assert "(rest|facebook|whatsapp|twilio)" in with_rest


def test_rendered_config_limits_and_stickiness(tmp_path):
    cluster = layout(tmp_path, rasa=("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"))
    config = render(cluster, 100, 2_200_000)
    server = public_server(config, cluster.listen)
    assert re.search(r"^\s*client_max_body_size 2200000;", server, re.M)
    timeouts = [int(t) for t in re.findall(r"proxy_read_timeout (\d+)s;", server)]
    assert timeouts and min(timeouts) > 100
    (socket_location,) = [b for b in blocks(server, "location") if SOCKET_PATH in b]
    assert "proxy_set_header Upgrade $http_upgrade;" in socket_location
    assert "proxy_set_header Connection $connection_upgrade;" in socket_location
    assert "proxy_pass http://rasa_socket;" in socket_location
    upstreams = {b.split()[1]: b for b in blocks(config, "upstream")}
    assert "hash $binary_remote_addr consistent;" in upstreams["rasa_socket"]
    for name in ("rasa", "rasa_socket"):
        assert re.findall(r"server (\S+) ", upstreams[name]) == list(cluster.rasa)
    assert re.findall(r"server (\S+) ", upstreams["actions"]) == list(cluster.actions)


# --- a real nginx ------------------------------------------------------------------


class _Upstream(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = f"{self.server.name} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def upstream(name: str):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.name = name
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running_nginx(config: str, prefix: Path):
    (prefix / "nginx-tmp").mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(config)
    args = [str(NGINX), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    # Never inherit NGINX: nginx reads it as sockets of a binary upgrade.
    env = {k: v for k, v in os.environ.items() if k != "NGINX"}
    subprocess.run([*args, "-t", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(args, check=True, env=env, capture_output=True)
    pid = int((prefix / "nginx.pid").read_text())
    try:
        yield
    finally:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def request(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def wait_until_listening(address: str) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nginx does not listen on {address}")


@needs_nginx
def test_nginx_accepts_the_rendered_config(tmp_path):
    config = render(layout(tmp_path, rest=True), TURN_TIMEOUT, max_request_bytes())
    (tmp_path / "nginx-tmp").mkdir()
    (tmp_path / "nginx.conf").write_text(config)
    env = {k: v for k, v in os.environ.items() if k != "NGINX"}
    result = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        + ["-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr


@needs_nginx
def test_nginx_routes_only_allowed_paths_and_skips_a_dead_process(tmp_path):
    with upstream("rasa-a") as rasa_a, upstream("rasa-b") as rasa_b, upstream("actions") as act:
        addresses = [f"127.0.0.1:{s.server_address[1]}" for s in (rasa_a, rasa_b, act)]
        cluster = layout(tmp_path, rasa=addresses[:2], actions=addresses[2:], rest=True)
        with running_nginx(render(cluster, TURN_TIMEOUT, 1000), tmp_path):
            wait_until_listening(cluster.listen)
            base = f"http://{cluster.listen}"
            for path in sorted(WEBHOOK_PATHS | {"/webhooks/rest/webhook"}):
                status, body = request(base + path, b"{}")
                assert status == 200 and body.endswith(path)
            assert request(base + "/socket.io/?EIO=4&transport=polling")[0] == 200
            for private in (
                "/",
                "/status",
                "/conversations/rest:x/tracker",
                "/model",
                "/webhooks/rest/",
                "/webhooks/facebook/webhook/x",
                "/webhook",
            ):
                assert request(base + private)[0] == 404, private
            # Bigger than the limit: refused by nginx, never buffered upstream.
            assert request(base + "/webhooks/facebook/webhook", b"x" * 1001)[0] == 413
            # Rasa calls the action servers through nginx's second address.
            status, body = request(f"http://{cluster.actions_listen}/webhook", b"{}")
            assert (status, body) == (200, "actions /webhook")
            assert request(f"http://{cluster.actions_listen}/actions")[0] == 404

            # One Rasa process gone (connection refused): every webhook still
            # answered, by the other one.
            rasa_a.shutdown()
            rasa_a.server_close()
            answers = [request(base + "/webhooks/whatsapp/webhook", b"{}") for _ in range(6)]
            assert {status for status, _ in answers} == {200}
            assert {body.split()[0] for _, body in answers} == {"rasa-b"}


@needs_nginx
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_nginx_accepts_the_systemd_site(tmp_path):
    """deploy/nginx/nps-site.conf inside an http block, with throw-away
    certificates and logs under tmp_path instead of /etc/ssl and /var/log."""
    site = (REPO / "deploy" / "nginx" / "nps-site.conf").read_text()
    certs = tmp_path / "ssl"
    certs.mkdir()
    for host in ("bot.example.com", "nps.example.com"):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-subj", f"/CN={host}", "-keyout", str(certs / f"{host}.key")]
            + ["-out", str(certs / f"{host}.crt")],
            check=True,
            capture_output=True,
        )
    site = site.replace("/etc/ssl/nps/", f"{certs}/").replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "nginx-tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
        f"client_body_temp_path {tmp_path}/nginx-tmp; proxy_temp_path {tmp_path}/nginx-tmp;\n"
        f"{site}\n}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NGINX"}
    result = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    (server,) = [b for b in blocks(site, "server") if "server_name bot.example.com;" in b]
    assert f"client_max_body_size {max_request_bytes()};" in server
    timeouts = [int(t) for t in re.findall(r"proxy_read_timeout (\d+)s;", server)]
    assert timeouts and min(timeouts) > TURN_TIMEOUT
    assert set(re.findall(r"^\s*location\s+(.+?)\s*{", server, re.M)) == {
        "~ ^/webhooks/(facebook|whatsapp|twilio)/webhook$",
        SOCKET_PATH,
        "/",
    }


# --- the supervisor of make cluster --------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running either.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return True


def _wait_for(predicate, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def test_supervisor_restarts_a_killed_process_and_stop_ends_it(tmp_path):
    env = {**os.environ, "CLUSTER_DIR": str(tmp_path)}
    subprocess.Popen(
        ["setsid", "bash", "scripts/cluster.sh", "supervise", "rasa-1", "sleep", "300"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = tmp_path / "rasa-1.pid"
    supervisor_file = tmp_path / "rasa-1.supervisor.pid"
    try:
        assert _wait_for(lambda: _pid(pid_file) and _pid(supervisor_file))
        first = _pid(pid_file)
        os.kill(first, signal.SIGKILL)
        assert _wait_for(lambda: _pid(pid_file) not in (None, first) and _alive(_pid(pid_file)))
        second = _pid(pid_file)
        assert "ended with status 137" in (tmp_path / "rasa-1.log").read_text()
    finally:
        subprocess.run(["bash", "scripts/cluster.sh", "stop"], cwd=REPO, env=env, timeout=60)
    assert not _alive(second)
    assert not pid_file.exists() and not supervisor_file.exists()


def test_cluster_script_parses():
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "cluster.sh")]).returncode == 0


# --- Kubernetes -------------------------------------------------------------------------


def k8s_objects() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = kustomization["resources"]
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(files) == on_disk, "every manifest listed in kustomization.yaml, and no other"
    return [
        doc
        for name in files
        for doc in yaml.safe_load_all((K8S / name).read_text())
        if doc is not None
    ]


def of_kind(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == kind}


@pytest.mark.parametrize("version", ["1.29.0", "1.33.0"])
def test_manifests_are_valid_kubernetes(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for obj in k8s_objects():
        # Raises with the object's kind, name and the offending field.
        kubernetes_validate.validate(obj, version, strict=True)


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def test_every_deployment_has_probes_on_its_own_ports():
    deployments = of_kind("Deployment")
    assert set(deployments) == {"nps-rasa", "nps-actions", "nps-dashboard", "nps-webchat"}
    for name, deployment in deployments.items():
        for container in containers(deployment):
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{name} has no {probe}"
                port = container[probe]["httpGet"]["port"]
                assert port in ports or port in ports.values(), f"{name} {probe} port {port}"
    # Rasa loads its model before it listens: a startup probe gives it time.
    assert "startupProbe" in containers(deployments["nps-rasa"])[0]


def test_rasa_replicas_outlive_a_turn_and_take_no_token_on_the_command_line():
    rasa = of_kind("Deployment")["nps-rasa"]
    assert rasa["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > TURN_TIMEOUT
    command = containers(rasa)[0]["command"]
    assert "credentials.production.yml" in command
    assert not any(part.startswith("--auth-token") for part in command)


def test_services_select_deployments_and_name_their_ports():
    deployments = of_kind("Deployment")
    for name, service in of_kind("Service").items():
        spec = service["spec"]
        if spec.get("type") == "ExternalName":
            continue
        matching = [
            d
            for d in deployments.values()
            if spec["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, f"Service {name} selects {len(matching)} Deployments"
        port_names = {p["name"] for c in containers(matching[0]) for p in c["ports"]}
        for port in spec["ports"]:
            assert port["targetPort"] in port_names


def ingress_routes() -> list[tuple[str, str, str, str]]:
    """(ingress, host, path, service) for every path of every Ingress."""
    return [
        (name, rule["host"], path["path"], path["backend"]["service"]["name"])
        for name, ingress in of_kind("Ingress").items()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def test_ingress_exposes_only_webhooks_and_socket_of_rasa():
    routes = ingress_routes()
    rasa = {(path, host) for _, host, path, service in routes if service == "nps-rasa"}
    assert {path for path, _ in rasa} == WEBHOOK_PATHS | {SOCKET_PATH}
    bot_hosts = {host for _, host in rasa}
    # Nothing else on the bot's host; the action server never.
    others = [r for r in routes if r[3] != "nps-rasa"]
    assert not [r for r in others if r[1] in bot_hosts]
    assert "nps-actions" not in {r[3] for r in routes}
    # Exact: /webhooks/facebook/webhook/anything is not a webhook.
    path_types = {
        path["path"]: path["pathType"]
        for ingress in of_kind("Ingress").values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert {path_types[path] for path in WEBHOOK_PATHS} == {"Exact"}


def test_ingress_limits_and_socket_affinity():
    ingresses = of_kind("Ingress")
    prefix = "nginx.ingress.kubernetes.io/"
    for name, ingress in ingresses.items():
        assert ingress["spec"]["tls"], f"{name} without TLS"
    webhooks = ingresses["nps-webhooks"]["metadata"]["annotations"]
    assert int(webhooks[prefix + "proxy-body-size"]) == max_request_bytes()
    assert int(webhooks[prefix + "proxy-read-timeout"]) > TURN_TIMEOUT
    socket_ingress = ingresses["nps-webchat-socket"]["metadata"]["annotations"]
    assert socket_ingress[prefix + "upstream-hash-by"] == "$binary_remote_addr"


def test_autoscaler_scales_rasa():
    (hpa,) = of_kind("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "nps-rasa",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_secrets_hold_placeholders_only_and_every_reference_exists():
    secrets = of_kind("Secret")
    for name, secret in secrets.items():
        assert "data" not in secret, f"{name}: base64 data hides what it holds"
        for key, value in secret["stringData"].items():
            assert value in ("REPLACE_ME", "{}") or "example.com" in value, f"{name}.{key}"
    configs = of_kind("ConfigMap")
    for deployment in of_kind("Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configs
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets


def test_postgres_and_redis_are_external_services_the_settings_name():
    external = {
        name: s["spec"]["externalName"]
        for name, s in of_kind("Service").items()
        if s["spec"].get("type") == "ExternalName"
    }
    assert set(external) == {"nps-postgres", "nps-redis"}
    config = of_kind("ConfigMap")["nps-config"]["data"]
    assert "@nps-postgres:5432/" in config["NPS_DB_URL"]
    assert ":" not in config["NPS_DB_URL"].split("//", 1)[1].split("@")[0], "no password"
    assert config["NPS_LOCK_STORE_URL"].startswith("redis://nps-redis:6379/")
    assert config["NPS_ACTIONS_URL"] == "http://nps-actions:5055/webhook"
    # The settings module accepts what the pods will be given.
    secrets = ("NPS_PSEUDONYM_KEY", "NPS_WEBCHAT_SECRET", "NPS_EMPLOYEE_LINK_KEY")
    load_settings({**config, **{name: "k" * 32 for name in secrets}})


# --- systemd -----------------------------------------------------------------------


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text().replace("\\\n", " "))
    return parser


@pytest.mark.parametrize(
    "name", ["nps-rasa@.service", "nps-actions@.service", "nps-dashboard.service"]
)
def test_systemd_units_run_what_exists_as_the_service_user(name):
    service = unit(name)["Service"]
    assert (service["User"], service["UMask"]) == ("nps", "0077")
    assert service["EnvironmentFile"] == "/etc/nps/nps.env"
    command = service["ExecStart"].split()
    assert "--auth-token" not in command
    installed = Path(service["WorkingDirectory"])
    for part in command:
        if part.startswith(str(installed)):
            relative = Path(part).relative_to(installed)
            assert relative.parts[0] in (".venv", ".venv-analytics"), part
        elif part.endswith(".py") or part.endswith(".yml"):
            assert (REPO / part).exists(), part


def test_systemd_target_wants_the_units_that_exist():
    text = (SYSTEMD / "nps.target").read_text()
    wanted = re.findall(r"([\w-]+@?)[\w]*\.service", text)
    for name in wanted:
        template = f"{name}.service"
        assert (SYSTEMD / template).exists(), template


def test_renderer_cli_writes_a_config(tmp_path, capsys):
    assert (
        render_nginx.main(
            ["--prefix", str(tmp_path), "--listen", "127.0.0.1:9", "--actions-listen"]
            + ["127.0.0.1:10", "--rasa", "127.0.0.1:11", "--actions", "127.0.0.1:12"]
        )
        == 0
    )
    assert "server 127.0.0.1:11 " in capsys.readouterr().out
