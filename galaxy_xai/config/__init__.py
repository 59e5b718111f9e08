"""Typed params: one frozen dataclass per params.yaml group, built from a declarative table.

Each group module (`galaxy_xai.config.train`, `.sfnet`, ...) declares its keys as dataclass
fields made with `key(rule, doc)`: the rule (type and allowed range) and a one-line doc are the
only definition of that key, in the style of GalSim's `_req_params`. `load(Config, params, group)`
refuses unknown and missing keys and any value its rule rejects, with one sentence naming the key,
the value and what was expected; rules that tie keys together live in the class's `check`.
A stage lists in its DVC deps the config modules of the groups it reads, so a change to one
group's rules reruns only the stages that read that group.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from galaxy_xai.errors import ParamError

PARAMS = "params.yaml"


def read_params(path=PARAMS) -> dict:
    """params.yaml as a mapping of groups (validated per group by the group's `load`)."""
    path = Path(path)
    if not path.is_file():
        raise ParamError(f"{path}: params file not found")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ParamError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise ParamError(f"{path}: expected a mapping of stage groups at the top level")
    return params


# ----------------------------------------------------------------------------- rules

class Rule:
    """A check of one value; `what` completes 'must be ...' in the error sentence."""

    what = "valid"

    def ok(self, value) -> bool:
        raise NotImplementedError

    def convert(self, value, key, source):
        return value

    def __call__(self, value, key, source):
        if not self.ok(value):
            raise ParamError(f"{source}: key '{key}' must be {self.what}, got {value!r}")
        return self.convert(value, key, source)


def _bounds(lo, hi, lo_open, hi_open) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi}"
    return ""


def _within(v, lo, hi, lo_open, hi_open) -> bool:
    return ((lo is None or (v > lo if lo_open else v >= lo))
            and (hi is None or (v < hi if hi_open else v <= hi)))


class Int(Rule):
    def __init__(self, lo=None, hi=None):
        self.lo, self.hi = lo, hi
        self.what = "an integer" + _bounds(lo, hi, False, False)

    def ok(self, v):
        return isinstance(v, int) and not isinstance(v, bool) and _within(v, self.lo, self.hi, False, False)


class Number(Rule):
    """An int or float (stored as float); bounds closed unless `lo_open` / `hi_open`."""

    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False):
        self.args = (lo, hi, lo_open, hi_open)
        self.what = "a number" + _bounds(*self.args)

    def ok(self, v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and _within(v, *self.args)

    def convert(self, v, key, source):
        return float(v)


class Bool(Rule):
    what = "true or false"

    def ok(self, v):
        return isinstance(v, bool)


class Text(Rule):
    """A string, optionally one of `choices`."""

    def __init__(self, choices=None, what=None):
        self.choices = None if choices is None else tuple(choices)
        self.what = what or ("a string" if choices is None else f"one of {list(self.choices)}")

    def ok(self, v):
        return isinstance(v, str) and bool(v) and (self.choices is None or v in self.choices)


class Optional(Rule):
    """null, or what `rule` accepts."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.what = f"null or {rule.what}"

    def ok(self, v):
        return v is None or self.rule.ok(v)

    def __call__(self, value, key, source):
        if value is None:
            return None
        if not isinstance(self.rule, Section) and not self.rule.ok(value):
            raise ParamError(f"{source}: key '{key}' must be {self.what}, got {value!r}")
        return self.rule(value, key, source)


class ListOf(Rule):
    """A list of items each accepted by `item` (non-empty; distinct if asked)."""

    def __init__(self, item: Rule, distinct=False, nonempty=True):
        self.item, self.distinct, self.nonempty = item, distinct, nonempty
        self.what = f"a {'non-empty ' if nonempty else ''}list of {'distinct ' if distinct else ''}items, each {item.what}"

    def ok(self, v):
        return (isinstance(v, list) and (bool(v) or not self.nonempty) and all(self.item.ok(x) for x in v)
                and (not self.distinct or len(set(map(repr, v))) == len(v)))

    def convert(self, v, key, source):
        return tuple(self.item(x, f"{key}[{i}]", source) for i, x in enumerate(v))


class MapOf(Rule):
    """A mapping with exactly the keys `keys` (or, with `exact=False`, some of them), each value
    accepted by `value`; returned as a plain dict."""

    def __init__(self, keys, value: Rule, exact=True):
        self.keys, self.value, self.exact = tuple(keys), value, exact
        self.what = (f"a mapping with {'exactly' if exact else 'some of'} the keys {list(self.keys)}, "
                     f"each {value.what}")

    def ok(self, v):
        return isinstance(v, dict) and (set(v) == set(self.keys) if self.exact else set(v) <= set(self.keys))

    def convert(self, v, key, source):
        return {k: self.value(v[k], f"{key}.{k}", source) for k in self.keys if k in v}


class Options(Rule):
    """A mapping of optional keys, each with its own rule (e.g. a library's keyword arguments)."""

    def __init__(self, rules: dict):
        self.rules = dict(rules)
        self.what = f"a mapping with some of the keys {list(self.rules)}"

    def ok(self, v):
        return isinstance(v, dict) and set(v) <= set(self.rules)

    def convert(self, v, key, source):
        return {k: self.rules[k](x, f"{key}.{k}", source) for k, x in v.items()}


class Section(Rule):
    """A nested group: a mapping built into the dataclass `cls` by the same rules."""

    def __init__(self, cls):
        self.cls = cls
        self.what = f"a mapping of {[f.name for f in dataclasses.fields(cls)]}"

    def ok(self, v):
        return isinstance(v, dict)

    def __call__(self, value, key, source):
        if not isinstance(value, dict):
            raise ParamError(f"{source}: key '{key}' must be {self.what}, got {value!r}")
        return build(self.cls, value, key, source)


# ----------------------------------------------------------------------------- groups

def key(rule: Rule, doc: str):
    """A dataclass field declaring one params key: its rule and a one-line doc."""
    return dataclasses.field(metadata={"rule": rule, "doc": doc})


def build(cls, node: dict, prefix: str, source: str = PARAMS):
    """The dataclass `cls` from the mapping `node` (params under `prefix`), every key checked."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(node) - set(fields))
    if unknown:
        raise ParamError(f"{source}: unknown key '{prefix}.{unknown[0]}' (a typo?); "
                         f"'{prefix}' takes {sorted(fields)}")
    values = {}
    for name, f in fields.items():
        if name not in node:
            raise ParamError(f"{source}: missing key '{prefix}.{name}' ({f.metadata['doc']})")
        values[name] = f.metadata["rule"](node[name], f"{prefix}.{name}", source)
    config = cls(**values)
    if hasattr(config, "check"):
        config.check(source)
    return config


def load(cls, params: dict, group: str, source: str = PARAMS):
    """The params group `group` as the frozen dataclass `cls`, or one sentence saying what is wrong."""
    node = params.get(group)
    if not isinstance(node, dict):
        raise ParamError(f"{source}: missing group '{group}' (a mapping of its keys)")
    return build(cls, node, group, source)


def describe(cls, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, rule, doc) of every key of a group, nested groups flattened: the params reference."""
    rows = []
    for f in dataclasses.fields(cls):
        rule, name = f.metadata["rule"], f"{prefix}{f.name}"
        inner = rule.rule if isinstance(rule, Optional) else rule
        if isinstance(inner, Section):
            rows += describe(inner.cls, f"{name}.")
        else:
            rows.append((name, rule.what, f.metadata["doc"]))
    return rows
