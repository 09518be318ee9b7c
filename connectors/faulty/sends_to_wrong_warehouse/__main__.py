"""`python -m connectors.faulty.sends_to_wrong_warehouse`: the reference connector, one defect."""

from connectors.faulty.sends_to_wrong_warehouse import SendsToWrongWarehouseMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(SendsToWrongWarehouseMapper())
