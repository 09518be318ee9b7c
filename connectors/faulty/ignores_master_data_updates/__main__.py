"""`python -m connectors.faulty.ignores_master_data_updates`: the reference connector, one
defect."""

from connectors.faulty.ignores_master_data_updates import IgnoresMasterDataUpdates
from connectors.reference.connector import main

if __name__ == "__main__":
    main(IgnoresMasterDataUpdates())
