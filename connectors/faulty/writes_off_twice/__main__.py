"""`python -m connectors.faulty.writes_off_twice`: the reference connector, one defect."""

from connectors.faulty.writes_off_twice import WritesOffTwice
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=WritesOffTwice)
