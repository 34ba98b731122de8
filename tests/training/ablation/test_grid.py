"""Reading an ablation grid: base + variant merged per run, seeds, and every way a grid is refused
(an error naming the file, the variant and the key, before anything runs)."""
import textwrap

import pytest

from training.ablation.grid import GridError, load_grid

GOOD = """
    title = "Sigmas"
    seeds = 3

    [base]
    preset = "tiny"
    batch-size = 4

    [base.data]
    train-samples = 8

    [variants.sigma-1]
    label = "sigma 1"

    [variants.sigma-2]
    sigma = 2.0
    lr = 1e-3
"""


def _grid_file(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_variants_are_base_plus_overrides_in_file_order(tmp_path):
    grid = load_grid(_grid_file(tmp_path, GOOD))
    assert grid.title == "Sigmas" and grid.seeds == [0, 1, 2]
    assert [v.name for v in grid.variants] == ["sigma-1", "sigma-2"]
    assert [v.label for v in grid.variants] == ["sigma 1", "sigma-2"]   # the name when no label
    assert grid.variants[0].options == {"preset": "tiny", "batch_size": 4, "train_samples": 8}
    assert grid.variants[1].options == {"preset": "tiny", "batch_size": 4, "train_samples": 8, "sigma": 2.0,
                                        "lr": 1e-3}


def test_seeds_option_overrides_the_grid_and_lists_are_kept(tmp_path):
    path = _grid_file(tmp_path, GOOD)
    assert load_grid(path, seeds=2).seeds == [0, 1]
    listed = _grid_file(tmp_path, GOOD.replace("seeds = 3", "seeds = [7, 11]"), "listed.toml")
    assert load_grid(listed).seeds == [7, 11]
    no_seeds = _grid_file(tmp_path, GOOD.replace("seeds = 3", ""), "plain.toml")
    assert load_grid(no_seeds).seeds == [0] and load_grid(no_seeds).title == "Sigmas"


def test_baseline_defaults_to_the_first_variant(tmp_path):
    assert load_grid(_grid_file(tmp_path, GOOD)).baseline == "sigma-1"
    named = _grid_file(tmp_path, 'baseline = "sigma-2"\n' + textwrap.dedent(GOOD), "named.toml")
    assert load_grid(named).baseline == "sigma-2"


def test_an_lr_list_expands_to_one_variant_per_value(tmp_path):
    """Issue 25's learning-rate axis: lr = [5e-4, 2e-3, 8e-3] is three variants of one family,
    named and labelled by their lr; the baseline may name the family."""
    grid = load_grid(_grid_file(tmp_path, """
        baseline = "awing"
        [variants.mse]
        loss = "mse"
        [variants.awing]
        label = "AWing"
        lr = [5e-4, 2e-3, 8e-3]
    """))
    assert [(v.name, v.label, v.family, v.options.get("lr")) for v in grid.variants] == [
        ("mse", "mse", "mse", None), ("awing-lr0.0005", "AWing, lr 0.0005", "awing", 5e-4),
        ("awing-lr0.002", "AWing, lr 0.002", "awing", 2e-3), ("awing-lr0.008", "AWing, lr 0.008", "awing", 8e-3)]
    assert grid.baseline == "awing"


def test_an_empty_variant_is_the_base(tmp_path):
    grid = load_grid(_grid_file(tmp_path, """
        [base]
        sigma = 1.5
        [variants.base]
    """))
    assert grid.variants[0].options == {"sigma": 1.5} and grid.title == "grid"


@pytest.mark.parametrize("text, needles", [
    ("[base]\nbatch-sise = 4\n[variants.a]\n", ["[base]", "'batch-sise'", "did you mean 'batch-size'"]),
    ("[variants.a]\n[variants.b]\nsigmaa = 2.0\n", ["variant 'b'", "'sigmaa'"]),
    ("[variants.a]\nsigma = -1.0\n", ["variant 'a'", "--sigma", "must be a number > 0"]),
    ("[variants.a]\npreset = \"huge\"\n", ["variant 'a'", "--preset", "invalid choice"]),
    ("[variants.a]\nno-augment = \"yes\"\n", ["variant 'a'", "no-augment must be true or false"]),
    ("[variants.a]\nepochs = [1, 2]\n", ["variant 'a'", "epochs takes one value"]),
    ("[variants.a]\nloss = \"focal\"\nfocal-alpha = 1e6\n", ["variant 'a'", "--focal-alpha", "125.471"]),
    ("[base]\nawing-alpha = 1e6\n[variants.a]\n", ["[base]", "--awing-alpha 1e+06", "0 for every pixel"]),
])
def test_unknown_keys_and_bad_values_name_file_variant_and_key(tmp_path, text, needles):
    path = _grid_file(tmp_path, text)
    with pytest.raises(GridError) as info:
        load_grid(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for needle in needles:
        assert needle in message, (needle, message)


@pytest.mark.parametrize("key", ["out", "seed", "resume", "overwrite"])
@pytest.mark.parametrize("where", ["[base]", "[variants.a]", "[base.run]"])
def test_keys_the_ablation_sets_are_refused(tmp_path, key, where):
    value = "true" if key == "overwrite" else "\"auto\"" if key == "resume" else "1"
    text = f"{where}\n{key} = {value}\n" + ("" if where == "[variants.a]" else "[variants.a]\n")
    with pytest.raises(GridError, match=rf"'{key}' cannot be set in a grid: the ablation sets --out, --seed"):
        load_grid(_grid_file(tmp_path, text))


@pytest.mark.parametrize("text, message", [
    ("[base]\nsigma = 2.0\n", "no variants: add at least one [variants.NAME] table"),
    ("[base]\n[variants]\n", "no variants"),
    ("variants = 3\n", "no variants"),
    ("[variants]\na = 1\n", "variant 'a': must be a table"),
    ("[variants.'a b']\n", "variant 'a b': a variant's name is its folder"),
    ("[variants.a]\nlabel = 3\n", "label must be a non-empty string"),
    ("seeds = 0\n[variants.a]\n", "seeds must be a count from 1 to 1000"),
    ("seeds = [1, 1]\n[variants.a]\n", "seeds must be distinct"),
    ("seeds = \"two\"\n[variants.a]\n", "seeds must be a count or a non-empty list"),
    ("seeds = 99999999999\n[variants.a]\n", "seeds must be a count from 1 to 1000"),
    (f"seeds = {list(range(1001))}\n[variants.a]\n", "at most 1000 seeds"),
    ("[variants.'ablation.json']\n", "variant 'ablation.json': a variant's name is its folder, and ablation.json is "
                                     "the ablation's own file"),
    ("[variants.a]\n[variants.'Ablation.PNG']\n", "Ablation.PNG is the ablation's own file"),
    ("sigma = 2.0\n[variants.a]\n", "unknown top-level key 'sigma'"),
    ("[variants.a.data.deep]\nsigma = 2.0\n", "tables nest one level deep at most"),
    ("[variants.a]\nsigma = 2.0\n[variants.a.model]\nsigma = 3.0\n", "'sigma' is given twice"),
    ("baseline = \"awing\"\n[variants.a]\n[variants.b]\n", "baseline must name one of the variants (a, b), got 'awing'"),
    ("baseline = 1\n[variants.a]\n", "baseline must name one of the variants (a), got 1"),
    ("[variants.a]\nlr = []\n", "an lr list needs distinct values, got []"),
    ("[variants.a]\nlr = [1e-3, 1e-3]\n", "an lr list needs distinct values"),
    ("[variants.a]\nlr = [1e-3, \"fast\"]\n", "an lr list holds numbers, got 'fast'"),
    ("[variants.a]\nlr = [1e-3, -1.0]\n", "variant 'a' (lr -1): argument --lr: must be a number > 0"),
    ("[variants.a]\nlr = [1e-3]\n[variants.'a-lr0.001']\n", "two variants are named 'a-lr0.001'"),
])
def test_malformed_grids_are_refused(tmp_path, text, message):
    path = _grid_file(tmp_path, text)
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value), str(info.value)


def test_a_grid_that_is_not_utf8_is_refused(tmp_path):
    """The battery's case 10: a label in Latin-1 was stored as U+FFFD; now it is an error."""
    path = tmp_path / "grid.toml"
    path.write_bytes('title = "Losses"\n[variants.a]\nlabel = "\xe9chelle"\n'.encode("latin-1"))
    with pytest.raises(GridError, match=r"grid.toml: not UTF-8 text \(byte 0xe9 on line 3\)"):
        load_grid(path)
    path.write_text('title = "Losses"\n[variants.a]\nlabel = "\xe9chelle"\n', encoding="utf-8")
    assert load_grid(path).variants[0].label == "\xe9chelle"


def test_missing_file_and_corrupt_toml(tmp_path):
    with pytest.raises(GridError, match="grid file not found: .*nowhere.toml"):
        load_grid(tmp_path / "nowhere.toml")
    path = _grid_file(tmp_path, "[variants.a\nsigma = 2\n")
    with pytest.raises(GridError, match=r"grid.toml: not valid TOML"):
        load_grid(path)


def test_a_grid_on_a_coco_set_with_a_scheme_file(tmp_path):
    """Grids take the dataset options train takes: a COCO set of one's own points."""
    grid = load_grid(_grid_file(tmp_path, """
        [base.data]
        dataset = "coco"
        data-root = "photos"
        annotations = "photos/train.json"
        test-annotations = "photos/test.json"
        scheme = "face5.toml"

        [variants.awing]

        [variants.mse]
        loss = "mse"
    """))
    assert grid.variants[1].options == {"dataset": "coco", "data_root": "photos", "annotations": "photos/train.json",
                                        "test_annotations": "photos/test.json", "scheme": "face5.toml",
                                        "loss": "mse"}
