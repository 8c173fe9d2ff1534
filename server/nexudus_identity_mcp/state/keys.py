"""The server's key: NEXUDUS_MCP_SECRET, or a key file kept beside the SQLite state (made once,
readable by its owner only). Sign-in (the staff members' Nexudus tokens) and the journal (the values
a write changed) each derive their own encryption key from it, so a copy of the state store without
the key holds neither a token nor an identity-document number."""

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


def key_file_secret(folder: str | Path) -> str:
    """The secret in `folder`'s key file, made on first use (0600: its owner only)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    key_file = path / KEY_FILE
    if not key_file.exists():
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32))
    return key_file.read_text().strip()


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
