"""`python -m connectors.faulty.ignores_returns`: the reference connector, one defect added."""

from connectors.faulty.ignores_returns import IgnoresReturns
from connectors.reference.connector import main

if __name__ == "__main__":
    main(IgnoresReturns())
