#!/usr/bin/env python3
"""Compares our schema files with Kafka's published JSON message specs.

    compare_reference.py --reference DIR --schemas DIR

DIR of the reference is Kafka's clients/src/main/resources/common/message
(we keep a copy of release 3.8.0 in ../shared/kafka-protocol/messages; it is
read here at test time and never copied into the tree). For every message in
our schema files, the Kafka file of the same name (in PascalCase) must agree:

- the API key and the kind (request, response, header);
- validVersions: ours must cover every version Kafka's broker serves (valid
  versions minus a latestVersionUnstable one) and no version Kafka lacks;
- flexibleVersions, within our range;
- the fields, in wire order, recursively: name (ours is Kafka's in
  snake_case), type (struct type names are not on the wire and may differ),
  versions, nullableVersions, taggedVersions and tag, default, ignorable,
  mapKey, entityType and a field-level flexibleVersions. Version sets are
  compared as the versions they actually apply to: intersected with our range
  and with the versions of the enclosing struct, as Kafka's generator does.

Prints one line per difference and exits 1 if there is any. Standard library
only (Debian's python3).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import schema as sc  # noqa: E402


def load_reference(path: pathlib.Path) -> dict:
    # Whole-line // comments are not JSON.
    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.lstrip().startswith("//"))
    return json.loads(text)


def versions_of(spec: dict, key: str, default: str = "none") -> sc.Versions:
    return sc.Versions.parse(spec.get(key, default))


def ref_type(type_text: str) -> sc.Type:
    """A Kafka type in our vocabulary: struct names in snake_case."""
    if type_text.startswith("[]"):
        return sc.Type("array", element=ref_type(type_text[2:]))
    if type_text in sc.PRIMITIVES:
        return sc.Type(type_text)
    return sc.Type("struct", struct_name=sc.snake_case(type_text))


def shape(t: sc.Type) -> str:
    """The wire shape of a type: struct names dropped."""
    if t.kind == "array":
        return "[]" + shape(t.element)
    return "struct" if t.kind == "struct" else t.kind


class Comparer:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def compare_message(self, ours: sc.Message, ref: dict) -> None:
        where = ours.name
        if ref.get("type") != ours.kind:
            self.problem(where, f"kind {ours.kind}, Kafka has {ref.get('type')}")
        if ref.get("apiKey") != ours.api_key:
            self.problem(where, f"api key {ours.api_key}, Kafka has {ref.get('apiKey')}")
        valid = versions_of(ref, "validVersions")
        served_hi = valid.hi - 1 if ref.get("latestVersionUnstable") else valid.hi
        if ours.min_version != valid.lo or not served_hi <= ours.max_version <= valid.hi:
            self.problem(where, f"versions {ours.versions}, Kafka serves {valid.lo}-{served_hi} "
                                f"(valid {valid})")
        lo, hi = ours.min_version, ours.max_version
        scope = set(range(lo, hi + 1))
        ref_flexible = versions_of(ref, "flexibleVersions").within(lo, hi)
        if ours.flexible.within(lo, hi) != ref_flexible:
            self.problem(where, f"flexible {ours.flexible}, Kafka has "
                                f"{ref.get('flexibleVersions')}")
        common = {sc.snake_case(s["name"]): s for s in ref.get("commonStructs", [])}
        self.compare_fields(where, ours.root.fields, ref.get("fields", []), scope, lo, hi, common)

    def compare_fields(self, where: str, ours: list[sc.Field], refs: list[dict],
                       scope: set[int], lo: int, hi: int, common: dict) -> None:
        ours = [f for f in ours if f.versions.within(lo, hi) & scope]
        refs = [f for f in refs if versions_of(f, "versions").within(lo, hi) & scope]
        our_names = [f.name for f in ours]
        ref_names = [sc.snake_case(f["name"]) for f in refs]
        if our_names != ref_names:
            self.problem(where, f"fields {our_names}, Kafka has {ref_names}")
            return
        for field, ref in zip(ours, refs):
            self.compare_field(f"{where}.{field.name}", field, ref, scope, lo, hi, common)

    def compare_field(self, where: str, field: sc.Field, ref: dict, scope: set[int], lo: int,
                      hi: int, common: dict) -> None:
        def sets(ours: sc.Versions, theirs: sc.Versions, present_ours, present_ref):
            return ours.within(lo, hi) & present_ours, theirs.within(lo, hi) & present_ref

        present = field.versions.within(lo, hi) & scope
        ref_present = versions_of(ref, "versions").within(lo, hi) & scope
        if present != ref_present:
            self.problem(where, f"versions {field.versions}, Kafka has {ref['versions']} "
                                f"(over {sorted(scope)})")
        rtype = ref_type(ref["type"])
        if shape(field.type) != shape(rtype):
            self.problem(where, f"type {field.type}, Kafka has {ref['type']}")
            return
        ours_n, ref_n = sets(field.nullable, versions_of(ref, "nullableVersions"), present,
                             ref_present)
        if ours_n != ref_n:
            self.problem(where, f"nullable in {sorted(ours_n)}, Kafka in {sorted(ref_n)}")
        ours_t, ref_t = sets(field.tagged, versions_of(ref, "taggedVersions"), present,
                             ref_present)
        if ours_t != ref_t:
            self.problem(where, f"tagged in {sorted(ours_t)}, Kafka in {sorted(ref_t)}")
        if ref_t and field.tag != ref.get("tag"):
            self.problem(where, f"tag {field.tag}, Kafka has {ref.get('tag')}")
        if field.ignorable != bool(ref.get("ignorable", False)):
            self.problem(where, f"ignorable {field.ignorable}, Kafka has "
                                f"{ref.get('ignorable', False)}")
        if field.map_key != bool(ref.get("mapKey", False)):
            self.problem(where, f"key {field.map_key}, Kafka has mapKey "
                                f"{ref.get('mapKey', False)}")
        ref_entity = sc.snake_case(ref["entityType"]) if "entityType" in ref else None
        if field.entity != ref_entity:
            self.problem(where, f"entity {field.entity}, Kafka has {ref.get('entityType')}")
        ours_flex = field.flexible.within(lo, hi) if field.flexible else None
        ref_flex = (versions_of(ref, "flexibleVersions").within(lo, hi)
                    if "flexibleVersions" in ref else None)
        if ours_flex != ref_flex:
            self.problem(where, f"field flexible {field.flexible}, Kafka has "
                                f"{ref.get('flexibleVersions')}")
        ref_default = ref.get("default")
        if isinstance(ref_default, bool):
            ref_default = "true" if ref_default else "false"
        elif ref_default is not None:
            ref_default = str(ref_default)  # some files write numbers unquoted
        ref_field = sc.Field(name=field.name, type=rtype, versions=field.versions,
                             default=ref_default, line=0)
        try:
            if sc.parse_default(field) != sc.parse_default(ref_field):
                self.problem(where, f"default {field.default}, Kafka has {ref.get('default')}")
        except sc.SchemaError as e:
            self.problem(where, f"Kafka's default does not parse: {e}")
        if field.struct is not None:
            children = ref.get("fields")
            if children is None:
                struct = common.get(rtype.element.struct_name if rtype.kind == "array"
                                    else rtype.struct_name)
                children = struct["fields"] if struct else []
            self.compare_fields(where, field.struct.fields, children, present, lo, hi, common)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", required=True, type=pathlib.Path)
    parser.add_argument("--schemas", required=True, type=pathlib.Path)
    args = parser.parse_args()
    try:
        files = sc.load_all(sorted(args.schemas.glob("*.schema")))
    except sc.SchemaError as e:
        print(f"our schema: {e}")
        return 1
    references = {}
    for path in sorted(args.reference.glob("*.json")):
        spec = load_reference(path)
        references[sc.snake_case(spec["name"])] = spec
    comparer = Comparer()
    compared = 0
    for f in files:
        for message in f.messages:
            ref = references.get(message.name)
            if ref is None:
                comparer.problem(message.name, "no Kafka spec of that name")
                continue
            comparer.compare_message(message, ref)
            compared += 1
    for line in comparer.problems:
        print(line)
    print(f"compared {compared} messages with {args.reference}: "
          f"{len(comparer.problems)} differences")
    return 1 if comparer.problems else 0


if __name__ == "__main__":
    sys.exit(main())
