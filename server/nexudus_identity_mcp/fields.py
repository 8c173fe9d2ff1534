"""The one table of the coworker identity-check record's fields.

Everything that names a field reads it from here: the update tool's input schema, the validator,
the body sent to the API, the sandbox's rules and the reference's field table (docs/reference.md). A field has one of
three roles:

- `put`: documented on the reference page of PUT /api/spaces/coworkeridentitychecks. The tool
  accepts it; `required` is the page's own required list. Descriptions are the page's words.
- `carried`: returned by GET but not documented for PUT (VerificationType, VerificationStatus, the
  links to proposals and contracts). The API's update is a full replace, so the server sends these
  back exactly as it read them: a PUT must never clear what the caller did not mention.
- `read_only`: derived or audit fields GET returns (names joined from other records, timestamps).
  Shown to the model, never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .enums import (
    ADDRESS_DOCUMENT_TYPE,
    IDENTITY_CHECK_PROVIDER,
    IDENTITY_DOCUMENT_TYPE,
    VERIFICATION_STATUS,
    VERIFICATION_TYPE,
    EnumType,
)

FieldType = Literal["integer", "string", "boolean", "datetime", "guid"]
Role = Literal["put", "carried", "read_only"]
PiiCategory = Literal["id_document", "name"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    role: Role
    description: str
    required: bool = False
    enum: EnumType | None = None
    pii: PiiCategory | None = None

    @property
    def sent(self) -> bool:
        """Whether the field is part of the body the server PUTs."""
        return self.role in ("put", "carried")


def _put(
    name: str,
    type_: FieldType,
    description: str,
    *,
    required: bool = False,
    enum: EnumType | None = None,
    pii: PiiCategory | None = None,
) -> Field:
    return Field(name, type_, "put", description, required=required, enum=enum, pii=pii)


FIELDS: tuple[Field, ...] = (
    # --- Required on PUT (reference page, "Required Fields") ---
    _put("Id", "integer", "The Id of the CoworkerIdentityCheck record to update.", required=True),
    _put("BusinessId", "integer", "ID of the business linked to this record.", required=True),
    _put("CoworkerId", "integer", "ID of the coworker linked to this record.", required=True),
    _put("Name", "string", "Display name for this verification check.", required=True),
    _put(
        "IdentityCheckProvider",
        "integer",
        "How the check is performed: Manual (operator review) or StripeIdentity (Stripe-delegated).",
        required=True,
        enum=IDENTITY_CHECK_PROVIDER,
    ),
    _put(
        "IdentityDocumentType",
        "integer",
        "Type of identity document used when VerificationType is IdDocument.",
        required=True,
        enum=IDENTITY_DOCUMENT_TYPE,
    ),
    _put(
        "AddressDocumentType",
        "integer",
        "Type of address document used when VerificationType is Address.",
        required=True,
        enum=ADDRESS_DOCUMENT_TYPE,
    ),
    # --- Optional on PUT (reference page, "Optional Fields") ---
    _put("IdentityDocumentNumber", "string", "Number or identifier on the identity document.", pii="id_document"),
    _put("IdentityDocumentIssuedBy", "string", "Authority or organisation that issued the identity document."),
    _put("IdentityDocumentExpirationDate", "datetime", "Expiration date of the identity document."),
    _put("Description", "string", "Free-text notes or details about this check."),
    _put("Billed", "boolean", "Whether billed is enabled."),
    _put("StripeVerificationSessionId", "string", "ID of the stripe verification session associated with this record."),
    _put(
        "IdentityCheckProvider1",
        "integer",
        "The identity check provider1 value for this coworker identity check.",
        enum=IDENTITY_CHECK_PROVIDER,
    ),
    _put(
        "VerificationType1",
        "integer",
        "The verification type1 value for this coworker identity check.",
        enum=VERIFICATION_TYPE,
    ),
    _put("Description1", "string", "The description1 value for this coworker identity check."),
    _put(
        "IdentityCheckProvider2",
        "integer",
        "The identity check provider2 value for this coworker identity check.",
        enum=IDENTITY_CHECK_PROVIDER,
    ),
    _put(
        "VerificationType2",
        "integer",
        "The verification type2 value for this coworker identity check.",
        enum=VERIFICATION_TYPE,
    ),
    _put("Description2", "string", "The description2 value for this coworker identity check."),
    # --- Returned by GET, not documented for PUT: sent back unchanged so a full replace keeps them ---
    Field(
        "VerificationType",
        "integer",
        "carried",
        "What the check verifies: IdDocument uses the IdentityDocument* fields, Address uses AddressDocumentType.",
        enum=VERIFICATION_TYPE,
    ),
    Field("VerificationStatus", "integer", "carried", "Where the check stands.", enum=VERIFICATION_STATUS),
    Field("LastError", "string", "carried", "The last error the verification provider reported."),
    Field("UniqueId", "guid", "carried", "Globally unique id of the record."),
    Field("ProposalGuid", "guid", "carried", "Proposal this check belongs to, if any."),
    Field("CoworkerContractGuid", "guid", "carried", "Contract this check belongs to, if any."),
    Field("ContractContactGuid", "guid", "carried", "Contract contact this check belongs to, if any."),
    Field("IdentityCheckGroupGuid", "guid", "carried", "Group of checks this one belongs to, if any."),
    # --- Returned by GET, derived or audit: never sent ---
    Field("BusinessName", "string", "read_only", "Name of the business (location) of BusinessId."),
    Field("CoworkerFullName", "string", "read_only", "Full name of the coworker of CoworkerId.", pii="name"),
    Field("CoworkerType", "string", "read_only", "Kind of coworker record (individual or company)."),
    Field("CompanyName", "string", "read_only", "Company of the coworker, if any.", pii="name"),
    Field("BillingName", "string", "read_only", "Billing name of the coworker.", pii="name"),
    Field("CreatedOn", "datetime", "read_only", "When the record was created (UTC)."),
    Field("UpdatedOn", "datetime", "read_only", "When the record was last updated (UTC)."),
    Field("UpdatedBy", "string", "read_only", "Who last updated the record.", pii="name"),
    Field("IsNew", "boolean", "read_only", "Whether the record has not been saved yet."),
    Field("SystemId", "string", "read_only", "Id of the record in an external system, if any."),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
PUT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.role == "put")
SENT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.sent)
REQUIRED: tuple[str, ...] = tuple(f.name for f in PUT_FIELDS if f.required)
OPTIONAL_PUT: tuple[str, ...] = tuple(f.name for f in PUT_FIELDS if not f.required)
ENUM_FIELDS: dict[str, EnumType] = {f.name: f.enum for f in FIELDS if f.enum is not None}
RECORD_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

# Roles the API asks for, by operation (API-FACTS, "Base URL and resource").
ROLE_FOR = {
    "get": "CoworkerIdentityCheck-Read",
    "search": "CoworkerIdentityCheck-List",
    "update": "CoworkerIdentityCheck-Edit",
}

RESOURCE_PATH = "/api/spaces/coworkeridentitychecks"
