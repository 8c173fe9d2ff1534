"""The five enums of the coworker identity-check record, and lenient parsing of their values.

Names and codes are exactly those of the API reference page (PUT /api/spaces/coworkeridentitychecks).
The API sends and expects integer codes; models and people think in names. `parse` accepts either,
in any casing and with spaces, hyphens or underscores ("drivers license", "DRIVERS_LICENSE", "2"),
and says which name was meant when it cannot be sure ("Pasport" -> "Passport").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnumValue:
    code: int
    name: str
    meaning: str


@dataclass(frozen=True)
class EnumType:
    name: str
    api_name: str
    summary: str
    values: tuple[EnumValue, ...]
    _by_code: dict[int, EnumValue] = field(init=False, repr=False, compare=False)
    _by_key: dict[str, EnumValue] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {v.code: v for v in self.values})
        object.__setattr__(self, "_by_key", {_key(v.name): v for v in self.values})

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.values]

    def name_of(self, code: Any) -> str | None:
        """The name for a code; an unknown code (or anything else sent there) comes back as text, never dropped."""
        if code is None:
            return None
        if not isinstance(code, int) or isinstance(code, bool):  # text, a list, an object: shown as sent
            return str(code)
        value = self._by_code.get(code)
        return value.name if value else str(code)

    def code_of(self, name: str) -> int:
        return self._by_key[_key(name)].code

    def is_code(self, code: int) -> bool:
        return code in self._by_code

    def describe_codes(self) -> str:
        """`None = 0, Passport = 1, …`: how each schema description lists the codes."""
        return ", ".join(f"{v.name} = {v.code}" for v in self.values)

    def parse(self, raw: Any) -> int:
        """Return the integer code for a name or code, or raise EnumParseError with a hint."""
        if isinstance(raw, bool):
            raise EnumParseError(self, raw, None)
        if isinstance(raw, int):
            if raw in self._by_code:
                return raw
            raise EnumParseError(self, raw, None)
        if isinstance(raw, float) and raw.is_integer():
            return self.parse(int(raw))
        if isinstance(raw, str):
            text = raw.strip()
            if re.fullmatch(r"[+-]?\d+", text):
                # No code has more than a few digits; a longer string would hit Python's int-digit limit.
                if len(text) > 9:
                    raise EnumParseError(self, raw, None)
                return self.parse(int(text))
            value = self._by_key.get(_key(text))
            if value is not None:
                return value.code
            raise EnumParseError(self, raw, self.closest(text))
        raise EnumParseError(self, raw, None)

    def closest(self, text: str) -> str | None:
        keys = list(self._by_key)
        match = difflib.get_close_matches(_key(text), keys, n=1, cutoff=0.6)
        return self._by_key[match[0]].name if match else None


class EnumParseError(ValueError):
    def __init__(self, enum: EnumType, raw: Any, hint: str | None) -> None:
        self.enum = enum
        self.raw = raw
        self.hint = hint
        super().__init__(f"is not one of the {enum.name} values")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-'.]+", "", name).lower()


IDENTITY_CHECK_PROVIDER = EnumType(
    name="IdentityCheckProvider",
    api_name="eIdentityCheckProvider",
    summary="How the check is performed.",
    values=(
        EnumValue(0, "None", "No provider chosen."),
        EnumValue(1, "Manual", "An operator reviews the documents by hand."),
        EnumValue(2, "StripeIdentity", "The check is delegated to Stripe Identity."),
    ),
)

IDENTITY_DOCUMENT_TYPE = EnumType(
    name="IdentityDocumentType",
    api_name="eIdentityCheckDocumentType",
    summary="Type of identity document, used when VerificationType is IdDocument.",
    values=(
        EnumValue(0, "None", "No identity document."),
        EnumValue(1, "Passport", "Passport."),
        EnumValue(2, "DriversLicense", "Driver's license."),
        EnumValue(3, "IdCard", "National identity card."),
        EnumValue(4, "UniformedServiceId", "Uniformed services identity card."),
        EnumValue(5, "CertificateOfNaturalization", "Certificate of naturalization."),
        EnumValue(6, "AccessCard", "Access card."),
        EnumValue(7, "MatriculaConsular", "Matrícula consular."),
        EnumValue(8, "ResidentCard", "Resident card."),
        EnumValue(9, "UniversityId", "University identity card."),
        EnumValue(10, "NEXUSCard", "NEXUS trusted-traveller card."),
        EnumValue(99, "Other", "Any other identity document."),
    ),
)

ADDRESS_DOCUMENT_TYPE = EnumType(
    name="AddressDocumentType",
    api_name="eAddressCheckDocumentType",
    summary="Type of address document, used when VerificationType is Address.",
    values=(
        EnumValue(0, "None", "No address document."),
        EnumValue(1, "Passport", "Passport."),
        EnumValue(2, "DriversLicense", "Driver's license."),
        EnumValue(3, "IdCard", "National identity card."),
        EnumValue(4, "LeaseRentalAgreement", "Lease or rental agreement."),
        EnumValue(5, "InsurancePolicy", "Insurance policy."),
        EnumValue(6, "Mortgage", "Mortgage statement."),
        EnumValue(7, "VehicleRegistrationCard", "Vehicle registration card."),
        EnumValue(8, "VoterCard", "Voter card."),
        EnumValue(99, "Other", "Any other address document."),
    ),
)

VERIFICATION_TYPE = EnumType(
    name="VerificationType",
    api_name="eIdVerificationType",
    summary="What the check verifies; decides which document fields matter.",
    values=(
        EnumValue(0, "None", "Nothing to verify yet."),
        EnumValue(1, "IdDocument", "An identity document (uses the IdentityDocument* fields)."),
        EnumValue(2, "Address", "A proof of address (uses AddressDocumentType)."),
    ),
)

VERIFICATION_STATUS = EnumType(
    name="VerificationStatus",
    api_name="eIdVerificationStatus",
    summary="Where the check stands.",
    values=(
        EnumValue(0, "None", "Not started."),
        EnumValue(1, "Pending", "Waiting for the member to submit documents."),
        EnumValue(2, "Submitted", "Documents submitted, waiting for review."),
        EnumValue(3, "Successful", "Verified."),
        EnumValue(4, "Failed", "Verification failed."),
        EnumValue(5, "Cancelled", "The check was cancelled."),
    ),
)

ALL_ENUMS: tuple[EnumType, ...] = (
    IDENTITY_CHECK_PROVIDER,
    IDENTITY_DOCUMENT_TYPE,
    ADDRESS_DOCUMENT_TYPE,
    VERIFICATION_TYPE,
    VERIFICATION_STATUS,
)
