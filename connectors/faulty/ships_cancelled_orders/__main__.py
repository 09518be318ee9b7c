"""`python -m connectors.faulty.ships_cancelled_orders`: the reference connector, one defect."""

from connectors.faulty.ships_cancelled_orders import IgnoresCancellations
from connectors.reference.connector import main

if __name__ == "__main__":
    main(mapper=IgnoresCancellations())
