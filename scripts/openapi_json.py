#!/usr/bin/env python3
"""Converts docs/openapi.yaml to JSON, with the Python standard library only.

    python3 scripts/openapi_json.py [IN.yaml] [OUT.json] [--parser auto|yaml|builtin]
                                    [--indent N] [--check] [--cpp]

IN defaults to docs/openapi.yaml beside this script's repository, OUT to standard output.
With `--parser auto` (the default) PyYAML is used when it can be imported (Debian's
python3-yaml) and the built-in parser otherwise. The built-in parser reads the restricted YAML
that docs/openapi.yaml keeps to (its header says which) and refuses everything else with the
line number, so the two parsers never disagree silently. `--check` parses with both (PyYAML
needed) and exits 1 when their results differ. The JSON keeps the document's order; it is
compact unless `--indent` is given. `--cpp` writes, instead of the JSON, a C++ source defining
`appointd::http::kOpenApiJson` as that JSON (the build embeds the document this way, and the
server serves it at /v1/openapi.json).

Exit status: 0 on success, 1 on a parse error or a `--check` mismatch, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_YAML = os.path.join(REPO, "docs", "openapi.yaml")


class RestrictedYamlError(ValueError):
    """The text is not in the restricted YAML style (or not YAML at all)."""

    def __init__(self, lineno: int, message: str):
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


# ---- scalars ------------------------------------------------------------------------------

# YAML 1.1 implicit types as PyYAML resolves them (yaml/resolver.py). A plain scalar that one of
# these matches and that has no single obvious JSON value here is refused: quote it.
_BOOL11 = re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_FLOAT11 = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_INT11 = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""", re.X)
_NULL11 = re.compile(r"^(?:~|null|Null|NULL|)$")
_TIMESTAMP11 = re.compile(r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
     (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X)
_PLAIN_INT = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
_PLAIN_FLOAT = re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+$")
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")


def _resolve_plain(text: str, lineno: int):
    """The JSON value of a plain scalar, as PyYAML's safe_load reads it; refuses ambiguous ones."""
    if _NULL11.match(text):
        return None
    if _BOOL11.match(text):
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
        raise RestrictedYamlError(lineno, f"{text!r} is a YAML 1.1 boolean: quote it")
    if _INT11.match(text):
        if _PLAIN_INT.match(text):
            return int(text)
        raise RestrictedYamlError(lineno, f"{text!r} is a YAML 1.1 integer in another base: quote it")
    if _FLOAT11.match(text):
        if _PLAIN_FLOAT.match(text):
            return float(text)
        raise RestrictedYamlError(lineno, f"{text!r} is a YAML 1.1 float of another form: quote it")
    if _TIMESTAMP11.match(text):
        raise RestrictedYamlError(lineno, f"{text!r} is a YAML 1.1 timestamp: quote it")
    if text == "=" or text == "<<":
        raise RestrictedYamlError(lineno, f"{text!r} has a special meaning in YAML: quote it")
    if text[0] in _INDICATORS and not (text[0] == "-" and len(text) > 1 and text[1] != " "):
        raise RestrictedYamlError(lineno, f"a plain scalar must not start with {text[0]!r}: quote it")
    if ": " in text or text.endswith(":") or " #" in text or "\t" in text:
        raise RestrictedYamlError(lineno, f"{text!r} needs quotes")
    return text


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
            "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
            "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def _quoted(s: str, pos: int, lineno: int) -> tuple[str, int]:
    """A quoted scalar starting at s[pos] (a quote) on one line: (value, position after it)."""
    quote = s[pos]
    out = []
    i = pos + 1
    while i < len(s):
        c = s[i]
        if quote == "'":
            if c == "'":
                if i + 1 < len(s) and s[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                return "".join(out), i + 1
            out.append(c)
            i += 1
            continue
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= len(s):
                break
            e = s[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(e)
            digits = s[i + 2:i + 2 + width] if width else ""
            if not width or len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                raise RestrictedYamlError(lineno, f"bad escape \\{e}")
            out.append(chr(int(digits, 16)))
            i += 2 + width
            continue
        out.append(c)
        i += 1
    raise RestrictedYamlError(lineno, "a quoted scalar must end on its line")


def _strip_comment(s: str) -> str:
    """s without a trailing comment (a '#' after whitespace, outside quotes)."""
    quote = None
    i = 0
    while i < len(s):
        c = s[i]
        if quote:
            if c == quote:
                if quote == "'" and i + 1 < len(s) and s[i + 1] == "'":
                    i += 2
                    continue
                quote = None
            elif c == "\\" and quote == '"':
                i += 2
                continue
        elif c in "'\"" and (i == 0 or s[i - 1] in " \t[{,:"):
            quote = c
        elif c == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
        i += 1
    return s.rstrip()


# ---- flow collections (one line) ------------------------------------------------------------

class _Flow:
    def __init__(self, s: str, lineno: int):
        self.s, self.i, self.lineno = s, 0, lineno

    def error(self, msg: str):
        raise RestrictedYamlError(self.lineno, f"{msg} at column {self.i + 1} of {self.s!r}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            self.error("a value is missing")
        c = self.s[self.i]
        if c == "[":
            return self.seq()
        if c == "{":
            return self.map()
        if c in "'\"":
            v, self.i = _quoted(self.s, self.i, self.lineno)
            return v
        return self.plain(key=False)

    def plain(self, key: bool):
        start = self.i
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in ",[]{}":
                break
            if c == ":" and (self.i + 1 == len(self.s) or self.s[self.i + 1] in " ,[]{}"):
                if key:
                    break
                self.error("':' in a plain scalar: quote it")
            if c == "#" and self.s[self.i - 1] in " \t":
                self.error("a comment inside a flow collection")
            self.i += 1
        text = self.s[start:self.i].strip()
        if not text:
            self.error("an empty plain scalar")
        return text if key else _resolve_plain(text, self.lineno)

    def seq(self):
        self.i += 1
        out = []
        self.ws()
        if self.i < len(self.s) and self.s[self.i] == "]":
            self.i += 1
            return out
        while True:
            out.append(self.value())
            self.ws()
            if self.i >= len(self.s):
                self.error("an unclosed '['")
            if self.s[self.i] == ",":
                self.i += 1
                continue
            if self.s[self.i] == "]":
                self.i += 1
                return out
            self.error("',' or ']' expected")

    def map(self):
        self.i += 1
        out = {}
        self.ws()
        if self.i < len(self.s) and self.s[self.i] == "}":
            self.i += 1
            return out
        while True:
            self.ws()
            if self.i < len(self.s) and self.s[self.i] in "'\"":
                k, self.i = _quoted(self.s, self.i, self.lineno)
            else:
                k = self.plain(key=True)
                _check_plain_key(k, self.lineno)
            self.ws()
            if self.i >= len(self.s) or self.s[self.i] != ":":
                self.error("':' expected after a key")
            self.i += 1
            if k in out:
                self.error(f"duplicate key {k!r}")
            out[k] = self.value()
            self.ws()
            if self.i >= len(self.s):
                self.error("an unclosed '{'")
            if self.s[self.i] == ",":
                self.i += 1
                continue
            if self.s[self.i] == "}":
                self.i += 1
                return out
            self.error("',' or '}' expected")

    def whole(self):
        v = self.value()
        self.ws()
        if self.i != len(self.s):
            self.error("text after a flow collection")
        return v


def _check_plain_key(k: str, lineno: int):
    v = _resolve_plain(k, lineno)
    if not isinstance(v, str):
        raise RestrictedYamlError(lineno, f"the key {k!r} is not a string in YAML: quote it")


# ---- block structure ------------------------------------------------------------------------

class _Block:
    def __init__(self, text: str):
        if "\t" in text:
            n = text[:text.index("\t")].count("\n") + 1
            raise RestrictedYamlError(n, "tabs are not allowed")
        self.lines = text.split("\n")
        self.i = 0

    def peek(self):
        """(indent, content) of the next line with content, skipping blanks and comments."""
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            stripped = raw.strip()
            if stripped and not stripped.startswith("#"):
                return len(raw) - len(raw.lstrip(" ")), raw.strip(" ")
            self.i += 1
        return None

    @property
    def lineno(self) -> int:
        return self.i + 1

    def document(self):
        p = self.peek()
        if p is None:
            return None
        if p[1] in ("---", "...") or p[1].startswith("%"):
            raise RestrictedYamlError(self.lineno, "no directives or document markers")
        v = self.node(p[0])
        if self.peek() is not None:
            raise RestrictedYamlError(self.lineno, "unexpected text (wrong indentation?)")
        return v

    def node(self, indent: int):
        _, content = self.peek()
        if content == "-" or content.startswith("- "):
            return self.seq(indent)
        return self.map(indent)

    @staticmethod
    def is_item(content: str) -> bool:
        return content == "-" or content.startswith("- ")

    def split_key(self, content: str):
        """(key, rest) when content is `key: rest` or `key:`, else None."""
        if content[0] in "'\"":
            k, end = _quoted(content, 0, self.lineno)
            rest = content[end:]
            if rest == ":" or rest.startswith(": "):
                return k, rest[1:]
            if rest.strip() and not rest.lstrip().startswith("#"):
                return None
            return None
        if content[0] in "[{":
            return None
        m = re.search(r":(?: |$)", content)
        if not m:
            return None
        k = content[:m.start()]
        if " #" in k:
            return None
        _check_plain_key(k, self.lineno)
        return k, content[m.end():]

    def map(self, indent: int):
        out = {}
        while True:
            p = self.peek()
            if p is None or p[0] < indent:
                return out
            if p[0] > indent:
                raise RestrictedYamlError(self.lineno, "unexpected indentation")
            if self.is_item(p[1]):
                return out  # a sequence at the parent key's indent ends here
            kv = self.split_key(p[1])
            if kv is None:
                raise RestrictedYamlError(self.lineno, f"'key: value' expected, got {p[1]!r}")
            key, rest = kv
            if key in out:
                raise RestrictedYamlError(self.lineno, f"duplicate key {key!r}")
            lineno = self.lineno
            self.i += 1
            out[key] = self.value(rest, indent, lineno, map_value=True)

    def seq(self, indent: int):
        out = []
        while True:
            p = self.peek()
            if p is None or p[0] != indent or not self.is_item(p[1]):
                if p is not None and p[0] > indent:
                    raise RestrictedYamlError(self.lineno, "unexpected indentation")
                return out
            rest = p[1][1:]
            body = rest.lstrip(" ")
            lineno = self.lineno
            if body and body[0] not in "[{|>" and not body.startswith("#") \
                    and self.split_key(body) is not None:
                # `- key: value`: a mapping whose keys line up with this first key.
                self.lines[self.i] = " " * (indent + 1 + len(rest) - len(body)) + body
                out.append(self.map(indent + 1 + len(rest) - len(body)))
                continue
            self.i += 1
            out.append(self.value(rest, indent, lineno, map_value=False))

    def value(self, rest: str, indent: int, lineno: int, map_value: bool):
        rest = _strip_comment(rest).strip()
        if rest == "":
            p = self.peek()
            if p is not None and p[0] > indent:
                return self.node(p[0])
            if map_value and p is not None and p[0] == indent and self.is_item(p[1]):
                return self.seq(indent)
            return None
        c = rest[0]
        if c in "|>":
            return self.block_scalar(rest, indent, lineno)
        if c in "[{":
            return _Flow(rest, lineno).whole()
        if c in "'\"":
            v, end = _quoted(rest, 0, lineno)
            if rest[end:].strip():
                raise RestrictedYamlError(lineno, "text after a quoted scalar")
            return v
        if c in "&*!":
            raise RestrictedYamlError(lineno, "no anchors, aliases or tags")
        return _resolve_plain(rest, lineno)

    def block_scalar(self, header: str, indent: int, lineno: int) -> str:
        m = re.fullmatch(r"([|>])([-+]?)", header)
        if not m:
            raise RestrictedYamlError(lineno, f"block scalar header {header!r}: use |, |-, |+, >, >- or >+")
        style, chomp = m.groups()
        lines = []  # raw lines of the scalar (blank ones included)
        block_indent = None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip() == "":
                lines.append("")
                self.i += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if block_indent is None:
                if ind <= indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            lines.append(raw[block_indent:])
            self.i += 1
        # Trailing blank lines belong to the chomping, not to the content.
        trailing = 0
        while lines and lines[-1] == "":
            lines.pop()
            trailing += 1
        if not lines:
            return ""
        if style == "|":
            text = "\n".join(lines)
        else:
            parts = []
            for n, line in enumerate(lines):
                if line.startswith(" "):
                    raise RestrictedYamlError(lineno + 1 + n, "no more-indented lines in a folded (>) scalar")
                if n == 0:
                    parts.append(line)
                elif line == "":
                    parts.append("\n")
                elif lines[n - 1] == "":
                    parts.append(line)
                else:
                    parts.append(" " + line)
            text = "".join(parts)
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" + "\n" * trailing
        return text + "\n"


def parse_restricted(text: str):
    """The document of a restricted-YAML text as plain Python values (dict, list, str, int,
    float, bool, None). Raises RestrictedYamlError naming the line of the first problem."""
    return _Block(text).document()


def parse_pyyaml(text: str):
    import yaml  # Debian: python3-yaml

    return yaml.safe_load(text)


def have_pyyaml() -> bool:
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def load_yaml(text: str, parser: str = "auto"):
    """The document; parser is "auto" (PyYAML when importable), "yaml" or "builtin"."""
    if parser == "builtin" or (parser == "auto" and not have_pyyaml()):
        return parse_restricted(text)
    return parse_pyyaml(text)


def to_json(doc, indent: int | None = None) -> str:
    if indent is None:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return json.dumps(doc, ensure_ascii=False, indent=indent, allow_nan=False)


def first_difference(a, b, path: str = "") -> str | None:
    """Where two documents differ (a JSON-pointer-like path and both values), or None."""
    if type(a) is not type(b):
        return f"{path or '/'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path or '/'}: keys {list(a)} != {list(b)}"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path or '/'}: {len(a)} items != {len(b)}"
        for n, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}/{n}")
            if d:
                return d
        return None
    return None if a == b else f"{path or '/'}: {a!r} != {b!r}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", nargs="?", default=DEFAULT_YAML)
    ap.add_argument("output", nargs="?", default="-")
    ap.add_argument("--parser", choices=["auto", "yaml", "builtin"], default="auto")
    ap.add_argument("--indent", type=int, default=None)
    ap.add_argument("--check", action="store_true",
                    help="parse with PyYAML and the built-in parser and compare")
    ap.add_argument("--cpp", action="store_true",
                    help="write a C++ source defining appointd::http::kOpenApiJson")
    args = ap.parse_args(argv)
    with open(args.input, encoding="utf-8") as f:
        text = f.read()
    try:
        if args.check:
            if not have_pyyaml():
                print("openapi_json: --check needs PyYAML (Debian: python3-yaml)", file=sys.stderr)
                return 1
            mine, theirs = parse_restricted(text), parse_pyyaml(text)
            diff = first_difference(mine, theirs)
            if diff:
                print(f"openapi_json: the parsers disagree at {diff}", file=sys.stderr)
                return 1
            doc = mine
        else:
            doc = load_yaml(text, args.parser)
    except (RestrictedYamlError, ValueError) as e:
        print(f"openapi_json: {args.input}: {e}", file=sys.stderr)
        return 1
    out = to_json(doc, args.indent)
    if args.cpp:
        delim = "openapi_json"
        if ")" + delim + '"' in out:
            print("openapi_json: the document contains the raw string's delimiter", file=sys.stderr)
            return 1
        out = ("// Generated by scripts/openapi_json.py --cpp from docs/openapi.yaml. Do not edit.\n"
               "#include \"http/openapi.h\"\n\n"
               "namespace appointd::http {\n"
               f"const char* const kOpenApiJson = R\"{delim}({out}){delim}\";\n"
               "}  // namespace appointd::http")
    if args.output == "-":
        sys.stdout.write(out + "\n")
    else:
        tmp = args.output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(out + "\n")
        os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
