"""C identifiers for generated code, validated before anything is rendered."""

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


def c_string_body(text: str) -> str:
    """`text` as the inside of a C string literal: printable ASCII as is, anything else (quotes,
    backslashes, non-ASCII bytes in UTF-8) as three-digit octal escapes, which never run on."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        out.append(ch if 0x20 <= b < 0x7F and ch not in '"\\?' else f"\\{b:03o}")
    return "".join(out)
