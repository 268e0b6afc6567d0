"""The benchmark scripts start: each runs as `make bench` runs it, with bench/ first on
sys.path, so a file there named like a standard-library module (bench/http.py once was, and
broke bench/ingest.py's `import httpx`) fails here instead of in the middle of `make bench`."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py"))


def test_there_are_scripts_to_check() -> None:
    assert {"ingest.py", "http_load.py", "generate_oneroster.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_starts(script: str) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "usage:" in run.stdout
