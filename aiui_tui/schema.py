"""Settings classes that validate without importing pydantic on the common path.

A `Section` declares its fields like a pydantic model (annotations, `field(default, ge=..)`,
`@validator`). Values that already have the exact type and meet every constraint (a settings file
as written by `init` or edited sensibly) are checked here, in microseconds, without pydantic
(~0.2 s to import and build the models at every start). Anything else (a value pydantic would
convert, such as "3" for an int, or a bad one) goes to a pydantic model built from the same
declaration, so conversions and error messages are pydantic's own: a bad value raises
`InvalidSettings` carrying pydantic's error list (`errors()`), which `tomledit.validation_error`
turns into file, line, key and fix.
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union

_MISSING: Any = object()


@dataclass(frozen=True)
class FieldSpec:
    """A field's declaration: its type (resolved annotation), default and numeric bounds."""

    annotation: Any
    default: Any = _MISSING
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def bounds(self) -> dict[str, float]:
        return {k: v for k, v in (("gt", self.gt), ("ge", self.ge), ("lt", self.lt), ("le", self.le)) if v is not None}

    def within(self, value: Any) -> bool:
        return (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.lt is None or value < self.lt)
            and (self.le is None or value <= self.le)
        )


@dataclass(frozen=True)
class _Declared:
    default: Any
    bounds: dict[str, float]


def field(default: Any = _MISSING, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
          le: float | None = None) -> Any:  # fmt: skip
    """A default with numeric bounds, as pydantic's `Field(default, ge=...)`."""
    bounds = {k: v for k, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)) if v is not None}
    return _Declared(default, bounds)


def validator(*names: str, mode: Literal["before", "after"] = "after") -> Callable:
    """Mark a function `(value) -> value` (raising ValueError) as a validator of these fields."""

    def mark(func: Callable) -> Any:
        func.__validates__ = (names, mode)  # type: ignore[attr-defined]
        return staticmethod(func)

    return mark


def model_check(func: Callable) -> Callable:
    """Mark a method `(self) -> None` (raising ValueError) that checks the whole section once its
    fields are valid (pydantic's `model_validator(mode="after")`)."""
    func.__model_check__ = True  # type: ignore[attr-defined]
    return func


class InvalidSettings(ValueError):
    """pydantic's verdict on values the fast check could not accept; `errors()` is pydantic's list."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(str(exc))
        self.cause = exc

    def errors(self) -> list[dict[str, Any]]:
        return self.cause.errors()  # type: ignore[attr-defined]


class _NotPlain(Exception):
    """The value needs pydantic: a conversion or an error."""


class Section:
    """Plain settings: attribute access, `==`, `model_dump()`, `model_validate()`, assignment checked."""

    model_fields: ClassVar[dict[str, FieldSpec]]
    _s_validators: ClassVar[dict[str, list[tuple[str, Callable]]]]
    _s_model_checks: ClassVar[list[Callable]] = []
    _s_pydantic: ClassVar[Any] = None
    _s_frozen: ClassVar[bool] = False

    def __init_subclass__(cls, *, frozen: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._s_pydantic = None
        if frozen is not None:
            cls._s_frozen = frozen
        cls._s_model_checks = [
            *cls._s_model_checks,
            *(v for v in cls.__dict__.values() if getattr(v, "__model_check__", False)),
        ]
        validators: dict[str, list[tuple[str, Callable]]] = {}
        for value in cls.__dict__.values():
            func = getattr(value, "__func__", None)
            marked = getattr(func, "__validates__", None)
            if marked:
                names, mode = marked
                for name in names:
                    validators.setdefault(name, []).append((mode, func))
        cls._s_validators = validators
        # This class's own annotations only (typing.get_type_hints would evaluate every base's again for
        # each class: ~1 ms a class, ~20 ms of a command's start for the settings and the manifests).
        own = inspect.get_annotations(cls, eval_str=True)
        hints = {name: type(None) if value is None else value for name, value in own.items()}
        fields: dict[str, FieldSpec] = {}
        for name in own:
            if name.startswith("_") or typing.get_origin(hints[name]) is ClassVar:
                continue
            declared = cls.__dict__.get(name, _MISSING)
            if isinstance(declared, _Declared):
                fields[name] = FieldSpec(hints[name], declared.default, **declared.bounds)
            else:
                fields[name] = FieldSpec(hints[name], declared)
            if name in cls.__dict__:
                delattr(cls, name)  # the value lives on each instance
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        try:
            checked = type(self)._s_plain(values)
            self._s_fill(checked)
            self._s_run_checks()
        except _NotPlain:
            self._s_fill(type(self)._s_plain(type(self)._s_pydantic_dump(values)))

    def _s_fill(self, checked: dict[str, Any]) -> None:
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def _s_run_checks(self) -> None:
        try:
            for check in type(self)._s_model_checks:
                check(self)
        except (ValueError, TypeError, AssertionError) as exc:
            raise _NotPlain from exc

    @classmethod
    def _s_make(cls, checked: dict[str, Any]) -> Any:
        obj = cls.__new__(cls)
        obj._s_fill(checked)
        obj._s_run_checks()
        return obj

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            return cls._s_pydantic_check(data)
        return cls(**data)

    @classmethod
    def _s_check(cls, values: dict[str, Any]) -> dict[str, Any]:
        try:
            return cls._s_plain(values)
        except _NotPlain:
            return cls._s_plain(cls._s_pydantic_dump(values))

    @classmethod
    def _s_plain(cls, values: dict[str, Any]) -> dict[str, Any]:
        if not set(values) <= cls.model_fields.keys():
            raise _NotPlain
        out = {}
        for name, spec in cls.model_fields.items():
            if name in values:
                out[name] = cls._s_field(name, spec, values[name])
            elif spec.default is _MISSING:
                raise _NotPlain
            else:
                out[name] = copy.deepcopy(spec.default)
        return out

    @classmethod
    def _s_field(cls, name: str, spec: FieldSpec, value: Any) -> Any:
        hooks = cls._s_validators.get(name, ())
        try:
            for mode, func in hooks:
                if mode == "before":
                    value = func(value)
            value = _plain_value(spec.annotation, value)
            if value is not None and spec.bounds() and not spec.within(value):
                raise _NotPlain
            for mode, func in hooks:
                if mode == "after":
                    value = func(value)
        except (ValueError, TypeError, AssertionError) as exc:
            raise _NotPlain from exc
        return value

    @classmethod
    def _s_pydantic_dump(cls, values: Any) -> dict[str, Any]:
        return cls._s_pydantic_check(values).model_dump()

    @classmethod
    def _s_pydantic_check(cls, values: Any) -> Any:
        from pydantic import ValidationError

        try:
            return pydantic_model(cls).model_validate(_dump(values))
        except ValidationError as exc:
            raise InvalidSettings(exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self)._s_frozen:
            raise AttributeError(f"{type(self).__name__} is frozen: use model_copy(update=...)")
        spec = type(self).model_fields.get(name)
        if spec is None:
            raise AttributeError(f"{type(self).__name__} has no setting {name!r}")
        try:
            value = type(self)._s_field(name, spec, value)
        except _NotPlain:
            value = type(self)._s_check({**self.model_dump(), name: value})[name]
        object.__setattr__(self, name, value)

    def model_dump(self, *, exclude: set[str] | None = None, exclude_none: bool = False) -> dict[str, Any]:
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if (exclude and name in exclude) or (exclude_none and value is None):
                continue
            out[name] = _dump(value, exclude_none)
        return out

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        """A shallow copy with `update` applied, not checked again (as pydantic's)."""
        obj = type(self).__new__(type(self))
        obj._s_fill({**{name: getattr(self, name) for name in type(self).model_fields}, **(update or {})})
        return obj

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.model_dump() == other.model_dump()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).model_fields)
        return f"{type(self).__name__}({inner})"


