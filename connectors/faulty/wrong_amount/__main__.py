"""`python -m connectors.faulty.wrong_amount`: the reference connector, one defect added."""

from connectors.faulty.wrong_amount import WrongAmountMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(WrongAmountMapper())
