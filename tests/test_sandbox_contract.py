"""The sandbox held to the API reference page and docs/development.md ("What is known of the Nexudus API"):
envelopes, required fields, enums, auth, full replace, throttling and fault injection. Literals here are
copied from the page on purpose: they are the independent source the field table and the sandbox must agree
with."""

from __future__ import annotations

import base64
import copy
from typing import Any

import httpx2
import pytest

from nexudus_identity_mcp.record import enums, fields
from nexudus_identity_mcp.sandbox import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    SANDBOX_TOKEN,
    VIEWER_PASSWORD,
    VIEWER_USER,
    Fault,
    Sandbox,
)
from nexudus_identity_mcp.sandbox.data import BUSINESSES, COWORKERS

pytestmark = pytest.mark.anyio
PATH = "/api/spaces/coworkeridentitychecks"
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}

# From the reference page ("Required Fields" and "Optional Fields").
PAGE_REQUIRED = [
    "Id",
    "BusinessId",
    "CoworkerId",
    "Name",
    "IdentityCheckProvider",
    "IdentityDocumentType",
    "AddressDocumentType",
]
PAGE_OPTIONAL = [
    "IdentityDocumentNumber",
    "IdentityDocumentIssuedBy",
    "IdentityDocumentExpirationDate",
    "Description",
    "Billed",
    "StripeVerificationSessionId",
    "IdentityCheckProvider1",
    "VerificationType1",
    "Description1",
    "IdentityCheckProvider2",
    "VerificationType2",
    "Description2",
]
# From the reference page's "Enums" tables, in order.
PAGE_ENUMS = {
    "IdentityCheckProvider": {0: "None", 1: "Manual", 2: "StripeIdentity"},
    "IdentityDocumentType": {
        0: "None",
        1: "Passport",
        2: "DriversLicense",
        3: "IdCard",
        4: "UniformedServiceId",
        5: "CertificateOfNaturalization",
        6: "AccessCard",
        7: "MatriculaConsular",
        8: "ResidentCard",
        9: "UniversityId",
        10: "NEXUSCard",
        99: "Other",
    },
    "AddressDocumentType": {
        0: "None",
        1: "Passport",
        2: "DriversLicense",
        3: "IdCard",
        4: "LeaseRentalAgreement",
        5: "InsurancePolicy",
        6: "Mortgage",
        7: "VehicleRegistrationCard",
        8: "VoterCard",
        99: "Other",
    },
    "VerificationType": {0: "None", 1: "IdDocument", 2: "Address"},
    "VerificationStatus": {0: "None", 1: "Pending", 2: "Submitted", 3: "Successful", 4: "Failed", 5: "Cancelled"},
}
# The page's example success response, keys in order.
PAGE_SUCCESS_KEYS = [
    "Status",
    "Message",
    "Value",
    "OpenInDialog",
    "OpenInWindow",
    "RedirectURL",
    "JavaScript",
    "UpdatedOn",
    "UpdatedBy",
    "Errors",
    "WasSuccessful",
]


@pytest.fixture
async def http(sandbox: Sandbox):  # type: ignore[no-untyped-def]
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://127.0.0.1") as client:
        yield client


def put_body(record: dict[str, Any]) -> dict[str, Any]:
    return {f.name: record.get(f.name) for f in fields.SENT_FIELDS}


async def current(http: httpx2.AsyncClient, check_id: int = 87654301) -> dict[str, Any]:
    response = await http.get(f"{PATH}/{check_id}", headers=AUTH)
    assert response.status_code == 200
    return response.json()


# ------------------------------------------------------------------ the field table and the page
def test_field_table_matches_the_page() -> None:
    assert list(fields.REQUIRED) == PAGE_REQUIRED
    assert list(fields.OPTIONAL_PUT) == PAGE_OPTIONAL


def test_enums_match_the_page() -> None:
    by_name = {e.name: e for e in enums.ALL_ENUMS}
    assert set(by_name) == set(PAGE_ENUMS)
    for name, table in PAGE_ENUMS.items():
        assert {v.code: v.name for v in by_name[name].values} == table


