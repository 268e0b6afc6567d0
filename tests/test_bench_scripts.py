"""The benchmark scripts start: each runs as `make bench` runs it, with bench/ first on
sys.path, so a file there named like a standard-library module (bench/http.py once was, and
broke bench/ingest.py's `import httpx`) fails here instead of in the middle of `make bench`."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(
    p.name for p in BENCH.glob("*.py") if 'if __name__ == "__main__":' in p.read_text()
)
sys.path.insert(0, str(BENCH))
import benchkit  # noqa: E402


def test_there_are_scripts_to_check() -> None:
    assert {"ingest.py", "http_load.py", "generate_oneroster.py"} <= set(SCRIPTS)
    assert "benchkit.py" not in SCRIPTS


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


def test_a_script_rewrites_only_its_own_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(benchkit, "REPORT", report)
    benchkit.write_section("bench/one.py", ["first"])
    assert report.read_text() == (
        "# Benchmarks\n\n<!-- bench/one.py begin -->\nfirst\n<!-- bench/one.py end -->\n"
    )
    report.write_text(report.read_text() + "\nProse about it.\n")
    benchkit.write_section("bench/two.py", ["other"])
    benchkit.write_section("bench/one.py", [r"C:\\new \\d"])
    text = report.read_text()
    assert "<!-- bench/one.py begin -->\nC:\\\\new \\\\d\n<!-- bench/one.py end -->" in text
    assert "first" not in text
    assert "Prose about it." in text
    assert "<!-- bench/two.py begin -->\nother\n<!-- bench/two.py end -->" in text


def test_the_speed_note_gives_the_start_and_end_speeds() -> None:
    note = benchkit.speed_note(12.25)
    assert note.startswith("Pure-Python speed 12.2 M loop iterations/s at the start, ")
    at_end = float(note.split(", ")[1].split(" ")[0])
    assert at_end > 0
