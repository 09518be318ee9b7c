"""`python -m connectors.faulty.throttles_below_peak`: the reference, 10 WMS creates a second."""

from connectors.faulty.throttles_below_peak import ThrottlesBelowPeakConnector
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=ThrottlesBelowPeakConnector)
