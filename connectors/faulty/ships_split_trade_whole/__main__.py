"""`python -m connectors.faulty.ships_split_trade_whole`: the reference connector, one defect."""

from connectors.faulty.ships_split_trade_whole import ShipsSplitTradeWhole
from connectors.reference.connector import main

if __name__ == "__main__":
    main(mapper=ShipsSplitTradeWhole())
