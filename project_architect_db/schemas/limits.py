"""What every input model accepts, read from the models themselves.

:func:`field_limits` describes each field of an input model (its kind, whether it
is required or may be null, its length and range limits, its choices and the
checks of its own validators); :func:`limits_table` renders them as the markdown
of README's "Field limits"; :func:`time_series_names` renders the metric names and
granularities ``AnalyticsRepository.time_series_analysis`` accepts.

README holds both between ``<!-- NAME:start -->`` / ``<!-- NAME:end -->`` markers;
``python -m project_architect_db.schemas.limits --write README.md`` regenerates
them and ``tests/test_readme_limits.py`` fails while they differ. A constraint this
module cannot describe raises ``TypeError`` instead of being left out of the table.
"""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types as at
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo

from .analytics import GRANULARITIES, METRICS
from .common import BIGINT_MAX, JsonObject, StorableText, UpdateSchema, UtcDatetime
from .conversation import ConversationCreate, ConversationUpdate, MessageCreate
from .document import DocumentCreate, DocumentUpdate
from .project import ProjectCreate, ProjectUpdate
from .repository import RepositoryCreate, RepositoryUpdate

__all__ = [
    "INPUT_MODELS",
    "README_BLOCKS",
    "REGENERATE",
    "FieldLimits",
    "field_limits",
    "limits_table",
    "main",
    "readme_block",
    "replace_readme_blocks",
    "time_series_names",
]

#: Every model the library validates input with, in README's order.
INPUT_MODELS: tuple[type[BaseModel], ...] = (
    ProjectCreate,
    ProjectUpdate,
    ConversationCreate,
    ConversationUpdate,
    MessageCreate,
    DocumentCreate,
    DocumentUpdate,
    RepositoryCreate,
    RepositoryUpdate,
)

REGENERATE = "python -m project_architect_db.schemas.limits --write README.md"


def _validator_function(alias: Any) -> Callable[..., Any]:
    """The function of the (single) AfterValidator of an ``Annotated`` alias."""
    [validator] = [item for item in get_args(alias)[1:] if isinstance(item, AfterValidator)]
    return validator.func


#: The validators that make a kind (described once, in the legend), by kind.
_KIND_CHECKS: dict[str, Callable[..., Any]] = {
    "text": StorableText.func,
    "JSON object": _validator_function(JsonObject),
    "datetime": _validator_function(UtcDatetime),
}
_KIND_INTRO = {
    "text": "a string; its length counts characters (code points).",
    "JSON object": "an object (dict).",
    "datetime": "a datetime, or ISO 8601 text.",
}


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """What one field of an input model accepts."""

    model: type[BaseModel]
    name: str
    #: The Python type under ``Annotated`` and ``| None`` (``str``, ``int``, an enum, ...).
    base: Any
    #: ``text``, ``integer``, ``datetime``, ``JSON object``, the enum's name, ``list of X``.
    kind: str
    #: Must be given (a Create model's field without a default).
    required: bool
    #: None is accepted (for an Update field: sets the column to NULL).
    nullable: bool
    #: The default of an optional field as markdown, e.g. "default `0`"; None when the
    #: field is required, and in an Update model (a field left out is unchanged).
    default: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    ge: int | float | None = None
    gt: int | float | None = None
    le: int | float | None = None
    lt: int | float | None = None
    #: The accepted values of an enum field.
    choices: tuple[str, ...] = ()
    #: What the field's own validators check, beyond its kind (their docstrings).
    checks: tuple[str, ...] = ()
    #: The validator functions that made its kind (``text``: ``StorableText``'s).
    kind_checks: tuple[Callable[..., Any], ...] = ()

    @property
    def is_text(self) -> bool:
        return self.base is str

    def limits(self) -> str:
        """The limits as one markdown cell."""
        parts: list[str] = []
        unit = "characters" if self.is_text else "items"
        low, high = self.min_length, self.max_length
        if low is not None and high is not None:
            parts.append(f"{low} to {high} {unit}")
        elif high is not None:
            parts.append(f"at most {high} {unit}")
        elif low is not None:
            parts.append(f"at least {low} {unit[:-1] if low == 1 else unit} (no maximum)")
        elif self.is_text:
            parts.append("any length")
        bounds = [
            f"{_number(self.ge)} to {_number(self.le)}"
            if self.ge is not None and self.le is not None
            else "",
            f"at least {_number(self.ge)}" if self.ge is not None and self.le is None else "",
            f"at most {_number(self.le)}" if self.le is not None and self.ge is None else "",
            f"more than {_number(self.gt)}" if self.gt is not None else "",
            f"less than {_number(self.lt)}" if self.lt is not None else "",
        ]
        parts.extend(bound for bound in bounds if bound)
        if self.choices:
            parts.append("one of " + ", ".join(f"`{choice}`" for choice in self.choices))
        parts.extend(self.checks)
        return "; ".join(parts)

    def requirement(self) -> str:
        """Required or optional, as one markdown cell."""
        if self.required:
            return "required"
        if issubclass(self.model, UpdateSchema):
            return "optional" if self.nullable else "optional, not null"
        return f"optional, {self.default}"


