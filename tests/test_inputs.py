"""inputs.py: the typed Settings match the schema's settings, and spec.py is the home of ModelSpec."""
import dataclasses
from typing import get_args

from ifpp_econ.inputs import container, schema
from ifpp_econ.model import spec


def test_settings_fields_are_the_schema_settings(default_inputs):
    grouped = {"after_effect_months", "after_effect_weights"}
    fields = [f.name for f in dataclasses.fields(container.Settings) if f.name not in grouped]
    assert sorted(fields + container.Settings.grouped_names()) == sorted(s[0] for s in schema.SETTINGS)
    typed = default_inputs.typed_settings
    assert {k: v for k, v in dataclasses.asdict(typed).items() if k not in grouped} == {
        k: v for k, v in default_inputs.settings.items() if k not in container.Settings.grouped_names()}
    assert typed.effect_model == default_inputs.settings["effect_model"] and typed.psa_seed == 20231
    assert typed.after_effect_months == {"catch_up": 12, "linear_decay": 36}
    assert typed.after_effect_weights == {"effect_stops": 0.5, "gap_persists": 0.25, "catch_up": 0.25, "linear_decay": 0}


def test_enumerations_have_one_source():
    from ifpp_econ import declarations

    assert container.AFTER_EFFECTS == tuple(schema.VOCABULARIES["after_effect"]) == tuple(declarations.AFTER_EFFECT_LABELS)
    fields = {f.name: f.type for f in dataclasses.fields(container.Settings)}
    for name, *_rest in schema.SETTINGS:
        kind = next(s[2] for s in schema.SETTINGS if s[0] == name)
        if kind.startswith("choice:") and name != "after_effect":
            literal = getattr(container, fields[name])
            assert get_args(literal) == tuple(schema.VOCABULARIES[kind.split(":")[1]]), name


def test_model_spec_lives_in_spec_and_model_reexports_it():

    assert spec.ModelSpec is spec.ModelSpec and spec.Strategy is spec.Strategy and spec.AgeBand is spec.AgeBand
    assert spec.ModelSpec.__module__ == "ifpp_econ.model.spec"
