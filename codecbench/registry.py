"""Plugin discovery through entry points: ``codecbench.codecs`` and ``codecbench.metrics``.

The in-tree anchors and plugins register exactly as a third-party package does, in its
``pyproject.toml``::

    [project.entry-points."codecbench.codecs"]
    mycodec = "my_package.codec:MyCodec"

A plugin that fails to import is listed as unavailable with the import error, never dropped silently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import site
import sys
import traceback
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from codecbench.atomic import atomic_write_text
from codecbench.codec import Codec
from codecbench.errors import CodecbenchError, CodecUnavailableError, UnknownNameError
from codecbench.metrics.base import Metric
from codecbench.paths import cache_dir
from codecbench.requirements import Requirement
from codecbench.version import __version__

CODECS_GROUP = "codecbench.codecs"
METRICS_GROUP = "codecbench.metrics"


@dataclass(frozen=True)
class Plugin:
    """An entry point, loaded lazily; ``error`` holds why it could not be loaded."""

    name: str
    entry_point: EntryPoint

    def load(self) -> type:
        try:
            return self.entry_point.load()
        except Exception as e:  # a broken plugin must not break the harness
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            raise CodecUnavailableError(
                f"plugin {self.name!r} ({self.entry_point.value}) failed to load: {last}"
            ) from e


def _plugins(group: str) -> dict[str, Plugin]:
    return {ep.name: Plugin(ep.name, ep) for ep in entry_points(group=group)}


def codec_names() -> list[str]:
    return sorted(_plugins(CODECS_GROUP))


def metric_names() -> list[str]:
    return sorted(_plugins(METRICS_GROUP))


def codec_class(name: str) -> type[Codec]:
    """The codec class registered as ``name``; unknown names list the known ones."""
    plugins = _plugins(CODECS_GROUP)
    if name not in plugins:
        raise UnknownNameError("codec", name, list(plugins))
    cls = plugins[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise CodecbenchError(f"plugin {name!r} does not name a codecbench.Codec subclass")
    return cls


def is_stand_in(label: str, plugin: str) -> bool:
    """Whether the codec plugin ``plugin`` says results labelled ``label`` come from a stand-in
    (False when the plugin is not installed here: nothing can be said)."""
    try:
        return bool(codec_class(plugin).is_stand_in_label(label))
    except Exception:  # unknown or broken plugin (a submission may name anything): no claim
        return False


def metric_class(name: str) -> type[Metric]:
    """The metric class registered as ``name``; unknown names list the known ones."""
    plugins = _plugins(METRICS_GROUP)
    if name not in plugins:
        raise UnknownNameError("metric", name, list(plugins))
    cls = plugins[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise CodecbenchError(f"plugin {name!r} does not name a codecbench Metric subclass")
    return cls


def create_codec(name: str, options: dict[str, Any] | None = None) -> Codec:
    """Instantiate the codec ``name`` with user options (strings are parsed by its option types)."""
    return codec_class(name)(**(options or {}))


def create_metric(name: str, options: dict[str, Any] | None = None) -> Metric:
    """Instantiate the metric ``name`` with user options."""
    return metric_class(name)(**(options or {}))


# ---- describing plugins for ``codecbench list`` -------------------------------------------------
#
# Loading a plugin can mean importing torch, diffusers or compressai (10-20 s together), so what a
# listing shows is cached in ``$CODECBENCH_CACHE/plugins.json``. An entry is used only while its key
# holds: the plugin's entry point and the source files of its top-level package, codecbench's
# version, the installed distributions, the Python, the relevant environment variables, the
# folders on PATH and the GPU device nodes; and while every path its requirements checked
# (weights, binaries) is unchanged. ``refresh=True`` (``codecbench list --refresh``) probes again.

#: Bumped when the cached record's layout changes.
CACHE_FORMAT = 1
CACHE_FILE = "plugins.json"
_ENV_PREFIXES = ("CODECBENCH_", "HF_", "HUGGINGFACE_", "TORCH_", "CUDA_", "XDG_", "NVIDIA_")
_ENV_NAMES = ("HOME", "PATH", "PYTHONPATH", "LD_LIBRARY_PATH")
#: A watched folder is fingerprinted from at most this many entries (weights caches are small).
_MAX_WALK = 5000
#: Files whose changes make a plugin's cached listing stale.
SOURCE_SUFFIXES = (".py", ".so", ".pyd", ".json", ".toml")


@dataclass(frozen=True)
class OptionInfo:
    """One option of a plugin as a listing shows it (the default as text)."""

    name: str
    default: str
    help: str
    choices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PluginInfo:
    """What ``codecbench list`` shows of a plugin: identity, availability, requirements, options.

    ``status`` is ``"yes"``, ``"no"`` or ``"stand-in"`` (it runs, as ``stand_in``); ``error`` is set
    when the plugin could not even be loaded or instantiated.
    """

    name: str
    kind: str  # "codec" or "metric"
    entry_point: str
    description: str = ""
    status: str = "no"
    stand_in: str = ""
    missing: list[str] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    options: list[OptionInfo] = field(default_factory=list)
    rate_parameter: str = ""
    rate_points: list[str] = field(default_factory=list)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PluginInfo:
        data = dict(data)
        data["requirements"] = [Requirement(**r) for r in data.get("requirements", [])]
        data["options"] = [OptionInfo(**o) for o in data.get("options", [])]
        return cls(**data)


def _default_text(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if value == "":
        return '""'
    return str(value)


def probe(kind: str, name: str, entry_point: EntryPoint) -> PluginInfo:
    """Load and instantiate a plugin with its default options and ask what it needs (slow for heavy ones).

    Never raises for a broken plugin: the error is in the returned record.
    """
    base = PluginInfo(name, kind, entry_point.value)
    try:
        cls = codec_class(name) if kind == "codec" else metric_class(name)
    except CodecbenchError as e:
        return replace(base, error=str(e), missing=[str(e)])
    options = [
        OptionInfo(k, _default_text(o.default), o.help, [str(c) for c in o.choices or ()])
        for k, o in cls.options_spec.items()
    ]
    info = replace(
        base,
        description=cls.description,
        options=options,
        rate_parameter=cls.rate_parameter if kind == "codec" else "",
    )
    try:
        plugin = cls()
        avail = plugin.available()
        points = [str(p) for p in plugin.default_rate_points()] if kind == "codec" else []
    except Exception as e:  # a plugin that cannot even say what it needs is listed, not fatal
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        return replace(info, error=f"{name} failed to start: {last}", missing=[last])
    status = ("stand-in" if avail.stand_in else "yes") if avail.ok else "no"
    return replace(
        info,
        status=status,
        stand_in=avail.stand_in if avail.ok else "",
        missing=list(avail.missing),
        requirements=list(avail.requirements),
        rate_points=points,
    )


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _source_state(module: str) -> list[Any]:
    """Names, sizes and modification times of the source files of ``module``'s top-level package."""
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)  # a top-level name is located without being imported
    except (ImportError, ValueError):
        return [top, "not found"]
    if spec is None:
        return [top, "not found"]
    roots = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
    out: list[Any] = [top]
    for root in roots:
        files = [root] if os.path.isfile(root) else []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(SOURCE_SUFFIXES)]
        out += [[os.path.relpath(f, root), _stat(f)] for f in files]
    return out


