"""The storages' public API is written out: real methods with real signatures and docstrings.

What ``help()``, ``inspect``, IDEs and griffe (the API reference's reader) see must be the
method itself, not a generated wrapper returning a ``Plan``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from shopify_sessions import (
    AsyncDynamoDBSessionStorage,
    AsyncMemorySessionStorage,
    DynamoDBSessionStorage,
    MemorySessionStorage,
)

STORAGES = [
    DynamoDBSessionStorage,
    AsyncDynamoDBSessionStorage,
    MemorySessionStorage,
    AsyncMemorySessionStorage,
]
ROOT = Path(__file__).resolve().parent.parent


def public_methods(cls: type) -> list[str]:
    """Every public callable of the class, inherited ones included (properties are not)."""
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_")
        and not isinstance(inspect.getattr_static(cls, name), property)
        and callable(getattr(cls, name))
    )


@pytest.mark.parametrize("cls", STORAGES, ids=lambda cls: cls.__name__)
def test_every_public_method_is_written_out_in_the_class(cls: type) -> None:
    methods = public_methods(cls)
    assert {"store_session", "load_session", "load_fresh_session"} <= set(methods)
    for name in methods:
        assert name in vars(cls), f"{cls.__name__}.{name} is inherited or generated"
        function = vars(cls)[name]
        assert inspect.isfunction(function), f"{cls.__name__}.{name} is not a def"
        assert function.__qualname__ == f"{cls.__name__}.{name}"
        assert function.__doc__, f"{cls.__name__}.{name} has no docstring"
        returns = inspect.signature(function).return_annotation
        assert returns is not inspect.Signature.empty, f"{cls.__name__}.{name}: no return type"
        assert "Plan" not in str(returns), f"{cls.__name__}.{name} says it returns {returns}"
    assert "__doc__" not in _assigned_in_body(cls), f"{cls.__name__}.__doc__ is assigned"
    assert cls.__doc__ and cls.__doc__.strip()


@pytest.mark.parametrize("cls", STORAGES, ids=lambda cls: cls.__name__)
def test_the_async_storages_methods_are_coroutine_functions(cls: type) -> None:
    is_async = cls.__name__.startswith("Async")
    for name in public_methods(cls):
        if "Iterator" in str(inspect.signature(vars(cls)[name]).return_annotation):
            continue  # iter_*, scan_pages: (async) iterators, plain methods
        assert inspect.iscoroutinefunction(vars(cls)[name]) == is_async, f"{cls.__name__}.{name}"


def test_signatures_say_what_comes_back() -> None:
    for cls in (DynamoDBSessionStorage, AsyncDynamoDBSessionStorage):
        assert str(inspect.signature(cls.store_session)) == (
            "(self, session: 'Session', *, expected: 'Session | None' = None) -> 'bool'"
        )
        assert inspect.signature(cls.load_session).return_annotation == "Session | None"
        assert "Returns:" in (cls.load_session.__doc__ or "")  # Google style, for the reference


def _assigned_in_body(cls: type) -> set[str]:
    """Names assigned (``name = ...``) at the top level of the class body, from its source."""
    import ast

    tree = ast.parse(inspect.getsource(cls).lstrip())
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    return {
        target.id
        for statement in body.body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }


def test_griffe_loads_the_methods_as_functions_and_the_docstrings() -> None:
    griffe = pytest.importorskip("griffe")
    package = griffe.load("shopify_sessions", search_paths=[str(ROOT)])
    for cls in STORAGES:
        loaded = package[f"{cls.__module__.removeprefix('shopify_sessions.')}.{cls.__name__}"]
        assert loaded.docstring is not None and loaded.docstring.value.strip(), cls.__name__
        for name in public_methods(cls):
            member = loaded.members[name]
            assert member.kind is griffe.Kind.FUNCTION, f"{cls.__name__}.{name}: {member.kind}"
            assert member.docstring is not None, f"{cls.__name__}.{name}"
            assert "Plan" not in str(member.returns), f"{cls.__name__}.{name}"