def test_every_field_get_returns_is_in_the_table(sandbox: Sandbox) -> None:
    # docs/development.md, "What is known of the Nexudus API": the record as GET returns it.
    listed = [
        "Id",
        "UniqueId",
        "BusinessId",
        "BusinessName",
        "CoworkerId",
        "CoworkerFullName",
        "CoworkerCoworkerType",
        "CoworkerCompanyName",
        "CoworkerBillingName",
        "Name",
        "VerificationType",
        "VerificationStatus",
        "IdentityCheckProvider",
        "IdentityDocumentType",
        "IdentityDocumentNumber",
        "IdentityDocumentIssuedBy",
        "IdentityDocumentExpirationDate",
        "AddressDocumentType",
        "Description",
        "Billed",
        "StripeVerificationSessionId",
        "IdentityCheckProvider1",
        "VerificationType1",
        "Description1",
        "IdentityCheckProvider2",
        "VerificationType2",
        "Description2",
        "LastError",
        "ProposalGuid",
        "CoworkerContractGuid",
        "ContractContactGuid",
        "IdentityCheckGroupGuid",
        "CreatedOn",
        "UpdatedOn",
        "UpdatedBy",
        "IsNew",
        "SystemId",
    ]
    assert set(fields.RECORD_FIELD_NAMES) == set(listed)
    assert set(sandbox.state.record(87654301)) == set(listed)


# ------------------------------------------------------------------ envelopes
async def test_success_envelope_is_the_documented_one(http: httpx2.AsyncClient) -> None:
    body = put_body(await current(http))
    body["Description"] = "Renewed passport seen at the desk."
    response = await http.put(PATH, json=body, headers=AUTH)
    assert response.status_code == 200
    envelope = response.json()
    assert list(envelope) == PAGE_SUCCESS_KEYS
    assert envelope["Status"] == 200
    assert envelope["Message"] == "CoworkerIdentityCheck was successfully updated."
    assert envelope["Value"] == {"Id": 87654301}
    assert envelope["Errors"] is None and envelope["WasSuccessful"] is True
    assert envelope["UpdatedBy"] == ADMIN_USER
    after = await current(http)
    assert after["UpdatedOn"] == envelope["UpdatedOn"] and after["UpdatedBy"] == ADMIN_USER
    assert after["Description"] == "Renewed passport seen at the desk."