def _environment_key() -> str:
    """What every cached listing depends on besides its own plugin (see the section comment)."""
    roots = [*site.getsitepackages(), site.getusersitepackages()]
    roots += os.environ.get("PYTHONPATH", "").split(os.pathsep)
    dists = []
    for root in dict.fromkeys(roots):
        if root and os.path.isdir(root):
            with os.scandir(root) as it:
                dists += sorted(e.name for e in it if e.name.endswith((".dist-info", ".egg-info", ".pth")))
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES)
    path_dirs = [[d, _mtime(d)] for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    gpus = sorted(str(p) for p in Path("/dev").glob("nvidia*"))
    return _hash(CACHE_FORMAT, __version__, sys.executable, sys.version, dists, env, path_dirs, gpus)


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _path_state(path: str) -> Any:
    """A fingerprint of a file or folder (``None`` when absent); folders by their entries' stats."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not os.path.isdir(path) or os.path.islink(path):
        return [st.st_mtime_ns, st.st_size]
    entries = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for f in sorted(filenames) + dirnames:
            try:
                s = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            entries.append([os.path.relpath(os.path.join(dirpath, f), path), s.st_mtime_ns, s.st_size])
        if len(entries) > _MAX_WALK:
            break
    return _hash(st.st_mtime_ns, entries)


def _cache_path() -> Path:
    return cache_dir() / CACHE_FILE


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else {}


def _write_cache(entries: dict[str, Any]) -> None:
    """Write the cache atomically; a cache that cannot be written only costs speed."""
    path = _cache_path()
    try:
        atomic_write_text(path, json.dumps({"format": CACHE_FORMAT, "entries": entries}))
    except OSError:
        pass


def describe(kind: str, names: list[str] | None = None, refresh: bool = False) -> list[PluginInfo]:
    """Listing records of the ``kind`` ("codec" or "metric") plugins named (all when ``names`` is
    empty; else in the order given): from the cache while it holds, else probed and cached.

    Unknown names raise :class:`UnknownNameError`.
    """
    plugins = _plugins(CODECS_GROUP if kind == "codec" else METRICS_GROUP)
    for name in names or []:
        if name not in plugins:
            raise UnknownNameError(kind, name, list(plugins))
    chosen = list(dict.fromkeys(names)) if names else sorted(plugins)
    cached = _read_cache().get("entries", {})
    entries = dict(cached)
    if not names:  # forget plugins of this kind that are no longer installed
        entries = {
            k: v for k, v in entries.items() if not k.startswith(f"{kind}:") or k[len(kind) + 1 :] in plugins
        }
    env_key = _environment_key()
    sources: dict[str, list[Any]] = {}
    out = []
    for name in chosen:
        ep = plugins[name].entry_point
        top = ep.module.partition(".")[0]
        if top not in sources:
            sources[top] = _source_state(ep.module)
        key = _hash(env_key, kind, name, ep.value, sources[top])
        slot = f"{kind}:{name}"
        entry = entries.get(slot)
        if (
            not refresh
            and isinstance(entry, dict)
            and entry.get("key") == key
            and all(_path_state(p) == state for p, state in entry.get("watch", []))
        ):
            try:
                out.append(PluginInfo.from_json(entry["info"]))
                continue
            except (KeyError, TypeError):
                pass
        info = probe(kind, name, ep)
        watch = sorted({r.path for r in info.requirements if r.path})
        entries[slot] = {"key": key, "watch": [[p, _path_state(p)] for p in watch], "info": info.to_json()}
        out.append(info)
    if entries != cached:
        _write_cache(entries)
    return out
