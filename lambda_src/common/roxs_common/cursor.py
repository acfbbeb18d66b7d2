"""Opaque, verifiable pagination tokens (`next_token`).

A token is base64url (no padding) of the zlib-compressed JSON list [version, route,
filters digest, position, checksum]; compressed, the longest position (a 1,024-byte S3 key,
even one whose characters JSON escapes) stays within MAX_TOKEN_CHARS. `position` is what the route's lister returned (a small JSON dict,
APP.md's contract); the route and the digest of the filters bind it to the request that
made it, so a token is refused on another route or with other filters; the checksum
catches a token that was cut or edited.

The checksum is keyed by a constant, not a secret (the repository holds none): it does
not stop a client who reads this code from forging a token. What does is that every
decoded position goes through the lister's check_*_position (keys, types, sizes) before it
reaches a query, so a forged token can only name a position a client could reach anyway.
"""

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from roxs_common.untrusted import parse_json

VERSION = 1
# Within API Gateway's request-line limit (10,240 bytes) even fully percent-encoded.
MAX_TOKEN_CHARS = 2048
# What a token may decompress to (a bound against a small token that inflates hugely).
MAX_DECODED_BYTES = 8192
_CHECKSUM_KEY = b"roxs-cursor"
_POSITION_DEPTH = 6
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class CursorError(ValueError):
    """A token that is not one this route issued for these filters; the message says why."""


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(data: bytes, size: int) -> str:
    return hashlib.blake2b(data, digest_size=size, key=_CHECKSUM_KEY).hexdigest()


def filters_digest(filters: Mapping[str, Any]) -> str:
    """The filters a listing was made with, absent ones (None) left out."""
    return _digest(_canonical({name: value for name, value in filters.items() if value is not None}), 8)


def encode(route: str, filters: Mapping[str, Any], position: Mapping[str, Any]) -> str:
    body = [VERSION, route, filters_digest(filters), position]
    # UTF-8 rather than \u escapes: a position of non-ASCII text stays about as long as it is.
    token = json.dumps([*body, _digest(_canonical(body), 12)], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(zlib.compress(token.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, MAX_DECODED_BYTES)
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise ValueError(f"not one complete zlib stream of at most {MAX_DECODED_BYTES} bytes")
    return raw


def decode(
    token: str,
    route: str,
    filters: Mapping[str, Any],
    check_position: Callable[[Any], None],
) -> dict[str, Any]:
    """The position inside `token`, checked against `route`, `filters` and `check_position`
    (the lister's ValueError); CursorError saying what is wrong otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise CursorError(f"it is {len(token)} characters long, a token is at most {MAX_TOKEN_CHARS}")
    if not _BASE64URL.fullmatch(token):
        raise CursorError("it is not a token this API issued (not base64url)")
    try:
        raw = _inflate(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        decoded = parse_json(raw, max_depth=_POSITION_DEPTH)
    except (ValueError, zlib.error) as exc:  # binascii.Error included
        raise CursorError(f"it is not a token this API issued ({exc})") from None
    if not (isinstance(decoded, list) and len(decoded) == 5 and isinstance(decoded[4], str)):
        raise CursorError("it is not a token this API issued (wrong shape)")
    body, checksum = decoded[:4], decoded[4]
    if checksum != _digest(_canonical(body), 12):
        raise CursorError("its checksum does not match (the token was cut or edited)")
    version, issued_for, digest, position = body
    if version != VERSION:
        raise CursorError(f"it is of version {version!r}, this API issues version {VERSION}")
    if issued_for != route:
        raise CursorError(f"it was issued by {issued_for}, not {route}")
    if digest != filters_digest(filters):
        raise CursorError("it was issued for other filters; start again without next_token")
    if not isinstance(position, dict):
        raise CursorError("its position is not an object")
    try:
        check_position(position)
    except ValueError as exc:
        raise CursorError(f"its position is not valid: {exc}") from None
    return position