async def test_missing_name_gives_the_documented_400(http: httpx2.AsyncClient) -> None:
    body = put_body(await current(http))
    del body["Name"]
    response = await http.put(PATH, json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {
        "Message": "Name: is a required field",
        "Value": None,
        "Errors": [{"AttemptedValue": None, "Message": "is a required field", "PropertyName": "Name"}],
        "WasSuccessful": False,
    }


async def test_every_required_field_is_reported_at_once(http: httpx2.AsyncClient) -> None:
    response = await http.put(PATH, json={}, headers=AUTH)
    assert response.status_code == 400
    envelope = response.json()
    assert [e["PropertyName"] for e in envelope["Errors"]] == PAGE_REQUIRED
    assert envelope["Message"].splitlines() == [f"{p}: is a required field" for p in PAGE_REQUIRED]


async def test_wrong_types_and_codes_are_reported_per_field(http: httpx2.AsyncClient) -> None:
    body = put_body(await current(http))
    body.update(IdentityDocumentType=11, Billed="yes", IdentityDocumentExpirationDate="next year", BusinessId="1001")
    response = await http.put(PATH, json=body, headers=AUTH)
    assert response.status_code == 400
    errors = {e["PropertyName"]: e for e in response.json()["Errors"]}
    assert set(errors) == {"IdentityDocumentType", "Billed", "IdentityDocumentExpirationDate", "BusinessId"}
    assert errors["IdentityDocumentType"]["AttemptedValue"] == 11


@pytest.mark.parametrize("field_name", list(PAGE_ENUMS))
async def test_every_enum_code_is_accepted_and_no_other(http: httpx2.AsyncClient, field_name: str) -> None:
    record = await current(http)
    for code in PAGE_ENUMS[field_name]:
        body = put_body(record)
        body[field_name] = code
        response = await http.put(PATH, json=body, headers=AUTH)
        assert response.status_code == 200, (field_name, code, response.text)
        assert (await current(http))[field_name] == code
    body = put_body(record)
    body[field_name] = 98
    response = await http.put(PATH, json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["Errors"][0]["PropertyName"] == field_name


async def test_put_is_a_full_replace(http: httpx2.AsyncClient) -> None:
    body = put_body(await current(http))
    del body["Description"]  # left out: cleared, as docs/development.md says to assume
    del body["IdentityDocumentIssuedBy"]
    assert (await http.put(PATH, json=body, headers=AUTH)).status_code == 200
    after = await current(http)
    assert after["Description"] is None and after["IdentityDocumentIssuedBy"] is None
    assert after["IdentityDocumentNumber"] == "CB7734129"


async def test_unknown_ids_are_404(http: httpx2.AsyncClient) -> None:
    assert (await http.get(f"{PATH}/1", headers=AUTH)).status_code == 404
    body = put_body(await current(http))
    body["Id"] = 1
    assert (await http.put(PATH, json=body, headers=AUTH)).status_code == 404


# ------------------------------------------------------------------ auth
async def test_token_endpoint_rules(http: httpx2.AsyncClient) -> None:
    as_json = await http.post(
        "/api/token", json={"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    assert as_json.status_code == 400 and as_json.json() == {"error": "unsupported_grant_type"}
    wrong = await http.post("/api/token", data={"grant_type": "password", "username": ADMIN_USER, "password": "nope"})
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "The user name or password is incorrect."}
    good = await http.post(
        "/api/token", data={"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    token = good.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 604799
    assert (
        await http.get(f"{PATH}/87654301", headers={"Authorization": f"Bearer {token['access_token']}"})
    ).status_code == 200
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert (await http.post("/api/token", data=refresh, headers={"client_id": "someone-else"})).status_code == 400
    token = (
        await http.post(
            "/api/token", data={"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
        )
    ).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    renewed = await http.post("/api/token", data=refresh, headers={"client_id": ADMIN_USER})
    assert renewed.status_code == 200 and renewed.json()["access_token"] != token["access_token"]
    again = await http.post("/api/token", data=refresh, headers={"client_id": ADMIN_USER})
    assert again.status_code == 400, "a used refresh token stops working"


async def test_the_control_route_makes_nexudus_forget_its_tokens(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    """`POST /_sandbox/tokens/forget` (and `SandboxState.forget_tokens`, its in-process twin): the
    access tokens issued stop working at once; with `refresh: false` the refresh tokens still do."""
    password = {"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
    token = (await http.post("/api/token", data=password)).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await http.get(f"{PATH}/87654301", headers=bearer)).status_code == 200
    assert set(sandbox.state.issued()) == {token["access_token"]}
    assert (await http.post("/_sandbox/tokens/forget", json={"refresh": False})).json() == {"ok": True}
    assert (await http.get(f"{PATH}/87654301", headers=bearer)).status_code == 401
    assert sandbox.state.issued() == {} and set(sandbox.state.issued("refresh")) == {token["refresh_token"]}
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert (await http.post("/api/token", data=refresh, headers={"client_id": ADMIN_USER})).status_code == 200
    assert (await http.post("/_sandbox/tokens/forget")).status_code == 200  # both, by default
    assert sandbox.state.issued() == {} == sandbox.state.issued("refresh")
    assert (await http.post("/_sandbox/tokens/forget", json={"access": "yes"})).status_code == 400


async def test_401_without_credentials_and_for_missing_role(http: httpx2.AsyncClient) -> None:
    assert (await http.get(f"{PATH}/87654301")).status_code == 401
    assert (await http.get(f"{PATH}/87654301", headers={"Authorization": "Bearer made-up"})).status_code == 401
    viewer = "Basic " + base64.b64encode(f"{VIEWER_USER}:{VIEWER_PASSWORD}".encode()).decode()
    assert (await http.get(f"{PATH}/87654301", headers={"Authorization": viewer})).status_code == 200
    body = put_body(await current(http))
    assert (await http.put(PATH, json=body, headers={"Authorization": viewer})).status_code == 401


# ------------------------------------------------------------------ search
async def test_search_filters_and_pages(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    everything = (await http.get(PATH, params={"size": 5}, headers=AUTH)).json()
    assert everything["TotalItems"] == len(sandbox.state.records) == 12
    assert everything["TotalPages"] == 3 and everything["HasNextPage"] and not everything["HasPreviousPage"]
    seen = []
    for page in (1, 2, 3):
        seen += [
            r["Id"] for r in (await http.get(PATH, params={"size": 5, "page": page}, headers=AUTH)).json()["Records"]
        ]
    assert sorted(seen) == sorted(sandbox.state.records)
    by_business = (await http.get(PATH, params={"CoworkerIdentityCheck_Business": 1003}, headers=AUTH)).json()
    assert {r["BusinessName"] for r in by_business["Records"]} == {BUSINESSES[1003]}
    pending = (await http.get(PATH, params={"CoworkerIdentityCheck_VerificationStatus": 1}, headers=AUTH)).json()
    assert pending["TotalItems"] == 3 and all(r["VerificationStatus"] == 1 for r in pending["Records"])
    named = (await http.get(PATH, params={"CoworkerIdentityCheck_Name": "passport"}, headers=AUTH)).json()
    assert named["TotalItems"] == 4
    mine = (
        await http.get(
            PATH,
            params={"CoworkerIdentityCheck_Coworker": 2008, "CoworkerIdentityCheck_VerificationType": 2},
            headers=AUTH,
        )
    ).json()
    assert [r["Id"] for r in mine["Records"]] == [87654310]


def test_seed_covers_every_status_and_type(sandbox: Sandbox) -> None:
    records = sandbox.state.records.values()
    assert {r["VerificationStatus"] for r in records} == set(PAGE_ENUMS["VerificationStatus"])
    assert {1, 2} <= {r["VerificationType"] for r in records}
    assert all(r["CoworkerId"] in COWORKERS and r["BusinessId"] in BUSINESSES for r in records)


# ------------------------------------------------------------------ throttling and faults
async def test_writes_past_the_limit_get_409_with_retry_after(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.state.write_limit = 2
    body = put_body(await current(http))
    statuses = [(await http.put(PATH, json=body, headers=AUTH)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 409]
    assert statuses[2].text == "You must wait before accessing this url again"
    assert statuses[2].headers["Retry-After"] == "1"


async def test_faults(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.state.inject(Fault("status", route="get", count=2, status=503))
    assert [(await http.get(f"{PATH}/87654301", headers=AUTH)).status_code for _ in range(3)] == [503, 503, 200]
    sandbox.state.inject(Fault("html", route="get"))
    page = await http.get(f"{PATH}/87654301", headers=AUTH)
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    sandbox.state.inject(Fault("malformed", route="get"))
    with pytest.raises(ValueError):
        (await http.get(f"{PATH}/87654301", headers=AUTH)).json()
    sandbox.state.inject(Fault("drop", route="get"))
    with pytest.raises(httpx2.RemoteProtocolError):
        await http.get(f"{PATH}/87654301", headers=AUTH)
    body = put_body(await current(http))
    before = copy.deepcopy(sandbox.state.records[87654301])
    sandbox.state.inject(Fault("envelope_errors", route="update"))
    echoed = await http.put(PATH, json=body, headers=AUTH)
    assert echoed.status_code == 200 and echoed.json()["WasSuccessful"] is False
    assert sandbox.state.records[87654301] == before, "a faulted PUT changes nothing"
