"""`python -m connectors.faulty.second_receivable_under_new_number`: the reference, one defect."""

from connectors.faulty.second_receivable_under_new_number import SecondReceivableUnderNewNumber
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=SecondReceivableUnderNewNumber)
