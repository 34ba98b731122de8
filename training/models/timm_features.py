"""timm backbones as feature extractors: the optional import, the name check with suggestions,
and ImageNet weights that cannot be fetched, each a one-line error."""
from __future__ import annotations

import difflib
from typing import Sequence

from torch import nn

__all__ = ["BackboneUnavailable", "import_timm", "check_timm_name", "create_features", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'awing[models]'"


class BackboneUnavailable(RuntimeError):
    """A model that cannot be built here: timm is missing, or its pretrained weights cannot be fetched."""


def import_timm(model: str):
    """The timm module; BackboneUnavailable naming --model `model` when it is not installed."""
    try:
        import timm
    except ImportError:
        raise BackboneUnavailable(f"--model {model} needs timm: {INSTALL_HINT}") from None
    return timm


def check_timm_name(name: str, model: str) -> None:
    """ValueError naming close timm models when timm has no model `name`."""
    timm = import_timm(model)
    if timm.is_model(name):
        return
    base = name.split(".")[0]
    names = timm.list_models()
    close = difflib.get_close_matches(base, names, n=4, cutoff=0.6)
    close += [n for n in timm.list_models(f"*{base}*")[:4] if n not in close]
    hint = f"; close names: {', '.join(close[:6])}" if close else "; timm.list_models('*PATTERN*') lists them"
    raise ValueError(f"--model {model}: timm has no model {name!r}{hint}")


def create_features(name: str, model: str, pretrained: bool, out_indices: Sequence[int] | None = None,
                    img_size: int | None = None, **kwargs) -> nn.Module:
    """timm.create_model(name, features_only=True, ...), told the input side `img_size` when the
    model takes one (a ViT's position embeddings). With `pretrained`, weights that cannot be
    fetched (no network, HF_HUB_OFFLINE=1 and not in the cache) are a BackboneUnavailable saying how
    to proceed; a model timm cannot give features of is a ValueError."""
    timm = import_timm(model)
    check_timm_name(name, model)
    if out_indices is not None:
        kwargs["out_indices"] = tuple(out_indices)
    try:
        if img_size is not None:   # models with a fixed input size (ViTs) take it; the others refuse the keyword
            try:
                return timm.create_model(name, pretrained=pretrained, features_only=True, img_size=img_size, **kwargs)
            except TypeError as exc:
                if "img_size" not in str(exc):
                    raise
        return timm.create_model(name, pretrained=pretrained, features_only=True, **kwargs)
    except (OSError, ConnectionError, TimeoutError) as exc:   # huggingface_hub's errors are OSErrors
        if not pretrained:
            raise
        reason = " ".join(str(exc).split())[:160]
        raise BackboneUnavailable(
            f"--pretrained-backbone: the ImageNet weights of {name} could not be fetched ({reason}); download "
            f"them once where there is network (python -c \"import timm; timm.create_model('{name}', "
            f"pretrained=True)\" fills the Hugging Face cache, HF_HOME) or train without --pretrained-backbone"
        ) from None
    except RuntimeError as exc:
        if pretrained and "pretrained" in str(exc).lower():
            raise BackboneUnavailable(f"--pretrained-backbone: timm has no ImageNet weights for {name}: "
                                      f"{' '.join(str(exc).split())}; drop --pretrained-backbone") from None
        raise ValueError(f"--model {model}: timm cannot give the feature maps of {name} "
                         f"(features_only): {' '.join(str(exc).split())}") from None
