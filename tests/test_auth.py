"""Tokens (contract §4): what is accepted, and that every other token is a 401 in the
error envelope, whatever the key configuration."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.auth import mint_token
from service.config import ConfigError
from tests.conftest import database_url
from tests.support.api import error_code
from tests.support.live import ROOT

HS_SECRET = "an-hs256-secret-" + "s" * 48  # 64 bytes: long enough for HS512 too
KEY_VARIABLES = ("JWT_SECRET_KEY", "JWT_PUBLIC_KEY", "JWT_PRIVATE_KEY", "JWT_ISSUER", "JWT_AUDIENCE")


def _private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def rsa_keys():
    """(private PEM, public PEM) of the service, and the private PEM of a stranger."""
    ours, theirs = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    return _private_pem(ours), _public_pem(ours), _private_pem(theirs)


def claims(**changes):
    """The claims a token needs, changed by `changes` (None removes a claim)."""
    base = {"sub": "alice", "exp": int(time.time()) + 3600, "namespaces": ["*"]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, payload, key=b""):
    """A token built by hand: HMAC-SHA256 over header.payload with `key` (empty: no signature)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{_b64(signature)}"


def hs(payload, secret=HS_SECRET, alg="HS256"):
    return pyjwt.encode(payload, secret, alg)


@pytest.fixture
def make_app(make_app, monkeypatch):
    """make_app(env={...}, **config): the service with this environment (no key variables
    but those given), on either database."""
    def make(env=None, **config):
        for name in KEY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return make_app(secret=None, **config)
    return make


@pytest.fixture
def hs_app(make_app):
    return make_app(JWT_SECRET_KEY=HS_SECRET)


@pytest.fixture
def rs_app(make_app, rsa_keys):
    """RS256 configured; an HS256 secret is configured too, and must not be honoured."""
    private, public, _ = rsa_keys
    return make_app(JWT_PUBLIC_KEY=public, JWT_PRIVATE_KEY=private, JWT_SECRET_KEY=HS_SECRET)


def call(app, token=None, method="GET", path="/namespaces", headers=None, **kwargs):
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().open(path, method=method, headers=headers, **kwargs)


