"""`python -m connectors.faulty.books_commission_as_revenue`: the reference, one defect."""

from connectors.faulty.books_commission_as_revenue import BooksCommissionAsRevenue
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksCommissionAsRevenue)
