"""`python -m connectors.faulty.books_ordered_quantity`: the reference connector, one defect."""

from connectors.faulty.books_ordered_quantity import BooksOrderedQuantity
from connectors.reference.connector import main

if __name__ == "__main__":
    main(BooksOrderedQuantity())