def assert_unauthorized(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert error_code(response) == "unauthorized"
    assert response.get_json()["error"]["message"]


# -- accepted -------------------------------------------------------------------------------

def test_token_minted_by_the_service_is_accepted(hs_app):
    with hs_app.app_context():
        token = mint_token("alice", ["*"])
    assert call(hs_app, token).status_code == 200


def test_token_of_another_issuer_with_only_sub_exp_and_namespaces_is_accepted(hs_app):
    token = hs({"sub": "svc-ingest", "exp": int(time.time()) + 60, "namespaces": ["*"]})
    response = call(hs_app, token)
    assert response.status_code == 200, response.get_json()


def test_a_list_of_namespaces_scopes_the_token_and_star_means_every_one(hs_app):
    admin = hs(claims(namespaces=["*"]))
    for slug in ("acme", "globex", "initech"):
        assert call(hs_app, admin, "POST", json={"slug": slug}).status_code == 201

    def visible(token):
        return [n["slug"] for n in call(hs_app, token).get_json()["namespaces"]]

    assert visible(admin) == ["acme", "globex", "initech"]
    assert visible(hs(claims(namespaces=["acme", "initech", "nowhere"]))) == ["acme", "initech"]
    assert visible(hs(claims(namespaces=[]))) == []
    limited = hs(claims(namespaces=["acme"]))
    assert call(hs_app, limited, path="/namespaces/acme").status_code == 200
    assert call(hs_app, limited, path="/namespaces/globex").status_code == 404
    response = call(hs_app, limited, "POST", json={"slug": "umbrella"})
    assert (response.status_code, error_code(response)) == (403, "forbidden")


# -- rejected -------------------------------------------------------------------------------

def _bearer(make_token):
    return lambda: {"Authorization": "Bearer " + make_token()}


REJECTED = {
    "no Authorization header": lambda: {},
    "no Bearer scheme": lambda: {"Authorization": hs(claims())},
    "another scheme": lambda: {"Authorization": "Token " + hs(claims())},
    "Basic credentials": lambda: {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()},
    "Bearer and nothing": lambda: {"Authorization": "Bearer "},
    "two tokens": lambda: {"Authorization": f"Bearer {hs(claims())} {hs(claims())}"},
    "garbage": lambda: {"Authorization": "Bearer garbage"},
    "three empty segments": lambda: {"Authorization": "Bearer .."},
    "segments that are not base64": lambda: {"Authorization": "Bearer a!.b!.c!"},
    "non-ASCII token": lambda: {"Authorization": "Bearer é.é.é"},
    "header that is not JSON": lambda: {"Authorization": f"Bearer {_b64(b'{not json')}.{_b64(b'{}')}.x"},
    "payload that is a list": _bearer(lambda: forge({"alg": "HS256", "typ": "JWT"}, [1, 2],
                                                    HS_SECRET.encode())),
    "alg none": _bearer(lambda: forge({"alg": "none", "typ": "JWT"}, claims())),
    "alg None": _bearer(lambda: forge({"alg": "None"}, claims())),
    "alg NONE with a signature": _bearer(lambda: forge({"alg": "NONE"}, claims(), HS_SECRET.encode())),
    "alg as a list": _bearer(lambda: forge({"alg": ["HS256"]}, claims(), HS_SECRET.encode())),
    "HS384 with the right secret": _bearer(lambda: hs(claims(), alg="HS384")),
    "HS512 with the right secret": _bearer(lambda: hs(claims(), alg="HS512")),
    "wrong secret": _bearer(lambda: hs(claims(), secret="another-secret-" + "t" * 48)),
    "signature stripped": _bearer(lambda: hs(claims()).rsplit(".", 1)[0] + "."),
    "payload swapped under a valid signature": _bearer(
        lambda: ".".join([hs(claims()).split(".")[0], _b64(json.dumps(claims(sub="mallory")).encode()),
                          hs(claims()).split(".")[2]])),
    "expired": _bearer(lambda: hs(claims(exp=int(time.time()) - 5))),
    "nbf in the future": _bearer(lambda: hs(claims(nbf=int(time.time()) + 600))),
    "iat in the future": _bearer(lambda: hs(claims(iat=int(time.time()) + 600))),
    "no exp": _bearer(lambda: hs(claims(exp=None))),
    "exp not a number": _bearer(lambda: hs(claims(exp="tomorrow"))),
    "exp a numeric string": _bearer(lambda: hs(claims(exp=str(int(time.time()) + 600)))),
    "exp a boolean": _bearer(lambda: forge({"alg": "HS256"}, {**claims(), "exp": True}, HS_SECRET.encode())),
    "nbf a numeric string": _bearer(lambda: hs(claims(nbf=str(int(time.time()) - 60)))),
    "iat a numeric string": _bearer(lambda: hs(claims(iat=str(int(time.time()) - 60)))),
    "aud of another service, no audience configured": _bearer(lambda: hs(claims(aud="other-service"))),
    "aud a list, no audience configured": _bearer(lambda: hs(claims(aud=["registry"]))),
    "exp infinite": _bearer(lambda: forge({"alg": "HS256"}, {**claims(), "exp": 1e400}, HS_SECRET.encode())),
    "missing sub": _bearer(lambda: hs(claims(sub=None))),
    "empty sub": _bearer(lambda: hs(claims(sub=""))),
    "sub not a string": _bearer(lambda: hs(claims(sub=42))),
    "no namespaces": _bearer(lambda: hs(claims(namespaces=None))),
    "namespaces a string": _bearer(lambda: hs(claims(namespaces="acme"))),
    "namespaces the string *": _bearer(lambda: hs(claims(namespaces="*"))),
    "namespaces an object": _bearer(lambda: hs(claims(namespaces={"acme": True}))),
    "namespaces with a number": _bearer(lambda: hs(claims(namespaces=["acme", 7]))),
    "refresh token": _bearer(lambda: hs(claims(type="refresh"))),
}


@pytest.mark.parametrize("make_headers", REJECTED.values(), ids=REJECTED.keys())
def test_bad_token_is_a_401_and_writes_nothing(hs_app, make_headers):
    assert_unauthorized(call(hs_app, headers=make_headers()))
    assert_unauthorized(call(hs_app, method="POST", headers=make_headers(), json={"slug": "acme"}))
    assert call(hs_app, hs(claims())).get_json()["total"] == 0


@pytest.mark.parametrize("place", ["query string", "cookie"])
def test_token_outside_the_authorization_header_is_not_read(hs_app, place):
    token = hs(claims())
    client = hs_app.test_client()
    if place == "cookie":
        for name in ("access_token_cookie", "access_token", "jwt"):
            client.set_cookie(name, token)
        response = client.get("/namespaces")
    else:
        response = client.get(f"/namespaces?jwt={token}&access_token={token}&token={token}")
    assert_unauthorized(response)


# -- RS256 ----------------------------------------------------------------------------------

def test_rs256_configured_accepts_rs256_tokens_signed_with_the_private_key(rs_app, rsa_keys):
    private, _, _ = rsa_keys
    token = pyjwt.encode(claims(), private, "RS256")
    assert call(rs_app, token).status_code == 200


def _rs256_rejected(private, public, stranger):
    return {
        "HS256 with the configured secret": hs(claims()),
        "HS256 keyed with the public key PEM": forge({"alg": "HS256", "typ": "JWT"}, claims(), public.encode()),
        "HS256 keyed with the public key, no typ": forge({"alg": "HS256"}, claims(), public.encode().strip()),
        "RS256 signed by another key": pyjwt.encode(claims(), stranger, "RS256"),
        "RS512 signed by the right key": pyjwt.encode(claims(), private, "RS512"),
        "PS256 signed by the right key": pyjwt.encode(claims(), private, "PS256"),
        "alg none": forge({"alg": "none"}, claims()),
        "expired RS256": pyjwt.encode(claims(exp=int(time.time()) - 5), private, "RS256"),
        "RS256 with namespaces a string": pyjwt.encode(claims(namespaces="acme"), private, "RS256"),
    }


def test_rs256_configured_refuses_every_other_algorithm_and_key(rs_app, rsa_keys):
    for case, token in _rs256_rejected(*rsa_keys).items():
        response = call(rs_app, token)
        assert response.status_code == 401, (case, response.get_json())
        assert error_code(response) == "unauthorized", case


def test_hs256_configured_refuses_rs256_tokens(hs_app, rsa_keys):
    private, _, _ = rsa_keys
    assert_unauthorized(call(hs_app, pyjwt.encode(claims(), private, "RS256")))


def test_public_key_can_be_given_as_a_file_path(make_app, rsa_keys, tmp_path):
    private, public, _ = rsa_keys
    path = tmp_path / "public.pem"
    path.write_text(public)
    app = make_app(env={"JWT_PUBLIC_KEY": str(path)})
    assert call(app, pyjwt.encode(claims(), private, "RS256")).status_code == 200
    assert_unauthorized(call(app, hs(claims())))


def _misconfigured_keys(tmp_path):
    """case: (the variable the error must name, the environment)."""
    def key(size=2048):
        return rsa.generate_private_key(public_exponent=65537, key_size=size)

    public = _public_pem(key())
    return {
        "not a key": ("JWT_PUBLIC_KEY", {
            "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"}),
        "truncated PEM": ("JWT_PUBLIC_KEY", {"JWT_PUBLIC_KEY": public[: len(public) // 2]}),
        "a private key": ("JWT_PUBLIC_KEY", {"JWT_PUBLIC_KEY": _private_pem(key())}),
        "an EC key for RS256": ("JWT_PUBLIC_KEY", {
            "JWT_PUBLIC_KEY": _public_pem(ec.generate_private_key(ec.SECP256R1()))}),
        "an RSA key of 1024 bits": ("JWT_PUBLIC_KEY", {"JWT_PUBLIC_KEY": _public_pem(key(1024))}),
        "a file that does not exist": ("JWT_PUBLIC_KEY", {"JWT_PUBLIC_KEY": str(tmp_path / "missing.pem")}),
        "a private key of another pair": ("JWT_PRIVATE_KEY", {"JWT_PUBLIC_KEY": public,
                                                              "JWT_PRIVATE_KEY": _private_pem(key())}),
        "a private key that is not one": ("JWT_PRIVATE_KEY", {"JWT_PUBLIC_KEY": public,
                                                              "JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"}),
        "an HS256 secret shorter than 32 bytes": ("JWT_SECRET_KEY", {"JWT_SECRET_KEY": "too-short"}),
    }


def test_misconfigured_key_refuses_to_start_with_a_one_line_error(make_app, tmp_path):
    for case, (variable, env) in _misconfigured_keys(tmp_path).items():
        with pytest.raises(ConfigError) as refused:
            make_app(env=env)
        message = str(refused.value)
        assert "\n" not in message and variable in message, (case, message)


def test_issuer_and_audience_are_checked_when_configured(make_app):
    app = make_app(env={"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "registry"},
                   JWT_SECRET_KEY=HS_SECRET)
    good = {"iss": "https://idp.example", "aud": "registry"}
    assert call(app, hs(claims(**good))).status_code == 200
    assert call(app, hs(claims(**{**good, "aud": ["other", "registry"]}))).status_code == 200
    for case in ({"iss": None}, {"iss": "https://evil.example"}, {"aud": None}, {"aud": "other"},
                 {"aud": 12}, {"iss": ["https://idp.example"]}):
        assert_unauthorized(call(app, forge({"alg": "HS256"}, claims(**{**good, **case}), HS_SECRET.encode())))


# -- the mint-token command -----------------------------------------------------------------

def mint(env, *args):
    """`flask --app wsgi mint-token ...` with `env`: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "mint-token", *args],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout.strip(), done.stderr.strip()


def test_mint_token_command_makes_a_token_the_service_accepts(make_app, request, backend, tmp_path):
    app = make_app(JWT_SECRET_KEY=HS_SECRET)
    env = {"DATABASE_URL": database_url(request, backend, tmp_path), "JWT_SECRET_KEY": HS_SECRET}
    code, token, err = mint(env, "bob", "-n", "acme", "-n", "globex", "--expires-in", "120")
    assert code == 0, err
    payload = pyjwt.decode(token, HS_SECRET, algorithms=["HS256"])
    assert payload["sub"] == "bob" and payload["namespaces"] == ["acme", "globex"]
    assert 0 < payload["exp"] - time.time() <= 120
    assert call(app, token).status_code == 200
    assert call(app, token, "POST", json={"slug": "acme"}).status_code == 403


def test_mint_token_command_signs_rs256_with_the_private_key(make_app, rsa_keys, request, backend, tmp_path):
    private, public, _ = rsa_keys
    app = make_app(JWT_PUBLIC_KEY=public)
    env = {"DATABASE_URL": database_url(request, backend, tmp_path), "JWT_PUBLIC_KEY": public}
    code, _, err = mint(env, "bob", "-n", "*")
    assert code != 0 and "JWT_PRIVATE_KEY" in err.splitlines()[-1]
    code, token, err = mint({**env, "JWT_PRIVATE_KEY": private}, "bob", "-n", "*")
    assert code == 0, err
    assert pyjwt.get_unverified_header(token)["alg"] == "RS256"
    assert call(app, token).status_code == 200
