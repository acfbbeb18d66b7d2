"""Signature Version 4 of a received request, checked as AWS checks it (Authorization header form).

``read`` takes the signature apart and checks its form, scope and time; ``verify`` computes
the signature again with the secret of the access key it names. Errors carry AWS's messages.
Not accepted: the query-string form (presigned URLs) and a ``Date`` header instead of
``X-Amz-Date`` (both refused with the reason).
"""

import datetime
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP = "%Y%m%dT%H%M%SZ"
ALLOWED_SKEW = datetime.timedelta(minutes=5)
REQUIRED_PARAMETERS = ("Credential", "Signature", "SignedHeaders")


class SignatureError(Exception):
    """kind: "missing" (no signature at all), "incomplete" (a part is missing), "invalid"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


@dataclass(frozen=True)
class Signature:
    access_key: str
    scope: str  # date/region/service/aws4_request
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date
    security_token: str | None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def read(headers: list[tuple[str, str]], query: str, service: str, region: str, now: datetime.datetime) -> Signature:
    """The signature of a request to `service` in `region`, checked but for its value."""
    authorization = _header(headers, "authorization")
    if authorization is None:
        if "X-Amz-Signature=" in query:
            raise SignatureError(
                "incomplete",
                "This engine does not accept SigV4 in the query string (presigned URLs): "
                "sign with the Authorization header.",
            )
        raise SignatureError("missing", "Missing Authentication Token")
    algorithm, _, rest = authorization.strip().partition(" ")
    parameters = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if equals:
            parameters[name] = value
    timestamp = _header(headers, "x-amz-date")
    problems = [
        f"Authorization header requires '{name}' parameter." for name in REQUIRED_PARAMETERS if name not in parameters
    ]
    if timestamp is None:
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if _header(headers, "date") is not None:
            problems.append("(This engine reads the time from X-Amz-Date only.)")
    if problems or algorithm != ALGORITHM:
        if algorithm != ALGORITHM and not problems:
            problems.append(f"Unsupported AWS 'algorithm': '{algorithm}'.")
        raise SignatureError("incomplete", " ".join(problems) + f" Authorization={authorization}")

    access_key, _, scope = parameters["Credential"].partition("/")
    scope_parts = scope.split("/")
    if len(scope_parts) != 4 or scope_parts[3] != "aws4_request":
        raise SignatureError(
            "invalid", f"Credential should be scoped with a valid terminator: 'aws4_request', not '{scope_parts[-1]}'. "
        )
    scope_date, scope_region, scope_service, _ = scope_parts
    if scope_region != region:
        raise SignatureError("invalid", f"Credential should be scoped to a valid region, not '{scope_region}'. ")
    if scope_service != service:
        raise SignatureError("invalid", f"Credential should be scoped to correct service: '{service}'. ")
    try:
        signed_at = datetime.datetime.strptime(timestamp, TIMESTAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise SignatureError(
            "incomplete",
            f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'. See http://en.wikipedia.org/wiki/ISO_8601",
        ) from None
    if scope_date != timestamp[:8]:
        raise SignatureError(
            "invalid",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{timestamp[:8]}', from '{timestamp}'.",
        )
    if signed_at < now - ALLOWED_SKEW:
        raise SignatureError(
            "invalid",
            f"Signature expired: {timestamp} is now earlier than {(now - ALLOWED_SKEW).strftime(TIMESTAMP)} "
            f"({now.strftime(TIMESTAMP)} - 5 min.)",
        )
    if signed_at > now + ALLOWED_SKEW:
        raise SignatureError(
            "invalid",
            f"Signature not yet current: {timestamp} is still later than {(now + ALLOWED_SKEW).strftime(TIMESTAMP)} "
            f"({now.strftime(TIMESTAMP)} + 5 min.)",
        )
    signed_headers = tuple(parameters["SignedHeaders"].split(";"))
    if "host" not in signed_headers:
        raise SignatureError("invalid", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return Signature(
        access_key=access_key,
        scope=scope,
        signed_headers=signed_headers,
        signature=parameters["Signature"],
        timestamp=timestamp,
        security_token=_header(headers, "x-amz-security-token"),
    )


def canonical_request(
    method: str, raw_path: str, query: str, headers: list[tuple[str, str]], signed_headers: tuple[str, ...], body: bytes
) -> str:
    # The path as sent (percent-encoded), dot segments removed and encoded once more, and the
    # query's pairs sorted as sent: what botocore signs for every service but S3.
    path = quote(normalize_url_path(raw_path), safe="/~")
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&")) if query else []
    canonical_query = "&".join(f"{key}={value}" for key, value in pairs)
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    canonical_headers = "".join(f"{name}:{','.join(values.get(name, []))}\n" for name in sorted(signed_headers))
    return "\n".join(
        [
            method.upper(),
            path,
            canonical_query,
            canonical_headers,
            ";".join(sorted(signed_headers)),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def verify(signature: Signature, secret: str, method: str, raw_path: str, query: str, headers, body: bytes) -> None:
    canonical = canonical_request(method, raw_path, query, headers, signature.signed_headers, body)
    string_to_sign = "\n".join(
        [ALGORITHM, signature.timestamp, signature.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in signature.scope.split("/"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.signature):
        raise SignatureError(
            "invalid",
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.\n\n"
            f"The Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )
