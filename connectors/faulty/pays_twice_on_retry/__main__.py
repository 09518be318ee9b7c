"""`python -m connectors.faulty.pays_twice_on_retry`: the reference connector, one defect."""

from connectors.faulty.pays_twice_on_retry import PaysTwiceOnRetry
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=PaysTwiceOnRetry)
