"""The start scripts' token files (ofr_tools/launch.py, scripts/lib.sh ``load_token``):
readable by their user only, whatever made them (issue 29)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ofr_tools.launch import token_file

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_token_file_is_for_its_user_only(tmp_path, capsys) -> None:
    path = tmp_path / "admin-token"
    old_umask = os.umask(0o022)  # what most shells have: files readable by all
    try:
        assert token_file(str(path)) == 0
    finally:
        os.umask(old_umask)
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40 and path.read_text(encoding="utf-8").strip() == token
    assert mode(path) == 0o600
    assert token_file(str(path)) == 0
    assert capsys.readouterr().out.strip() == token  # made once, then kept


@pytest.mark.parametrize("content", ["kept-token\n", ""])
def test_a_wider_token_file_is_tightened(tmp_path, capsys, content) -> None:
    path = tmp_path / "admin-token"
    path.write_text(content, encoding="utf-8")
    path.chmod(0o644)
    assert token_file(str(path)) == 0
    token = capsys.readouterr().out.strip()
    assert mode(path) == 0o600
    assert token == (content.strip() or path.read_text(encoding="utf-8").strip())


def test_the_start_scripts_keep_the_admin_token_for_their_user(tmp_path) -> None:
    """``make run``'s own path: scripts/lib.sh load_token, on a file an older
    version left readable by everyone, and on none."""
    old = tmp_path / "admin-token"
    old.write_text("old-token\n", encoding="utf-8")
    old.chmod(0o644)
    new = tmp_path / "rest-token"
    script = (
        "source scripts/lib.sh\n"
        f"load_token OFR_ADMIN_TOKEN {old}\n"
        f"load_token OFR_REST_TOKEN {new}\n"
        'printf "%s %s" "$OFR_ADMIN_TOKEN" "$OFR_REST_TOKEN"\n'
    )
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OFR_ADMIN_TOKEN", "OFR_REST_TOKEN")
    }
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**environ, "VENV": str(ROOT / ".venv")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    admin, rest = result.stdout.split()
    assert admin == "old-token" and rest == new.read_text(encoding="utf-8").strip()
    assert mode(old) == 0o600 and mode(new) == 0o600
