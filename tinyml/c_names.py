"""C identifiers for generated code, validated before anything is rendered; names (of models, tensors,
labels) made safe for the C strings, comments and build flags they are written into."""

import json
import re

from tinyml.errors import expected

_C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Complex _Imaginary alignas alignof and asm bool catch class constexpr
decltype delete explicit export false friend mutable namespace new noexcept not nullptr operator or
private protected public static_assert template this thread_local throw true try typeid typename
using virtual wchar_t xor setup loop main
""".split())

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def c_identifier(name: str, what: str = "a C identifier") -> str:
    if not _IDENT.match(name) or name in _C_KEYWORDS or "__" in name:
        raise expected(f"{what} (a letter, then letters, digits or single underscores; not a C/C++ keyword)",
                       repr(name))
    return name


def hex_rows(data: bytes, per_row: int = 12) -> list[str]:
    """The bytes as rows of `0x..` literals, each row ending with a comma."""
    return [", ".join(f"0x{b:02x}" for b in data[i:i + per_row]) + ","
            for i in range(0, len(data), per_row)]


def c_float(value: float) -> str:
    """A C float literal that reads back as exactly float32(value) ("1.0f", never "1f")."""
    import numpy as np

    v = np.float32(value)
    if not np.isfinite(v):
        raise expected("a finite float for a C table", value)
    text = f"{v.item():.9g}"
    if not any(c in text for c in ".e"):
        text += ".0"
    return text + "f"


def c_string_body(text: str, plain: str | None = None) -> str:
    """`text` as the inside of a C string literal: printable ASCII as is (or only the characters in
    `plain`), anything else (quotes, backslashes, non-ASCII bytes in UTF-8) as three-digit octal
    escapes, which never run on."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        keep = ch in plain if plain is not None else (0x20 <= b < 0x7F and ch not in '"\\?')
        out.append(ch if keep else f"\\{b:03o}")
    return "".join(out)


def json_c_string_body(text: str, plain: str | None = None) -> str:
    """`text` as the inside of a C string that the firmware prints inside a JSON string as it is
    (the hello's "model", a detection's "label"): JSON-escaped first, then C-escaped."""
    return c_string_body(json.dumps(str(text))[1:-1], plain)


# What passes unescaped through platformio.ini, PlatformIO's flag splitting (shlex), SCons (which
# expands `$`) and the shell, inside a build flag's value.
_FLAG_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def c_string_define(text: str) -> str:
    """A `-DNAME=...` value for platformio.ini that the compiler sees as the C string literal of `text`
    (JSON-safe as well, for the firmware's hello). Every character but letters, digits, '_', '.' and '-'
    is an octal escape; the whole is single-quoted for PlatformIO's shlex, and each backslash doubled
    for the shell SCons runs the compiler in (PlatformIO escapes the quotes for it, not backslashes)."""
    body = json_c_string_body(text, _FLAG_PLAIN).replace("\\", "\\\\")
    return "'\"" + body + "\"'"


def comment_text(text: str) -> str:
    """`text` safe inside a generated C comment (/* */ or //) and an ini `;` comment: one line (control
    characters become '?'), never closing or opening a comment ('*/' and '/*' get a '_' between)."""
    line = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return line.replace("*/", "*_/").replace("/*", "/_*")
