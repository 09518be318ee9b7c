"""`python -m connectors.faulty.skips_shop`: the reference connector with one deliberate defect."""

from connectors.faulty.skips_shop import SkipsShopMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(SkipsShopMapper())
