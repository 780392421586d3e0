"""JavaScript's conversions, where Python must convert exactly as ``@shopify/shopify-api`` does.

Node's ``Session.fromPropertyArray`` and ``AuthScopes`` use ``Number(x)``, ``String(x)``,
truthiness and ``String.prototype.trim``; Python's ``float``, ``str``, ``bool`` and
``str.strip`` differ at the edges (``"0x10"``, ``" 1 "``, ``1e21``, U+FEFF, U+0085). These
functions take the JSON-like values a property array holds (str, bool, int, float, None).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "JS_WHITESPACE",
    "MAX_SAFE_INTEGER",
    "js_lower",
    "js_number",
    "js_string",
    "js_trim",
    "js_truthy",
]

# ECMAScript WhiteSpace and LineTerminator: what trim() and \s remove. Unlike Python's
# str.isspace it includes U+FEFF and excludes U+001C..U+001F and U+0085.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
MAX_SAFE_INTEGER = 2**53 - 1

_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_RADIX = {"x": 16, "o": 8, "b": 2}
_NON_DECIMAL = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def js_trim(text: str) -> str:
    """``text.trim()``."""
    return text.strip(JS_WHITESPACE)


def js_lower(text: str) -> str:
    """``text.toLowerCase()`` (Python's full Unicode mapping is the same one)."""
    return text.lower()


def js_truthy(value: Any) -> bool:
    """``Boolean(value)``: NaN and ``""`` are false; every list and dict is true."""
    if isinstance(value, float):
        return value == value and value != 0.0
    if isinstance(value, (list, dict)):
        return True
    return bool(value)


def js_number(value: Any) -> float:
    """``Number(value)`` for str, bool, int and float; NaN for anything it cannot read."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    if not isinstance(value, str):
        return math.nan
    text = js_trim(value)
    if not text:
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text)
    match = _NON_DECIMAL.fullmatch(text)
    if match:
        digits = match.group(1)
        try:
            return float(int(digits[1:], _RADIX[digits[0].lower()]))
        except OverflowError:
            return math.inf
    return math.nan


def js_string(value: Any) -> str:
    """``String(value)`` for str, bool, int and float (lists and dicts: ``TypeError``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) <= MAX_SAFE_INTEGER:
        return str(value)
    if isinstance(value, (int, float)):
        return _number_to_string(js_number(value))
    raise TypeError(f"cannot convert {type(value).__name__} like JavaScript's String()")


def _number_to_string(number: float) -> str:
    """``Number.prototype.toString()``: the shortest round-trip digits, laid out as JS does."""
    if number != number:
        return "NaN"
    if number == 0:
        return "0"
    if number < 0:
        return "-" + _number_to_string(-number)
    if math.isinf(number):
        return "Infinity"
    mantissa, _, exponent = repr(number).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # position of the decimal point relative to the first significant digit
    point = len(whole.lstrip("0")) if whole.strip("0") else -(len(fraction) - len(digits))
    point += int(exponent or 0)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return f"{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    sign = "+" if point - 1 >= 0 else "-"
    body = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{body}e{sign}{abs(point - 1)}"
