"""`python -m connectors.faulty.never_pushes_stock`: the reference connector, one defect."""

from connectors.faulty.never_pushes_stock import NeverPushesStock
from connectors.reference.connector import main

if __name__ == "__main__":
    main(NeverPushesStock())
