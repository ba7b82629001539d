"""JWT verification (contract §4), the namespace scope of a token, and token minting.

A token needs `sub` (string), `exp`, and `namespaces` (a list of namespace slugs, where
"*" means every namespace). Tokens from other issuers work when they carry these claims.
Every failure is a 401 in the error envelope; nothing about a token can cause a 500."""
from datetime import timedelta

import jwt as pyjwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import g
from flask_jwt_extended import JWTManager, create_access_token, get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException, NoAuthorizationError

from .config import ConfigError
from .errors import APIError

jwt = JWTManager()

ALL = "*"


def init_app(app):
    if app.config.get("JWT_PUBLIC_KEY"):
        try:  # refuse to start with a key that cannot verify anything
            load_pem_public_key(app.config["JWT_PUBLIC_KEY"].encode())
        except ValueError as e:
            raise ConfigError(f"JWT_PUBLIC_KEY is not a PEM public key: {e}") from None
    jwt.init_app(app)


def _unauthorized(message):
    return APIError(401, "unauthorized", message)


def authenticate():
    """Verify the bearer token and keep its subject and namespace scope in `g`."""
    try:
        verify_jwt_in_request()
    except (JWTExtendedException, pyjwt.PyJWTError) as e:
        raise _unauthorized(_reason(e)) from None
    claims = get_jwt()
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _unauthorized("the token has no subject (sub)")
    if "exp" not in claims:
        raise _unauthorized("the token has no expiry (exp)")
    namespaces = claims.get("namespaces")
    if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
        raise _unauthorized("the token's namespaces claim must be a list of namespace slugs")
    g.subject = claims["sub"]
    g.scope = None if ALL in namespaces else frozenset(namespaces)


def _reason(e):
    if isinstance(e, pyjwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(e, pyjwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(e, NoAuthorizationError):
        return "a bearer token is required (Authorization: Bearer <token>)"
    return "the token is invalid"


def scope():
    """The namespace slugs the token may act in, or None for every namespace."""
    return g.scope


def require_all_namespaces():
    if g.scope is not None:
        raise APIError(403, "forbidden", "only a token for every namespace (\"*\") may create a namespace")


def mint_token(subject, namespaces, expires_in=timedelta(hours=1)):
    """A token signed with the service's own configuration (HS256 secret or RS256 private key)."""
    return create_access_token(identity=subject, additional_claims={"namespaces": list(namespaces)},
                               expires_delta=expires_in)
