"""`python -m connectors.faulty.restocks_defective_returns`: the reference connector, one
defect added."""

from connectors.faulty.restocks_defective_returns import RestocksDefective
from connectors.reference.connector import main

if __name__ == "__main__":
    main(RestocksDefective())
