"""`python -m connectors.faulty.keeps_state_in_memory`: the reference connector, state in memory."""

from connectors.faulty.keeps_state_in_memory import KeepsStateInMemoryConnector
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=KeepsStateInMemoryConnector)
