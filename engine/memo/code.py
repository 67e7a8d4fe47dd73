"""What code a step runs: every function, class, module-level value and library that a
function reaches, transitively within user code, each named and fingerprinted ("parts").

A function's fingerprint covers its normalised source, its defaults and closure values, and
the name of what each global name it reads resolves to; whatever that is becomes a part of its
own: a user function or class (fingerprinted the same way), a module-level value (by content),
a user module read as a whole (by its source), or an installed library (by its version; the
standard library and builtins are not seen). Values with no stable representation become
UNFINGERPRINTABLE parts whose fingerprint is random: keys that include them never match.

What a function's code reads is found once per function object (from its bytecode); what the
names resolve to, once per `CodeScanner`, which lives for one plan. The parts and what each
reaches form a graph (see `parts`).
"""

from __future__ import annotations

import builtins
import importlib.util
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from solidflow.definitions.resource import ResourceDefinition
from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.memo.packages import (
    Origin,
    display_name,
    file_origin,
    module_origin,
    package_name,
    package_version,
)
from solidflow.engine.memo.parts import (
    CLASS,
    FINGERPRINT_LENGTH,
    FUNCTION,
    MODULE,
    PACKAGE,
    VALUE,
    CodeFingerprint,
    Part,
    PartGraph,
    fingerprint_of,
)
from solidflow.engine.memo.reads import (
    canonical_path,
    class_functions,
    class_reads,
    function_reads,
)
from solidflow.engine.memo.sources import (
    checkcache,
    class_hash,
    digest,
    function_hash,
    imported_names,
    module_hash,
)
from solidflow.engine.memo.values import Canonical, Unfingerprintable, packed, qualified_type


