"""`python -m connectors.faulty.ignores_partial_confirms`: the reference connector, one defect."""

from connectors.faulty.ignores_partial_confirms import IgnoresPartialConfirms
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=IgnoresPartialConfirms)
