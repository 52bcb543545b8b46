"""Your own method without editing the package: a method file, or a ``hasbench.methods`` entry.

A user method is data, like the built-in ones (:mod:`benchmark.methods`): the stages it inserts
into the training pipeline of each framework, the modules to import first (they register those
stages), and the parameters to record. A method file (``hasbench run --method-file FILE
--method NAME``) is YAML::

    methods:                       # method name -> definition
      my_erasing:
        description: one random square of each training image set to a constant
        imports: [my_erasing]      # modules that register the stages; FILE's folder is searched
        stages:                    # framework -> stages; `mm`: every OpenMMLab one without its own
          mmpretrain: [{type: MyErasing, prob: 0.5, side: 8}]
          torchreid: {after: Normalize, stages: [{type: my_erasing.TensorErasing, prob: 0.5}]}
        params: {erase_prob: 0.5, side_px: 8}   # recorded in the record's method_params

or Python (``.py``) defining ``METHODS = {"my_erasing": {...}}`` with the same keys (the file
may define and register the transforms itself). An installed distribution can offer methods by
name through the entry-point group :data:`ENTRY_POINT_GROUP`, each entry point naming such a
definition (a mapping, or a callable returning one); no ``--method-file`` is needed then.

OpenMMLab stages are registry configs (``type`` looked up in the task library's ``TRANSFORMS``,
which reaches mmcv's and mmengine's), inserted before the library's anchor (``PackInputs``,
``PackSegInputs``, ``FormatShape``) unless ``before:``/``after:`` name another stage; torchreid
stages name a torchvision-style callable class (``module.Class``, or a class of one of the
``imports``) built with the other keys, inserted after ``Normalize`` unless ``before:``/``after:``
name another step. Every stage is built before training: a missing module, an unregistered type
or a bad argument is a ``ValueError`` (``hasbench`` exit 2). The method file's content is part
of the run id (option :data:`METHOD_FILE_SHA`, added by ``Task.resolve``); an entry point's
definition and the imported modules are recorded by sha256 in the method parameters.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import importlib
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.cfg_options import OPTION as CFG_OPTION
from benchmark.cfg_options import apply_mm
from benchmark.methods import METHODS, MM_ANCHORS, Method, _train_dataset_cfgs, insert_stages

#: Spec option naming the method file (``--method-file``), and the one holding its sha256.
METHOD_FILE = "method_file"
METHOD_FILE_SHA = "method_file_sha256"
#: Spec options of this module and of :mod:`benchmark.cfg_options` (part of the run id).
USER_OPTIONS = frozenset({CFG_OPTION, METHOD_FILE, METHOD_FILE_SHA})
#: The entry-point group installed distributions declare methods in.
ENTRY_POINT_GROUP = "hasbench.methods"
#: Framework keys under a method's ``stages`` (a task's ``framework``), and the scope of each
#: OpenMMLab one; :data:`ANY_MM` stands for every OpenMMLab framework without its own entry.
MM_SCOPES = {"mmpretrain": "mmpretrain", "mmseg": "mmseg", "mmaction2": "mmaction"}
FRAMEWORKS = (*MM_SCOPES, "torchreid")
ANY_MM = "mm"
#: Keys of one method's definition.
METHOD_KEYS = ("description", "imports", "stages", "params")
#: Keys the record's method parameters hold beside the method's own ``params``.
RECORDED_KEYS = ("method", "method_source", "method_sha256", "method_stages", "method_imports")
#: Where torchreid stages go unless ``before:``/``after:`` say (like its own erasing and HaS).
TORCHREID_ANCHOR = "Normalize"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class Insertion:
    """Stages for one framework and where they go (``before``/``after`` a stage type name)."""

    stages: tuple[dict[str, Any], ...]
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class UserMethod(Method):
    """A method declared outside the package (method file or entry point).

    Attributes:
        stages: Framework (:data:`FRAMEWORKS` or :data:`ANY_MM`) -> the stages it inserts.
        imports: Modules imported before the stages are built (they register them).
        params: What to record with each run (the record's ``method_params``).
        description: One line for people.
        source: Where it was declared (``method file PATH`` or ``entry point ...``).
        sha256: The method file's sha256, or of an entry point's definition.
        search_path: Folder searched first for :attr:`imports` (the method file's).
    """

    stages: Mapping[str, Insertion] = field(default_factory=dict)
    imports: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    sha256: str = ""
    search_path: str | None = None

    def insertion(self, framework: str) -> Insertion | None:
        """The stages for a task's framework (None: the method declares none for it)."""
        if framework in self.stages:
            return self.stages[framework]
        return self.stages.get(ANY_MM) if framework in MM_SCOPES else None

    def recorded(self, stages: list[dict[str, Any]], imports: dict[str, str | None]
                 ) -> dict[str, Any]:
        """The method parameters a record holds: source, sha256, stages, imports, params."""
        return {"method": self.name, "method_source": self.source, "method_sha256": self.sha256,
                "method_stages": copy.deepcopy(stages), "method_imports": imports,
                **copy.deepcopy(dict(self.params))}


# ----------------------------------------------------------------------------- definitions
def parse_method(name: Any, definition: Any, *, source: str, sha256: str,
                 search_path: str | None = None) -> UserMethod:
    """A :class:`UserMethod` from one definition (a method file's entry or an entry point's).

    Raises:
        ValueError: naming the method, where it was declared, the problem and the fix.
    """
    where = f"method {name!r} ({source})"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{where}: a method name is letters, digits and _ . + - (starting "
                         "with a letter or digit); rename it")
    if name in METHODS:
        raise ValueError(f"{where}: {name!r} is a built-in method; give yours another name "
                         f"(built-in: {', '.join(METHODS)})")
    if not isinstance(definition, Mapping):
        raise ValueError(f"{where}: expected a mapping with keys {', '.join(METHOD_KEYS)}; got "
                         f"{type(definition).__name__}")
    unknown = sorted(set(definition) - set(METHOD_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; a method takes "
                         f"{', '.join(METHOD_KEYS)}")
    return UserMethod(
        name=name, stages=_parse_stages(definition.get("stages"), where),
        imports=_parse_imports(definition.get("imports", []), where),
        params=_parse_params(definition.get("params", {}), where),
        description=str(definition.get("description", "")), source=source, sha256=sha256,
        search_path=search_path)


def _parse_stages(value: Any, where: str) -> dict[str, Insertion]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{where}: 'stages' must map a framework ({', '.join(FRAMEWORKS)}, or "
                         f"{ANY_MM} for every OpenMMLab one) to the stages it inserts, e.g. "
                         "stages: {mmpretrain: [{type: MyErasing, prob: 0.5}]}")
    unknown = sorted(set(value) - {*FRAMEWORKS, ANY_MM})
    if unknown:
        raise ValueError(f"{where}: unknown framework(s) {unknown} under 'stages'; use "
                         f"{', '.join(FRAMEWORKS)} or {ANY_MM}")
    return {framework: _parse_insertion(block, f"{where} stages.{framework}")
            for framework, block in value.items()}


def _parse_insertion(block: Any, where: str) -> Insertion:
    anchors: dict[str, Any] = {}
    stages = block
    if isinstance(block, Mapping):
        unknown = sorted(set(block) - {"stages", "before", "after"})
        if unknown or ("before" in block and "after" in block):
            raise ValueError(f"{where}: takes 'stages' and one of 'before'/'after' (a stage "
                             f"type name); got keys {sorted(block)}")
        stages = block.get("stages")
        anchors = {k: block[k] for k in ("before", "after") if k in block}
    if not isinstance(stages, list) or not stages:
        raise ValueError(f"{where}: expected a non-empty list of stages like "
                         "[{type: MyErasing, prob: 0.5}]")
    for stage in stages:
        if not isinstance(stage, Mapping) or not isinstance(stage.get("type"), str):
            raise ValueError(f"{where}: every stage is a mapping with a 'type' (string); got "
                             f"{stage!r}")
    if any(not isinstance(v, str) or not v for v in anchors.values()):
        raise ValueError(f"{where}: 'before'/'after' name a stage type, e.g. before: PackInputs")
    return Insertion(tuple(copy.deepcopy(dict(s)) for s in stages), **anchors)


def _parse_imports(value: Any, where: str) -> tuple[str, ...]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where}: 'imports' is a list of module names, e.g. [my_erasing]")
    return tuple(value)


def _parse_params(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: 'params' is a mapping of what to record, e.g. "
                         "{erase_prob: 0.5}")
    clash = sorted(set(value) & set(RECORDED_KEYS))
    if clash:
        raise ValueError(f"{where}: params {clash} are recorded by hasbench itself; rename them")
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: 'params' must be plain data (numbers, strings, lists, "
                         f"mappings) to be recorded: {err}") from None
    return copy.deepcopy(dict(value))


# ----------------------------------------------------------------------------- method files
#: Method files read in this process: (path, sha256) -> their methods.
_FILES: dict[tuple[str, str], dict[str, UserMethod]] = {}
#: The methods of the method files read last, by name (for :func:`find_user_method` without
#: a run's options).
_LOADED: dict[str, UserMethod] = {}


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a (small) file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_method_file(given: str | Path) -> dict[str, UserMethod]:
    """The methods a YAML or Python method file declares (read once per content).

    Raises:
        ValueError: naming the file and what is wrong (missing, bad YAML, unknown keys, a
            built-in name, a Python file that fails or has no ``METHODS``).
    """
    path = Path(str(given)).expanduser()
    if not path.is_file():
        raise ValueError(f"method file {given} not found; pass the path of a YAML (.yaml, "
                         ".yml) or Python (.py) file declaring methods (docs/own-method.md)")
    if path.suffix not in (".yaml", ".yml", ".py"):
        raise ValueError(f"method file {given}: use a .yaml, .yml or .py file")
    path = path.resolve()
    key = (str(path), sha256_of(path))
    if key not in _FILES:
        data = _read_python(path, key[1]) if path.suffix == ".py" else _read_yaml(path)
        _FILES[key] = _parse_file(data, path, key[1])
    _LOADED.update(_FILES[key])
    return _FILES[key]


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"method file {path} is not valid YAML: {err}") from None


def _read_python(path: Path, digest: str) -> Any:
    import importlib.util

    name = f"hasbench_method_file_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its classes pickle by this name (data-loader workers)
    try:
        with _search_path(str(path.parent)):
            spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(name, None)
        raise ValueError(f"method file {path} failed to run: {type(err).__name__}: {err}; fix "
                         "it (try `python FILE`)") from err
    if not isinstance(getattr(module, "METHODS", None), Mapping):
        raise ValueError(f"method file {path} defines no METHODS mapping; add METHODS = "
                         "{'my_method': {'stages': {...}, ...}}")
    return {"methods": module.METHODS}


def _parse_file(data: Any, path: Path, digest: str) -> dict[str, UserMethod]:
    if not isinstance(data, Mapping) or set(data) != {"methods"} or not isinstance(
            data["methods"], Mapping) or not data["methods"]:
        keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"method file {path}: expected one top-level key 'methods' mapping "
                         f"method names to definitions (keys {', '.join(METHOD_KEYS)}); got "
                         f"{keys}")
    return {name: parse_method(name, definition, source=f"method file {path}", sha256=digest,
                               search_path=str(path.parent))
            for name, definition in data["methods"].items()}


