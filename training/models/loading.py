"""A model from a checkpoint: the architecture its ``model_config`` names (any --model,
models/registry.py), its weights checked finite and fitted with one clear error, in eval mode."""
import torch

from ..core.checkpoint import check_finite_weights
from .registry import config_from_dict, create_model

__all__ = ["load_model", "fit_state_dict"]


def fit_state_dict(model: torch.nn.Module, state_dict: dict, source: str) -> None:
    """model.load_state_dict(state_dict), with one line naming `source` instead of torch's
    listing of every mismatched tensor when the weights belong to another architecture."""
    ours = model.state_dict()
    missing = [k for k in ours if k not in state_dict]
    unexpected = [k for k in state_dict if k not in ours]
    shapes = [k for k in ours if k in state_dict and tuple(state_dict[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or shapes:
        first = (f"e.g. {shapes[0]} is {tuple(state_dict[shapes[0]].shape)}, the model's "
                 f"{tuple(ours[shapes[0]].shape)}" if shapes else f"e.g. {(missing or unexpected)[0]}")
        raise ValueError(f"{source}: the weights belong to another architecture ({len(shapes)} tensors of another "
                         f"shape, {len(missing)} missing, {len(unexpected)} unexpected; {first})")
    model.load_state_dict(state_dict)


def load_model(checkpoint: dict, device: torch.device, source: str = "checkpoint") -> torch.nn.Module:
    """The model a checkpoint (load_checkpoint's dict) describes (any --model: models/registry.py),
    with its weights, in eval mode; ValueError for non-finite weights (`source` names the file in messages)."""
    check_finite_weights(checkpoint["model"], source)
    model = create_model(config_from_dict(checkpoint["model_config"]))   # no "model" entry: a FAN
    fit_state_dict(model, checkpoint["model"], source)
    return model.to(device).eval()
