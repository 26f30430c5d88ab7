"""The package's architecture (docs/architecture.md): import floors and no import circles, checked by import-linter."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_import_goes_up_a_floor_and_no_package_has_an_import_circle():
    lint = str(Path(sys.executable).with_name("lint-imports"))  # import-linter, a test dependency
    out = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout
