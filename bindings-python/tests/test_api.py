"""tests/vectors/api.json (the API manifest) against the public surface of the `headwater` package.

Every non-null Python name of the manifest exists with its declared kind; every public name of the
package and of its classes is a manifest name or one of `extras_allowed.python`; names the manifest
declares absent in Python (null) do not exist. `ignore.python` says what is not surface: names
starting with `_` (the dunders the manifest lists are checked), object's own dunders, Exception's own
members on HeadwaterError.
"""

from __future__ import annotations

import dataclasses
import inspect
import keyword
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest

import headwater
from conftest import vectors

API = vectors("api.json")
ERRORS = vectors("errors.json")
LANG = "python"
EXTRAS: List[str] = API["extras_allowed"][LANG]


def identifier(name: Optional[str]) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def python_class(spec: Dict[str, Any]) -> Optional[Any]:
    """The `headwater` attribute a manifest class maps to, or None when it is not a Python class
    (a tuple, keyword arguments, module functions, an absent concept)."""
    type_name = spec["type"].get(LANG)
    if not type_name or not type_name.startswith("headwater."):
        return None
    name = type_name.split()[0].removeprefix("headwater.")
    return getattr(headwater, name) if identifier(name) and not name.startswith("__") else None


def members(spec: Dict[str, Any]) -> List[Tuple[str, str, Optional[str]]]:
    return [(m["concept"], m["kind"], m["names"].get(LANG)) for m in spec.get("members", [])]


def is_property(cls: Any, name: str) -> bool:
    """A cheap read-only value: a property or data descriptor, a class attribute that is not callable,
    or a dataclass field."""
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return True
    try:
        attr = inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    return inspect.isdatadescriptor(attr) or not callable(attr)


def is_method(cls: Any, name: str) -> bool:
    try:
        attr = inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    return callable(attr) and not isinstance(attr, (classmethod, staticmethod, property))


def is_constructor(cls: Any, name: str) -> bool:
    if name == cls.__name__:  # the class itself is called (ProducerConfig(...))
        return callable(cls)
    try:
        attr = inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    return isinstance(attr, (classmethod, staticmethod))


KIND_CHECKS: Dict[str, Callable[[Any, str], bool]] = {
    "property": is_property,
    "method": is_method,
    "constructor": is_constructor,
}

# Where each option class's keys are keyword arguments.
OPTION_TARGETS: Dict[str, List[Callable[..., Any]]] = {
    "TestBrokerOptions": [headwater.TestBroker.start],
    "TopicOptions": [headwater.TestBroker.create_topic, headwater.Admin.create_topic],
}


def class_params() -> List[Any]:
    return [pytest.param(name, spec, id=name) for name, spec in API["classes"].items()]


def public_names(cls: Any) -> Set[str]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    # ignore.python: the builtin exceptions' own members (Exception's, OSError's errno, ...).
    for base in cls.__mro__:
        if base.__module__ == "builtins":
            names -= {n for n in dir(base) if not n.startswith("_")}
    return names


@pytest.mark.parametrize("name,spec", class_params())
def test_manifest_class(name: str, spec: Dict[str, Any]) -> None:
    type_name = spec["type"].get(LANG)
    if type_name is None:
        # Absent by design: no such class either.
        assert not hasattr(headwater, name), f"{name} is declared absent in Python"
        return
    if name in OPTION_TARGETS:
        for target in OPTION_TARGETS[name]:
            params = inspect.signature(target).parameters
            keywords = {
                n
                for n, p in params.items()
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            }
            options = {py for _, kind, py in members(spec) if kind == "option"}
            assert len(options) == len(members(spec)) and None not in options, name
            # Exactly the declared options (besides the topic's name).
            assert keywords - {"name"} == options, f"{target.__qualname__}: {keywords} vs {options}"
        return
    if name == "logging":
        for concept, kind, py in members(spec):
            if identifier(py):
                assert kind == "function" and callable(getattr(headwater, py)), py
            elif py is None:
                assert not hasattr(headwater, concept), f"headwater.{concept} is declared absent"
        return
    if name == "version":
        assert isinstance(headwater.__version__, str) and headwater.__version__.count(".") == 2
        return
    cls = python_class(spec)
    if cls is None:
        # Record: a tuple (test_producer.py sends both forms through send_all).
        assert name == "Record", f"{name} ({type_name}) is not a Python class"
        return
    declared: Set[str] = set()
    for concept, kind, py in members(spec):
        if py is None:
            assert not hasattr(cls, concept), f"{cls.__name__}.{concept} is declared absent in Python"
            continue
        if not identifier(py):
            continue
        declared.add(py)
        exists = py == cls.__name__ or hasattr(cls, py) or is_property(cls, py)
        assert exists, f"{cls.__name__}.{py} ({concept}) is missing"
        assert KIND_CHECKS[kind](cls, py), f"{cls.__name__}.{py} is not a {kind}"
    extras = {e.split(".", 1)[1] for e in EXTRAS if e.startswith(f"{cls.__name__}.")}
    for extra in extras:
        assert hasattr(cls, extra), f"extras_allowed names {cls.__name__}.{extra}, which does not exist"
    undeclared = public_names(cls) - declared - extras
    assert not undeclared, f"{cls.__name__} has public names the manifest does not declare: {undeclared}"


def test_module_exports() -> None:
    exports = set(API["exports"][LANG])
    assert hasattr(headwater, "__version__")
    assert set(headwater.__all__) == exports - {"__version__"}
    for name in headwater.__all__:
        assert hasattr(headwater, name), name
    # Anything else public that headwater defines must be an allowed extra (imports are not surface).
    defined = {
        n
        for n, v in vars(headwater).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith("headwater")
    }
    extras = {e for e in EXTRAS if identifier(e)}
    assert defined - exports - extras == set()


def test_error_subclasses_are_the_declared_extras() -> None:
    """extras_allowed: "HeadwaterError subclasses (errors.json python_class)" and no others."""
    classes = {c["python_class"] for c in ERRORS["cases"] if c["languages"][LANG]}
    public_errors = {
        n
        for n in headwater.__all__
        if isinstance(getattr(headwater, n), type) and issubclass(getattr(headwater, n), BaseException)
    }
    assert public_errors == classes | {"HeadwaterError"}
    for name in classes:
        cls = getattr(headwater, name)
        assert public_names(cls) == public_names(headwater.HeadwaterError), name
