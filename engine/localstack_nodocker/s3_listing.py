"""S3 listings asked for ``EncodingType=url`` page by key, as S3 does.

LocalStack 4.8's ListObjects, ListObjectsV2 and ListObjectVersions, when asked for
``EncodingType=url`` (botocore always asks), URL-encode each key first and then compare the
encoded key with the caller's raw ``Marker`` / ``StartAfter`` / ``ContinuationToken`` /
``KeyMarker``. So the key ``100%.png`` (encoded ``100%25.png``) sorts after a StartAfter of
``100%.png`` and comes back on every page; a StartAfter of the key ``a%2Bb.png`` skips the
key ``a+b.png`` (encoded ``a%2Bb.png``); a key holding a control character comes back
again after itself. The markers it echoes are not encoded either, so a StartAfter holding
NUL makes an answer no XML parser reads.

S3: a marker is a key, compared with the keys in UTF-8 binary order; the encoding applies
to the answer only (Prefix, Delimiter, Marker, NextMarker, StartAfter, KeyMarker,
NextKeyMarker, keys and common prefixes). Here each listing runs unencoded, which
LocalStack gets right, and its answer is encoded afterwards with LocalStack's own encoding.

LocalStack 2026.3.0 makes a ListObjectsV2 continuation token of the key's UTF-8 bytes and
reads it back as ASCII (localstack#13746): the page after one that ends before a key past
ASCII (``é.png``) failed with 500. The token is read back as UTF-8 here, and a token that
is not one of its own is refused as S3 refuses it (400 InvalidArgument).
"""

import base64
import binascii
from urllib.parse import quote

from localstack.aws.api.s3 import InvalidArgument
from localstack.runtime import hooks

from localstack_nodocker import seam

# operation -> (top-level fields of the answer, (list, field) pairs): what S3 encodes.
ENCODED_FIELDS = {
    "list_objects": (
        ("Prefix", "Delimiter", "Marker", "NextMarker"),
        (("Contents", "Key"), ("CommonPrefixes", "Prefix")),
    ),
    "list_objects_v2": (
        ("Prefix", "Delimiter", "StartAfter"),
        (("Contents", "Key"), ("CommonPrefixes", "Prefix")),
    ),
    "list_object_versions": (
        ("Prefix", "Delimiter", "KeyMarker", "NextKeyMarker"),
        (("Versions", "Key"), ("DeleteMarkers", "Key"), ("CommonPrefixes", "Prefix")),
    ),
}


def encode_answer(answer: dict, operation: str) -> dict:
    """`answer` (a listing made without encoding) with its keys URL-encoded, as S3 sends them."""
    top_level, nested = ENCODED_FIELDS[operation]
    for field in top_level:
        if answer.get(field):
            answer[field] = quote(answer[field])
    for entries, field in nested:
        for entry in answer.get(entries, []):
            entry[field] = quote(entry[field])
    answer["EncodingType"] = "url"
    return answer


def _listing_encoded_after(operation: str, list_unencoded):
    def listing(self, context, **request):
        encoding_type = request.pop("encoding_type", None)
        answer = list_unencoded(self, context, **request)
        return encode_answer(answer, operation) if encoding_type else answer

    listing.__name__ = operation
    return listing


def decode_continuation_token(value: str | None) -> str:
    """The key a continuation token names (LocalStack's encode_continuation_token, reversed)."""
    if value is None:
        return ""
    try:
        return base64.b64decode(value, altchars=b"._", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidArgument(
            "The continuation token provided is incorrect", ArgumentName="continuation-token", ArgumentValue=value
        ) from None


@hooks.on_infra_start()
def page_s3_listings_by_key() -> None:
    """Before the S3 provider is loaded (its dispatch table binds the methods found then)."""
    for operation in ENCODED_FIELDS:
        # through the seam: a moved method or a renamed parameter stops the start, where a
        # silent no-op would bring the repeated and skipped keys back
        target = seam.S3_LISTING_OPERATIONS[operation]
        seam.replace(target, _listing_encoded_after(operation, seam.original(target)))
    seam.replace(seam.S3_CONTINUATION_TOKEN, decode_continuation_token)
