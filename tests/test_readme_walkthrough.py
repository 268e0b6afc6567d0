"""The README's walkthrough, run verbatim against a freshly started `interop serve`.

Only the port changes (the suite may not own 8080); everything else is the README's own text.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import _free_port, wait_until_answering

ROOT = Path(__file__).resolve().parents[1]
INTEROP = str(Path(sys.executable).parent / "interop")


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert blocks, "the README has no walkthrough block"
    return "\n".join(blocks)


def test_readme_walkthrough_works_verbatim(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEROP_")}
    server = subprocess.Popen(
        [INTEROP, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/readyz", server)
        script = "set -euo pipefail\n" + walkthrough_script().replace(
            "127.0.0.1:8080", f"127.0.0.1:{port}"
        )
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        tenant = next(a["data"] for a in answers if "license" in a.get("data", {}))
        assert tenant["integration"]["name"] == "gradebook"
        assert tenant["integration"]["version"] == "1.0.0"
        assert tenant["cloud"]["name"] == "springfield"
        assert tenant["license"]["status"] == "active"
        schools = next(
            a["data"]
            for a in answers
            if isinstance(a.get("data"), list) and a["data"] and "school_ref_id" in a["data"][0]
        )
        assert [school["school_ref_id"] for school in schools] == ["sch1"]
        assert "\n204\n" in f"\n{result.stdout}"
        lists = [a["data"] for a in answers if isinstance(a.get("data"), list) and a["data"]]
        ingestions = next(found for found in lists if "trigger" in found[0])
        assert [(i["state"], i["trigger"]) for i in ingestions] == [("success", "on_demand")]
        assert ingestions[0]["stats"]["created"] == 31  # everything but the other school
        users = next(found for found in lists if "sourced_id" in found[0])
        assert [user["sourced_id"] for user in users] == ["gua1", "proc1", "stu1"]
        # Keys instead of secrets: the actor's key, its assertion's token, the LMS's JWT.
        client_key = next(a["data"] for a in answers if "jwks_url" in a.get("data", {}))
        assert client_key["client_id"] == tenant["auth"]["client_id"]
        platform = next(a["data"] for a in answers if "issuer" in a.get("data", {}))
        assert platform["issuer"] == "https://lms.example.edu"
        last_lines = result.stdout.strip().splitlines()[-1:]
        assert "\nBearer\n" in result.stdout
        assert last_lines == [tenant["id"]]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in output  # serve says where it listens
    assert "interop accounts create" in output  # ... and how to create credentials
