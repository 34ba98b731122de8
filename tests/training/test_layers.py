"""training's one-way layers (docs/design.md, "Layers"): every import in every module, at the top or
inside a function, goes to a package the importing one may use. A new import against the order
fails here, naming the file and line, instead of becoming an import loop later."""
import ast

import pytest

from helpers import REPO

TRAINING = REPO / "training"

# package -> the training packages (or top-level modules) its modules may import, besides its own.
# The top-level modules (the commands and their argparse bodies) may import anything.
MAY_IMPORT = {
    "core": set(),
    "data": {"core"},
    "models": {"core"},
    "infer": {"core", "data", "models"},
    "eval": {"core", "data", "models", "infer"},
    "engine": {"core", "data", "models", "eval"},
    "ablation": {"core", "engine", "train_options", "train_config"},   # a grid's options are train's
}
# deprecation shims (until awing 0.4): they import the new place of what they used to hold
SHIMS = {"engine/checkpoint.py", "engine/options.py", "eval/normalisers.py", "infer/runners.py"}


def _imported_modules(path, root=TRAINING):
    """(line, dotted name below training) for every import of training in the file at `path`
    (under `root`, the training folder): `from ..engine.trainer import X` in training/eval/a.py
    gives "engine.trainer.X", `from .. import detect_inputs` "detect_inputs", `import
    training.core.cli` "core.cli". Each imported name is listed, so a name that is a module is
    seen too."""
    folder = list(path.relative_to(root).parts[:-1])       # the file's folders below training/
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = (node.module or "").split(".")
                if base[0] != "training":
                    continue
                base = base[1:]
            else:
                up = node.level - 1                          # `from .x`: the file's own folder
                if up > len(folder):
                    raise AssertionError(f"{path}:{node.lineno}: a relative import above training/")
                base = folder[:len(folder) - up] + ((node.module or "").split(".") if node.module else [])
            for alias in node.names:
                yield node.lineno, ".".join(base + [alias.name])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "training" and len(parts) > 1:
                    yield node.lineno, ".".join(parts[1:])


def _imported_packages(path, root=TRAINING):
    """(line, training package or top-level module) for each import of training in `path`."""
    for line, name in _imported_modules(path, root):
        yield line, name.split(".")[0]


def _modules():
    for package in MAY_IMPORT:
        for path in sorted((TRAINING / package).rglob("*.py")):
            if str(path.relative_to(TRAINING)) not in SHIMS:
                yield path


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(TRAINING)))
def test_a_module_imports_only_the_layers_below_its_own(path):
    package = path.relative_to(TRAINING).parts[0]
    allowed = MAY_IMPORT[package] | {package}
    wrong = [f"{path.relative_to(REPO)}:{line} imports training.{target}"
             for line, target in _imported_packages(path) if target not in allowed]
    assert not wrong, f"{package} may import {sorted(MAY_IMPORT[package]) or 'no other training package'}: " \
                      + "; ".join(wrong)


def test_every_package_has_a_rule():
    packages = {p.name for p in TRAINING.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(MAY_IMPORT)


def test_engine_is_the_training_loop_only():
    """No argparse in engine: the commands' option definitions sit beside the commands."""
    parsers = [str(path.relative_to(REPO)) for path in sorted((TRAINING / "engine").rglob("*.py"))
               if str(path.relative_to(TRAINING)) not in SHIMS and "add_argument(" in path.read_text()]
    assert parsers == []


def test_the_checker_finds_every_form_of_import(tmp_path):
    """The checker itself, on a file written for it: function-level, absolute, plain and
    package-level imports are found, each resolved to its module."""
    fake = tmp_path / "training" / "infer" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("import training.eval.metrics\nfrom . import predictor\n"
                    "def f():\n    from ..engine.trainer import Trainer\n    from .predictor import Predictor\n"
                    "    from training.ablation import grid\n    from .. import detect_inputs\n"
                    "    from training import engine\n")
    assert list(_imported_modules(fake, tmp_path / "training")) == [
        (1, "eval.metrics"), (2, "infer.predictor"), (4, "engine.trainer.Trainer"), (5, "infer.predictor.Predictor"),
        (6, "ablation.grid"), (7, "detect_inputs"), (8, "engine")]
    assert [p for _, p in _imported_packages(fake, tmp_path / "training")] == [
        "eval", "infer", "engine", "infer", "ablation", "detect_inputs", "engine"]


def _deprecated_paths():
    """Every module path kept only for old users: the MOVED aliases and the shim modules."""
    import training
    return set(training.MOVED) | {path[:-len(".py")].replace("/", ".") for path in SHIMS}


@pytest.mark.parametrize("path", [p for p in sorted(TRAINING.rglob("*.py"))
                                  if str(p.relative_to(TRAINING)) not in SHIMS],
                         ids=lambda p: str(p.relative_to(TRAINING)))
def test_no_module_imports_a_deprecated_path_even_inside_a_function(path):
    deprecated = _deprecated_paths()
    wrong = [f"{path.relative_to(REPO)}:{line} imports training.{name}" for line, name in _imported_modules(path)
             if any(name == old or name.startswith(old + ".") for old in deprecated)]
    assert not wrong, "; ".join(wrong)


def test_no_module_imports_a_deprecated_path():
    """Every module of training and benchmarks imports cleanly with DeprecationWarning as an error
    (a fresh interpreter, so nothing is imported before): none uses an old path kept for users."""
    import subprocess
    import sys
    shims = {"training." + path[:-len(".py")].replace("/", ".") for path in SHIMS}
    code = ("import importlib, pkgutil, training, benchmarks\n"
            f"shims = {sorted(shims)!r}\n"
            "for package in (training, benchmarks):\n"
            "    for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
            "        if m.name not in shims:\n"
            "            importlib.import_module(m.name)\n")
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
