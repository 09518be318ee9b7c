"""`python -m connectors.faulty.ignores_canceledfail`: the reference connector, one defect."""

from connectors.faulty.ignores_canceledfail import IgnoresCanceledfail
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=IgnoresCanceledfail)