def with_method_file_digest(options: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """``options`` with a present method file made absolute and its sha256 added (run id).

    A missing file is left as given (the method check names it).
    """
    given = dict(options)
    if not given.get(METHOD_FILE):
        return options
    path = Path(str(given[METHOD_FILE])).expanduser()
    if not path.is_file():
        return options
    given.update({METHOD_FILE: str(path.resolve()), METHOD_FILE_SHA: sha256_of(path)})
    return tuple(sorted(given.items()))


# ----------------------------------------------------------------------------- entry points
#: Entry-point methods loaded in this process, by name.
_ENTRY_METHODS: dict[str, UserMethod] = {}
#: Entry points named like a built-in method that were warned about (once each).
_WARNED: set[str] = set()


def entry_points() -> dict[str, Any]:
    """The entry points of :data:`ENTRY_POINT_GROUP` by name (the first of a name wins).

    One named like a built-in method is left out with a warning (the built-in one runs).
    """
    import warnings
    from importlib.metadata import entry_points as installed

    found: dict[str, Any] = {}
    for entry in installed(group=ENTRY_POINT_GROUP):
        if entry.name in METHODS:
            if entry.value in _WARNED:
                continue
            _WARNED.add(entry.value)
            warnings.warn(f"{ENTRY_POINT_GROUP} entry point {entry.name} = {entry.value} is "
                          f"ignored: {entry.name!r} is a built-in method; rename the entry "
                          "point", stacklevel=2)
            continue
        found.setdefault(entry.name, entry)
    return found


def load_entry_point(entry: Any) -> UserMethod:
    """The method an entry point names: a definition mapping, or a callable returning one.

    Raises:
        ValueError: when it fails to load or is no valid definition.
    """
    dist = getattr(entry, "dist", None)
    source = f"entry point {entry.name} = {entry.value}" + (
        f" ({dist.name} {dist.version})" if dist is not None else "")
    try:
        definition = entry.load()
        if callable(definition) and not isinstance(definition, Mapping):
            definition = definition()
    except Exception as err:
        raise ValueError(f"{source} failed to load: {type(err).__name__}: {err}") from err
    text = json.dumps(definition, sort_keys=True, default=str)
    return parse_method(entry.name, definition, source=source,
                        sha256=hashlib.sha256(text.encode()).hexdigest())


def find_user_method(name: str, options: Mapping[str, Any] | None) -> UserMethod | None:
    """The user method ``name``: from the run's method file, else an entry point.

    Args:
        name: A method name that is not built in.
        options: The run's options (their :data:`METHOD_FILE`); None also finds the methods
            of the method files read in this process.

    Raises:
        ValueError: when a method file is given but does not declare ``name``, or a method
            cannot be read.
    """
    given = (options or {}).get(METHOD_FILE)
    if given:
        declared = load_method_file(given)
        if name not in declared:
            raise ValueError(f"method {name!r} is not in method file {given}, which declares "
                             f"{', '.join(declared)}; pass one of them with --method")
        return declared[name]
    if options is None and name in _LOADED:
        return _LOADED[name]
    if name not in _ENTRY_METHODS:
        entry = entry_points().get(name)
        if entry is None:
            return None
        _ENTRY_METHODS[name] = load_entry_point(entry)
    return _ENTRY_METHODS[name]


# ----------------------------------------------------------------------------- checks
def needs_overlay(spec: Any) -> bool:
    """Whether a spec has a user method or ``--cfg-options`` (its built config changes)."""
    return spec.method not in METHODS or CFG_OPTION in spec.option_dict


def fits_task(spec: Any, task: Any) -> bool:
    """True when the spec's method is a user method with stages for the task's framework.

    Raises:
        ValueError: when it is a user method without stages for that framework.
    """
    if spec.method in METHODS:
        return False
    from benchmark.methods import method_for

    method = method_for(spec.method, spec.option_dict)
    if not isinstance(method, UserMethod):
        return False
    if method.insertion(task.framework) is None:
        raise ValueError(f"method {method.name!r} ({method.source}) declares stages for "
                         f"{', '.join(sorted(method.stages))}; task {task.name!r} runs "
                         f"{task.framework}: add stages.{task.framework} to the method")
    return True


#: A value per option that passes its own type check, for :func:`takes_option`'s probe.
_PROBES = {CFG_OPTION: {}, METHOD_FILE: "methods.yaml"}
_FLAGS = {CFG_OPTION: "--cfg-options", METHOD_FILE: "--method-file"}


def takes_option(task: Any, key: str) -> bool:
    """Whether ``task`` accepts the option ``key`` (its own option check passes it)."""
    from benchmark.engine.spec import RunSpec

    try:
        task.check_options(RunSpec(task=task.name, options=((key, _PROBES[key]),)))
    except ValueError:
        return False
    return True


def check_run_options(task: Any, spec: Any) -> None:
    """Check ``cfg_options`` / ``method_file`` values, and that the task takes them.

    Raises:
        ValueError: for a malformed value, or a task whose option check does not take them
            (naming the tasks that do).
    """
    from benchmark.cfg_options import overrides_of

    options = spec.option_dict
    overrides_of(options)
    if METHOD_FILE in options and not isinstance(options[METHOD_FILE], str):
        raise ValueError(f"option {METHOD_FILE} is a file path; got {options[METHOD_FILE]!r}")
    for key, flag in _FLAGS.items():
        if key in options and not takes_option(task, key):
            from tasks import available_tasks, get_task

            takers = [n for n in available_tasks() if takes_option(get_task(n), key)]
            raise ValueError(f"{flag} (option {key}) is not available for task {task.name!r} "
                             f"yet; tasks that take it: {', '.join(takers)}")


# ----------------------------------------------------------------------------- imports
@contextlib.contextmanager
def _search_path(folder: str | None) -> Iterator[None]:
    """Search ``folder`` first for imports (removed again afterwards)."""
    if not folder or folder in sys.path:
        yield
        return
    sys.path.insert(0, folder)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


def import_modules(method: UserMethod) -> dict[str, str | None]:
    """Import the method's modules; return module -> sha256 of its source file (recorded).

    Raises:
        ValueError: naming a module that cannot be imported and where to put it.
    """
    found: dict[str, str | None] = {}
    for module_name in method.imports:
        try:
            with _search_path(method.search_path):
                module = importlib.import_module(module_name)
        except Exception as err:
            beside = f" beside {method.search_path}" if method.search_path else ""
            raise ValueError(f"method {method.name!r} ({method.source}): cannot import "
                             f"{module_name!r} ({type(err).__name__}: {err}); put "
                             f"{module_name}.py{beside} or make it importable (PYTHONPATH, "
                             "pip install -e)") from err
        origin = getattr(module, "__file__", None)
        found[module_name] = sha256_of(origin) if origin and Path(origin).is_file() else None
    return found


# ----------------------------------------------------------------------------- OpenMMLab
def _mm_registry(scope: str) -> Any:
    from benchmark.engine import compat

    compat.apply()
    import benchmark.pipelines  # noqa: F401  (registers HideAndSeek: a user may reuse it)
    from benchmark.pipelines.registries import registry

    return registry(scope, "TRANSFORMS")


def check_mm_stage(registry: Any, stage: dict[str, Any], method: UserMethod, scope: str) -> None:
    """Raise ``ValueError`` when a stage's type is not registered or it does not build."""
    try:
        found = registry.get(stage["type"])
    except Exception:  # a scope prefix mmengine cannot import
        found = None
    if found is None:
        names = {*registry.module_dict, *(registry.parent.module_dict if registry.parent else ())}
        close = difflib.get_close_matches(stage["type"].rsplit(".", 1)[-1], names, n=3)
        hint = f" (close: {', '.join(close)})" if close else ""
        raise ValueError(
            f"method {method.name!r} ({method.source}): stage type {stage['type']!r} is not in "
            f"{scope}'s TRANSFORMS registry after importing {list(method.imports)}{hint}; "
            "register the class (@TRANSFORMS.register_module(), TRANSFORMS from "
            "mmcv.transforms) in a module listed under 'imports', or fix the name")
    try:
        registry.build(copy.deepcopy(stage))
    except Exception as err:
        raise ValueError(f"method {method.name!r} ({method.source}): stage {stage} does not "
                         f"build: {type(err).__name__}: {err}; fix its arguments") from err


def overlay_mm_config(built: tuple[Any, dict[str, Any]], spec: Any, *, framework: str,
                      scope: str, task_name: str) -> tuple[Any, dict[str, Any]]:
    """A task's built (config, method params) with the user method and ``cfg_options`` applied.

    The user method's stages (each built once from the registry first) go into every training
    pipeline; then the ``cfg_options`` overrides are checked against the config and merged.

    Raises:
        ValueError: for a stage that does not build, a missing anchor, an unknown config key.
    """
    from benchmark.methods import method_for

    cfg, params = built
    params = dict(params or {})
    method = method_for(spec.method, spec.option_dict)
    if isinstance(method, UserMethod):
        insertion = method.insertion(framework)
        imports = import_modules(method)
        registry = _mm_registry(scope)
        for stage in insertion.stages:
            check_mm_stage(registry, stage, method, scope)
        anchor = ({"after": insertion.after} if insertion.after else
                  {"before": insertion.before or MM_ANCHORS[scope]})
        for dataset in _train_dataset_cfgs(cfg):
            try:
                dataset["pipeline"] = insert_stages(list(dataset["pipeline"]),
                                                    list(insertion.stages), **anchor)
            except ValueError as err:
                raise ValueError(f"method {method.name!r}: {err}; name another stage with "
                                 f"stages.{framework}.before/after") from None
        params.update(method.recorded(list(insertion.stages), imports))
    cfg = apply_mm(cfg, spec.option_dict, f"the {task_name} config")
    return cfg, params


# ----------------------------------------------------------------------------- torchreid
def _torch_class(type_name: str, method: UserMethod) -> Any:
    module_name, _, attr = type_name.rpartition(".")
    for candidate in [module_name] if module_name else method.imports:
        with contextlib.suppress(ImportError), _search_path(method.search_path):
            found = getattr(importlib.import_module(candidate), attr, None)
            if found is not None:
                return found
    raise ValueError(f"method {method.name!r} ({method.source}): torchreid stage type "
                     f"{type_name!r} not found; name it module.Class (a torchvision-style "
                     "callable class) or list its module under 'imports'")


def torchreid_stages(method: UserMethod) -> tuple[Insertion, list[Any], dict[str, str | None]]:
    """(insertion, the built stage objects, imports) of a method's ``torchreid`` stages.

    Raises:
        ValueError: for a class that is not found or does not build with the stage's arguments.
    """
    insertion = method.insertion("torchreid")
    imports = import_modules(method)
    objects = []
    for stage in insertion.stages:
        kwargs = {k: v for k, v in stage.items() if k != "type"}
        cls = _torch_class(stage["type"], method)
        try:
            objects.append(cls(**kwargs))
        except Exception as err:
            raise ValueError(f"method {method.name!r} ({method.source}): stage {stage} does "
                             f"not build: {type(err).__name__}: {err}; fix its arguments") from err
    return insertion, objects, imports


def add_torchreid_stages(datamanager: Any, method: UserMethod) -> dict[str, Any]:
    """Insert a method's stages into a torchreid ``ImageDataManager``'s training transform.

    Returns:
        The method parameters to record.
    """
    from torchvision.transforms import Compose

    insertion, objects, imports = torchreid_stages(method)
    steps = list(datamanager.transform_tr.transforms)
    names = [type(t).__name__ for t in steps]
    anchor = insertion.before or insertion.after or TORCHREID_ANCHOR
    if anchor not in names:
        raise ValueError(f"method {method.name!r}: torchreid's training transform has no "
                         f"{anchor!r} step (steps: {names}); set stages.torchreid.before/after")
    index = (names.index(anchor) if insertion.before else
             len(names) - names[::-1].index(anchor))
    transform = Compose([*steps[:index], *objects, *steps[index:]])
    datamanager.transform_tr = transform
    for loader_name in ("train_loader", "train_loader_t"):
        loader = getattr(datamanager, loader_name, None)
        if loader is not None:
            loader.dataset.transform = transform
    return method.recorded(list(insertion.stages), imports)
