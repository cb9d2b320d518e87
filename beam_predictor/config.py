"""Load a stage's config dataclass from config/*.yaml (and from ROS parameters later).

Each stage defines one frozen dataclass; :func:`load_config` fills it from a YAML
mapping.  Unknown keys and wrong types are errors that name the file and the key,
so a typo in a config never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

PACKAGE_ROOT = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def share_dirs() -> tuple[Path, ...]:
    """Where the package's shipped files (config/, models/, launch/) are, in lookup order.

    The source tree when running from a checkout (``make``, the tests, ``beam-predictor``),
    then the installed ``share/beam_predictor`` found through the ament index (``colcon
    build``, with or without --symlink-install), then ``<sys.prefix>/share/beam_predictor``
    (a pip install).  The working directory is never one of them.
    """
    import sys
    dirs = []
    if (PACKAGE_ROOT.parent / "package.xml").is_file():
        dirs.append(PACKAGE_ROOT.parent)
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            dirs.append(Path(get_package_share_directory("beam_predictor")))
        except (PackageNotFoundError, OSError):   # not installed / no AMENT_PREFIX_PATH
            pass
    except ImportError:
        pass
    dirs.append(Path(sys.prefix) / "share" / "beam_predictor")
    return tuple(dict.fromkeys(dirs))


def config_path(name: str) -> Path:
    """Path of a shipped config file (config/<name>) in the first of :func:`share_dirs` holding it."""
    for base in share_dirs():
        if (base / "config" / name).is_file():
            return base / "config" / name
    raise ConfigError(f"shipped config '{name}' not found in config/ of any of "
                      f"{[str(d) for d in share_dirs()]}")


def resolve_resource(value: str) -> str:
    """A file parameter's value as a path that exists, where it can.

    Absolute: unchanged.  Relative: as given when it exists from the working directory (a
    path the user typed), else the shipped copy in the first of :func:`share_dirs` holding it
    (``models/m2beamllm.pt``, ``config/twin_sample.yaml``), else unchanged so the error that
    follows names the value the user gave.
    """
    if not value or Path(value).is_absolute() or Path(value).exists():
        return value
    for base in share_dirs():
        if (base / value).exists():
            return str(base / value)
    return value


def ros_home() -> Path:
    """``$ROS_HOME``, else ``~/.ros``: where ROS tools write, and where the nodes' outputs go by default."""
    return Path(os.environ.get("ROS_HOME") or Path.home() / ".ros")


def output_dir(value: str, default_name: str) -> Path:
    """An output folder parameter: as given, or ``$ROS_HOME/beam_predictor/<default_name>`` when empty."""
    return Path(value) if value else ros_home() / "beam_predictor" / default_name


class ConfigError(ValueError):
    """A config file or mapping does not fit its dataclass."""


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return from_mapping(hint, value, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    return value


def from_mapping(cls: type[T], data: dict, where: str = "config") -> T:
    """Build ``cls`` from ``data``; every key must be a field of ``cls``."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """A YAML file's content; a missing file or bad YAML is a ConfigError naming the file."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: {what} not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_config(cls: type[T], path: str | Path | None = None, section: str | None = None,
                overrides: dict | None = None) -> T:
    """Load ``cls`` from a YAML file (optionally one top-level ``section`` of it).

    ``path=None`` gives the dataclass defaults; ``overrides`` are applied last.
    """
    data: dict = {}
    where = cls.__name__
    if path is not None:
        path = Path(path)
        where = str(path)
        loaded = read_yaml(path)
        if section is not None:
            if section not in loaded:
                raise ConfigError(f"{path}: no section '{section}'")
            loaded = loaded[section]
            where = f"{path}:{section}"
        if not isinstance(loaded, dict):
            raise ConfigError(f"{where}: expected a mapping at the top level")
        data.update(loaded)
    if overrides:
        data.update({k: v for k, v in overrides.items() if v is not None})
    return from_mapping(cls, data, where)


def to_mapping(cfg: Any) -> dict:
    """The dataclass as a plain dict (tuples as lists), ready for YAML or ROS parameters."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}
