"""One environment-driven configuration. Every variable is documented in the README."""
import os
import secrets

MIN_SECRET_BYTES = 32


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to change, in one line."""


def _bool(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _pem(env, name):
    """A key given inline (PEM text) or as the path of a file holding it."""
    value = env.get(name)
    if not value or value.lstrip().startswith("-----BEGIN"):
        return value or None
    try:
        with open(value, encoding="ascii") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not a text file"
        raise ConfigError(f"{name}: cannot read key file {value!r}: {reason}") from None


def _int(env, name, default):
    try:
        return int(env.get(name, default))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {env[name]!r}") from None


def from_env(env=os.environ):
    """Settings read from the environment, with defaults that work for a local run."""
    return {
        "SERVICE_ENV": env.get("SERVICE_ENV", "development"),
        "DATABASE_URL": env.get("DATABASE_URL"),
        "DB_POOL_SIZE": _int(env, "DB_POOL_SIZE", "4"),
        "DB_CONNECT_TIMEOUT": _int(env, "DB_CONNECT_TIMEOUT", "3"),
        "DB_STATEMENT_TIMEOUT_MS": _int(env, "DB_STATEMENT_TIMEOUT_MS", "15000"),
        "DB_STARTUP_OPTIONS": _bool(env.get("DB_STARTUP_OPTIONS", "true")),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY"),
        "JWT_PUBLIC_KEY": _pem(env, "JWT_PUBLIC_KEY"),
        "JWT_PRIVATE_KEY": _pem(env, "JWT_PRIVATE_KEY"),
        "JWT_DECODE_ISSUER": env.get("JWT_ISSUER") or None,
        "JWT_DECODE_AUDIENCE": env.get("JWT_AUDIENCE") or None,
        "JWT_DECODE_LEEWAY": _int(env, "JWT_LEEWAY_SECONDS", "0"),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", str(1024 * 1024)),
        "SERVER_TIMING": _bool(env.get("SERVER_TIMING", "true")),
        "SQL_CACHE": _bool(env.get("SQL_CACHE", "true")),
        "METRICS": _bool(env.get("METRICS", "true")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "info"),
    }


def local_secret(instance_path):
    """A random HS256 secret kept in the instance folder, so that a local run and the
    token-minting command agree without any configuration. Never used in production."""
    path = os.path.join(instance_path, "jwt-secret")
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except FileNotFoundError:
        pass
    os.makedirs(instance_path, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return local_secret(instance_path)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret)
    return secret


def finalize(config, instance_path):
    """Fill derived settings and refuse configurations that cannot work."""
    if not config.get("DATABASE_URL"):
        os.makedirs(instance_path, exist_ok=True)
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "registry.sqlite3")
    if config.get("JWT_PUBLIC_KEY"):
        config["JWT_ALGORITHM"] = "RS256"
    else:
        config["JWT_ALGORITHM"] = "HS256"
        if not config.get("JWT_SECRET_KEY"):
            if config["SERVICE_ENV"] == "production":
                raise ConfigError("JWT_SECRET_KEY (or JWT_PUBLIC_KEY) must be set when SERVICE_ENV=production")
            config["JWT_SECRET_KEY"] = local_secret(instance_path)
        if len(config["JWT_SECRET_KEY"].encode()) < MIN_SECRET_BYTES:  # RFC 7518 §3.2
            raise ConfigError(f"JWT_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes long for HS256")
    config["JWT_DECODE_ALGORITHMS"] = [config["JWT_ALGORITHM"]]
    config["JWT_TOKEN_LOCATION"] = ["headers"]
    config["JWT_IDENTITY_CLAIM"] = "sub"
    if config["MAX_CONTENT_LENGTH"] < 1:
        raise ConfigError("MAX_CONTENT_LENGTH must be a positive number of bytes")
    return config
