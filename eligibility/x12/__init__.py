"""Our own X12 5010 layer: generic reader, envelopes and writer, plus 270/271 eligibility."""

from .envelope import (
    FunctionalGroup,
    Interchange,
    Transaction,
    iter_transactions,
    parse_envelopes,
    read_interchanges,
)
from .reader import Delimiters, Segment, X12Error, read_segments
from .simulator import SimulatedAnswer, SimulatedPayer
from .writer import Components, Repeats, TransactionSet, build_interchange, format_segment
from .x270 import (
    Dependent,
    EligibilityRequest,
    Payer,
    Provider,
    Subscriber,
    build_270,
    npi_is_valid,
    parse_270,
    validate_270,
)
from .x271 import Benefit, BenefitsSummary, EligibilityResponse, Rejection, parse_271

__all__ = [
    "Benefit",
    "BenefitsSummary",
    "Components",
    "Delimiters",
    "Dependent",
    "EligibilityRequest",
    "EligibilityResponse",
    "FunctionalGroup",
    "Interchange",
    "Payer",
    "Provider",
    "Rejection",
    "Repeats",
    "Segment",
    "SimulatedAnswer",
    "SimulatedPayer",
    "Subscriber",
    "Transaction",
    "TransactionSet",
    "X12Error",
    "build_270",
    "build_interchange",
    "format_segment",
    "iter_transactions",
    "npi_is_valid",
    "parse_270",
    "parse_271",
    "parse_envelopes",
    "read_interchanges",
    "read_segments",
    "validate_270",
]
