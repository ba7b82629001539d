"""JWT verification (contract §4), the namespace scope of a token, and token minting.

A token needs `sub` (string), `exp`, and `namespaces` (a list of namespace slugs, where
"*" means every namespace). Tokens from other issuers work when they carry these claims.
Every failure is a 401 in the error envelope; nothing about a token can cause a 500."""
import re
import time
from datetime import timedelta

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from flask import current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token

from .config import ConfigError
from .errors import APIError

jwt = JWTManager()

ALL = "*"
# Tokens verified by this process, by Authorization header: a caller sends the same token with
# many requests, and its verification (base64, JSON, HMAC or RSA, the claims' checks) was the
# costliest step of a small request. A hit is still refused once the token expires.
VERIFIED_TOKENS = 1024


MIN_RSA_BITS = 2048


def _rsa_key(config, name, load):
    """The RSA key in config[name], or ConfigError: refuse to start with a key that could not
    verify (or sign) any RS256 token, rather than answer every request with a 401."""
    try:
        key = load(config[name].encode())
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{name} is not a PEM {name.split('_')[1].lower()} key: {e}") from None
    if not isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        raise ConfigError(f"{name} must be an RSA key for RS256, not {type(key).__name__}")
    if key.key_size < MIN_RSA_BITS:
        raise ConfigError(f"{name} must be an RSA key of at least {MIN_RSA_BITS} bits, not {key.key_size}")
    return key


def init_app(app):
    if app.config.get("JWT_PUBLIC_KEY"):
        public = _rsa_key(app.config, "JWT_PUBLIC_KEY", load_pem_public_key)
        if app.config.get("JWT_PRIVATE_KEY"):
            private = _rsa_key(app.config, "JWT_PRIVATE_KEY", lambda pem: load_pem_private_key(pem, None))
            if private.public_key().public_numbers() != public.public_numbers():
                raise ConfigError("JWT_PRIVATE_KEY is not the private key of JWT_PUBLIC_KEY")
    jwt.init_app(app)
    app.extensions["verified_tokens"] = {}


def _unauthorized(message):
    return APIError(401, "unauthorized", message)


_INVALID = "the token is invalid"
_TIME_CLAIMS = ("exp", "nbf", "iat")


def _bearer_token():
    """The token of the Authorization header, read as flask-jwt-extended reads it:
    "Bearer <token>", alone or among other comma-separated credentials."""
    header = request.headers.get("Authorization", "").strip().strip(",")
    bearers = [part for part in re.split(r",\s*", header) if part and part.split()[0] == "Bearer"]
    if len(bearers) != 1:
        raise _unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    parts = bearers[0].split()
    if len(parts) != 2:
        raise _unauthorized(_INVALID)
    return parts[1]


def _verified_claims(token):
    """The claims of `token`, verified by one PyJWT decode with the settings flask-jwt-extended
    decodes with (JWT_DECODE_*: algorithm, issuer, audience, leeway; `sub` a string), and its
    checks after (a `sub`; not a refresh token). flask-jwt-extended itself decodes every token
    three times, which made it the costliest step of a small request."""
    config = current_app.config
    key = config["JWT_PUBLIC_KEY"] if config["JWT_ALGORITHM"] == "RS256" else config["JWT_SECRET_KEY"]
    audience = config["JWT_DECODE_AUDIENCE"]
    try:
        claims = pyjwt.decode(token, key, algorithms=config["JWT_DECODE_ALGORITHMS"], audience=audience,
                              issuer=config["JWT_DECODE_ISSUER"], leeway=config["JWT_DECODE_LEEWAY"],
                              options={"verify_sub": True})
    except pyjwt.PyJWTError as e:  # a token with `aud` and no audience configured: InvalidAudienceError
        raise _unauthorized(_reason(e)) from None
    if "sub" not in claims or claims.get("type") == "refresh":
        raise _unauthorized(_INVALID)
    for claim in _TIME_CLAIMS:  # PyJWT takes "1700000000" as a number
        if claim in claims and (type(claims[claim]) not in (int, float)):
            raise _unauthorized(f"the token's {claim} claim must be a number")
    return claims


def authenticate():
    """Verify the bearer token and keep its subject and namespace scope in `g`. A header this
    process has verified before is taken from its cache, as long as the token has not expired."""
    header = request.headers.get("Authorization", "")
    verified = current_app.extensions["verified_tokens"]
    found = verified.get(header)
    if found is None or found[2] <= time.time() - current_app.config["JWT_DECODE_LEEWAY"]:
        found = verified[header] = _identity(_verified_claims(_bearer_token()))
        if len(verified) > VERIFIED_TOKENS:
            verified.pop(next(iter(verified)), None)  # the oldest
    g.subject, g.scope = found[0], found[1]


def _identity(claims):
    """(subject, namespace scope, expiry) of verified claims."""
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _unauthorized("the token has no subject (sub)")
    if "exp" not in claims:
        raise _unauthorized("the token has no expiry (exp)")
    namespaces = claims.get("namespaces")
    if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
        raise _unauthorized("the token's namespaces claim must be a list of namespace slugs")
    return claims["sub"], None if ALL in namespaces else frozenset(namespaces), claims["exp"]


def _reason(e):
    if isinstance(e, pyjwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(e, pyjwt.ImmatureSignatureError):
        return "the token is not valid yet"
    return _INVALID


def scope():
    """The namespace slugs the token may act in, or None for every namespace."""
    return g.scope


def subject():
    """The token's subject: who made the request (createdBy)."""
    return g.subject


def require_all_namespaces():
    if g.scope is not None:
        raise APIError(403, "forbidden", "only a token for every namespace (\"*\") may create a namespace")


def mint_token(subject, namespaces, expires_in=timedelta(hours=1)):
    """A token signed with the service's own configuration (HS256 secret or RS256 private key)."""
    return create_access_token(identity=subject, additional_claims={"namespaces": list(namespaces)},
                               expires_delta=expires_in)
