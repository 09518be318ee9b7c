"""`python -m connectors.faulty.rounds_with_floats`: the reference connector, one defect."""

from connectors.faulty.rounds_with_floats import RoundsWithFloats
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=RoundsWithFloats)
