"""`python -m connectors.faulty.books_fees_without_weight`: the reference connector, one defect."""

from connectors.faulty.books_fees_without_weight import BooksFeesWithoutWeight
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksFeesWithoutWeight)
