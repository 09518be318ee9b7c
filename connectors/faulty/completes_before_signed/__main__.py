"""`python -m connectors.faulty.completes_before_signed`: the reference connector, one defect."""

from connectors.faulty.completes_before_signed import install
from connectors.reference.connector import main

if __name__ == "__main__":
    install()
    main()
