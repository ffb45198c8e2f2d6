"""Shipped Hydra configs (one package per trainable: ``tokenizer/``, ``wfm/``), and the helpers every
config entry point uses: composing a recipe with overrides, refusing unknown fields, and checking that
each scalar field holds a value of its type."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np


def compose_recipe(
    config_module: str, config_name: str, overrides: list[str] | None, command: str
) -> dict[str, Any]:
    """``config_module/<config_name>.yaml`` composed with Hydra overrides, as a plain dict; any Hydra or
    OmegaConf error becomes a ValueError that names ``command``, the recipe and the overrides."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_module(config_module=config_module, version_base=None):
            cfg = compose(config_name=config_name, overrides=list(overrides or []))
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as error:
        raise ValueError(f"{command}: bad config {config_name!r} / overrides {overrides}: {error}") from error


def check_known_fields(cls: type, data: dict) -> None:
    """Raise a ValueError naming the keys of ``data`` that are not fields of the dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {unknown}; known: {sorted(names)}")


# numbers.Integral / Real: numpy scalars (a config built from arrays) are numbers too.
_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "int": (numbers.Integral,),
    "float": (numbers.Real,),
    "bool": (bool, np.bool_),
    "str": (str,),
}


def _type_ok(value: Any, annotation: str) -> bool:
    """Whether ``value`` fits a field annotated ``int``, ``float``, ``bool``, ``str``, ``X | None`` or
    ``tuple[int, ...]``-like; other annotations are not checked here (True)."""
    annotation = annotation.replace(" ", "")
    if annotation.endswith("|None"):
        return value is None or _type_ok(value, annotation[: -len("|None")])
    if annotation.startswith(("tuple[", "list[")):
        if not isinstance(value, (tuple, list)):
            return False  # data.scenes=null or =5 on the command line
        inner = annotation[annotation.index("[") + 1 : -1].split(",")[0]
        return inner not in _SCALAR_TYPES or all(_type_ok(v, inner) for v in value)
    if annotation not in _SCALAR_TYPES:
        return True
    if annotation != "bool" and isinstance(value, (bool, np.bool_)):
        return False  # True is an int to Python, not a width or a learning rate to us
    return isinstance(value, _SCALAR_TYPES[annotation])


def check_field_types(config: Any) -> None:
    """Raise a ValueError naming the first field of the dataclass ``config`` whose value is not of its
    annotated type (``dim: "192"``, ``batch: abc``): called first in ``__post_init__``, so the range checks
    that follow compare numbers, and a config read from JSON or YAML fails with the field's name."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(f.type, str) and not _type_ok(value, f.type):
            raise ValueError(
                f"{type(config).__name__}.{f.name} must be {f.type}, got {value!r} ({type(value).__name__})"
            )


def check_sections(config: Any, sections: dict[str, type]) -> None:
    """Raise a ValueError naming the first nested section of ``config`` (``model``, ``data``...) that is not
    of its class once dicts were converted: ``model=null`` on the command line fails here, by name,
    instead of as an AttributeError later."""
    for name, kind in sections.items():
        value = getattr(config, name)
        if not isinstance(value, kind):
            raise ValueError(f"{type(config).__name__}.{name} must be a mapping of settings, got {value!r}")


def check_finite(
    config: Any,
    *names: str,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> None:
    """Raise a ValueError naming the first field in ``names`` whose value is not a finite number within
    the bounds (``above``: exclusive, ``at_least``/``at_most``: inclusive). NaN passes every ``<``
    comparison, so a plain ``value <= 0`` check lets it through into the run."""
    bounds = [
        text
        for text, bound in ((f"> {above}", above), (f">= {at_least}", at_least), (f"<= {at_most}", at_most))
        if bound is not None
    ]
    for name in names:
        value = getattr(config, name)
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
        if not ok or (at_most is not None and value > at_most):
            rule = f" {' and '.join(bounds)}" if bounds else ""
            raise ValueError(f"{type(config).__name__}.{name} must be a finite number{rule}, got {value!r}")
