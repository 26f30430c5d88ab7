"""Property: any mutation of the template gives exit 0 or 2 from every command, never 1; on 2 each error names
the file and a sheet, nothing is written and the input is unchanged (see ``tests/mutations.py``).

Examples per run: ``IFPP_MUTATIONS`` (default 10, to keep the suite fast; each valid mutation runs four
commands). ``scripts/mutation_sweep.py 2000`` runs the same contract without stopping at the first breach.
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import check_commands, mutated_workbook

from ifpp_econ.inputs.template import write_template

EXAMPLES = int(os.environ.get("IFPP_MUTATIONS", "10"))


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_mutation_is_a_bug(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("mutation")
    template = write_template(folder / "template.xlsx")
    book = folder / "mutated.xlsx"
    done = mutated_workbook(template, book, lambda options: data.draw(st.sampled_from(list(options))))
    work = folder / "work"
    work.mkdir()
    assert check_commands(book, work) == [], done
