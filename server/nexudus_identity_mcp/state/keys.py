"""The server's key: NEXUDUS_MCP_SECRET, or a key file kept beside the SQLite state (made once,
atomically, readable by its owner only; a short one refused). Sign-in (the staff members' Nexudus
tokens) and the journal (the values a write changed) each derive their own encryption key from it,
so a copy of the state store without the key holds neither a token nor an identity-document number."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from ..settings import Settings

# Named for its first user (sign-in); the journal reads the same file, so there is one key to keep.
KEY_FILE = "signin.key"


MIN_KEY_LENGTH = 32


class KeyFileError(ValueError):
    """The key file is empty or too short; the message names it and what to do."""


def key_file_secret(folder: str | Path) -> str:
    """The secret in `folder`'s key file, made on first use, atomically: written in full to a private
    temporary file, then linked into place (a link never replaces a file), so concurrent first
    starts agree on one key and none reads a half-written one. The folder is 0700, the file 0600.
    An empty or short key is refused (KeyFileError), never used."""
    from .sqlite_store import private_folder

    path = private_folder(Path(folder))
    key_file = path / KEY_FILE
    if not key_file.exists():
        draft = path / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(draft, key_file)
            except FileExistsError:
                pass  # another process's key came first: use it
        finally:
            draft.unlink(missing_ok=True)
    key = key_file.read_text().strip()
    if len(key) < MIN_KEY_LENGTH:
        state = "no key" if not key else f"a key shorter than {MIN_KEY_LENGTH} characters"
        raise KeyFileError(
            f"{key_file} holds {state}: restore it from a backup, or delete it to make a new one (every "
            "signed-in session and the journal's stored values are then lost), or set NEXUDUS_MCP_SECRET"
        )
    return key


def server_secret(settings: Settings) -> str | None:
    """NEXUDUS_MCP_SECRET; else, with SQLite state, the key file beside it; else (Redis without a
    secret: each host would make its own) None."""
    if settings.mcp_secret is not None and settings.mcp_secret.get_secret_value():
        return settings.mcp_secret.get_secret_value()
    if settings.mcp_redis_url is None and settings.mcp_state_dir:
        return key_file_secret(settings.mcp_state_dir)
    return None


def fernet_for(secret: str, purpose: str) -> Fernet:
    """A Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from `secret` for one `purpose`."""
    key = hashlib.sha256(f"nexudus-identity-mcp/{purpose}/v1\0".encode() + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))
