"""Each encoder's options: one config dataclass in ``retrieval.defaults``, documented field by field, taken by the
encoder as given, listed by ``aer encoders`` and the docs' table, and a misspelt one answered with the nearest."""

from __future__ import annotations

import inspect
import json
from dataclasses import fields

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from retrieval.defaults import ENCODER_CONFIGS, RUNTIME_OPTIONS
from retrieval.encoders import ENCODERS, create_encoder, load_encoder
from retrieval.encoders.catalog import describe, encoder_names, format_default, nearest, options_markdown
from retrieval.errors import InvalidParameterError

from .conftest import FAST_AE
from .test_cli_startup import run_cli


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


# Options each encoder is given as a caller writes them, several of which the constructors used to rewrite
# (a binary code's dim became its bits, hidden and channels became tuples, a preset its sizes).
AS_GIVEN = {
    "ae": {"dim": 8, "bits": 16, "hidden": "64,32", "teacher": "none", "lr": 0.002},
    "lsa": {"dim": 4, "sublinear_tf": False},
    "tfidf": {"vocab_size": 50},
    "minilm": {},
    "minilm-ae": {"dim": 8, "bits": 16, "hidden": 128},
    "conv-ae": {"dim": 8, "bits": 16, "channels": [4, 8], "flip": False},
    "dense-ae": {"dim": 8, "bits": 16, "hidden": "krizhevsky2011"},
    "pca": {"dim": 4, "bits": 8},
    "pixels": {},
}


def test_every_builtin_encoder_has_options_as_given():
    assert sorted(AS_GIVEN) == BUILTIN


@pytest.mark.parametrize("name", sorted(AS_GIVEN))
def test_constructors_keep_their_arguments_as_given(name):
    given = AS_GIVEN[name]
    encoder = create_encoder(name, **given, device="cpu", progress=False)
    defaults = {o.name: o.default for o in describe(name) if o.name not in RUNTIME_OPTIONS}
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in {**defaults, **given}.items()}  # JSON-safe
    assert encoder.get_config() == expected
    runtime = {k: v for k, v in (("device", "cpu"), ("progress", False)) if k in encoder.param_names()}
    assert encoder.config == ENCODER_CONFIGS[name](**given, **runtime)
    for key, value in given.items():
        if key != "dim":  # ``dim`` is the code's width: ``bits`` where given
            assert getattr(encoder, key) == value
    if given.get("bits"):
        assert encoder.dim == given["bits"]
    assert type(encoder)(**encoder.get_config()).get_config() == expected


@pytest.mark.parametrize("name", BUILTIN)
def test_the_constructor_signature_is_the_config(name):
    assert list(inspect.signature(ENCODERS[name]).parameters) == [f.name for f in fields(ENCODER_CONFIGS[name])]


def test_a_misspelt_option_is_refused_with_the_nearest_and_the_valid_ones():
    with pytest.raises(InvalidParameterError, match=r"takes no option 'lr_rate' \(did you mean lr\?\)") as caught:
        create_encoder("ae", lr_rate=1)
    assert all(o.name in str(caught.value) for o in describe("ae")) and "aer encoders ae" in str(caught.value)
    with pytest.raises(InvalidParameterError, match=r"\(lrr: did you mean lr\?; seeds: did you mean seed\?\)"):
        create_encoder("ae", seeds=1, lrr=1)
    with pytest.raises(InvalidParameterError, match=r"takes no option 'zzz'; its options: sublinear_tf, vocab_size"):
        create_encoder("tfidf", zzz=1)


def test_an_encoder_saved_before_options_were_kept_as_given_still_loads(docs, tmp_path):
    """Saved configs once held a binary code's ``dim`` as its bits and ``float_dim`` as the floats asked for."""
    texts = [t for _, _, t in docs]
    encoder = create_encoder("ae", **FAST_AE, bits=16).fit(texts)
    encoder.save(tmp_path / "e")
    path = tmp_path / "e" / "config.json"
    saved = json.loads(path.read_text())
    assert saved["config"]["dim"] == FAST_AE["dim"] and saved["config"]["float_dim"] is None
    saved["config"] = {**saved["config"], "dim": 16, "float_dim": FAST_AE["dim"]}  # as the code before wrote it
    path.write_text(json.dumps(saved))
    old = load_encoder(tmp_path / "e", device="cpu")
    assert (old.dim, old.bits, old._units()) == (16, 16, FAST_AE["dim"])
    np.testing.assert_array_equal(old.encode(texts), encoder.encode(texts))


def test_aer_encoders_lists_the_encoders_and_each_ones_options():
    runner = CliRunner()
    out = runner.invoke(main, ["encoders"])
    assert out.exit_code == 0, out.output
    assert all(any(line.startswith(f"{name} ") for line in out.output.splitlines()) for name in BUILTIN)
    out = runner.invoke(main, ["encoders", "ae"])
    assert out.exit_code == 0, out.output
    rows = {line.split()[0]: line.split()[1] for line in out.output.splitlines()[3:] if line and not line[0].isupper()}
    assert {o.name: format_default(o.default) for o in describe("ae")} == rows
    assert all(o.doc in out.output for o in describe("ae"))
    out = runner.invoke(main, ["encoders", "conv-ae", "--json"])
    assert [o["name"] for o in json.loads(out.output)] == [o.name for o in describe("conv-ae")]
    out = runner.invoke(main, ["encoders", "conv_ae"])
    assert out.exit_code == 1 and "did you mean conv-ae" in out.output


def test_aer_index_answers_a_misspelt_option_before_reading_anything(tmp_path, corpus_dir):
    out = CliRunner().invoke(main, ["index", str(corpus_dir), "-c", str(tmp_path / "c.aer"), "-o", "lr_rate=1"])
    assert out.exit_code == 1 and "did you mean lr?" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "c.aer").exists()


def test_aer_encoders_loads_no_heavy_library():
    found = run_cli("encoders", "dense-ae")
    assert found["exit"] == 0 and found["loaded"] == [], found["stderr"]
    assert "krizhevsky2011" in found["stdout"]
