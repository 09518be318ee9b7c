"""`python -m connectors.faulty.books_one_unit_per_line`: the reference connector, one defect."""

from connectors.faulty.books_one_unit_per_line import BooksOneUnitPerLineMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(BooksOneUnitPerLineMapper())