def _number(value: int | float | None) -> str:
    return "2^63 - 1" if value == BIGINT_MAX else str(value)


def _docline(function: Callable[..., Any]) -> str:
    """A function's docstring as one markdown sentence."""
    text = " ".join((function.__doc__ or "").split())
    if not text:
        raise TypeError(f"validator {function.__qualname__} needs a docstring for README")
    return text.replace("``", "`")


def _clause(function: Callable[..., Any]) -> str:
    """A function's docstring as a clause: lower-case start, no final period."""
    text = _docline(function).rstrip(".")
    return text[:1].lower() + text[1:]


def _expanded(metadata: Iterable[Any]) -> list[Any]:
    """Field(...) and grouped constraints (StringConstraints, Interval) as their parts."""
    items: list[Any] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            items.extend(_expanded(item.metadata))
        elif isinstance(item, at.GroupedMetadata):
            items.extend(_expanded(item))
        else:
            items.append(item)
    return items


def _unwrapped(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """``Annotated[X, ...] | None`` as (X, None accepted, the metadata)."""
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"cannot describe the union {annotation!r}")
        nullable = len(members) < len(get_args(annotation))
        annotation = members[0]
    metadata: list[Any] = []
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
    return annotation, nullable, metadata


def _kind(base: Any, where: str) -> str:
    if base is str:
        return "text"
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is float:
        return "number"
    if base is datetime:
        return "datetime"
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return f"`{base.__name__}`"
    if get_origin(base) is dict and get_args(base)[0] is str:
        return "JSON object"
    if get_origin(base) is list:
        [item] = get_args(base)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return f"list of `{item.__name__}`"
    raise TypeError(f"{where}: cannot describe the type {base!r}; teach schemas/limits.py")


def _default(info: FieldInfo) -> str:
    factory = info.default_factory
    if factory is None:
        value = info.default
        if isinstance(value, enum.Enum):
            value = value.value
        return f"default `{json.dumps(value)}`"
    if factory is list:
        return "default `[]`"
    return f"default: {_clause(factory)}"


_BOUNDS: dict[type[Any], str] = {at.Ge: "ge", at.Gt: "gt", at.Le: "le", at.Lt: "lt"}


@cache
def field_limits(model: type[BaseModel]) -> tuple[FieldLimits, ...]:
    """Every field of ``model``, described from its annotation and metadata."""
    not_null: frozenset[str] = getattr(model, "required_fields", frozenset())
    described = []
    for name, info in model.model_fields.items():
        where = f"{model.__name__}.{name}"
        base, nullable, inner = _unwrapped(info.annotation)
        kind = _kind(base, where)
        limits: dict[str, Any] = {}
        checks: list[str] = []
        kind_checks: list[Callable[..., Any]] = []
        for item in _expanded([*info.metadata, *inner]):
            if isinstance(item, at.MinLen):
                limits["min_length"] = item.min_length
            elif isinstance(item, at.MaxLen):
                limits["max_length"] = item.max_length
            elif type(item) in _BOUNDS:
                key = _BOUNDS[type(item)]
                limits[key] = getattr(item, key)
            elif isinstance(item, AfterValidator):
                if _KIND_CHECKS.get(kind) is item.func:
                    kind_checks.append(item.func)
                else:
                    checks.append(_clause(item.func))
            else:
                raise TypeError(f"{where}: cannot describe {item!r}; teach schemas/limits.py")
        choices = (
            tuple(str(member.value) for member in base)
            if isinstance(base, type) and issubclass(base, enum.Enum)
            else ()
        )
        required = info.is_required()
        is_update = issubclass(model, UpdateSchema)
        described.append(
            FieldLimits(
                model=model,
                name=name,
                base=base,
                kind=kind,
                required=required,
                nullable=nullable and name not in not_null,
                default=None if required or is_update else _default(info),
                choices=choices,
                checks=tuple(checks),
                kind_checks=tuple(kind_checks),
                **limits,
            )
        )
    return tuple(described)


