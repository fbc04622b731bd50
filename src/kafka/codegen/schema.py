"""Parser and model of Tidelog's Kafka message schema files (src/kafka/schemas/*.schema).

The format is described in src/kafka/schemas/README.md. This module only reads
and checks schema files; generate.py turns them into C++ and
compare_reference.py checks them against Kafka's published message specs.
Standard library only: it runs under Debian's python3 at build time.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shlex

PRIMITIVES = {
    "bool", "int8", "int16", "int32", "int64", "uint16", "float64",
    "uuid", "string", "bytes", "records",
}
NULLABLE_KINDS = {"string", "bytes", "records", "array", "struct"}
MESSAGE_KINDS = {"request", "response", "header"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
INDENT = 2


class SchemaError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Versions:
    """An inclusive version range; hi None means open-ended; empty means 'none'."""

    lo: int = 0
    hi: int | None = None
    empty: bool = False

    @staticmethod
    def parse(text: str) -> "Versions":
        if text == "none":
            return Versions(empty=True)
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SchemaError(f"bad version range '{text}'")
        lo = int(m.group(1))
        if m.group(2) == "+":
            return Versions(lo, None)
        if m.group(3) is not None:
            hi = int(m.group(3))
            if hi < lo:
                raise SchemaError(f"empty version range '{text}'")
            return Versions(lo, hi)
        return Versions(lo, lo)

    def contains(self, version: int) -> bool:
        if self.empty:
            return False
        return version >= self.lo and (self.hi is None or version <= self.hi)

    def within(self, lo: int, hi: int) -> set[int]:
        """The versions of this range inside [lo, hi]."""
        return {v for v in range(lo, hi + 1) if self.contains(v)}

    def __str__(self) -> str:
        if self.empty:
            return "none"
        if self.hi is None:
            return f"{self.lo}+"
        if self.hi == self.lo:
            return str(self.lo)
        return f"{self.lo}-{self.hi}"


NO_VERSIONS = Versions(empty=True)


@dataclasses.dataclass
class Type:
    """A field type: a primitive, a struct (by name) or an array of either."""

    kind: str  # a primitive name, "struct" or "array"
    struct_name: str | None = None
    element: "Type | None" = None

    @staticmethod
    def parse(text: str) -> "Type":
        if text.startswith("[]"):
            element = Type.parse(text[2:])
            if element.kind == "array":
                raise SchemaError("arrays of arrays are not supported")
            if element.kind == "records":
                raise SchemaError("arrays of records are not supported")
            return Type("array", element=element)
        if text in PRIMITIVES:
            return Type(text)
        if NAME_RE.match(text):
            return Type("struct", struct_name=text)
        raise SchemaError(f"bad type '{text}'")

    def __str__(self) -> str:
        if self.kind == "array":
            return "[]" + str(self.element)
        if self.kind == "struct":
            return self.struct_name
        return self.kind


@dataclasses.dataclass
class Field:
    name: str
    type: Type
    versions: Versions
    nullable: Versions = NO_VERSIONS
    tagged: Versions = NO_VERSIONS
    tag: int | None = None
    default: str | None = None  # the literal text, None when not given
    ignorable: bool = False
    map_key: bool = False
    entity: str | None = None
    flexible: Versions | None = None  # a field-level override (only "none")
    about: str | None = None
    line: int = 0
    struct: "Struct | None" = None  # resolved for struct and array-of-struct types

    @property
    def is_tagged(self) -> bool:
        return self.tag is not None

    @property
    def value_type(self) -> Type:
        """The element type for arrays, the type itself otherwise."""
        return self.type.element if self.type.kind == "array" else self.type


@dataclasses.dataclass
class Struct:
    name: str
    versions: Versions
    fields: list[Field]
    common: bool = False
    line: int = 0


@dataclasses.dataclass
class Message:
    kind: str
    name: str
    api_key: int | None
    versions: Versions
    flexible: Versions
    root: Struct
    common_structs: dict[str, Struct]
    path: pathlib.Path
    line: int = 0

    @property
    def min_version(self) -> int:
        return self.versions.lo

    @property
    def max_version(self) -> int:
        return self.versions.hi

    def is_flexible(self, version: int) -> bool:
        return self.flexible.contains(version)

    def structs(self) -> list[Struct]:
        """Every struct of the message except common ones, children before parents."""
        out: list[Struct] = []

        def visit(struct: Struct) -> None:
            for field in struct.fields:
                if field.struct is not None and not field.struct.common:
                    visit(field.struct)
            out.append(struct)

        visit(self.root)
        return out


@dataclasses.dataclass
class SchemaFile:
    path: pathlib.Path
    stem: str
    messages: list[Message]
    common_structs: dict[str, Struct]


# ---------------------------------------------------------------------------
# Parsing


@dataclasses.dataclass
class _Line:
    number: int
    indent: int
    tokens: list[str]
    about: str | None


def _lines(path: pathlib.Path) -> list[_Line]:
    """The non-comment lines. Whole-line comments directly above a nested
    (field) line document that field, like a trailing ' # text'."""
    out = []
    pending: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped[1:].strip())
            continue
        if "\t" in raw:
            raise SchemaError(f"{path}:{number}: tabs are not allowed, indent with spaces")
        indent = len(raw) - len(raw.lstrip(" "))
        if indent % INDENT:
            raise SchemaError(f"{path}:{number}: indentation must be a multiple of {INDENT}")
        body, about = stripped, None
        if " # " in stripped:
            body, about = stripped.split(" # ", 1)
            about = about.strip()
        try:
            tokens = shlex.split(body, posix=True)
        except ValueError as e:
            raise SchemaError(f"{path}:{number}: {e}") from None
        if indent and pending:
            about = " ".join(pending + ([about] if about else []))
        pending = []
        out.append(_Line(number, indent // INDENT, tokens, about))
    return out


def _attributes(tokens: list[str], where: str) -> dict[str, str | None]:
    attrs: dict[str, str | None] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if key in attrs:
            raise SchemaError(f"{where}: attribute '{key}' given twice")
        attrs[key] = value if sep else None
    return attrs


FIELD_ATTRIBUTES = {"nullable", "tagged", "tag", "default", "ignorable", "key", "entity", "flexible"}


def _parse_field(line: _Line, where: str) -> Field:
    if len(line.tokens) < 3:
        raise SchemaError(f"{where}: a field line is 'name type versions [attributes]'")
    name, type_text, versions_text = line.tokens[:3]
    if not NAME_RE.match(name):
        raise SchemaError(f"{where}: field name '{name}' is not snake_case")
    attrs = _attributes(line.tokens[3:], where)
    unknown = set(attrs) - FIELD_ATTRIBUTES
    if unknown:
        raise SchemaError(f"{where}: unknown attributes {sorted(unknown)}")
    for flag in ("ignorable", "key"):
        if flag in attrs and attrs[flag] is not None:
            raise SchemaError(f"{where}: '{flag}' takes no value")
    for valued in ("nullable", "tagged", "tag", "entity", "flexible"):
        if valued in attrs and attrs[valued] is None:
            raise SchemaError(f"{where}: '{valued}' needs a value")
    if "default" in attrs and attrs["default"] is None:
        raise SchemaError(f"{where}: 'default' needs a value (default=\"\" for an empty string)")
    try:
        field = Field(
            name=name,
            type=Type.parse(type_text),
            versions=Versions.parse(versions_text),
            nullable=Versions.parse(attrs["nullable"]) if "nullable" in attrs else NO_VERSIONS,
            tag=int(attrs["tag"]) if "tag" in attrs else None,
            default=attrs.get("default"),
            ignorable="ignorable" in attrs,
            map_key="key" in attrs,
            entity=attrs.get("entity"),
            flexible=Versions.parse(attrs["flexible"]) if "flexible" in attrs else None,
            about=line.about,
            line=line.number,
        )
    except (SchemaError, ValueError) as e:
        raise SchemaError(f"{where}: {e}") from None
    if field.tag is not None:
        field.tagged = Versions.parse(attrs["tagged"]) if "tagged" in attrs else field.versions
    elif "tagged" in attrs:
        raise SchemaError(f"{where}: 'tagged' without 'tag'")
    if field.flexible is not None and not field.flexible.empty:
        raise SchemaError(f"{where}: only flexible=none is supported on a field")
    return field


def _parse_fields(lines: list[_Line], start: int, depth: int, path: pathlib.Path):
    """Parses the fields at `depth` starting at lines[start]; returns (fields, next index)."""
    fields: list[Field] = []
    i = start
    while i < len(lines) and lines[i].indent >= depth:
        line = lines[i]
        where = f"{path}:{line.number}"
        if line.indent != depth:
            raise SchemaError(f"{where}: unexpected indentation")
        field = _parse_field(line, where)
        i += 1
        if i < len(lines) and lines[i].indent > depth:
            if field.value_type.kind != "struct":
                raise SchemaError(f"{where}: only struct types have nested fields")
            children, i = _parse_fields(lines, i, depth + 1, path)
            field.struct = Struct(field.value_type.struct_name, field.versions, children,
                                  line=line.number)
        fields.append(field)
    return fields, i


def parse_file(path: pathlib.Path) -> SchemaFile:
    lines = _lines(path)
    messages: list[Message] = []
    common: dict[str, Struct] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        where = f"{path}:{line.number}"
        if line.indent != 0:
            raise SchemaError(f"{where}: expected a message or struct line")
        if len(line.tokens) < 2:
            raise SchemaError(f"{where}: expected '<request|response|header|struct> name ...'")
        kind, name = line.tokens[:2]
        attrs = _attributes(line.tokens[2:], where)
        if not NAME_RE.match(name):
            raise SchemaError(f"{where}: name '{name}' is not snake_case")
        fields, i = _parse_fields(lines, i + 1, 1, path)
        try:
            if kind == "struct":
                if set(attrs) != {"versions"}:
                    raise SchemaError("a struct line is 'struct name versions=R'")
                if name in common:
                    raise SchemaError(f"struct '{name}' defined twice")
                common[name] = Struct(name, Versions.parse(attrs["versions"]), fields,
                                      common=True, line=line.number)
                continue
            if kind not in MESSAGE_KINDS:
                raise SchemaError(f"unknown top-level keyword '{kind}'")
            allowed = {"key", "versions", "flexible"}
            if set(attrs) - allowed or "versions" not in attrs or "flexible" not in attrs:
                raise SchemaError(f"a message line is '{kind} name [key=N] versions=R flexible=R'")
            if (kind == "header") != ("key" not in attrs):
                raise SchemaError("requests and responses have key=N, headers have none")
            versions = Versions.parse(attrs["versions"])
            if versions.hi is None or versions.empty:
                raise SchemaError("message versions must be a closed range like 0-12")
            messages.append(Message(
                kind=kind, name=name,
                api_key=int(attrs["key"]) if "key" in attrs else None,
                versions=versions, flexible=Versions.parse(attrs["flexible"]),
                root=Struct(name, versions, fields, line=line.number),
                common_structs=common, path=path, line=line.number))
        except (SchemaError, ValueError) as e:
            raise SchemaError(f"{where}: {e}") from None
    if not messages:
        raise SchemaError(f"{path}: no messages")
    schema = SchemaFile(path, path.stem, messages, common)
    _resolve(schema)
    for message in messages:
        _check_message(message)
    return schema


def _resolve(schema: SchemaFile) -> None:
    def visit(struct: Struct, where: pathlib.Path) -> None:
        for field in struct.fields:
            vt = field.value_type
            if vt.kind != "struct":
                continue
            if field.struct is None:
                if vt.struct_name not in schema.common_structs:
                    raise SchemaError(f"{where}:{field.line}: struct '{vt.struct_name}' has "
                                      "no fields here and is not a common struct")
                field.struct = schema.common_structs[vt.struct_name]
            elif vt.struct_name in schema.common_structs:
                raise SchemaError(f"{where}:{field.line}: '{vt.struct_name}' is a common "
                                  "struct; refer to it without nested fields")
            else:
                visit(field.struct, where)

    for struct in schema.common_structs.values():
        visit(struct, schema.path)
    for message in schema.messages:
        visit(message.root, schema.path)


# ---------------------------------------------------------------------------
# Checks


def parse_default(field: Field):
    """The default as a Python value: int, float, bool, str, None (null), or '' for empty."""
    kind = field.type.kind
    text = field.default
    if kind == "array":
        if text not in (None, "null"):
            raise SchemaError(f"line {field.line}: an array default can only be null")
        return None if text == "null" else []
    if kind == "struct":
        if text not in (None, "null"):
            raise SchemaError(f"line {field.line}: a struct default can only be null")
        return None if text == "null" else {}
    if text == "null":
        if kind not in NULLABLE_KINDS:
            raise SchemaError(f"line {field.line}: only nullable types can default to null")
        return None
    if kind in ("string",):
        return text or ""
    if kind in ("bytes",):
        if text:
            raise SchemaError(f"line {field.line}: bytes can only default to empty or null")
        return ""
    if kind == "records":
        if text:
            raise SchemaError(f"line {field.line}: records can only default to null")
        return None  # Kafka's records default is null
    if kind == "uuid":
        if text and text != "AAAAAAAAAAAAAAAAAAAAAA":
            raise SchemaError(f"line {field.line}: a uuid can only default to zero")
        return 0
    if kind == "bool":
        if text in (None, "false"):
            return False
        if text == "true":
            return True
        raise SchemaError(f"line {field.line}: bad bool default '{text}'")
    if kind == "float64":
        return float(text) if text else 0.0
    value = int(text, 0) if text else 0
    bits = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}.get(kind)
    if bits is not None:
        if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            raise SchemaError(f"line {field.line}: default {text} does not fit {kind}")
    elif kind == "uint16" and not 0 <= value < (1 << 16):
        raise SchemaError(f"line {field.line}: default {text} does not fit uint16")
    return value


def _check_message(message: Message) -> None:
    lo, hi = message.min_version, message.max_version
    message_versions = set(range(lo, hi + 1))
    flexible = message.flexible.within(lo, hi)
    where = f"{message.path}:{message.line}"
    if not message.flexible.empty and message.flexible.hi is not None:
        raise SchemaError(f"{where}: flexible versions must be open-ended ('N+') or 'none'")

    seen_structs: dict[str, Struct] = {}

    def check_struct(struct: Struct, outer: set[int]) -> None:
        names: set[str] = set()
        tags: set[int] = set()
        for field in struct.fields:
            fw = f"{message.path}:{field.line}"
            if field.name in names:
                raise SchemaError(f"{fw}: field '{field.name}' appears twice")
            names.add(field.name)
            present = field.versions.within(lo, hi)
            if not present:
                raise SchemaError(f"{fw}: field '{field.name}' is in no version of the message")
            if not present <= outer:
                raise SchemaError(f"{fw}: field '{field.name}' has versions outside its struct")
            kind = field.type.kind
            if field.nullable.within(lo, hi) & present and kind not in NULLABLE_KINDS:
                raise SchemaError(f"{fw}: a {kind} cannot be nullable")
            if field.is_tagged:
                if field.tag in tags:
                    raise SchemaError(f"{fw}: tag {field.tag} used twice")
                tags.add(field.tag)
                tagged = field.tagged.within(lo, hi)
                if tagged != present:
                    raise SchemaError(f"{fw}: fields tagged in only some of their versions "
                                      "are not supported")
                if not tagged <= flexible:
                    raise SchemaError(f"{fw}: tagged versions must be flexible versions")
            try:
                parse_default(field)
            except SchemaError as e:
                raise SchemaError(f"{message.path}:{e}") from None
            if field.struct is not None:
                existing = seen_structs.get(field.struct.name)
                if existing is not None and existing is not field.struct:
                    raise SchemaError(f"{fw}: struct name '{field.struct.name}' used twice")
                seen_structs[field.struct.name] = field.struct
                check_struct(field.struct, present)

    check_struct(message.root, message_versions)


def snake_case(name: str) -> str:
    """Kafka's PascalCase (or camelCase) names in our snake_case."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return name.lower()


def load_all(paths: list[pathlib.Path]) -> list[SchemaFile]:
    files = [parse_file(p) for p in sorted(paths, key=lambda p: p.name)]
    names: dict[str, pathlib.Path] = {}
    keys: dict[tuple[int, str], pathlib.Path] = {}
    for f in files:
        for m in f.messages:
            if m.name in names:
                raise SchemaError(f"{f.path}: message '{m.name}' also in {names[m.name]}")
            names[m.name] = f.path
            if m.api_key is not None:
                if (m.api_key, m.kind) in keys:
                    raise SchemaError(f"{f.path}: a {m.kind} for api key {m.api_key} is "
                                      f"also in {keys[(m.api_key, m.kind)]}")
                keys[(m.api_key, m.kind)] = f.path
        for s in f.common_structs:
            if s in names:
                raise SchemaError(f"{f.path}: common struct '{s}' clashes with another name")
            names[s] = f.path
    return files
