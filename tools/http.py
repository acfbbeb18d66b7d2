"""Plain HTTP calls to the deployed API, as a browser or curl would make them.

The API's write methods may need a credential (Terraform variable api_auth). call() sends
the one the environment names, set from the stack's outputs by use_credentials_of():
ROXS_API_KEY (api_auth = "api_key": sent as x-api-key) or ROXS_API_SIGN (api_auth = "iam":
requests signed with SigV4 and the default AWS credentials). Environment variables, so a
shell (`export ROXS_API_KEY=$(terraform output -raw api_key)`) and a test session agree.
"""

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

API_KEY_ENV = "ROXS_API_KEY"
SIGN_ENV = "ROXS_API_SIGN"


@dataclass
class Reply:
    status: int
    headers: dict
    body: object  # parsed JSON when the answer is JSON, else text


def use_credentials_of(outputs) -> None:
    """Make call() authenticate as the deployed stack requires (outputs api_auth, api_key)."""
    os.environ.pop(API_KEY_ENV, None)
    os.environ.pop(SIGN_ENV, None)
    mode = outputs.raw.get("api_auth", "none")
    if mode == "api_key":
        os.environ[API_KEY_ENV] = outputs["api_key"]
    elif mode == "iam":
        os.environ[SIGN_ENV] = "1"


def signed_headers(method: str, url: str, data: bytes | None, headers: dict) -> dict:
    """headers plus SigV4 (service execute-api) for the default credentials and region."""
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError(f"{SIGN_ENV} is set but no AWS credentials are configured to sign with")
    request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", session.region_name or "us-east-1").add_auth(request)
    return dict(request.headers.items())


def call(
    base_url: str, method: str, path: str, body=None, raw: bytes | None = None, headers=None, authenticate: bool = True
) -> Reply:
    """One request; authenticate=False sends it without the environment's credential."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    url = base_url + path
    headers = {"Content-Type": "application/json", **(headers or {})}
    if authenticate and os.environ.get(API_KEY_ENV):
        headers.setdefault("x-api-key", os.environ[API_KEY_ENV])
    if authenticate and os.environ.get(SIGN_ENV):
        headers = signed_headers(method, url, data, headers)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, reply_headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, payload = error.code, dict(error.headers), error.read()
    text = payload.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return Reply(status, {key.lower(): value for key, value in reply_headers.items()}, parsed)
