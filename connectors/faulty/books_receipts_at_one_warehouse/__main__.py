"""`python -m connectors.faulty.books_receipts_at_one_warehouse`: the reference connector,
one defect."""

from connectors.faulty.books_receipts_at_one_warehouse import BooksReceiptsAtOneWarehouse
from connectors.reference.connector import main

if __name__ == "__main__":
    main(BooksReceiptsAtOneWarehouse())
