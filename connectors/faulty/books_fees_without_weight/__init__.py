"""Faulty connector, defect "books fees without weight": each line of a carrier's fee statement
is booked at its zone's first-kilo price, whatever the parcel weighed.

Like a connector that prices parcels from a flat rate table per zone (首重 only) instead of
taking the carrier's fee for each line, it books every statement's payable short whenever a
parcel weighed over a kilo. `carrier_fees_booked` must catch the payables that differ from
their statements' totals.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.connector import Connector
from connectors.reference.fee_flow import FeeFlow

# The first kilo per zone, as a flat rate card would have it (CNY cents).
FIRST_KILO = {"same": 800, "near": 1000, "far": 1200}


class FeesWithoutWeightFlow(FeeFlow):
    def fee_of(self, line: dict[str, Any]) -> int:
        return FIRST_KILO[str(line["Zone"])]


class BooksFeesWithoutWeight(Connector):
    fees = FeesWithoutWeightFlow
