"""Deterministic seed data for the sandbox: three locations, fourteen members, twelve checks.

Every verification status and both verification types appear, so a demo or an evaluation reads like
a real space. The members include names that are easy to confuse (Ana Ribeiro and Ana Ribeira;
Tomás Ferreira and Tomas Ferreira; two Grace Okafors, one inactive; Oliver Bennett and Oliver
Bennet), accented names, members at every location and inactive ones, so finding a member can go
wrong in the ways it goes wrong at a real desk. Names, emails, document numbers and session ids are
fictional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BUSINESSES: dict[int, str] = {
    1001: "Harbour Works Lisbon",
    1002: "Northside Hub Manchester",
    1003: "Canal Studios Amsterdam",
}


@dataclass(frozen=True)
class Member:
    """A coworker as the sandbox keeps it: the home location (InvoicingBusinessId) and every
    location the member belongs to (Businesses)."""

    full_name: str
    business_id: int
    company: str | None
    email: str
    active: bool = True
    other_businesses: tuple[int, ...] = ()

    @property
    def businesses(self) -> list[int]:
        return [self.business_id, *self.other_businesses]


MEMBERS: dict[int, Member] = {
    2001: Member("Ana Ribeiro", 1001, None, "ana.ribeiro@members.sandbox.example"),
    2002: Member("Tomás Ferreira", 1001, "Ferreira & Filhos Lda", "tomas@ferreira-filhos.example"),
    2003: Member("Priya Natarajan", 1002, None, "priya.n@members.sandbox.example"),
    2004: Member("Oliver Bennett", 1002, "Bennett Design Ltd", "oliver@bennett-design.example"),
    2005: Member("Grace Okafor", 1002, None, "grace.okafor@members.sandbox.example", other_businesses=(1003,)),
    2006: Member("Sanne de Vries", 1003, None, "sanne.devries@members.sandbox.example"),
    2007: Member("Lars Hoekstra", 1003, "Hoekstra Analytics BV", "lars@hoekstra-analytics.example"),
    2008: Member("Mei Lin Chen", 1003, None, "meilin.chen@members.sandbox.example"),
    # Easy to confuse with the members above.
    2009: Member("Ana Ribeira", 1002, None, "ana.ribeira@members.sandbox.example"),
    2010: Member("Tomas Ferreira", 1003, None, "tferreira@members.sandbox.example"),
    2011: Member("Grace Okafor", 1001, None, "g.okafor@old-mail.example", active=False),
    2012: Member("Oliver Bennet", 1001, None, "oliver.bennet@members.sandbox.example"),
    2013: Member("Zoë Kowalczyk", 1001, "Kowalczyk Studio", "zoe@kowalczyk-studio.example"),
    2014: Member("Søren Ågård", 1003, None, "soren.agard@members.sandbox.example", active=False),
}

# Id -> (full name, business id, company name or None): what a check's joined fields come from.
COWORKERS: dict[int, tuple[str, int, str | None]] = {
    i: (m.full_name, m.business_id, m.company) for i, m in MEMBERS.items()
}

# Codes: VerificationType 1 IdDocument, 2 Address; VerificationStatus 0 None … 5 Cancelled;
# IdentityCheckProvider 1 Manual, 2 StripeIdentity.
_CHECKS: list[dict[str, Any]] = [
    dict(
        Id=87654301,
        CoworkerId=2001,
        Name="Passport check",
        VerificationType=1,
        VerificationStatus=3,
        IdentityCheckProvider=1,
        IdentityDocumentType=1,
        IdentityDocumentNumber="CB7734129",
        IdentityDocumentIssuedBy="República Portuguesa",
        IdentityDocumentExpirationDate="2031-03-14T00:00:00Z",
        Description="Checked in person at the front desk.",
        Billed=True,
    ),
    dict(
        Id=87654302,
        CoworkerId=2001,
        Name="Proof of address",
        VerificationType=2,
        VerificationStatus=1,
        IdentityCheckProvider=1,
        AddressDocumentType=4,
        Description="Waiting for the signed lease.",
    ),
    dict(
        Id=87654303,
        CoworkerId=2002,
        Name="ID card check",
        VerificationType=1,
        VerificationStatus=2,
        IdentityCheckProvider=1,
        IdentityDocumentType=3,
        IdentityDocumentNumber="158392744ZX9",
        IdentityDocumentIssuedBy="República Portuguesa",
        IdentityDocumentExpirationDate="2029-08-01T00:00:00Z",
    ),
    dict(
        Id=87654304,
        CoworkerId=2003,
        Name="Driver's licence check",
        VerificationType=1,
        VerificationStatus=4,
        IdentityCheckProvider=2,
        IdentityDocumentType=2,
        IdentityDocumentNumber="NATAR905142P99KL",
        IdentityDocumentIssuedBy="DVLA",
        IdentityDocumentExpirationDate="2030-05-20T00:00:00Z",
        StripeVerificationSessionId="vs_1PqR8sT2uV3wX4yZ",
        LastError="The document photo was too blurry.",
    ),
    dict(
        Id=87654305,
        CoworkerId=2004,
        Name="Passport check",
        VerificationType=1,
        VerificationStatus=1,
        IdentityCheckProvider=2,
        IdentityDocumentType=1,
        StripeVerificationSessionId="vs_1QaB2cD3eF4gH5iJ",
    ),
    dict(
        Id=87654306,
        CoworkerId=2005,
        Name="Residence permit",
        VerificationType=1,
        VerificationStatus=5,
        IdentityCheckProvider=1,
        IdentityDocumentType=8,
        IdentityDocumentNumber="ZU4471093",
        IdentityDocumentIssuedBy="UK Home Office",
        IdentityDocumentExpirationDate="2027-11-30T00:00:00Z",
        Description="Member moved to a company plan; check no longer needed.",
    ),
    dict(
        Id=87654307,
        CoworkerId=2005,
        Name="Utility bill address check",
        VerificationType=2,
        VerificationStatus=3,
        IdentityCheckProvider=1,
        AddressDocumentType=99,
        Description="Electricity bill dated March.",
        Billed=True,
    ),
    dict(Id=87654308, CoworkerId=2006, Name="Identity check", VerificationType=0, VerificationStatus=0),
    dict(
        Id=87654309,
        CoworkerId=2007,
        Name="Passport check",
        VerificationType=1,
        VerificationStatus=3,
        IdentityCheckProvider=1,
        IdentityDocumentType=1,
        IdentityDocumentNumber="NR5K8L2P7",
        IdentityDocumentIssuedBy="Koninkrijk der Nederlanden",
        IdentityDocumentExpirationDate="2032-01-09T00:00:00Z",
        Billed=True,
        IdentityCheckProvider1=1,
        VerificationType1=2,
        Description1="Address confirmed from company lease.",
    ),
    dict(
        Id=87654310,
        CoworkerId=2008,
        Name="Address verification",
        VerificationType=2,
        VerificationStatus=2,
        IdentityCheckProvider=1,
        AddressDocumentType=6,
    ),
    dict(
        Id=87654311,
        CoworkerId=2008,
        Name="Passport check",
        VerificationType=1,
        VerificationStatus=1,
        IdentityCheckProvider=1,
        IdentityDocumentType=1,
    ),
    dict(
        Id=87654312,
        CoworkerId=2003,
        Name="Proof of address",
        VerificationType=2,
        VerificationStatus=4,
        IdentityCheckProvider=2,
        AddressDocumentType=5,
        StripeVerificationSessionId="vs_1RtU6vW7xY8zA9bC",
        LastError="The address did not match the member's profile.",
    ),
]


def seed_checks() -> list[dict[str, Any]]:
    """Fresh copies of the seed checks' stored fields (derived fields are added by the sandbox)."""
    out = []
    for n, check in enumerate(_CHECKS):
        record = {
            "IdentityCheckProvider": 0,
            "IdentityDocumentType": 0,
            "AddressDocumentType": 0,
            "Billed": False,
            "UniqueId": f"5b1c{n:04x}-7e2a-4d8f-9c31-{check['Id']:012x}",
            "CreatedOn": f"2026-0{1 + n % 9}-1{n % 10}T09:{10 + n:02d}:00Z",
            "UpdatedOn": f"2026-10-{10 + n:02d}T14:{20 + n:02d}:00Z",
            "UpdatedBy": "frontdesk@sandbox.example",
        }
        record.update(check)
        out.append(record)
    return out


