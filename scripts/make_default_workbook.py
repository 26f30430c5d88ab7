"""Regenerate the bundled default workbook and its editable copy in parameters/ (same code as `ifpp-econ template`)."""
from pathlib import Path

from ifpp_econ.inputs.template import write_template

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    for target in (ROOT / "ifpp_econ" / "data" / "default.xlsx", ROOT / "parameters" / "default.xlsx"):
        write_template(target, force=True)
        print(f"wrote {target}")
