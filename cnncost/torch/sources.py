"""Where `source:name` models come from, untrained and without downloading anything, and the inputs
each family naturally takes (per sample; torchvision's model documentation and reference scripts).

- `torchvision:NAME`: `weights=None`, and `weights_backbone=None` for segmentation and detection
  (their constructors otherwise fetch ImageNet backbone weights); quantization's models are built
  unquantized (`quantize=False`, their float form).  Seeded (torch.manual_seed(0)) so one name gives
  one set of weights, hence one table, every time.
- `timm:NAME`: `timm.create_model(NAME, pretrained=False)`; its `pretrained_cfg` gives the input.
- `path/to/file.py:ClassName`: `ClassName()`.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import warnings

import torch

from cnncost.errors import CostError

DEFAULT_INPUT = (3, 224, 224)
SEED = 0

#: torchvision models whose natural input is not one 3x224x224 image: per-sample shapes, one per input
NATURAL_INPUTS = {
    "inception_v3": ((3, 299, 299),),
    "quantized_inception_v3": ((3, 299, 299),),
    # video (C, T, H, W): the 16-frame clips of torchvision's video classification references
    **{n: ((3, 16, 112, 112),) for n in ("r3d_18", "mc3_18", "r2plus1d_18")},
    **{n: ((3, 16, 224, 224),) for n in ("mvit_v1_b", "mvit_v2_s", "s3d")},
    **{n: ((3, 16, 224, 224),) for n in ("swin3d_t", "swin3d_s", "swin3d_b")},
    # optical flow: two frames, sides multiples of 8
    "raft_large": ((3, 224, 224), (3, 224, 224)),
    "raft_small": ((3, 224, 224), (3, 224, 224)),
    # semantic segmentation: the 520-pixel crops of the segmentation references
    **{n: ((3, 520, 520),) for n in ("deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50", "deeplabv3_resnet101",
                                     "fcn_resnet50", "fcn_resnet101", "lraspp_mobilenet_v3_large")},
}


def family(arch: str) -> str:
    """torchvision's subpackage for a model: classification, quantization, detection, segmentation,
    video or optical_flow."""
    import torchvision
    parts = torchvision.models.get_model_builder(arch).__module__.split(".")
    return parts[2] if parts[2] in ("quantization", "detection", "segmentation", "video", "optical_flow") \
        else "classification"


def torchvision_model(arch: str) -> torch.nn.Module:
    try:
        import torchvision
    except ImportError:
        raise CostError("torchvision is not installed: pip install torchvision") from None
    names = torchvision.models.list_models()
    if arch not in names:
        import difflib
        close = difflib.get_close_matches(arch, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CostError(f"torchvision has no model {arch!r}{hint}")
    kwargs = {"weights": None}
    kind = family(arch)
    if kind in ("detection", "segmentation"):
        kwargs["weights_backbone"] = None
    if kind == "quantization":
        kwargs["quantize"] = False
    torch.manual_seed(SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(arch, **kwargs)


def torchvision_inputs(arch: str) -> tuple:
    """(per-sample input shapes, layout): detection models take a list of images."""
    layout = "list" if family(arch) == "detection" else "batch"
    return NATURAL_INPUTS.get(arch, (DEFAULT_INPUT,)), layout


def timm_model(arch: str) -> tuple:
    """(module, natural input shapes) from timm, untrained: pretrained=False never downloads."""
    try:
        import timm
    except ImportError:
        raise CostError(f"timm:{arch} needs timm, which is not installed: pip install timm") from None
    if arch not in timm.list_models():
        import difflib
        close = difflib.get_close_matches(arch, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CostError(f"timm has no model {arch!r}{hint}")
    torch.manual_seed(SEED)
    try:
        model = timm.create_model(arch, pretrained=False)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CostError(f"timm: {err}") from None
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    return model, (tuple(cfg.get("input_size", DEFAULT_INPUT)),)


def file_model(path: str, cls: str) -> torch.nn.Module:
    """`ClassName()` from the Python file at `path`."""
    if not os.path.isfile(path):
        raise CostError(f"no such file: {path}")
    module_name = f"cnncost_user_{abs(hash(os.path.abspath(path)))}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    mod = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = mod
    try:
        loader.loader.exec_module(mod)
    except Exception as err:
        raise CostError(f"{path}: importing it failed ({type(err).__name__}: {err})") from None
    klass = getattr(mod, cls, None)
    if klass is None:
        raise CostError(f"{path} defines no {cls!r}")
    torch.manual_seed(SEED)
    try:
        model = klass()
    except Exception as err:
        raise CostError(f"{path}:{cls}() failed ({type(err).__name__}: {err}); "
                        "the class must build with no arguments") from None
    if not isinstance(model, torch.nn.Module):
        raise CostError(f"{path}:{cls}() is a {type(model).__name__}, not a torch.nn.Module")
    return model


def version(package: str) -> str:
    try:
        from importlib.metadata import version as v
        return v(package)
    except Exception:  # pragma: no cover
        return "?"
