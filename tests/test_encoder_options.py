"""Each encoder's options: one config dataclass in ``retrieval.defaults``, documented field by field, taken by the
encoder as given, listed by ``aer encoders`` and the docs' table, and a misspelt one answered with the nearest."""

from __future__ import annotations

from dataclasses import fields

import pytest

from retrieval.defaults import ENCODER_CONFIGS
from retrieval.encoders import ENCODERS
from retrieval.encoders.catalog import describe, encoder_names, format_default, nearest, options_markdown
from retrieval.errors import InvalidParameterError


BUILTIN = sorted(name for name, cls in ENCODERS.items() if cls.__module__.startswith("retrieval."))  # not tests' fakes


def test_the_catalog_lists_exactly_the_registered_encoders():
    assert sorted(encoder_names()) == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_every_option_an_encoder_takes_is_described_with_its_default(name):
    cls = ENCODERS[name]
    documented = {o.name: o for o in describe(name)}
    assert set(documented) == set(cls.param_names())
    for option in documented.values():
        assert option.doc.strip() and option.type, f"{name}: option {option.name!r} has no doc"
    for f in fields(ENCODER_CONFIGS[name]):
        assert documented[f.name].default == f.default


def test_the_markdown_table_has_a_row_per_option_of_each_encoder():
    text = options_markdown()
    for name in encoder_names():
        assert f"`{name}`" in text
        for option in describe(name):
            assert f"| `{option.name}` | `{format_default(option.default)}` |" in text


def test_a_misspelt_name_gets_the_nearest():
    names = [o.name for o in describe("ae")]
    assert nearest("lr_rate", names) == "lr"
    assert nearest("vocab", names) == "vocab_size" and nearest("epoch", names) == "epochs"
    assert nearest("nonsense", names) is None
    with pytest.raises(InvalidParameterError, match="did you mean conv-ae"):
        describe("conv_ae")