def _model_doc(model: type[BaseModel]) -> str:
    own = model.__dict__.get("__doc__")
    return f": {' '.join(own.split())}".replace("``", "`") if own else ""


def limits_table() -> str:
    """README's "Field limits" block: a legend, then one table per input model."""
    lines = [
        f"- **{kind}**: {_KIND_INTRO[kind]} {_docline(check)}"
        for kind, check in _KIND_CHECKS.items()
    ]
    lines.append(
        "- An Update model takes any subset of its fields: a field left out keeps its value; "
        "one marked *not null* cannot be set to null (error `null_not_allowed`)."
    )
    lines.append(
        "- Unknown fields are refused (`extra_forbidden`). Every error's `loc` names the field."
    )
    for model in INPUT_MODELS:
        lines += [
            "",
            f"**`{model.__name__}`**{_model_doc(model)}",
            "",
            "| field | type | required | limits |",
            "| --- | --- | --- | --- |",
        ]
        for field in field_limits(model):
            kind = f"{field.kind} or null" if field.nullable else field.kind
            lines.append(f"| `{field.name}` | {kind} | {field.requirement()} | {field.limits()} |")
    return "\n".join(lines) + "\n"


def time_series_names() -> str:
    """README's list of what ``time_series_analysis`` accepts."""
    metrics = ", ".join(f"`{name}`" for name in METRICS)
    granularities = ", ".join(f"`{name}`" for name in GRANULARITIES)
    return f"- `metric`: {metrics}\n- `granularity`: {granularities}\n"


#: README's generated blocks, by marker name.
README_BLOCKS: dict[str, Callable[[], str]] = {
    "field-limits": limits_table,
    "time-series-names": time_series_names,
}


def _block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- {re.escape(name)}:start -->\n)(.*?)(<!-- {re.escape(name)}:end -->)", re.S
    )


def readme_block(text: str, name: str) -> str | None:
    """The text between the markers of block ``name``, or None without them."""
    found = _block_pattern(name).search(text)
    return found.group(2) if found else None


def replace_readme_blocks(text: str) -> str:
    """``text`` with every generated block rendered anew (ValueError if one is missing)."""
    for name, render in README_BLOCKS.items():
        found = _block_pattern(name).search(text)
        if found is None:
            raise ValueError(f"no <!-- {name}:start --> ... <!-- {name}:end --> markers")
        text = text[: found.start(2)] + render() + text[found.end(2) :]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Print the field limits, or rewrite (``--write``) or check (``--check``) README."""
    parser = argparse.ArgumentParser(
        prog="python -m project_architect_db.schemas.limits",
        description="Render README's generated blocks (field limits, time-series names).",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", metavar="README", type=Path, help="rewrite its blocks")
    action.add_argument("--check", metavar="README", type=Path, help="exit 1 if they differ")
    arguments = parser.parse_args(argv)
    path: Path | None = arguments.write or arguments.check
    if path is None:
        sys.stdout.write(limits_table())
        return 0
    text = path.read_text(encoding="utf-8")
    updated = replace_readme_blocks(text)
    if arguments.check:
        if updated != text:
            sys.stderr.write(f"{path}: generated blocks are out of date; run: {REGENERATE}\n")
            return 1
        return 0
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
