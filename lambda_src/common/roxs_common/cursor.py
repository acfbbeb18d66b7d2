"""Opaque, signed pagination tokens (`next_token`).

A token is base64url (no padding) of one format byte, a 16-byte tag and the
zlib-compressed JSON list [route, filters digest, position]. The tag is an HMAC-SHA256,
truncated to 128 bits, of the format byte and the compressed body, keyed by the
deployment's token key: a secret generated per stack (modules/api), in neither the
repository nor Terraform's state, read once per execution environment (`token_key`). So
no client can make or edit a token, and one issued by another deployment, or before the key
was changed, is refused. The tag is checked before anything in the token is decompressed
or parsed.

Inside, the route and the digest of the filters bind the position to the request that
made it: a token is refused on another route or with other filters, each with its reason.
Every position still goes through the lister's check (keys, types, sizes, agreement with
the filters) before it reaches a query, so even a token made with a leaked key can only
name a position a client could reach anyway, or get a 400.

Sizes: the longest position (a 1,024-byte S3 key, even one of characters JSON escapes)
stays within MAX_TOKEN_CHARS.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from roxs_common.aws import client
from roxs_common.config import require_env

# Format 1 (until issue 20) had a checksum keyed by a constant; its tokens start with the
# zlib header byte 0x78, never with FORMAT.
FORMAT = 2
TAG_BYTES = 16
# Within API Gateway's request-line limit (10,240 bytes) even fully percent-encoded.
MAX_TOKEN_CHARS = 2048
# What a token may decompress to (a bound even for a token made with a leaked key).
MAX_DECODED_BYTES = 8192
# The secret's value: at least this many characters (Terraform writes 72).
MIN_KEY_CHARS = 32
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class CursorError(ValueError):
    """A token that is not one this route issued for these filters; the message says why."""


@functools.cache
def token_key() -> bytes:
    """The deployment's token key: the version TOKEN_KEY_VERSION_ID of the secret
    TOKEN_KEY_SECRET_ARN (one read per execution environment; a new key comes with a new
    version id, hence new environments). A short key is the deployment's fault: RuntimeError."""
    secret = client("secretsmanager").get_secret_value(
        SecretId=require_env("TOKEN_KEY_SECRET_ARN"), VersionId=require_env("TOKEN_KEY_VERSION_ID")
    )
    value = secret.get("SecretString") or ""
    if len(value) < MIN_KEY_CHARS:
        raise RuntimeError(f"the token key secret holds {len(value)} characters, at least {MIN_KEY_CHARS} are needed")
    return value.encode("utf-8")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def filters_digest(filters: Mapping[str, Any]) -> str:
    """The filters a listing was made with, absent ones (None) left out."""
    present = {name: value for name, value in filters.items() if value is not None}
    return hashlib.blake2b(_canonical(present), digest_size=8).hexdigest()


def _tag(key: bytes, signed: bytes) -> bytes:
    return hmac.digest(key, signed, "sha256")[:TAG_BYTES]


def encode(key: bytes, route: str, filters: Mapping[str, Any], position: Mapping[str, Any]) -> str:
    # UTF-8 rather than \u escapes: a position of non-ASCII text stays about as long as it is.
    body = json.dumps([route, filters_digest(filters), position], separators=(",", ":"), ensure_ascii=False)
    signed = bytes([FORMAT]) + zlib.compress(body.encode("utf-8"), 9)
    token = signed[:1] + _tag(key, signed) + signed[1:]
    return base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, MAX_DECODED_BYTES)
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise ValueError(f"not one complete zlib stream of at most {MAX_DECODED_BYTES} bytes")
    return raw


def _signed_part(token: str, key: bytes) -> bytes:
    """The format byte and compressed body of `token` once its tag is verified; CursorError otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise CursorError(f"it is {len(token)} characters long, a token is at most {MAX_TOKEN_CHARS}")
    if not _BASE64URL.fullmatch(token):
        raise CursorError("it is not a token this API issued (not base64url)")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except binascii.Error:
        raise CursorError("it is not a token this API issued (not base64url: a character is missing)") from None
    if not raw or raw[0] != FORMAT:
        raise CursorError(
            "it is not a token this API issues (an older format, or not a token); start again without next_token"
        )
    if len(raw) <= 1 + TAG_BYTES:
        raise CursorError("it is too short to be a token this API issued (it was cut)")
    signed = raw[:1] + raw[1 + TAG_BYTES :]
    if not hmac.compare_digest(raw[1 : 1 + TAG_BYTES], _tag(key, signed)):
        raise CursorError(
            "its signature does not match: it was cut or edited, or issued by another deployment "
            "or before this API's token key changed; start again without next_token"
        )
    return signed


def decode(
    key: bytes,
    token: str,
    route: str,
    filters: Mapping[str, Any],
    check_position: Callable[[Any], None],
) -> dict[str, Any]:
    """The position inside `token`, checked against `route`, `filters` and `check_position`
    (the lister's ValueError); CursorError saying what is wrong otherwise."""
    signed = _signed_part(token, key)
    try:
        # Strictly UTF-8 (json.loads would guess UTF-16 or UTF-32 from bytes); the content
        # is the API's own once the tag matched, the bounds hold even for a leaked key.
        decoded = json.loads(_inflate(signed[1:]).decode("utf-8"))
    except (ValueError, zlib.error, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise CursorError(f"it is not a token this API issued ({exc})") from None
    if not (isinstance(decoded, list) and len(decoded) == 3 and all(isinstance(part, str) for part in decoded[:2])):
        raise CursorError("it is not a token this API issued (wrong shape)")
    issued_for, digest, position = decoded
    if issued_for != route:
        raise CursorError(f"it was issued by {issued_for[:40]}, not {route}")
    if digest != filters_digest(filters):
        raise CursorError("it was issued for other filters; start again without next_token")
    if not isinstance(position, dict):
        raise CursorError("its position is not an object")
    try:
        check_position(position)
    except ValueError as exc:
        raise CursorError(f"its position is not valid: {exc}") from None
    return position
