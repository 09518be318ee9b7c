"""`python -m connectors.faulty.gives_up_after_first_error`: the reference, never retrying."""

from connectors.faulty.gives_up_after_first_error import GivesUpAfterFirstErrorConnector
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=GivesUpAfterFirstErrorConnector)
