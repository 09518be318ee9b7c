"""`python -m connectors.faulty.refunds_at_original_price`: the reference connector, one
defect added."""

from connectors.faulty.refunds_at_original_price import RefundsAtOriginalPrice
from connectors.reference.connector import main

if __name__ == "__main__":
    main(RefundsAtOriginalPrice())
