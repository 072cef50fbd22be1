"""What templates are given: plain values, never objects with methods (`sandbox.py` says why).

This module imports nothing heavy: the view is made on paths that never render a template.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import PurePath
from typing import Any


class Record:
    """A read-only bundle of named plain values: what a template gets instead of an object.

    It has no methods a template could reach (Jinja's sandbox hides the underscored ones), so
    `campaign.items` or `book.title` always mean the field, never a method of the container.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a template value cannot be changed")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Record({self._fields!r})"


def plain(value: Any) -> Any:
    """`value` as template data: text, numbers, booleans, None, tuples and Records of those.

    Paths are left out (a template has no business with the project's files), and so is anything
    else that is not data; a dataclass or pydantic model becomes a Record of its fields.
    """
    if value is None or isinstance(value, str | bool | int | float | Decimal | date):
        return value
    if isinstance(value, list | tuple | frozenset | set):
        return tuple(plain(item) for item in value if _is_data(item))
    if isinstance(value, Mapping):
        return Record(_plain_fields(value))
    if hasattr(type(value), "model_fields"):  # a pydantic model
        fields = {name: getattr(value, name) for name in type(value).model_fields}
        return _record_type(type(value).__name__)(_plain_fields(fields))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        return _record_type(type(value).__name__)(_plain_fields(fields))
    raise TypeError(f"{type(value).__name__} is not template data")


def _is_data(value: Any) -> bool:
    return not isinstance(value, PurePath) and not callable(value)


def _plain_fields(fields: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): plain(item) for key, item in fields.items() if _is_data(item)}


@functools.cache
def _record_type(name: str) -> type[Record]:
    """A Record named like the object it stands for, so that a template's typo reads "'TeaserView'
    has no attribute 'exerpt'"."""
    return type(name, (Record,), {"__slots__": ()})
