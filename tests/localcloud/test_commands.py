"""The commands as a user runs them: start in the foreground (a child process), status, send,
show, stop; nothing left running afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ses_lambda_localcloud import cli, lifecycle, runtime
from ses_lambda_localcloud.server import LocalCloud, PortInUse, free_port
from ses_lambda_localcloud.target import PID_FILE, STATE_FILE, Target

from .conftest import ROOT


def command(
    capsys: pytest.CaptureFixture[str], state_dir: Path, *arguments: str
) -> tuple[int, str, str]:
    """Run a command in this process (only ``start`` needs its own)."""
    capsys.readouterr()
    status = cli.main(["--state-dir", str(state_dir), *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_start_send_show_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api_port, smtp_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ses_lambda_localcloud",
            "--state-dir",
            str(tmp_path),
            "start",
            "--api-port",
            str(api_port),
            "--smtp-port",
            str(smtp_port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        target = Target.load(tmp_path, api_port=api_port, smtp_port=smtp_port)
        health = target.wait_until_up(timeout=60, process=server)  # the pid file came first
        assert health["pid"] == server.pid
        assert (tmp_path / PID_FILE).read_text().strip() == str(server.pid)

        # A second start refuses to run beside the first.
        status, _, err = command(capsys, tmp_path, "start")
        assert status == 1 and "already runs" in err

        # Nothing is deployed: the recipient is rejected, visibly, and send fails.
        status, out, err = command(capsys, tmp_path, "send", "--to", "someone@example.com")
        assert status == 1
        assert "REJECTED  someone@example.com: 550" in out, err
        assert "no recipient was accepted" in err

        status, out, _ = command(capsys, tmp_path, "show")
        assert status == 0 and "REJECTED someone@example.com" in out

        status, out, _ = command(capsys, tmp_path, "stop")
        assert status == 0 and "local cloud stopped" in out
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not (tmp_path / PID_FILE).exists() and not (tmp_path / STATE_FILE).exists()
    assert command(capsys, tmp_path, "status")[0] == 1


def test_fails_to_start_on_a_port_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    # Another web server holds the port: `start` asks it for a local cloud's health (it is not
    # one: 404 at once; a listener that never answers costs the probe's 2-second timeout), then
    # cannot bind.
    with HTTPServer(("127.0.0.1", 0), NotFound) as busy:
        serving = threading.Thread(target=busy.serve_forever, daemon=True)
        serving.start()
        port = busy.server_address[1]
        try:
            status, _, err = command(
                capsys, tmp_path, "start", "--api-port", str(port), "--smtp-port", str(free_port())
            )
        finally:
            busy.shutdown()
            serving.join()
    assert status == 1
    assert f"AWS endpoint port {port} on 127.0.0.1 is in use" in err
    assert not (tmp_path / PID_FILE).exists() and not (tmp_path / STATE_FILE).exists()


def test_a_start_refused_for_a_busy_port_leaves_the_running_local_cloud_alone(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    # This process already runs a local cloud (`cloud`); a second one asked for the same AWS
    # endpoint port is refused before it touches anything the first one owns: its background
    # work stays open, its endpoint and settings stay its own.
    endpoint = runtime.current().endpoint_url
    second = LocalCloud(api_port=cloud.api_port, smtp_port=0, state_dir=tmp_path)
    with pytest.raises(PortInUse, match=f"AWS endpoint port {cloud.api_port}"):
        second.start()
    assert not lifecycle.WORK.closed
    lifecycle.WORK.spawn(lambda: None, name="still-open").join()
    assert runtime.current().endpoint_url == endpoint
    assert not (tmp_path / "control-token").exists()
