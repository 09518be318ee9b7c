"""`python -m connectors.faulty.pushes_on_hand_stock`: the reference connector, one defect."""

from connectors.faulty.pushes_on_hand_stock import PushesOnHandStock
from connectors.reference.connector import main

if __name__ == "__main__":
    main(PushesOnHandStock())
