"""Landmark scheme files: the built-in 68/98/29 as shipped files (unchanged from their code
definitions), a file's round trip, every validation error (one line naming the file and the
key), the WFLW -> 68 mapping, map_points."""
from pathlib import Path

import numpy as np
import pytest

from awing_ext import SCHEMES, SchemeError, get_scheme, read_scheme
from awing_ext.scheme_file import parse_scheme, scheme_to_dict, scheme_to_toml
from awing_ext.schemes import SCHEME_FOLDER, map_points


def _r(a, b):
    return tuple(range(a, b + 1))


def _perm(k, pairs):
    perm = list(range(k))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


# the schemes as awing_ext/schemes.py defined them in code before they were files
FROZEN = {
    "68": ((_r(0, 16), _r(17, 21), _r(22, 26), _r(36, 39), (36, 41, 40, 39), _r(42, 45), (42, 47, 46, 45), _r(27, 30),
            _r(31, 35), _r(48, 54), _r(60, 64), (48, 59, 58, 57, 56, 55, 54), (60, 67, 66, 65, 64)),
           _perm(68, [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
                 + [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53),
                    (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]), ((36,), (45,))),
    "98": ((_r(0, 32), _r(33, 37), _r(42, 46), _r(60, 64), (60, 67, 66, 65, 64), _r(68, 72), (68, 75, 74, 73, 72),
            _r(51, 54), _r(55, 59), _r(76, 82), _r(88, 92), (76, 87, 86, 85, 84, 83, 82), (88, 95, 94, 93, 92)),
           _perm(98, [(i, 32 - i) for i in range(16)]
                 + [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47), (55, 59),
                    (56, 58), (60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73), (76, 82),
                    (77, 81), (78, 80), (83, 87), (84, 86), (88, 92), (89, 91), (93, 95), (96, 97)]), ((60,), (72,))),
    "29": (((0, 4, 2), (0, 5, 2), (3, 6, 1), (3, 7, 1), (8, 12, 10), (8, 13, 10), (11, 14, 9), (11, 15, 9),
            (18, 21, 19), (18, 20, 19), (22, 24, 23), (22, 25, 23), (22, 26, 23), (22, 27, 23)),
           _perm(29, [(0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14), (13, 15), (16, 17), (18, 19),
                      (22, 23)]), ((16,), (17,))),
}

CUSTOM = '''# a test scheme
name = "face5"
points = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]
flip = [["left_eye", "right_eye"], ["left_mouth", "right_mouth"]]
normaliser = [["left_eye", "left_mouth"], "right_eye"]

[curves]
"upper lip" = ["left_mouth", "nose", "right_mouth"]

[from.68]
indices = [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], 30, 48, 54]

[from.mine]
indices = [0, 1, 2, 3, 4]
'''


def _write(tmp_path, text, name="scheme.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["68", "98", "29"])
def test_builtin_schemes_are_files_and_unchanged(name):
    scheme = SCHEMES[name]
    curves, flip, normaliser = FROZEN[name]
    assert Path(scheme.source) == SCHEME_FOLDER / f"{name}.toml"
    assert (scheme.num_points, scheme.curves, scheme.flip, scheme.normaliser) == (len(flip), curves, flip, normaliser)
    assert scheme == name and get_scheme(int(name)) is scheme and len(set(scheme.point_names)) == scheme.num_points
    assert read_scheme(scheme.source) == scheme


def test_68_declares_the_wflw_mapping_and_it_commutes_with_the_flips():
    s68, s98 = SCHEMES["68"], SCHEMES["98"]
    m = s68.mapping_from("98")
    assert m == s68.mapping_from(s98) and len(m) == 68 and len(set(m)) == 68
    assert list(m[:17]) == list(range(0, 33, 2)) and list(m[48:]) == list(range(76, 96))
    assert (m[36], m[45]) == (60, 72)                           # the inter-ocular points map onto WFLW's
    for i in range(68):                                         # mirroring, then mapping = mapping, then mirroring
        assert s98.flip[m[i]] == m[s68.flip[i]], i
    assert SCHEMES["98"].mapping_from("68") is None and SCHEMES["29"].mappings == ()


def test_scheme_file_round_trip(tmp_path):
    scheme = read_scheme(_write(tmp_path, CUSTOM))
    assert (scheme.name, scheme.num_points, scheme.flip) == ("face5", 5, (1, 0, 2, 4, 3))
    assert scheme.normaliser == ((0, 3), (1,)) and scheme.curves == ((3, 2, 4),)
    assert scheme.curve_names == ("upper lip",)
    assert scheme.mapping_from("68") == ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47), 30, 48, 54)
    again = read_scheme(_write(tmp_path, scheme_to_toml(scheme, "written back"), "again.toml"))
    assert again == scheme and again.source.endswith("again.toml")
    assert parse_scheme(scheme_to_dict(scheme), "dict") == scheme
    for builtin in SCHEMES.values():
        assert read_scheme(_write(tmp_path, scheme_to_toml(builtin), f"{builtin.name}.toml")) == builtin
    bare = read_scheme(_write(tmp_path, 'name = "two"\npoints = ["a", "b"]\n', "bare.toml"))
    assert bare.flip is None and bare.normaliser == "bbox" and bare.curves == () and bare.mappings == ()
    assert read_scheme(_write(tmp_path, 'name = "axis"\npoints = ["a", "b"]\nflip = []\n', "axis.toml")).flip == (0, 1)