def _dump(value: Any, exclude_none: bool = False) -> Any:
    if isinstance(value, Section):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, dict):
        return {k: _dump(v, exclude_none) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v, exclude_none) for v in value]
    return value


def _plain_value(tp: Any, value: Any) -> Any:
    """`value` when it has exactly type `tp` (an int for a float becomes a float, as pydantic does)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, Section):
        if isinstance(value, tp):
            return value
        if type(value) is dict:
            return tp._s_make(tp._s_plain(value))
        raise _NotPlain
    if origin is Literal:
        if any(type(value) is type(choice) and value == choice for choice in typing.get_args(tp)):
            return value
        raise _NotPlain
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _plain_value(arg, value)
            except _NotPlain:
                pass
        raise _NotPlain
    if origin is list:
        if type(value) is not list:
            raise _NotPlain
        (item,) = typing.get_args(tp)
        return [_plain_value(item, v) for v in value]
    if origin is dict:
        if type(value) is not dict:
            raise _NotPlain
        key_type, item = typing.get_args(tp)
        return {_plain_value(key_type, k): _plain_value(item, v) for k, v in value.items()}
    if tp is float:
        if type(value) is float or type(value) is int:
            return float(value)
        raise _NotPlain
    if tp in (str, int, bool):
        if type(value) is tp:
            return value
        raise _NotPlain
    raise _NotPlain


def pydantic_model(cls: type[Section]) -> Any:
    """The pydantic model of a section, built once from the same declaration."""
    if cls.__dict__.get("_s_pydantic") is not None:
        return cls._s_pydantic
    from pydantic import ConfigDict, Field, create_model, field_validator

    fields: dict[str, Any] = {}
    for name, spec in cls.model_fields.items():
        annotation = _pydantic_type(spec.annotation)
        if isinstance(spec.default, Section):
            default = spec.default
            model = pydantic_model(type(default))
            info = Field(default_factory=lambda d=default, m=model: m.model_validate(d.model_dump()))
        elif spec.default is _MISSING:
            info = Field(**spec.bounds())
        else:
            info = Field(spec.default, **spec.bounds())
        fields[name] = (annotation, info)
    from pydantic import model_validator

    checks = {}
    for name, hooks in cls._s_validators.items():
        for i, (mode, func) in enumerate(hooks):
            checks[f"check_{name}_{i}"] = field_validator(name, mode=mode)(_as_classmethod(func))
    for i, check in enumerate(cls._s_model_checks):
        checks[f"check_model_{i}"] = model_validator(mode="after")(_returning_self(check))
    cls._s_pydantic = create_model(  # type: ignore[call-overload]
        cls.__name__, __config__=ConfigDict(extra="forbid", frozen=cls._s_frozen), __validators__=checks, **fields
    )
    return cls._s_pydantic


def _as_classmethod(func: Callable) -> Callable:
    def check(cls: Any, value: Any) -> Any:
        return func(value)

    return check


def _returning_self(check: Callable) -> Callable:
    def run(self: Any) -> Any:
        check(self)
        return self

    return run


def _pydantic_type(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, Section):
        return pydantic_model(tp)
    origin = typing.get_origin(tp)
    if origin in (list, dict):
        return origin[tuple(_pydantic_type(a) for a in typing.get_args(tp))]
    if origin in (Union, types.UnionType):
        return Union[tuple(_pydantic_type(a) for a in typing.get_args(tp))]  # noqa: UP007
    return tp
