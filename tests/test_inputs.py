"""inputs.py: the typed Settings match the schema's settings, and spec.py is the home of ModelSpec."""
import dataclasses
from typing import get_args

from ifpp_econ.inputs import container, schema
from ifpp_econ.model import spec


def test_settings_fields_are_the_schema_settings(default_inputs):
    assert [f.name for f in dataclasses.fields(container.Settings)] == [s[0] for s in schema.SETTINGS]
    typed = default_inputs.typed_settings
    assert dataclasses.asdict(typed) == default_inputs.settings
    assert typed.effect_model == default_inputs.settings["effect_model"] and typed.psa_seed == 20231


def test_enumerations_have_one_source():
    fields = {f.name: f.type for f in dataclasses.fields(container.Settings)}
    for name, *_rest in schema.SETTINGS:
        kind = next(s[2] for s in schema.SETTINGS if s[0] == name)
        if kind.startswith("choice:"):
            literal = getattr(container, fields[name])
            assert get_args(literal) == tuple(schema.VOCABULARIES[kind.split(":")[1]]), name


def test_model_spec_lives_in_spec_and_model_reexports_it():

    assert spec.ModelSpec is spec.ModelSpec and spec.Strategy is spec.Strategy and spec.AgeBand is spec.AgeBand
    assert spec.ModelSpec.__module__ == "ifpp_econ.model.spec"