@pytest.mark.parametrize("change,key,message", [
    ('points = ["a", "b", "a"]', "points", "duplicate point name 'a'"),
    ('flip = [["a", "x"]]', "flip[0]", "unknown point name 'x'"),
    ('flip = [["a", "b"], ["b", "c"]]', "flip[1]", "not an involution"),
    ('flip = [["a", "a"]]', "flip[0]", "paired with itself"),
    ('normaliser = ["a", "nose"]', "normaliser[1]", "unknown point name 'nose'"),
    ('normaliser = ["a", "a"]', "normaliser", "the same points"),
    ('normaliser = "box"', "normaliser", '"bbox"'),
    ('[curves]\nlip = []', "curves.lip", "empty curve"),
    ('[curves]\nlip = ["a"]', "curves.lip", "at least 2 points"),
    ('[curves]\n"left lip" = ["a", "q"]', 'curves."left lip"[1]', "unknown point name 'q'"),
    ('[from.98]\nindices = [0, 1, 98]', "from.98.indices[2]", "index 98 out of range for scheme '98' (98 points)"),
    ('[from.mine]\nindices = [0, -1, 2]', "from.mine.indices[1]", "index -1 out of range"),
    ('[from.68]\nindices = [0, 1]', "from.68.indices", "2 entries, but the scheme has 3 points"),
    ('[from.68]\nindices = [0, [], 2]', "from.68.indices[1]", "an index (integer) or a non-empty list"),
    ('flips = []', "flips", "unknown key"),
])
def test_validation_errors_name_the_file_and_the_key(tmp_path, change, key, message):
    base = 'name = "abc"\npoints = ["a", "b", "c"]\n'
    if change.startswith("points"):
        base = 'name = "abc"\n'
    path = _write(tmp_path, base + change + "\n")
    with pytest.raises(SchemeError) as info:
        read_scheme(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: {key}: ") and message in text, text


def test_file_level_errors(tmp_path):
    for text, message in [('points = ["a"]', "name: a non-empty string is required"),
                          ('name = "x"', "points: a non-empty list"), ("name = ", "not valid TOML")]:
        path = _write(tmp_path, text)
        with pytest.raises(SchemeError, match=message) as info:
            read_scheme(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SchemeError, match="scheme file not found"):
        read_scheme(tmp_path / "none.toml")
    with pytest.raises(ValueError, match="unknown landmark scheme 'five'"):
        get_scheme("five")
    assert get_scheme(str(_write(tmp_path, CUSTOM, "f.toml"))).name == "face5"


def test_map_points_takes_points_and_centroids():
    pts = np.arange(20, dtype=float).reshape(10, 2)
    got = map_points(pts[None], [3, (0, 2), (4, 5, 6)], axis=-2)
    np.testing.assert_allclose(got[0], [pts[3], (pts[0] + pts[2]) / 2, pts[4:7].mean(0)])
    visible = np.array([[1, 1, 0, 1, 1, 1, 1, 1, 1, 1]], float)
    np.testing.assert_array_equal(map_points(visible, [3, (0, 2), (4, 5, 6)], axis=-1, reduce="min"), [[1, 0, 1]])


def test_scheme_equality_hash_and_repr(tmp_path):
    scheme = read_scheme(_write(tmp_path, CUSTOM))
    other = read_scheme(_write(tmp_path, CUSTOM.replace('"upper lip"', '"mouth"'), "other.toml"))
    assert scheme == "face5" and scheme != other and hash(scheme) == hash("face5")
    assert repr(scheme).startswith("LandmarkScheme('face5', 5 points, 1 curves")