def seed_coworkers() -> dict[int, dict[str, Any]]:
    """The coworker records as the API returns them (the fields this server reads, and a few more)."""
    out = {}
    for n, (coworker_id, m) in enumerate(MEMBERS.items()):
        out[coworker_id] = {
            "Id": coworker_id,
            "FullName": m.full_name,
            "Email": m.email,
            "CompanyName": m.company,
            "BillingName": m.company or m.full_name,
            "CoworkerType": 2 if m.company else 1,
            "InvoicingBusinessId": m.business_id,
            "InvoicingBusinessName": BUSINESSES[m.business_id],
            "Businesses": m.businesses,
            "Active": m.active,
            "MobilePhone": f"+351 91{n:01d} 555 {coworker_id % 1000:04d}",
            "CreatedOn": f"2025-0{1 + n % 9}-0{1 + n % 9}T10:00:00Z",
            "UpdatedOn": f"2026-09-{10 + n:02d}T12:00:00Z",
        }
    return out


def seed_document_numbers() -> list[str]:
    """Every identity-document number in the seed: what must never reach a model unredacted."""
    return [c["IdentityDocumentNumber"] for c in _CHECKS if c.get("IdentityDocumentNumber")]


def live_extra_fields(check: dict[str, Any]) -> dict[str, Any]:
    """Fields a real record may carry that no documentation page lists (the live profile): a text
    that names the member, a number, a boolean, a null and a nested object. Fictional."""
    coworker = COWORKERS.get(check.get("CoworkerId") or 0)
    first = coworker[0].split()[0].lower() if coworker else "member"
    return {
        "ToStringText": f"{check.get('Name')} ({coworker[0] if coworker else 'unknown'})",
        "CoworkerEmail": f"{first}@members.sandbox.example",
        "ReviewAttempts": 1 + int(check["Id"]) % 3,
        "RequiresReview": check.get("VerificationStatus") == 2,
        "LocalizationDetails": None,
        "CustomFields": {"Data": [{"Name": "Locker", "Value": f"B{int(check['Id']) % 40}"}]},
    }
