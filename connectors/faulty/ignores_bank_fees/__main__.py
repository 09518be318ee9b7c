"""`python -m connectors.faulty.ignores_bank_fees`: the reference connector, one defect."""

from connectors.faulty.ignores_bank_fees import IgnoresBankFees
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=IgnoresBankFees)
