#!/usr/bin/python3
"""Checks Kubernetes manifests against the API's OpenAPI models, as shipped in the official Python client.

Usage: k8s_schema_check.py FILE...   (multi-document YAML, e.g. `helm template` output)

Every document of a built-in kind is checked field by field against the model generated from the Kubernetes
OpenAPI specification (Debian's python3-kubernetes 22.6, Kubernetes 1.22 models): unknown fields, value types
(string, integer, boolean, list, map, nested objects) and required fields. Kinds without a model are reported and
make the check fail unless listed with --allow-kind GROUP/VERSION/KIND. Prints one line per problem
("FILE: Deployment vmesh/hub: spec.template.spec.containers[0].imagePullPolicyx: unknown field") and exits 1 when
there is any, 0 otherwise. Must run under Debian's /usr/bin/python3 (the only one that imports the client).
"""
import argparse
import re
import sys

import yaml
from kubernetes import client

MODELS = client.models
# Quantities (resources.limits/requests) are strings in the models; the API accepts numbers there too.
QUANTITY_PARENTS = {"limits", "requests", "capacity", "allocatable", "hard", "used"}
# Fields the API gained after the models' Kubernetes 1.22 that the charts use: model -> {JSON name: type}.
NEWER_FIELDS = {
    "V1PodDisruptionBudgetSpec": {"unhealthyPodEvictionPolicy": "str"},  # Kubernetes 1.26, GA in 1.31
}


def model_class(api_version, kind):
    group, _, version = api_version.rpartition("/")
    name = version[0].upper() + version[1:] + kind
    return getattr(MODELS, name, None), group


def check_value(value, type_name, path, problems, parent_key=""):
    if value is None:
        return
    if type_name == "object":  # IntOrString, RawExtension, JSON: anything
        return
    if type_name in ("str", "datetime", "date"):
        if isinstance(value, str):
            return
        if parent_key in QUANTITY_PARENTS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        problems.append(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        return
    if type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {value!r}")
        return
    if type_name == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected a number, got {value!r}")
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {value!r}")
        return
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(item, m.group(1), f"{path}[{i}]", problems)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        key = path.rsplit(".", 1)[-1]
        for k, v in value.items():
            if not isinstance(k, str):
                problems.append(f"{path}: key {k!r} is not a string")
            check_value(v, m.group(1), f"{path}.{k}", problems, key)
        return
    cls = getattr(MODELS, type_name, None)
    if cls is None:
        problems.append(f"{path}: no model {type_name} (checker bug)")
        return
    check_object(value, cls, path, problems)


def check_object(value, cls, path, problems):
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object ({cls.__name__}), got {type(value).__name__}")
        return
    by_json = {j: attr for attr, j in cls.attribute_map.items()}
    kwargs = {}
    for key, v in value.items():
        field_path = f"{path}.{key}" if path else key
        attr = by_json.get(key)
        if attr is None:
            newer = NEWER_FIELDS.get(cls.__name__, {}).get(key)
            if newer is None:
                problems.append(f"{field_path}: unknown field")
            else:
                check_value(v, newer, field_path, problems)
            continue
        check_value(v, cls.openapi_types[attr], field_path, problems)
        kwargs[attr] = v
    # The models' setters refuse a required field that is missing (None).
    try:
        cls(**kwargs)
    except ValueError as e:
        problems.append(f"{path or '(top)'}: {e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--allow-kind", action="append", default=[],
                        help="GROUP/VERSION/KIND without a model that is accepted unchecked")
    args = parser.parse_args()
    failed = False
    checked = 0
    for file in args.files:
        with open(file) as f:
            docs = list(yaml.safe_load_all(f))
        for doc in docs:
            if doc is None:
                continue
            api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
            meta = doc.get("metadata") or {}
            name = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
            cls, group = model_class(api_version, kind)
            if cls is None:
                if f"{api_version}/{kind}" in args.allow_kind:
                    print(f"{file}: {name}: {api_version} has no model here; not checked", file=sys.stderr)
                    continue
                print(f"{file}: {name}: no Kubernetes model for {api_version} {kind}")
                failed = True
                continue
            problems = []
            check_object(doc, cls, "", problems)
            for p in problems:
                print(f"{file}: {name}: {p}")
            failed = failed or bool(problems)
            checked += 1
    print(f"checked {checked} object(s)", file=sys.stderr)
    return 1 if failed or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
