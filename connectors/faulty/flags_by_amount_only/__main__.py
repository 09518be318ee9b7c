"""`python -m connectors.faulty.flags_by_amount_only`: the reference, one defect."""

from connectors.faulty.flags_by_amount_only import FlagsByAmountOnly
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=FlagsByAmountOnly)
