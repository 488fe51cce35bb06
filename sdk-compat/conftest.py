"""Fixtures that point Microsoft's unmodified Dataverse Python SDK at a running leadbridge emulator.

The runner (run.sh) starts `leadbridge emulator`, then exports LEADBRIDGE_EMULATOR_JSON (the
emulator.json it writes) and REQUESTS_CA_BUNDLE (the emulator's CA). The only thing added to the SDK
is a credential that fetches a real client-credentials token from the emulator's Entra endpoint.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pytest
import requests
from azure.core.credentials import AccessToken

from PowerPlatform.Dataverse.client import DataverseClient


@dataclass(frozen=True)
class Emulator:
    org_url: str
    authority_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_cert: str

    @property
    def token_url(self) -> str:
        return f"{self.authority_url.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def api(self) -> str:
        return f"{self.org_url.rstrip('/')}/api/data/v9.2"


def load_emulator() -> Emulator:
    path = os.environ.get("LEADBRIDGE_EMULATOR_JSON")
    if not path:
        raise RuntimeError(
            "LEADBRIDGE_EMULATOR_JSON is not set; run sdk-compat/run.sh, or point it at the "
            "emulator.json written by `leadbridge emulator --state-dir DIR`"
        )
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    missing = [k for k in ("org_url", "authority_url", "tenant_id", "client_id", "client_secret", "ca_cert") if not raw.get(k)]
    if missing:
        raise RuntimeError(f"{path} lacks {', '.join(missing)}")
    return Emulator(
        org_url=raw["org_url"],
        authority_url=raw["authority_url"],
        tenant_id=raw["tenant_id"],
        client_id=raw["client_id"],
        client_secret=raw["client_secret"],
        ca_cert=raw["ca_cert"],
    )


class EmulatorCredential:
    """An `azure.core.credentials.TokenCredential` doing the client-credentials grant against the
    emulator's token endpoint with plain `requests`. The SDK asks for a token before every request
    and keeps no cache itself (WIRE.md section 1), so tokens are cached here until shortly before
    they expire, like azure-identity's credentials do."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._lock = threading.Lock()
        self._cache: dict[str, AccessToken] = {}
        self.requested_scopes: List[str] = []
        self.token_requests = 0

    def get_token(self, *scopes: str, claims=None, tenant_id=None, enable_cae=False, **kwargs) -> AccessToken:
        if not scopes:
            raise ValueError("at least one scope is required")
        scope = " ".join(scopes)
        with self._lock:
            self.requested_scopes.append(scope)
            cached = self._cache.get(scope)
            if cached is not None and cached.expires_on - 60 > time.time():
                return cached
            token = self._fetch(scope)
            self._cache[scope] = token
            return token

    def _fetch(self, scope: str) -> AccessToken:
        self.token_requests += 1
        resp = requests.post(
            self._emulator.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._emulator.client_id,
                "client_secret": self._emulator.client_secret,
                "scope": scope,
            },
            timeout=30,
        )
        if resp.status_code != 200:
            raise RuntimeError(f"token endpoint answered {resp.status_code}: {resp.text[:500]}")
        body = resp.json()
        if body.get("token_type") != "Bearer" or not body.get("access_token"):
            raise RuntimeError(f"unexpected token response: {body!r}")
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))


@pytest.fixture(scope="session")
def emulator() -> Emulator:
    emu = load_emulator()
    # run.sh exports REQUESTS_CA_BUNDLE; this only helps when pytest is started by hand.
    os.environ.setdefault("REQUESTS_CA_BUNDLE", emu.ca_cert)
    return emu


@pytest.fixture(scope="session")
def credential(emulator: Emulator) -> EmulatorCredential:
    return EmulatorCredential(emulator)


@pytest.fixture(scope="session")
def client(emulator: Emulator, credential: EmulatorCredential) -> Iterator[DataverseClient]:
    with DataverseClient(emulator.org_url, credential) as c:
        yield c


@pytest.fixture
def fresh_client(emulator: Emulator, credential: EmulatorCredential) -> Iterator[DataverseClient]:
    """A client with empty metadata caches, for checks that must not see cached table names."""
    with DataverseClient(emulator.org_url, credential) as c:
        yield c


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def uniq(run_id: str):
    """Returns a function giving run-unique strings, so tests never see each other's rows."""

    def make(prefix: str) -> str:
        return f"{prefix}-{run_id}-{uuid.uuid4().hex[:6]}"

    return make
