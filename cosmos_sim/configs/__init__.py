"""Shipped Hydra configs (one package per trainable: ``tokenizer/``, ``wfm/``), and the two helpers
every config entry point uses: composing a recipe with overrides, and refusing unknown fields."""

from __future__ import annotations

import dataclasses
from typing import Any


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