class CodeScanner:
    """Fingerprints the code of one plan's solids and resources; parts seen by several of
    them are fingerprinted once."""

    def __init__(self) -> None:
        checkcache()
        self._graph = PartGraph()
        self._tokens: dict[int, str] = {}
        self._values: dict[str, Part] = {}
        self._user_packages: set[str] = set()
        self._origins: dict[tuple[str | None, str | None], Origin] = {}
        self._imports: dict[str, Mapping[str, tuple[str, int, str]]] = {}
        self._canonical = Canonical(self._refer, self._is_user_class)
        self._shallow_canonical = Canonical(self._shallow_name, self._is_user_class)

    # -- public -------------------------------------------------------------------------

    def function(self, fn: Any, also: Sequence[Any] = ()) -> CodeFingerprint:
        """The fingerprint of a solid's or resource's function and of all it reaches; the
        classes `also` (such as those its inputs are annotated with) count as reached."""
        fn = getattr(fn, "__wrapped__", fn) if not isinstance(fn, types.FunctionType) else fn
        if not isinstance(fn, types.FunctionType):
            return self.value(fn, qualified_type(fn))
        module = fn.__globals__.get("__name__")
        if module_origin(module) is Origin.USER and package_name(module or "") not in (
            self._user_packages
        ):
            self._user_packages.add(package_name(module or ""))
            self._origins.clear()
        key = self._graph.register(fn, lambda: self._function_part(fn, self._function_name(fn)))
        root = self._graph.built(key)
        if also:
            with self._graph.collecting() as refs:
                for obj in also:
                    self._refer(obj)
            root = Part(root.name, root.fingerprint, [*root.refs, *refs])
        return self._graph.reach(root)

    def value(self, value: Any, name: str) -> CodeFingerprint:
        """The fingerprint of a value (such as a resource given as a plain object)."""
        part = self._value_part(value, name)
        self._graph.add(part)
        return self._graph.reach(part)

    # -- parts ---------------------------------------------------------------------------

    def _function_name(self, fn: Any) -> str:
        return f"{display_name(fn.__module__)}.{fn.__qualname__}"

    def _function_part(self, fn: types.FunctionType, name: str) -> Part:
        with self._graph.collecting() as refs:
            tokens = self._function_tokens(fn)
        return Part(name, fingerprint_of(FUNCTION, tokens), refs)

    def _function_tokens(self, fn: types.FunctionType) -> list[Any]:
        reads = function_reads(fn)
        namespace = fn.__globals__
        module = namespace.get("__name__")
        tokens: list[Any] = [function_hash(fn)]
        for chain in reads.globals:
            tokens.append(self._global_token(chain, namespace, module))
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
        for chain in reads.free:
            try:
                value = cells[chain[0]].cell_contents
            except (KeyError, ValueError):  # a cell not filled yet
                tokens.append([".".join(chain), "empty"])
                continue
            target, _ = self._follow(value, chain, (None, chain[0]))
            where = f"{self._function_name(fn)} (closure variable {chain[0]})"
            tokens.append([".".join(chain), self._inline(target, where)])
        for name, level, names in reads.imports:
            tokens.append(
                ["import", name, level, list(names), self._import_token(fn, name, level, names)]
            )
        if fn.__defaults__ or fn.__kwdefaults__:
            where = f"{self._function_name(fn)} (defaults)"
            tokens.append(["defaults", self._inline([fn.__defaults__, fn.__kwdefaults__], where)])
        return tokens

    def _import_token(
        self, fn: types.FunctionType, name: str, level: int, names: tuple[str, ...]
    ) -> Any:
        """What an import inside a function body gives: the module, or the names from it."""
        try:
            absolute = importlib.util.resolve_name(
                "." * level + name, fn.__globals__.get("__package__")
            )
        except (ImportError, ValueError):
            return "unresolved"
        module = sys.modules.get(absolute)
        if module is None:  # not imported yet: judged by its source, without running it
            spec = importlib.util.find_spec(absolute) if level == 0 else None
            origin = getattr(spec, "origin", None)
            if origin is None or file_origin(origin) is not Origin.USER:
                return package_name(absolute) if origin else "unresolved"
            return ["file", _file_digest(origin)]
        if not names:
            return self._reference(module, lambda: display_name(absolute))
        tokens = []
        for imported in names:
            value = getattr(module, imported, None)
            if value is None:
                value = sys.modules.get(f"{absolute}.{imported}")
            binding = f"{display_name(absolute)}.{imported}"
            tokens.append(self._reference(value, binding.__str__))
        return tokens

    def _global_token(
        self, chain: tuple[str, ...], namespace: Mapping[str, Any], module: str | None
    ) -> Any:
        text = ".".join(chain)
        if chain[0] in namespace:
            value = namespace[chain[0]]
        elif hasattr(builtins, chain[0]):
            return [text, "builtin"]
        else:
            return [text, "undefined"]
        target, (owner, name) = self._follow(value, chain, (module, chain[0]))
        return [text, self._reference(target, lambda: self._binding(owner, name, target))]

    def _binding(self, module: str | None, name: str, value: Any) -> str:
        """How the value of global `name` of `module` is named: where a `from M import name`
        got it from (so that `queries.Q5` is named so wherever it is read), else
        `module.name`."""
        for _ in range(8):  # a chain of re-exports, not an import cycle
            found = sys.modules.get(module or "")
            if found is None:
                break
            source = self._imported_names(found).get(name)
            if source is None:
                break
            origin, level, attribute = source
            try:
                origin = importlib.util.resolve_name("." * level + origin, found.__package__)
            except (ImportError, ValueError):
                break
            imported = sys.modules.get(origin)
            if imported is None or getattr(imported, attribute, None) is not value:
                break
            if self._origin(origin) is not Origin.USER:
                break
            module, name = origin, attribute
        return f"{display_name(module)}.{name}"

    def _follow(
        self, value: Any, chain: tuple[str, ...], binding: tuple[str | None, str]
    ) -> tuple[Any, tuple[str | None, str]]:
        """What a chain of names reaches through user modules, and the binding (module and
        name) it was last read from; attributes of anything else belong to it."""
        for attr in chain[1:]:
            if not isinstance(value, types.ModuleType) or self._origin(value.__name__) is not (
                Origin.USER
            ):
                break
            if not hasattr(value, attr):
                break
            binding = (value.__name__, attr)
            value = getattr(value, attr)
        return value, binding

    def _imported_names(self, module: types.ModuleType) -> Mapping[str, tuple[str, int, str]]:
        names = self._imports.get(module.__name__)
        if names is None:
            names = self._imports[module.__name__] = imported_names(module)
        return names

    def _origin(self, module: str | None, filename: str | None = None) -> Origin:
        key = (module, filename)
        origin = self._origins.get(key)
        if origin is None:
            if module and package_name(module) in self._user_packages:
                origin = Origin.USER
            else:
                origin = module_origin(module, filename)
            self._origins[key] = origin
        return origin

    def _is_user_class(self, cls: type) -> bool:
        return self._origin(cls.__module__) is Origin.USER

    # -- references ------------------------------------------------------------------------

    def _reference(self, obj: Any, binding_of: Callable[[], str]) -> Any:
        """The token of a reference to `obj`: a part's name (the part is a reference of the
        part being built), or what is not seen (the standard library). A value's part is
        named after the binding it is read from, `binding_of()`."""
        name = self._refer(obj)
        if name is not None:
            return name
        binding = binding_of()
        part = self._values.get(binding)
        if part is None:
            part = self._values[binding] = self._value_part(obj, binding)
        self._graph.add(part)
        return binding

    def _value_part(self, value: Any, name: str) -> Part:
        with self._graph.collecting() as refs:
            try:
                form = self._canonical.form(value)
            except Unfingerprintable as problem:
                return self._graph.unfingerprintable(name, str(problem))
        return Part(name, f"{VALUE}:{digest(packed(form), FINGERPRINT_LENGTH)}", refs)

    def _inline(self, value: Any, where: str) -> Any:
        """The canonical form of a value that belongs to the code reading it (a closure
        variable, a default); one with none is a part of its own, named `where`."""
        try:
            return self._canonical.form(value)
        except Unfingerprintable as problem:
            self._graph.add(self._graph.unfingerprintable(where, str(problem)))
            return where

    def _refer(self, obj: Any) -> str | None:
        """The name of a piece of code that a token refers to, registering its part as a
        reference of the part being built; None for data values."""
        if isinstance(obj, (SolidDefinition, ResourceDefinition)):
            obj = obj.fn
        if isinstance(obj, types.FunctionType):
            return self._code(obj, obj.__module__, obj.__code__.co_filename, FUNCTION)
        if isinstance(obj, type):
            return self._code(obj, obj.__module__, None, CLASS)
        if isinstance(obj, types.ModuleType):
            return self._code(obj, obj.__name__, None, MODULE)
        if isinstance(obj, (types.BuiltinFunctionType, types.WrapperDescriptorType)):
            owner = getattr(obj, "__self__", None)
            if owner is None or isinstance(owner, types.ModuleType):
                module = getattr(obj, "__module__", None) or getattr(owner, "__name__", None)
                return self._code(obj, module, None, PACKAGE)
            return None
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None and callable(obj) and not isinstance(obj, types.MethodType):
            return self._refer(wrapped)  # a decorator's wrapper object (lru_cache, ...)
        kind = type(obj)
        if callable(obj) and self._origin(kind.__module__) is Origin.LIBRARY:
            return self._code(obj, kind.__module__, None, PACKAGE)  # numpy ufuncs, ...
        return None

    def _code(self, obj: Any, module: str | None, filename: str | None, kind: str) -> str:
        origin = self._origin(module, filename)
        wrapped = getattr(obj, "__wrapped__", None)
        if origin is Origin.STANDARD:
            if wrapped is not None:  # a standard decorator around user code (contextmanager)
                return self._refer(wrapped) or _standard_name(obj, module)
            return _standard_name(obj, module)
        if origin is Origin.LIBRARY or kind == PACKAGE:
            top = package_name(module or "")
            self._graph.register(obj, lambda: self._package_part(obj, top))
            return top
        key = self._graph.register(obj, lambda: self._user_part(obj, kind))
        token = self._tokens.get(key)
        if token is not None:
            return token
        name = display_name(obj.__name__) if kind == MODULE else self._function_name(obj)
        if kind != MODULE and not canonical_path(obj):
            # Closures and local classes share names: the token also says which one it is.
            name = f"{name}@{self._shallow(obj)}"
        self._tokens[key] = name
        return name

    def _shallow(self, obj: Any) -> str:
        """What tells a closure or a local class from others of its name, without looking
        at what it reaches: its code, and its closure values and defaults (in which code is
        named, with the hash of its own code)."""
        if isinstance(obj, type):
            return digest(class_hash(obj, list(class_functions(obj))).encode(), 16)
        forms: list[Any] = [function_hash(obj)]
        for cell in obj.__closure__ or ():
            forms.append(self._shallow_form(cell.cell_contents) if _filled(cell) else "empty")
        forms.append(self._shallow_form([obj.__defaults__, obj.__kwdefaults__]))
        return digest(packed(forms), 16)

    def _shallow_form(self, value: Any) -> Any:
        try:
            return self._shallow_canonical.form(value)
        except Unfingerprintable as problem:
            return ["unfingerprintable", str(problem)]

    def _shallow_name(self, obj: Any) -> str | None:
        if isinstance(obj, (SolidDefinition, ResourceDefinition)):
            obj = obj.fn
        if isinstance(obj, types.FunctionType):
            return f"{self._function_name(obj)}#{function_hash(obj)}"
        if isinstance(obj, type):
            return self._function_name(obj)
        if isinstance(obj, types.ModuleType):
            return obj.__name__
        return None

    def _user_part(self, obj: Any, kind: str) -> Part:
        if kind == FUNCTION:
            return self._function_part(obj, self._function_name(obj))
        if kind == CLASS:
            return self._class_part(obj, self._function_name(obj))
        return Part(display_name(obj.__name__), f"{MODULE}:{module_hash(obj)}")

    def _package_part(self, obj: Any, top: str) -> Part:
        with self._graph.collecting() as refs:
            wrapped = getattr(obj, "__wrapped__", None)
            if wrapped is not None:  # a library decorator around user code
                self._refer(wrapped)
        return Part(top, f"{PACKAGE}:{package_version(top)}", refs)

    def _class_part(self, cls: type, name: str) -> Part:
        with self._graph.collecting() as refs:
            methods = list(class_functions(cls))
            tokens: list[Any] = [class_hash(cls, methods)]
            namespace = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
            stored = set(vars(cls))
            for reads in class_reads(cls):
                for chain in reads.globals:
                    if chain[0] not in stored and not chain[0].startswith("__"):
                        tokens.append(self._global_token(chain, namespace, cls.__module__))
            for base in cls.__bases__:
                if base is not object:
                    tokens.append(["base", self._refer(base)])
            for method in methods:
                tokens.append([method.__qualname__, self._function_tokens(method)])
        return Part(name, fingerprint_of(CLASS, tokens), refs)


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (raises ValueError for a cell not filled yet)
    except ValueError:
        return False
    return True


def _standard_name(obj: Any, module: str | None) -> str:
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return digest(file.read(), FINGERPRINT_LENGTH)
    except OSError:
        return "unreadable"
